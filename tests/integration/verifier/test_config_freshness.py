"""A replaying proxy between the terminal and the office: old or expired rules are refused, the held kept.

The office signs its clock as the configuration's ``version`` and an expiry
(``exp``); the terminal judges both by its own clock, given here as the
test's, never the office's ``Date`` (which a proxy sets).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keys import jws
from tests.factories import DAY, NOW, make_card, make_trust
from tests.terminal_home import RULES, TERMINAL_ID, open_terminal, signed_config
from verifier.config import CONFIG_TYP, ConfigExpired, ConfigOlder, TerminalConfig, accept_config, verify_config
from verifier.home import TerminalHome
from verifier.sync import Answer, Sync
from verifier.terminal import Terminal

TRUST = make_trust(NOW)
TEN_PERCENT = RULES | {"discount": {"kind": "percent", "value": 10}}


class ReplayingProxy:
    """Passes the terminal's records on and answers the rules' request with a configuration it kept."""

    def __init__(self, config: str) -> None:
        self.config = config

    def request(self, method: str, path: str, *, body: object = None, token: str | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        if path == "/api/v1/sync":
            return Answer(200, json.dumps({"acknowledged": len(body["records"]), "stored": 1,  # type: ignore[index]
                                           "duplicates": 0}).encode(), {})
        if path == "/api/v1/terminals/config":
            return Answer(200, self.config.encode(), {})
        return Answer(204, b"", {})  # the trust list has not changed


def terminal_with_ten_percent(tmp_path: Path, at: int) -> Terminal:
    """A terminal holding the rules of ``at`` (10%), which replaced a 50% configuration of a day before."""
    return open_terminal(tmp_path, TRUST, at, config=signed_config(TRUST, at, services=[TEN_PERCENT]))


def test_a_replayed_older_configuration_is_refused(tmp_path: Path) -> None:
    now = NOW + 2 * DAY
    terminal = terminal_with_ten_percent(tmp_path, NOW + DAY)
    older = signed_config(TRUST, NOW)  # 50%, signed a day before the rules held, still unexpired
    terminal.scan("not a card", now)

    result = Sync(terminal, ReplayingProxy(older)).run(lambda: now)  # type: ignore[arg-type]

    assert result.refusal is not None and result.refusal.code == "config_older"
    assert "older rules" in result.refusal.message
    assert terminal.refusal() == result.refusal  # shown on the staff screen
    assert terminal.config is not None and terminal.config.version == NOW + DAY
    decision, _ = terminal.scan(TRUST.issue(make_card()), now)
    assert decision.discount == 4_000  # still 10% of 40,000
    terminal.close()
    # and after a restart too: the home kept the held rules, not the replayed ones
    reopened = terminal_config_on_disk(tmp_path)
    assert reopened.version == NOW + DAY


def test_an_expired_configuration_is_refused(tmp_path: Path) -> None:
    now = NOW + 40 * DAY
    terminal = terminal_with_ten_percent(tmp_path, NOW)
    newer_but_expired = signed_config(TRUST, NOW + DAY, expires_at=NOW + 31 * DAY)

    result = Sync(terminal, ReplayingProxy(newer_but_expired)).run(lambda: now)  # type: ignore[arg-type]

    assert result.refusal is not None and result.refusal.code == "config_expired"
    assert terminal.config is not None and terminal.config.version == NOW
    assert terminal_config_on_disk(tmp_path).version == NOW
    terminal.close()


def test_a_newer_unexpired_configuration_replaces_the_held_one(tmp_path: Path) -> None:
    terminal = terminal_with_ten_percent(tmp_path, NOW)
    newer = signed_config(TRUST, NOW + DAY)

    result = Sync(terminal, ReplayingProxy(newer)).run(lambda: NOW + 2 * DAY)  # type: ignore[arg-type]

    assert result.refusal is None and result.config_version == NOW + DAY
    assert terminal_config_on_disk(tmp_path).version == NOW + DAY
    terminal.close()


@pytest.mark.parametrize(("expires_at", "at", "error"), [
    (NOW + DAY, NOW + DAY, ConfigExpired),      # expiry is exclusive
    (None, NOW, ConfigExpired),                 # a configuration without exp is never taken from the office
])
def test_accepting_a_configuration_checks_its_expiry_by_the_terminals_clock(expires_at: int | None, at: int,
                                                                            error: type[Exception]) -> None:
    token = signed_config(TRUST, NOW, expires_at=expires_at) if expires_at else _without_exp(NOW)
    with pytest.raises(error):
        accept_config(token, TRUST.trust_list, TERMINAL_ID, at, None)


def test_a_configuration_of_the_same_version_is_taken_again() -> None:
    token = signed_config(TRUST, NOW)
    held = verify_config(token, TRUST.trust_list, TERMINAL_ID)
    assert accept_config(token, TRUST.trust_list, TERMINAL_ID, NOW, held).version == NOW
    with pytest.raises(ConfigOlder):
        accept_config(signed_config(TRUST, NOW - 1), TRUST.trust_list, TERMINAL_ID, NOW, held)


def _without_exp(now: int) -> str:
    """A configuration as the office signed them before ``exp`` existed."""
    private, key = TRUST.signer
    claims = json.loads(jws.verify(signed_config(TRUST, now), key.public_key, key.alg))
    del claims["exp"]
    return jws.sign(claims, private, key.kid, CONFIG_TYP)


def terminal_config_on_disk(path: Path) -> TerminalConfig:
    """The rules the terminal's home holds, as the next start reads them."""
    home = TerminalHome(path)
    token = home.config_token()
    assert token is not None
    return verify_config(token, TRUST.trust_list, TERMINAL_ID)

"""The sync client against a scripted office (the real office is in tests/e2e)."""

from __future__ import annotations

import email.utils
import json
from pathlib import Path

from keys.chain import GENESIS, InvalidSyncToken, Redemption, chain_hashes, verify_checkpoint, verify_sync_token
from keys.errors import CARD_REASONS
from tests.factories import BALANGAN, DAY, NOW, make_trust
from tests.integration.verifier.records import decision
from tests.terminal_home import open_terminal, signed_config
from verifier.decision import RULE_REASONS
from verifier.display import DISPLAY_WIDTH, SHORT, short
from verifier.sync import Answer, Sync

TRUST = make_trust(NOW)


class ScriptedOffice:
    """Answers sync posts from a script; the trust list and rules are unchanged (204, 503)."""

    def __init__(self, *answers: tuple[int, dict]) -> None:
        self.answers, self.posted = list(answers), []

    def request(self, method: str, path: str, *, body: object = None, token: str | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        if path == "/api/v1/sync":
            self.posted.append(body)
            status, reply = self.answers.pop(0)
            return Answer(status, json.dumps(reply).encode(), {})
        return Answer(204 if "trustlist" in path else 503, b"{}", {})


def test_an_office_acknowledging_records_this_log_never_wrote_is_a_refusal_not_a_silent_ack(tmp_path: Path) -> None:
    terminal = open_terminal(tmp_path, TRUST, NOW)
    terminal.scan("not a card", NOW)
    office = ScriptedOffice((200, {"acknowledged": 5, "stored": 0, "duplicates": 1}))

    result = Sync(terminal, office).run(lambda: NOW)  # type: ignore[arg-type]

    assert result.refusal is not None and result.refusal.code == "ahead_of_log"
    assert terminal.log.acknowledged() == 0  # kept until the office and the terminal agree
    assert terminal.refusal() == result.refusal  # shown on the staff screen
    terminal.close()


def test_a_lost_answer_is_caught_up_from_the_offices_gap_reply(tmp_path: Path) -> None:
    terminal = open_terminal(tmp_path, TRUST, NOW)
    for _ in range(3):
        terminal.scan("not a card", NOW)
    office = ScriptedOffice((409, {"error": "gap", "acknowledged": 2}), (200, {"acknowledged": 3, "stored": 1,
                                                                              "duplicates": 0}))

    Sync(terminal, office).run(lambda: NOW)  # type: ignore[arg-type]

    assert [record["seq"] for record in office.posted[1]["records"]] == [3]
    assert terminal.log.acknowledged() == 3
    terminal.close()


def test_the_records_sent_carry_another_offices_card_home_under_the_signed_checkpoint(tmp_path: Path) -> None:
    terminal = open_terminal(tmp_path, TRUST, NOW)
    terminal.scan("not a card", NOW)
    terminal.log.append(decision(home=BALANGAN), NOW + 1)
    office = ScriptedOffice((200, {"acknowledged": 2, "stored": 2, "duplicates": 0}))

    Sync(terminal, office).run(lambda: NOW)  # type: ignore[arg-type]

    (posted,) = office.posted
    assert "home" not in posted["records"][0] and posted["records"][1]["home"] == 6311
    # What the office recomputes: the chain over the records as sent, home included, to the signed checkpoint.
    checkpoint = verify_checkpoint(posted["checkpoint"], terminal.key.public_key(), terminal.identity.terminal_id)
    sent = [Redemption.from_json(record) for record in posted["records"]]
    assert checkpoint.hash == chain_hashes(GENESIS, sent)[-1] == terminal.log.hash_at(2)
    terminal.close()


class ClockedOffice:
    """Checks each sync token against its own clock, as the office does, and dates every answer."""

    def __init__(self, terminal, now: int) -> None:
        self.terminal, self.now = terminal, now
        self.answers: list[tuple[str, int]] = []

    def request(self, method: str, path: str, *, body: object = None, token: str | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        status, reply = self._answer(path, token)
        self.answers.append((path, status))
        return Answer(status, reply, {"Date": email.utils.formatdate(self.now, usegmt=True)})

    def _answer(self, path: str, token: str | None) -> tuple[int, bytes]:
        if token is None:
            return 204, b""  # the trust list has not changed
        try:
            verify_sync_token(token, lambda _: self.terminal.key.public_key(), "kia-office:test", self.now)
        except InvalidSyncToken as exc:
            return 401, json.dumps({"error": "unauthorized", "message": str(exc)}).encode()
        if path == "/api/v1/sync":
            return 200, json.dumps({"acknowledged": self.terminal.log.head()[0], "stored": 1,
                                    "duplicates": 0}).encode()
        return 200, signed_config(TRUST, NOW).encode()


def test_a_terminal_whose_clock_jumped_40_days_syncs_on_the_first_try(tmp_path: Path) -> None:
    terminal = open_terminal(tmp_path, TRUST, NOW)
    terminal.record_contact(NOW, NOW)  # it last saw the office with both clocks agreeing
    terminal.scan("not a card", NOW + 60)
    jumped = NOW + 40 * DAY + 120  # then its clock jumped 40 days ahead; the office's did not
    office = ClockedOffice(terminal, NOW + 120)

    result = Sync(terminal, office).run(lambda: jumped)  # type: ignore[arg-type]

    assert terminal.log.acknowledged() == 1
    # By its own clock (the only one a proxy cannot set) the office's fresh rules look 10 days past their
    # expiry: refused, the held rules kept, and staff told to set the clock.
    assert result.refusal is not None and result.refusal.code == "config_expired"
    assert "clock" in result.refusal.message and result.config_version == NOW
    # One refused try, dated by the stale offset; its Date gave the office's clock, and the same round went on.
    assert office.answers == [("/api/v1/sync", 401), ("/api/v1/sync", 200), ("/api/v1/trustlist?since=1&form=2", 204),
                              ("/api/v1/terminals/config", 200)]
    assert terminal.clock().is_skewed(jumped)  # and its decisions are flagged until the clock is set right
    terminal.close()


def test_every_reason_has_a_gate_label_that_fits_the_boards_screen() -> None:
    for reason in ("accepted", *CARD_REASONS, *RULE_REASONS):
        assert reason in SHORT, f"{reason} has no short label"
        for lang in ("id", "en"):
            assert 0 < len(short(reason, lang)) <= DISPLAY_WIDTH

"""The terminal's home: what it trusts is verified again at every start."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from keys.errors import InvalidTrustListError
from keys.revocation import RevokedSerials
from keys.trustlist import build_trust_list, sign_delta, sign_trust_list
from tests.factories import NOW, SERIAL, make_issuing_key, make_trust
from tests.terminal_home import RULES, TERMINAL_ID, enrolled_home, signed_config
from verifier.config import verify_config
from verifier.decision import ConfigInvalid
from verifier.sync import SyncLoop

TRUST = make_trust(NOW)


def test_a_delta_is_kept_signed_and_applied_again_at_start(tmp_path: Path) -> None:
    home, _ = enrolled_home(tmp_path, TRUST, NOW)
    newer = build_trust_list(2, TRUST.trust_list.keys, RevokedSerials.from_serials([SERIAL]), NOW + 60)
    home.save_delta(2, sign_delta(1, TRUST.trust_list.revoked, newer, TRUST.root))

    loaded = home.load_trust_list(NOW + 60)

    assert loaded.seq == 2 and SERIAL in loaded.revoked


def test_a_trust_list_changed_on_disk_is_refused(tmp_path: Path) -> None:
    home, _ = enrolled_home(tmp_path, TRUST, NOW)
    other = make_trust(NOW)  # signed by another root
    home.trust_path.write_text(other.token)

    with pytest.raises(InvalidTrustListError):
        home.load_trust_list(NOW)


def test_a_new_full_list_replaces_the_deltas(tmp_path: Path) -> None:
    home, _ = enrolled_home(tmp_path, TRUST, NOW)
    newer = build_trust_list(2, TRUST.trust_list.keys, RevokedSerials(), NOW + 60)
    home.save_delta(2, sign_delta(1, TRUST.trust_list.revoked, newer, TRUST.root))
    latest = build_trust_list(3, TRUST.trust_list.keys, RevokedSerials(), NOW + 120)

    home.save_full_trust_list(sign_trust_list(latest, TRUST.root))

    assert home.load_trust_list(NOW + 120).seq == 3
    assert list(home.deltas_path.iterdir()) == []


def test_the_configuration_gives_the_partners_rules() -> None:
    config = verify_config(signed_config(TRUST, NOW), TRUST.trust_list, TERMINAL_ID)

    assert config.partner_name == "Bioskop Solo Paragon" and config.region == 3372
    assert config.service().code == RULES["code"]  # type: ignore[union-attr]
    assert config.service("no-such-service") is None


@pytest.mark.parametrize("case", ["other_terminal", "unknown_key", "tampered", "not_a_jws"])
def test_a_configuration_that_does_not_verify_is_refused(case: str) -> None:
    token = signed_config(TRUST, NOW, terminal_id="T-OTHER" if case == "other_terminal" else TERMINAL_ID)
    if case == "unknown_key":
        token = signed_config(make_trust(NOW, signers=[make_issuing_key()]), NOW)
    if case == "tampered":
        header, payload, signature = token.split(".")
        token = f"{header}.{payload[:-4]}AAAA.{signature}"
    if case == "not_a_jws":
        token = "not a configuration"

    with pytest.raises(ConfigInvalid):
        verify_config(token, TRUST.trust_list, TERMINAL_ID)


def test_an_expired_mou_leaves_no_service() -> None:
    config = verify_config(signed_config(TRUST, NOW, services=[], mou_until="2026-01-01"), TRUST.trust_list,
                           TERMINAL_ID)

    assert config.service() is None


def test_backoff_grows_with_jitter_up_to_the_ceiling_and_resets_when_well() -> None:
    loop = SyncLoop(sync=None, now=lambda: NOW, interval=60, ceiling=900, rng=random.Random(1))  # type: ignore[arg-type]
    assert loop.delay() == 60
    delays = []
    for failures in range(1, 40):
        loop.failures = failures
        delays.append(loop.delay())
    assert 60 <= delays[0] <= 120  # 120 s with equal jitter
    assert all(450 <= delay <= 900 for delay in delays[4:])  # weeks offline: capped, never zero, never huge
    assert len(set(delays)) == len(delays)  # jittered: terminals do not retry in step
    loop.failures = 0
    assert loop.delay() == 60

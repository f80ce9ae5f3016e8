"""issuer.service: revocation, pruning of expired revocations, deltas, key changes.

Every operation takes ``now``; the story runs on factories.NOW and days after.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from issuer import service
from issuer.batch import ChildRequest
from issuer.errors import CardAlreadyRevoked, IssuerError, UnknownCard
from issuer.store import IssuerHome
from keys import (
    RevokedSerials,
    TrustList,
    apply_delta,
    load_public_jwk,
    verify_card,
    verify_trust_list,
)
from keys.errors import CardRevoked, IssuingKeyRevoked, PassphraseWrong
from tests.factories import BIRTH_DATE, DAY, NOW, SURAKARTA, UNDER_FIVE_BIRTH_DATE, utc

UNLOCK = service.KeyUnlock(b"unit-test passphrase, not a secret")
# A child in Surakarta who turns 5 on 2026-11-25, three days after NOW: the card ends then.
TURNS_FIVE_SOON = dt.date(2021, 11, 25)


@pytest.fixture
def home(tmp_path: Path) -> IssuerHome:
    office = IssuerHome(tmp_path / "office")
    service.init_home(office, UNLOCK, NOW - DAY)
    return office


def issue(home: IssuerHome, *birth_dates: dt.date, now: int = NOW) -> list[str]:
    requests = [ChildRequest(line, born, SURAKARTA) for line, born in enumerate(birth_dates, 1)]
    return [item.record.serial for item in service.issue_cards(home, UNLOCK, requests, utc(now))]


def root_of(export: service.TrustListExport) -> Ed25519PublicKey:
    return load_public_jwk(json.loads(export.root_jwk.read_text(encoding="ascii")))


def exported(export: service.TrustListExport, now: int) -> TrustList:
    return verify_trust_list(export.trust_list.read_text(encoding="ascii"), root_of(export), now)


def token_of(home: IssuerHome, serial: str) -> str:
    return home.load().cards[serial].token


def test_a_revoked_card_is_listed_in_the_next_export(home: IssuerHome, tmp_path: Path) -> None:
    lost, kept = issue(home, BIRTH_DATE, UNDER_FIVE_BIRTH_DATE)
    first = service.export_trust_list(home, UNLOCK, NOW, tmp_path / "1")
    assert len(exported(first, NOW).revoked) == 0

    record = service.revoke_card(home, lost.lower(), "  hilang (lost)  ", NOW + 60)
    second = service.export_trust_list(home, UNLOCK, NOW + 120, tmp_path / "2")

    assert (record.serial, record.revoked_at, record.revocation_reason) == (lost, NOW + 60, "hilang (lost)")
    assert (first.seq, second.seq) == (1, 2)
    trust = exported(second, NOW + 120)
    assert trust.revoked == RevokedSerials.from_serials([lost])
    with pytest.raises(CardRevoked) as caught:
        verify_card(token_of(home, lost), trust, NOW + 180)
    assert caught.value.serial == lost
    assert verify_card(token_of(home, kept), trust, NOW + 180).card.serial == kept
    # The earlier list, still held by an offline terminal, did not know yet.
    assert verify_card(token_of(home, lost), exported(first, NOW), NOW + 180).card.serial == lost


def test_export_writes_the_trust_anchor_and_the_issuing_keys(home: IssuerHome, tmp_path: Path) -> None:
    export = service.export_trust_list(home, UNLOCK, NOW, tmp_path / "published")

    state = home.load()
    assert json.loads(export.root_jwk.read_text(encoding="ascii")) == state.root_jwk
    jwks = json.loads(export.jwks.read_text(encoding="ascii"))
    assert [key["kid"] for key in jwks["keys"]] == [entry.key.kid for entry in state.keys]
    assert export.delta is None
    assert sorted(path.name for path in (tmp_path / "published").iterdir()) == [
        "jwks.json",
        "root.jwk",
        "trustlist.jws",
    ]


def test_revoking_twice_an_unknown_serial_or_without_a_reason_is_refused(home: IssuerHome) -> None:
    (serial,) = issue(home, BIRTH_DATE)
    service.revoke_card(home, serial, "lost", NOW)

    with pytest.raises(CardAlreadyRevoked):
        service.revoke_card(home, serial, "lost again", NOW)
    with pytest.raises(UnknownCard):
        service.revoke_card(home, "00000000", "lost", NOW)
    for reason in ("", "   ", "two\nlines", "x" * 201):
        with pytest.raises(IssuerError, match="reason"):
            service.revoke_card(home, serial, reason, NOW)
    assert home.load().cards[serial].revocation_reason == "lost"


def test_revocations_of_expired_cards_are_pruned_and_deltas_reproduce_each_list(
    home: IssuerHome, tmp_path: Path
) -> None:
    expiring, long_lived, later, expired_before_listing = issue(
        home, TURNS_FIVE_SOON, BIRTH_DATE, UNDER_FIVE_BIRTH_DATE, TURNS_FIVE_SOON
    )
    for serial in (expiring, long_lived):
        service.revoke_card(home, serial, "lost", NOW)
    first = service.export_trust_list(home, UNLOCK, NOW, tmp_path / "1")

    # Ten days on the first card has ended (5th birthday), so its revocation is dropped;
    # the fourth is revoked only after it ended, so it is never listed at all.
    service.revoke_card(home, later, "replaced", NOW + DAY)
    service.revoke_card(home, expired_before_listing, "replaced", NOW + 10 * DAY)
    second = service.export_trust_list(home, UNLOCK, NOW + 10 * DAY, tmp_path / "2", since=1)
    third = service.export_trust_list(home, UNLOCK, NOW + 11 * DAY, tmp_path / "3", since=1)

    lists = [exported(first, NOW), exported(second, NOW + 10 * DAY), exported(third, NOW + 11 * DAY)]
    assert [trust.revoked for trust in lists] == [
        RevokedSerials.from_serials([expiring, long_lived]),
        RevokedSerials.from_serials([long_lived, later]),
        RevokedSerials.from_serials([long_lived, later]),
    ]
    cards = home.load().cards
    assert [(cards[s].listed_seq, cards[s].unlisted_seq) for s in (expiring, long_lived, later)] == [
        (1, 2),
        (1, None),
        (2, None),
    ]
    assert cards[expired_before_listing].revoked_at is not None
    assert (cards[expired_before_listing].listed_seq, cards[expired_before_listing].unlisted_seq) == (None, None)
    assert [cards[expiring].listed_at(seq) for seq in (0, 1, 2, 3)] == [False, True, False, False]

    root = root_of(first)
    assert second.delta is not None and second.delta.name == "trustlist-delta-1-2.jws"
    assert third.delta is not None and third.delta.name == "trustlist-delta-1-3.jws"
    from_first = apply_delta(lists[0], second.delta.read_text(encoding="ascii"), root, NOW + 10 * DAY)
    assert from_first == lists[1]
    assert from_first.revoked == lists[1].revoked
    assert apply_delta(lists[0], third.delta.read_text(encoding="ascii"), root, NOW + 11 * DAY) == lists[2]


def test_export_since_a_sequence_that_was_never_published_is_refused(home: IssuerHome, tmp_path: Path) -> None:
    service.export_trust_list(home, UNLOCK, NOW, tmp_path / "1")

    for since in (0, 2, 7):
        with pytest.raises(IssuerError, match="no trust list of sequence"):
            service.export_trust_list(home, UNLOCK, NOW, tmp_path / "x", since=since)
    assert home.load().trust_list_seq == 1


def test_an_export_that_cannot_open_the_root_key_changes_nothing(home: IssuerHome, tmp_path: Path) -> None:
    (serial,) = issue(home, BIRTH_DATE)
    service.revoke_card(home, serial, "lost", NOW)
    before = home.state_path.read_bytes()

    with pytest.raises(PassphraseWrong):
        service.export_trust_list(home, service.KeyUnlock(b"a wrong passphrase, long enough"), NOW, tmp_path)

    assert home.state_path.read_bytes() == before
    assert not (tmp_path / "trustlist.jws").exists()


def test_rotation_keeps_old_cards_valid_and_key_revocation_kills_them(home: IssuerHome, tmp_path: Path) -> None:
    (old_card,) = issue(home, BIRTH_DATE)
    new_key = service.rotate_issuing_key(home, UNLOCK, NOW + 60)
    (new_card,) = issue(home, BIRTH_DATE, now=NOW + 120)

    state = home.load()
    old_kid = state.keys[0].key.kid
    assert [entry.key.state.value for entry in state.keys] == ["retired", "active"]
    assert (state.cards[old_card].kid, state.cards[new_card].kid) == (old_kid, new_key.kid)
    trust = exported(service.export_trust_list(home, UNLOCK, NOW + 180, tmp_path / "1"), NOW + 180)
    assert verify_card(token_of(home, old_card), trust, NOW + 240).kid == old_kid
    assert verify_card(token_of(home, new_card), trust, NOW + 240).kid == new_key.kid

    revoked = service.change_issuing_key(home, old_kid, "revoke", NOW + 300)
    trust = exported(service.export_trust_list(home, UNLOCK, NOW + 360, tmp_path / "2"), NOW + 360)
    assert (revoked.kid, revoked.state.value) == (old_kid, "revoked")
    with pytest.raises(IssuingKeyRevoked):
        verify_card(token_of(home, old_card), trust, NOW + 420)
    assert verify_card(token_of(home, new_card), trust, NOW + 420).kid == new_key.kid

"""The redemption chain, checkpoints and sync tokens (keys/chain.py)."""

from __future__ import annotations

import dataclasses

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.chain import (
    GENESIS,
    MAX_SYNC_TOKEN_LIFETIME,
    Checkpoint,
    InvalidCheckpoint,
    InvalidRecord,
    InvalidSyncToken,
    Redemption,
    chain_hashes,
    sign_checkpoint,
    sign_sync_token,
    verify_checkpoint,
    verify_sync_token,
)
from tests.factories import NOW, make_trust

AUDIENCE = "kia-office:3372"


def record(seq: int, **changes) -> Redemption:
    base = Redemption(seq, NOW + seq, "8H635DT4", True, "accepted", "bioskop-reguler", "5-12", 50_000, 25_000, 25_000)
    return dataclasses.replace(base, **changes)


@pytest.fixture
def terminal_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def lookup(key: Ed25519PrivateKey, terminal: str = "T1"):
    return lambda tid: key.public_key() if tid == terminal else None


def test_the_canonical_form_is_sorted_compact_ascii() -> None:
    assert record(1).canonical().startswith(b'{"accepted":true,"at":')
    assert b" " not in record(1).canonical()


def test_changing_any_record_changes_every_later_hash() -> None:
    records = [record(n) for n in range(1, 6)]
    original = chain_hashes(GENESIS, records)
    records[1] = dataclasses.replace(records[1], discount=30_000, paid=20_000)
    changed = chain_hashes(GENESIS, records)
    assert changed[0] == original[0] and all(a != b for a, b in zip(changed[1:], original[1:], strict=True))


def test_dropping_a_record_breaks_the_chain() -> None:
    records = [record(n) for n in range(1, 4)]
    assert chain_hashes(GENESIS, records)[-1] != chain_hashes(GENESIS, [records[0], records[2]])[-1]


def test_records_round_trip_through_json() -> None:
    rejected = record(2, serial=None, accepted=False, reason="malformed", category=None, flags=("stale",))
    for item in (record(1), rejected):
        assert Redemption.from_json(item.to_json()) == item


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 0},
        {"seq": True},
        {"price": -1},
        {"price": 10**12},
        {"paid": 1},
        {"reason": "Accepted!"},
        {"service": ""},
        {"service": "x" * 65},
        {"serial": "a\nb"},
        {"flags": "stale"},
        {"flags": ["x"] * 9},
        {"accepted": 1},
        {"extra": 1},
    ],
)
def test_records_out_of_form_are_refused(change: dict) -> None:
    value = record(1).to_json() | change
    with pytest.raises(InvalidRecord):
        Redemption.from_json(value)


def test_a_record_missing_a_field_is_refused() -> None:
    value = record(1).to_json()
    del value["paid"]
    with pytest.raises(InvalidRecord):
        Redemption.from_json(value)


def test_a_checkpoint_round_trips_and_binds_the_terminal(terminal_key: Ed25519PrivateKey) -> None:
    digest = chain_hashes(GENESIS, [record(1)])[-1]
    token = sign_checkpoint(Checkpoint("T1", 1, digest, NOW), terminal_key, "abcd")
    assert verify_checkpoint(token, terminal_key.public_key(), "T1") == Checkpoint("T1", 1, digest, NOW)
    with pytest.raises(InvalidCheckpoint):
        verify_checkpoint(token, terminal_key.public_key(), "T2")


def test_a_checkpoint_signed_by_another_terminal_is_refused(terminal_key: Ed25519PrivateKey) -> None:
    token = sign_checkpoint(Checkpoint("T1", 1, bytes(32), NOW), Ed25519PrivateKey.generate(), "abcd")
    with pytest.raises(InvalidCheckpoint):
        verify_checkpoint(token, terminal_key.public_key(), "T1")


@settings(max_examples=150, derandomize=True)
@given(garbage=st.one_of(st.text(max_size=300), st.binary(max_size=50), st.none(), st.integers()))
def test_garbage_checkpoints_raise_only_invalid_checkpoint(garbage: object) -> None:
    key = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(InvalidCheckpoint):
        verify_checkpoint(garbage, key, "T1")


def test_a_sync_token_is_accepted_within_its_life(terminal_key: Ed25519PrivateKey) -> None:
    token = sign_sync_token("T1", AUDIENCE, terminal_key, "abcd", NOW)
    claims = verify_sync_token(token, lookup(terminal_key), AUDIENCE, NOW + 30)
    assert claims.terminal == "T1" and len(claims.jti) >= 16 and claims.expires_at == NOW + 120


def test_a_sync_token_for_another_server_is_refused(terminal_key: Ed25519PrivateKey) -> None:
    token = sign_sync_token("T1", "kia-office:9999", terminal_key, "abcd", NOW)
    with pytest.raises(InvalidSyncToken, match="another server"):
        verify_sync_token(token, lookup(terminal_key), AUDIENCE, NOW)


def test_an_expired_sync_token_is_refused(terminal_key: Ed25519PrivateKey) -> None:
    token = sign_sync_token("T1", AUDIENCE, terminal_key, "abcd", NOW)
    with pytest.raises(InvalidSyncToken, match="expired"):
        verify_sync_token(token, lookup(terminal_key), AUDIENCE, NOW + 10_000)


def test_a_sync_token_from_the_future_is_refused(terminal_key: Ed25519PrivateKey) -> None:
    token = sign_sync_token("T1", AUDIENCE, terminal_key, "abcd", NOW + 3600)
    with pytest.raises(InvalidSyncToken):
        verify_sync_token(token, lookup(terminal_key), AUDIENCE, NOW)


def test_a_long_lived_sync_token_is_refused(terminal_key: Ed25519PrivateKey) -> None:
    token = sign_sync_token("T1", AUDIENCE, terminal_key, "abcd", NOW, lifetime=MAX_SYNC_TOKEN_LIFETIME + 1)
    with pytest.raises(InvalidSyncToken, match="longer"):
        verify_sync_token(token, lookup(terminal_key), AUDIENCE, NOW)


def test_a_terminal_posting_as_another_terminal_is_refused(terminal_key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    token = sign_sync_token("T2", AUDIENCE, terminal_key, "abcd", NOW)  # T1's key, claiming T2
    keys = {"T1": terminal_key.public_key(), "T2": other.public_key()}
    with pytest.raises(InvalidSyncToken, match="not signed"):
        verify_sync_token(token, keys.get, AUDIENCE, NOW)


def test_an_unknown_or_suspended_terminal_is_refused(terminal_key: Ed25519PrivateKey) -> None:
    token = sign_sync_token("T9", AUDIENCE, terminal_key, "abcd", NOW)
    with pytest.raises(InvalidSyncToken, match="no active terminal"):
        verify_sync_token(token, lookup(terminal_key), AUDIENCE, NOW)


@pytest.mark.parametrize("alg", ["HS256", "none"])
def test_sync_tokens_with_another_algorithm_are_refused(terminal_key: Ed25519PrivateKey, alg: str) -> None:
    claims = {"iss": "T1", "aud": AUDIENCE, "iat": NOW, "exp": NOW + 60, "jti": "abcdefghijkl"}
    secret = terminal_key.public_key().public_bytes_raw() if alg == "HS256" else None
    token = jwt.encode(claims, secret, algorithm=alg, headers={"typ": "kia-sync+jwt", "kid": "abcd"})
    with pytest.raises(InvalidSyncToken):
        verify_sync_token(token, lookup(terminal_key), AUDIENCE, NOW)


@pytest.mark.parametrize("document", ["card", "trust list"])
def test_a_card_or_trust_list_is_not_a_sync_token(terminal_key: Ed25519PrivateKey, document: str) -> None:
    trust = make_trust()
    token = trust.issue() if document == "card" else trust.token
    with pytest.raises(InvalidSyncToken):
        verify_sync_token(token, lookup(terminal_key), AUDIENCE, NOW)

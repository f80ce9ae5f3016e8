"""Issuing-key lifecycle and the JWK form of keys."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from keys import (
    EDDSA,
    IssuingKey,
    KeyLifecycleError,
    KeyState,
    active_key,
    errors,
    jwks,
    kid_for,
    load_public_jwk,
    public_jwk,
    replace_key,
    rotate,
    thumbprint,
)
from keys.jwk import b64url_decode
from tests.factories import DAY, NOW, make_issuing_key


def public():
    return Ed25519PrivateKey.generate().public_key()


# --- states ----------------------------------------------------------------------


def test_new_key_is_active_with_a_thumbprint_kid():
    key = IssuingKey.new(public(), NOW)
    assert key.state is KeyState.ACTIVE
    assert key.kid == kid_for(key.public_key) == thumbprint(key.public_key)[:4]
    assert key.created_at == NOW and key.retired_at is None and key.revoked_at is None
    assert key.alg == EDDSA


def test_retire_and_revoke_return_new_records():
    key = IssuingKey.new(public(), NOW)

    retired = key.retire(NOW + DAY)
    revoked = retired.revoke(NOW + 2 * DAY)

    assert key.state is KeyState.ACTIVE  # unchanged
    assert (retired.state, retired.retired_at) == (KeyState.RETIRED, NOW + DAY)
    assert (revoked.state, revoked.retired_at, revoked.revoked_at) == (KeyState.REVOKED, NOW + DAY, NOW + 2 * DAY)


def test_active_key_can_be_revoked_directly():
    revoked = IssuingKey.new(public(), NOW).revoke(NOW + 1)
    assert (revoked.state, revoked.retired_at, revoked.revoked_at) == (KeyState.REVOKED, None, NOW + 1)


@pytest.mark.parametrize("history", [["retire"], ["revoke"], ["retire", "revoke"]])
def test_only_an_active_key_can_be_retired(history):
    key = IssuingKey.new(public(), NOW)
    for change in history:
        key = getattr(key, change)(NOW + DAY)
    with pytest.raises(KeyLifecycleError):
        key.retire(NOW + 2 * DAY)


@pytest.mark.parametrize("history", [["revoke"], ["retire", "revoke"]])
def test_a_revoked_key_cannot_be_revoked_again(history):
    key = IssuingKey.new(public(), NOW)
    for change in history:
        key = getattr(key, change)(NOW + DAY)
    with pytest.raises(KeyLifecycleError):
        key.revoke(NOW + 2 * DAY)


def test_signing_period_boundaries():
    key = IssuingKey.new(public(), NOW).retire(NOW + DAY)
    assert not key.signed_within_period(NOW - 11, leeway=10)
    assert key.signed_within_period(NOW - 10, leeway=10)
    assert key.signed_within_period(NOW + DAY + 10, leeway=10)
    assert not key.signed_within_period(NOW + DAY + 11, leeway=10)
    assert IssuingKey.new(public(), NOW).signed_within_period(NOW + 10**6, leeway=0)


def test_rotate_retires_the_active_key_and_adds_a_new_one():
    _, first = make_issuing_key(NOW - 90 * DAY)
    _, old = make_issuing_key(NOW - 30 * DAY)
    keys = [first.retire(NOW - 30 * DAY), old]
    new_public = public()

    rotated = rotate(keys, new_public, NOW)

    assert [key.state for key in rotated] == [KeyState.RETIRED, KeyState.RETIRED, KeyState.ACTIVE]
    assert rotated[0] == keys[0]  # an already retired key keeps its retirement time
    assert rotated[1].retired_at == NOW
    assert rotated[2] == IssuingKey.new(new_public, NOW)
    assert active_key(rotated) == rotated[2]
    assert keys[1].state is KeyState.ACTIVE  # the input is not changed


def test_active_key_is_the_newest_active_one():
    _, older = make_issuing_key(NOW - 2 * DAY)
    _, newer = make_issuing_key(NOW - DAY)
    assert active_key([newer, older]) == newer


@pytest.mark.parametrize("states", [[], ["retire"], ["revoke", "retire"]])
def test_no_active_key_is_an_error(states):
    keys = [getattr(make_issuing_key()[1], change)(NOW) for change in states]
    with pytest.raises(KeyLifecycleError):
        active_key(keys)


@pytest.mark.parametrize("change", ["retire", "revoke"])
def test_replace_key_changes_only_the_named_key(change):
    keys = [make_issuing_key()[1], make_issuing_key()[1]]
    updated = replace_key(keys, keys[0].kid, change, NOW)
    assert updated[0] == getattr(keys[0], change)(NOW)
    assert updated[1] == keys[1]


def test_replace_key_refuses_an_unknown_kid():
    with pytest.raises(KeyLifecycleError):
        replace_key([make_issuing_key()[1]], "zzzz", "revoke", NOW)


def test_replace_key_refuses_an_ambiguous_kid():
    keys = [dataclasses.replace(make_issuing_key()[1], kid="AAAA") for _ in range(2)]
    with pytest.raises(KeyLifecycleError):
        replace_key(keys, "AAAA", "retire", NOW)


@pytest.mark.parametrize("change", ["retier", "Retire", "", "delete"])
def test_replace_key_refuses_an_unknown_change(change):
    # A typo must not revoke a key (nothing it signed would verify any more).
    keys = [make_issuing_key()[1]]
    with pytest.raises((ValueError, KeyLifecycleError)):
        replace_key(keys, keys[0].kid, change, NOW)


# --- JWK -------------------------------------------------------------------------


def test_thumbprint_matches_rfc_8037_appendix_a3():
    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "="))
    assert thumbprint(key) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    assert kid_for(key) == "kPrK"


def test_thumbprint_is_sha256_of_the_required_members_in_order():
    key = public()
    jwk = public_jwk(key)
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": jwk["x"]}, separators=(",", ":")).encode()
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    assert thumbprint(key) == expected


def test_public_jwk_members():
    key = public()
    jwk = public_jwk(key)
    assert set(jwk) == {"kty", "crv", "x", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert "d" not in jwk
    assert load_public_jwk(jwk) == key


@pytest.mark.parametrize(
    "make",
    [
        lambda key: IssuingKey.new(key, NOW),
        lambda key: IssuingKey.new(key, NOW).retire(NOW + DAY),
        lambda key: IssuingKey.new(key, NOW).revoke(NOW + DAY),
        lambda key: IssuingKey.new(key, NOW).retire(NOW + DAY).revoke(NOW + 2 * DAY),
    ],
    ids=["active", "retired", "revoked", "retired-revoked"],
)
def test_issuing_key_jwk_round_trip(make):
    key = make(public())
    jwk = key.to_jwk()
    assert IssuingKey.from_jwk(json.loads(json.dumps(jwk))) == key
    assert jwks([jwk]) == {"keys": [jwk]}


@pytest.mark.parametrize(
    "change",
    [
        {"state": "bogus"},
        {"state": None},
        {"created_at": None},
        {"created_at": 1.5},
        {"created_at": True},
        {"created_at": "1"},
        {"created_at": -1},
        {"retired_at": 2**40},
        {"revoked_at": "soon"},
    ],
    ids=lambda change: repr(change),
)
def test_issuing_key_from_bad_jwk_is_refused(change):
    jwk = {**IssuingKey.new(public(), NOW).to_jwk(), **change}
    with pytest.raises(ValueError):
        IssuingKey.from_jwk(jwk)


def test_load_public_jwk_refuses_a_private_jwk():
    private = Ed25519PrivateKey.generate()
    d = base64.urlsafe_b64encode(private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())).rstrip(b"=")
    with pytest.raises(errors.KeyFileInvalid):
        load_public_jwk({**public_jwk(private.public_key()), "d": d.decode()})


def test_load_public_jwk_refuses_a_kid_that_is_not_its_keys():
    jwk = public_jwk(public())
    with pytest.raises(errors.KeyFileInvalid):
        load_public_jwk({**jwk, "kid": public_jwk(public())["kid"]})


@pytest.mark.parametrize(
    "change",
    [
        {"kty": "EC"},
        {"kty": "oct"},
        {"crv": "Ed448"},
        {"crv": "X25519"},
        {"alg": "ES256"},
        {"alg": "none"},
        {"x": None},
        {"x": ""},
        {"x": "AAAA"},  # 3 bytes
        {"x": "A" * 44},  # 33 bytes
        {"x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="},  # padded
        {"x": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo"},  # standard base64
        {"x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp"},  # leftover bits
    ],
    ids=lambda change: repr(change)[:40],
)
def test_load_public_jwk_refuses_other_keys(change):
    jwk = {k: v for k, v in public_jwk(public()).items() if k != "kid"}
    with pytest.raises(errors.KeyFileInvalid):
        load_public_jwk({**jwk, **change})


@pytest.mark.parametrize("value", [None, [], "{}", 42])
def test_load_public_jwk_refuses_non_objects(value):
    with pytest.raises(errors.KeyFileInvalid):
        load_public_jwk(value)


@pytest.mark.parametrize(
    "text",
    ["A", "AAAAA", "AB==", "A+B/", "AB", "AAC"],
    ids=["one-char", "five-chars", "padded", "standard-alphabet", "leftover-bits-AB", "leftover-bits-AAC"],
)
def test_b64url_decode_refuses_non_canonical_text(text):
    # "AB" and "AAC" decode, leniently, to the same bytes as "AA" and "AAA".
    with pytest.raises(ValueError):
        b64url_decode(text)

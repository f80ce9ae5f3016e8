"""The signed trust list and its deltas."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from keys import (
    TRUST_LIST_DELTA_TYP,
    TRUST_LIST_REASONS,
    TRUST_LIST_TYP,
    RevokedSerials,
    apply_delta,
    build_trust_list,
    errors,
    jws,
    kid_for,
    rotate,
    sign_delta,
    sign_trust_list,
    verify_trust_list,
)
from keys.serial import serial_from_value
from tests.factories import DAY, NOW, b64url, b64url_decode_lenient, forge_token, make_issuing_key, make_trust


def assert_list_rejected(call, error, reason):
    with pytest.raises(errors.InvalidTrustListError) as info:
        call()
    assert type(info.value) is error, info.value
    assert info.value.reason == reason
    assert reason in TRUST_LIST_REASONS
    return info.value


@pytest.fixture
def trust():
    revoked = [serial_from_value(value) for value in (0, 7, 12345, 2**35 - 1)]
    return make_trust(signers=[make_issuing_key(), make_issuing_key()], revoked=revoked)


def _root_header(root: Ed25519PrivateKey, **changes):
    return {"alg": "EdDSA", "kid": kid_for(root.public_key()), "typ": TRUST_LIST_TYP, **changes}


def _payload(token):
    return json.loads(b64url_decode_lenient(token.split(".")[1]))


# --- full lists ----------------------------------------------------------------


def test_verified_trust_list_equals_the_one_built(trust):
    verified = verify_trust_list(trust.token, trust.root.public_key(), NOW)

    assert verified == trust.trust_list
    assert [key.kid for key in verified.keys] == [key.kid for _, key in trust.signers]
    assert verified.revoked == trust.trust_list.revoked


def test_trust_list_given_as_bytes_or_with_whitespace_verifies(trust):
    root = trust.root.public_key()
    assert verify_trust_list(trust.token.encode(), root, NOW) == trust.trust_list
    assert verify_trust_list(trust.token + "\n", root, NOW) == trust.trust_list


def test_trust_list_with_every_key_state_round_trips():
    (a_private, a), (b_private, b), (c_private, c) = (make_issuing_key(NOW - n * DAY) for n in (90, 60, 30))
    signers = [
        (a_private, a.retire(NOW - 60 * DAY).revoke(NOW - DAY)),
        (b_private, b.retire(NOW - 30 * DAY)),
        (c_private, c),
    ]
    trust = make_trust(signers=signers)
    assert verify_trust_list(trust.token, trust.root.public_key(), NOW).keys == tuple(key for _, key in signers)


def test_trust_list_signed_by_another_root_is_rejected(trust):
    impostor = make_trust(signers=trust.signers, root=Ed25519PrivateKey.generate())
    assert_list_rejected(
        lambda: verify_trust_list(impostor.token, trust.root.public_key(), NOW),
        errors.TrustListSignatureInvalid,
        "trust_list_bad_signature",
    )


def test_expired_trust_list_is_rejected_unless_stale_lists_are_accepted(trust):
    root, expiry = trust.root.public_key(), trust.trust_list.expires_at
    assert verify_trust_list(trust.token, root, expiry - 1) == trust.trust_list
    assert_list_rejected(
        lambda: verify_trust_list(trust.token, root, expiry), errors.TrustListExpired, "trust_list_expired"
    )
    assert verify_trust_list(trust.token, root, expiry + 365 * DAY, accept_expired=True) == trust.trust_list


@pytest.mark.parametrize("member", ["seq", "iat", "exp", "keys", "revoked"])
def test_tampered_trust_list_payload_is_rejected(trust, member):
    claims = _payload(trust.token)
    changes = {
        "seq": claims["seq"] + 1,
        "iat": claims["iat"] + 1,
        "exp": claims["exp"] + 365 * DAY,
        "keys": claims["keys"][:1],
        "revoked": RevokedSerials().encode(),
    }
    header, _, signature = trust.token.split(".")
    tampered = f"{header}.{b64url(json.dumps({**claims, member: changes[member]}).encode())}.{signature}"
    assert_list_rejected(
        lambda: verify_trust_list(tampered, trust.root.public_key(), NOW),
        errors.TrustListSignatureInvalid,
        "trust_list_bad_signature",
    )


def test_reviving_a_revoked_key_in_a_tampered_list_does_not_verify():
    private, key = make_issuing_key()
    trust = make_trust(signers=[(private, key.revoke(NOW - DAY))])
    claims = _payload(trust.token)
    claims["keys"][0]["state"] = "active"
    del claims["keys"][0]["revoked_at"]
    header, _, signature = trust.token.split(".")
    tampered = f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"
    with pytest.raises(errors.TrustListSignatureInvalid):
        verify_trust_list(tampered, trust.root.public_key(), NOW)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("secret_form", ["raw", "pem", "jwk-json", "x"])
def test_hmac_trust_list_signed_with_the_root_public_key_is_rejected(trust, alg, secret_form):
    public = trust.root.public_key()
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    secret = {
        "raw": raw,
        "pem": public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        "jwk-json": json.dumps({"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}).encode(),
        "x": b64url(raw).encode(),
    }[secret_form]
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    forged = forge_token(
        _root_header(trust.root, alg=alg), _payload(trust.token), lambda m: hmac.new(secret, m, digest).digest()
    )
    assert_list_rejected(
        lambda: verify_trust_list(forged, public, NOW), errors.TrustListSignatureInvalid, "trust_list_bad_signature"
    )


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_trust_list_is_rejected(trust, alg):
    forged = forge_token(_root_header(trust.root, alg=alg), _payload(trust.token))
    assert_list_rejected(
        lambda: verify_trust_list(forged, trust.root.public_key(), NOW),
        errors.TrustListSignatureInvalid,
        "trust_list_bad_signature",
    )


@pytest.mark.parametrize(
    "extra",
    [
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"b64": True},
        {"zip": "DEF"},
        {"crit": ["exp"], "exp": 1},
        {"crit": ["b64"], "b64": True},
        {"crit": []},
    ],
    ids=["jku", "x5u", "b64", "zip", "crit-exp", "crit-b64", "crit-empty"],
)
def test_trust_list_header_with_extra_members_is_rejected(trust, extra):
    forged = forge_token({**_root_header(trust.root), **extra}, _payload(trust.token), trust.root.sign)
    assert_list_rejected(
        lambda: verify_trust_list(forged, trust.root.public_key(), NOW),
        errors.TrustListMalformed,
        "trust_list_malformed",
    )


def test_trust_list_header_with_a_non_string_kid_is_rejected(trust):
    forged = forge_token(_root_header(trust.root, kid=1), _payload(trust.token), trust.root.sign)
    with pytest.raises(errors.InvalidTrustListError):
        verify_trust_list(forged, trust.root.public_key(), NOW)


def test_embedded_jwk_of_the_attackers_key_is_ignored(trust):
    attacker = Ed25519PrivateKey.generate()
    header = {**_root_header(attacker), "jwk": {"kty": "OKP", "crv": "Ed25519", "x": "A" * 43}}
    forged = forge_token(header, _payload(trust.token), attacker.sign)
    with pytest.raises(errors.InvalidTrustListError):
        verify_trust_list(forged, trust.root.public_key(), NOW)


@pytest.mark.parametrize(
    "change",
    [
        {"seq": -1},
        {"seq": "2"},
        {"seq": True},
        {"iat": 1.5},
        {"exp": 2**40},
        {"keys": {}},
        {"keys": [{"kty": "OKP"}]},
        {"revoked": {"n": 1, "z": ""}},
        {"extra": 1},
    ],
    ids=lambda change: "-".join(f"{k}={v}" for k, v in change.items()),
)
def test_trust_list_with_malformed_claims_signed_by_the_root_is_malformed(trust, change):
    claims = {**_payload(trust.token), **change}
    forged = jws.sign(claims, trust.root, kid_for(trust.root.public_key()), TRUST_LIST_TYP)
    assert_list_rejected(
        lambda: verify_trust_list(forged, trust.root.public_key(), NOW),
        errors.TrustListMalformed,
        "trust_list_malformed",
    )


def test_trust_list_that_expires_before_it_is_issued_is_malformed(trust):
    claims = {**_payload(trust.token), "exp": NOW}
    forged = jws.sign(claims, trust.root, kid_for(trust.root.public_key()), TRUST_LIST_TYP)
    with pytest.raises(errors.TrustListMalformed):
        verify_trust_list(forged, trust.root.public_key(), NOW - DAY)


@pytest.mark.parametrize("token", ["", "not a jws", "a.b", "a.b.c.d", "e30.e30.", "{}", "\u00e9.\u00e9.\u00e9"])
def test_text_that_is_not_a_trust_list_is_rejected(trust, token):
    with pytest.raises(errors.InvalidTrustListError):
        verify_trust_list(token, trust.root.public_key(), NOW)


def test_non_text_trust_list_is_malformed(trust):
    for value in (None, 42, ["a.b.c"]):
        with pytest.raises(errors.TrustListMalformed):
            verify_trust_list(value, trust.root.public_key(), NOW)  # type: ignore[arg-type]


def test_card_token_presented_as_a_trust_list_is_wrong_type(trust):
    token = trust.issue()
    assert_list_rejected(
        lambda: verify_trust_list(token, trust.root.public_key(), NOW),
        errors.TrustListWrongType,
        "trust_list_wrong_type",
    )


def test_card_typed_token_signed_by_the_root_is_not_a_trust_list(trust):
    forged = jws.sign(_payload(trust.token), trust.root, kid_for(trust.root.public_key()), "kia")
    with pytest.raises(errors.TrustListWrongType):
        verify_trust_list(forged, trust.root.public_key(), NOW)


# --- deltas --------------------------------------------------------------------


@pytest.fixture
def next_list(trust):
    """Sequence 2, a day later: a key rotation, a key revoked, serials added and removed."""
    later = NOW + DAY
    first_private, first = trust.signers[0]
    keys = [key for _, key in trust.signers]
    keys = rotate(keys, Ed25519PrivateKey.generate().public_key(), later)
    keys[0] = first.revoke(later)
    revoked = trust.trust_list.revoked.difference([7, 2**35 - 1]).union([8, 99, 2**34])
    return build_trust_list(2, keys, revoked, later)


def test_delta_gives_exactly_the_full_list(trust, next_list):
    root = trust.root.public_key()
    old = verify_trust_list(trust.token, root, NOW)
    delta = sign_delta(old.seq, old.revoked, next_list, trust.root)

    applied = apply_delta(old, delta, root, NOW + DAY)

    assert applied == verify_trust_list(sign_trust_list(next_list, trust.root), root, NOW + DAY)
    assert applied == next_list
    assert [key.state.value for key in applied.keys] == ["revoked", "retired", "active"]
    assert sorted(applied.revoked) == [0, 8, 99, 12345, 2**34]


def test_delta_with_no_revocation_changes_gives_the_full_list(trust):
    root = trust.root.public_key()
    new = build_trust_list(2, trust.trust_list.keys, trust.trust_list.revoked, NOW + DAY)
    delta = sign_delta(1, trust.trust_list.revoked, new, trust.root)
    assert apply_delta(trust.trust_list, delta, root, NOW + DAY) == new


def test_delta_from_an_empty_list_gives_the_full_list():
    trust = make_trust(revoked=[])
    new = build_trust_list(5, trust.trust_list.keys, RevokedSerials(range(0, 1000, 3)), NOW + DAY)
    delta = sign_delta(1, trust.trust_list.revoked, new, trust.root)
    assert apply_delta(trust.trust_list, delta, trust.root.public_key(), NOW + DAY) == new


def test_chained_deltas_give_the_latest_full_list(trust, next_list):
    root = trust.root.public_key()
    third = build_trust_list(3, next_list.keys, next_list.revoked.union([5]), NOW + 2 * DAY)
    second = apply_delta(
        trust.trust_list, sign_delta(1, trust.trust_list.revoked, next_list, trust.root), root, NOW + DAY
    )
    assert apply_delta(second, sign_delta(2, next_list.revoked, third, trust.root), root, NOW + 2 * DAY) == third


@pytest.mark.parametrize("from_seq", [0, 2, 3])
def test_delta_from_another_sequence_is_a_rollback(trust, next_list, from_seq):
    if from_seq >= next_list.seq:
        next_list = build_trust_list(from_seq + 1, next_list.keys, next_list.revoked, NOW + DAY)
    delta = sign_delta(from_seq, trust.trust_list.revoked, next_list, trust.root)
    assert_list_rejected(
        lambda: apply_delta(trust.trust_list, delta, trust.root.public_key(), NOW + DAY),
        errors.TrustListRollback,
        "trust_list_rollback",
    )


def test_replayed_delta_is_a_rollback(trust, next_list):
    root = trust.root.public_key()
    delta = sign_delta(1, trust.trust_list.revoked, next_list, trust.root)
    applied = apply_delta(trust.trust_list, delta, root, NOW + DAY)
    with pytest.raises(errors.TrustListRollback):
        apply_delta(applied, delta, root, NOW + DAY)


def test_sign_delta_refuses_to_go_backwards(trust):
    with pytest.raises(ValueError):
        sign_delta(1, trust.trust_list.revoked, trust.trust_list, trust.root)


def _delta_claims(trust, new, **changes):
    old = trust.trust_list.revoked
    claims = {
        "from": trust.trust_list.seq,
        "seq": new.seq,
        "iat": new.issued_at,
        "exp": new.expires_at,
        "keys": [key.to_jwk() for key in new.keys],
        "add": RevokedSerials(set(new.revoked) - set(old)).encode(),
        "del": RevokedSerials(set(old) - set(new.revoked)).encode(),
        "sha256": new.revoked.digest(),
    }
    claims.update(changes)
    return claims


def _sign_delta_claims(trust, claims):
    return jws.sign(claims, trust.root, kid_for(trust.root.public_key()), TRUST_LIST_DELTA_TYP)


def test_crafted_delta_claims_equal_to_sign_delta_are_accepted(trust, next_list):
    # Guards the crafted-delta tests below: only the changed member makes them fail.
    delta = _sign_delta_claims(trust, _delta_claims(trust, next_list))
    assert apply_delta(trust.trust_list, delta, trust.root.public_key(), NOW + DAY) == next_list


@pytest.mark.parametrize(
    "changes",
    [
        {"sha256": RevokedSerials().digest()},
        {"sha256": "A" * 43},
        {"add": RevokedSerials([0]).encode()},  # already revoked
        {"del": RevokedSerials([1]).encode()},  # was never revoked
        {"add": RevokedSerials([8, 99, 2**34, 555]).encode()},  # one more than the office's list
    ],
    ids=["digest-of-empty", "digest-garbage", "add-existing", "del-missing", "add-extra"],
)
def test_delta_whose_result_differs_from_the_office_list_is_a_mismatch(trust, next_list, changes):
    delta = _sign_delta_claims(trust, _delta_claims(trust, next_list, **changes))
    assert_list_rejected(
        lambda: apply_delta(trust.trust_list, delta, trust.root.public_key(), NOW + DAY),
        errors.TrustListDeltaMismatch,
        "trust_list_delta_mismatch",
    )


def test_delta_with_malformed_serial_sets_is_malformed(trust, next_list):
    delta = _sign_delta_claims(trust, _delta_claims(trust, next_list, add={"n": 2, "z": "eJw"}))
    with pytest.raises(errors.TrustListMalformed):
        apply_delta(trust.trust_list, delta, trust.root.public_key(), NOW + DAY)


def test_delta_signed_by_another_root_is_rejected(trust, next_list):
    delta = sign_delta(1, trust.trust_list.revoked, next_list, Ed25519PrivateKey.generate())
    assert_list_rejected(
        lambda: apply_delta(trust.trust_list, delta, trust.root.public_key(), NOW + DAY),
        errors.TrustListSignatureInvalid,
        "trust_list_bad_signature",
    )


def test_expired_delta_is_rejected_unless_stale_lists_are_accepted(trust, next_list):
    root = trust.root.public_key()
    delta = sign_delta(1, trust.trust_list.revoked, next_list, trust.root)
    with pytest.raises(errors.TrustListExpired):
        apply_delta(trust.trust_list, delta, root, next_list.expires_at)
    assert apply_delta(trust.trust_list, delta, root, next_list.expires_at, accept_expired=True) == next_list


def test_full_list_presented_as_a_delta_is_wrong_type(trust):
    with pytest.raises(errors.TrustListWrongType):
        apply_delta(trust.trust_list, trust.token, trust.root.public_key(), NOW)


def test_delta_presented_as_a_full_list_is_wrong_type(trust, next_list):
    delta = sign_delta(1, trust.trust_list.revoked, next_list, trust.root)
    with pytest.raises(errors.TrustListWrongType):
        verify_trust_list(delta, trust.root.public_key(), NOW)

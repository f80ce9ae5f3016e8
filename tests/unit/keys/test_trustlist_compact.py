"""The trust list's second form (docs/adr/0002): unencoded JWS payload, Golomb-Rice coded serials."""

from __future__ import annotations

import base64
import json
import random

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import RevokedSerials, apply_delta, build_trust_list, errors, jws, kid_for, verify_trust_list
from keys.jws import TRUST_LIST2_DELTA_TYP, TRUST_LIST2_TYP, TRUST_LIST_TYP
from keys.serial import SERIAL_BITS
from keys.trustlist import MAX_TRUST_LIST_LENGTH, form_of, sign_delta, sign_deltas, sign_trust_list
from tests.factories import DAY, NOW, b64url, make_issuing_key

ROOT = Ed25519PrivateKey.generate()
PUBLIC = ROOT.public_key()


def _list(values, seq=1, now=NOW):
    return build_trust_list(seq, [make_issuing_key()[1]], RevokedSerials(values), now)


def _pad_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _segments(token):
    header, payload, signature = token.split(".")
    return header, payload, signature


def _resign(header: dict, payload: bytes) -> str:
    """A token signed by the genuine root key over whatever header and payload the attacker chose."""
    signing_input = b64url(jws.canonical_json(header)).encode() + b"." + payload
    return f"{signing_input.decode('ascii')}.{b64url(ROOT.sign(signing_input))}"


def _header(typ=TRUST_LIST2_TYP, **changes):
    return {"alg": "EdDSA", "b64": False, "crit": ["b64"], "kid": kid_for(PUBLIC), "typ": typ, **changes}


def _rejected(call, error):
    with pytest.raises(errors.InvalidTrustListError) as info:
        call()
    assert type(info.value) is error, info.value
    return info.value


# --- round trips ------------------------------------------------------------------


def test_form_2_round_trip_gives_the_same_list_as_form_1():
    trust_list = _list([0, 7, 12345, 2**35 - 1])
    token = sign_trust_list(trust_list, ROOT, form=2)
    assert form_of(token) == 2 and form_of(sign_trust_list(trust_list, ROOT)) == 1
    assert verify_trust_list(token, PUBLIC, NOW) == verify_trust_list(sign_trust_list(trust_list, ROOT), PUBLIC, NOW)
    assert verify_trust_list(token, PUBLIC, NOW) == trust_list
    assert verify_trust_list(token.encode("ascii"), PUBLIC, NOW) == trust_list  # as read from a file or socket


def test_form_2_header_and_payload_are_as_specified():
    trust_list = _list([5, 9])
    header, payload, _ = _segments(sign_trust_list(trust_list, ROOT, form=2))
    assert header == jws.unencoded_header_segment(kid_for(PUBLIC), TRUST_LIST2_TYP)
    assert json.loads(_pad_decode(header)) == _header()
    claims = json.loads(payload)
    assert set(claims) == {"seq", "iat", "exp", "keys", "revoked"}
    assert set(claims["revoked"]) == {"n", "k", "g"} and claims["revoked"]["n"] == 2


def test_empty_list_round_trips():
    trust_list = _list([])
    assert verify_trust_list(sign_trust_list(trust_list, ROOT, form=2), PUBLIC, NOW) == trust_list


@pytest.mark.parametrize(("held_form", "delta_form"), [(1, 2), (2, 1), (2, 2), (1, 1)])
def test_deltas_apply_across_forms(held_form, delta_form):
    old = _list([1, 2, 3, 1000], seq=4)
    new = build_trust_list(5, old.keys, RevokedSerials([2, 3, 50, 2**35 - 1]), NOW + 60)
    held = verify_trust_list(sign_trust_list(old, ROOT, form=held_form), PUBLIC, NOW)
    delta = sign_delta(4, old.revoked, new, ROOT, form=delta_form)
    assert form_of(delta) == delta_form
    assert apply_delta(held, delta, PUBLIC, NOW + 60) == new


def test_both_forms_of_a_delta_say_the_same():
    old = _list(range(0, 10**6, 997), seq=1)
    new = build_trust_list(2, old.keys, old.revoked.union([3, 5, 8]).difference([997]), NOW)
    one, two = sign_deltas(1, old.revoked, new, ROOT, (1, 2))
    assert apply_delta(old, one, PUBLIC, NOW) == apply_delta(old, two, PUBLIC, NOW) == new
    assert json.loads(_segments(two)[1])["sha256"] == new.revoked.digest()


# --- attacks ----------------------------------------------------------------------


def _claims(token):
    return json.loads(_segments(token)[1])


def test_typ_swap_between_forms_is_refused():
    trust_list = _list([3, 4])
    two = sign_trust_list(trust_list, ROOT, form=2)
    payload = _segments(two)[1].encode()
    # A form-2 payload under the form-1 typ (with or without the b64 members): never a kia-tl.
    _rejected(lambda: verify_trust_list(_resign(_header(typ=TRUST_LIST_TYP), payload), PUBLIC, NOW),
              errors.TrustListMalformed)
    plain = {"alg": "EdDSA", "kid": kid_for(PUBLIC), "typ": TRUST_LIST_TYP}
    _rejected(lambda: verify_trust_list(_resign(plain, payload), PUBLIC, NOW), errors.TrustListMalformed)
    # A full list offered as a delta, and the reverse.
    _rejected(lambda: apply_delta(trust_list, two, PUBLIC, NOW), errors.TrustListWrongType)
    delta = sign_delta(1, trust_list.revoked, build_trust_list(2, trust_list.keys, RevokedSerials([9]), NOW), ROOT,
                       form=2)
    _rejected(lambda: verify_trust_list(delta, PUBLIC, NOW), errors.TrustListWrongType)


def test_a_card_typ_on_an_unencoded_payload_is_refused():
    payload = _segments(sign_trust_list(_list([1]), ROOT, form=2))[1].encode()
    _rejected(lambda: verify_trust_list(_resign(_header(typ="kia"), payload), PUBLIC, NOW),
              errors.TrustListWrongType)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "EdDSA", "b64": False, "kid": "x", "typ": TRUST_LIST2_TYP},  # crit missing
        {"alg": "EdDSA", "b64": True, "crit": ["b64"], "kid": "x", "typ": TRUST_LIST2_TYP},  # b64 true
        {"alg": "EdDSA", "crit": ["b64"], "kid": "x", "typ": TRUST_LIST2_TYP},  # b64 missing
        {"alg": "EdDSA", "b64": False, "crit": ["b64", "exp"], "kid": "x", "typ": TRUST_LIST2_TYP},
        {"alg": "HS256", "b64": False, "crit": ["b64"], "kid": "x", "typ": TRUST_LIST2_TYP},
        {"alg": "none", "b64": False, "crit": ["b64"], "kid": "x", "typ": TRUST_LIST2_TYP},
        {"b64": False, "alg": "EdDSA", "crit": ["b64"], "kid": "x", "typ": TRUST_LIST2_TYP},  # not canonical
        {"alg": "EdDSA", "b64": False, "crit": ["b64"], "kid": "x", "typ": TRUST_LIST2_TYP, "x5u": "a"},
    ],
)
def test_headers_other_than_the_one_layout_are_refused_before_the_signature(header):
    header = {**header, "kid": kid_for(PUBLIC)} if "kid" in header else header
    payload = _segments(sign_trust_list(_list([1]), ROOT, form=2))[1].encode()
    signing_input = b64url(json.dumps(header, separators=(",", ":")).encode()).encode() + b"." + payload
    forged = f"{signing_input.decode()}.{b64url(ROOT.sign(signing_input))}"  # a genuine signature, even
    _rejected(lambda: verify_trust_list(forged, PUBLIC, NOW), errors.TrustListMalformed)


def test_a_dot_in_the_payload_is_refused():
    trust_list = _list([1])
    claims = _claims(sign_trust_list(trust_list, ROOT, form=2)) | {"note": "a.b"}
    with pytest.raises(ValueError, match="'.'"):
        jws.sign_unencoded(jws.canonical_json(claims), ROOT, kid_for(PUBLIC), TRUST_LIST2_TYP)
    signing_input = jws.unencoded_header_segment(kid_for(PUBLIC), TRUST_LIST2_TYP).encode() + b"." + b'{"a.b":1}'
    forged = f"{signing_input.decode()}.{b64url(ROOT.sign(signing_input))}"
    _rejected(lambda: verify_trust_list(forged, PUBLIC, NOW), errors.TrustListMalformed)


@pytest.mark.parametrize("bad", ["\x7f", "\n", "\u00e9", "\t"])
def test_a_payload_outside_printable_ascii_is_refused(bad):
    token = sign_trust_list(_list([1]), ROOT, form=2)
    header, payload, _ = _segments(token)
    tampered = payload[:-1] + bad + payload[-1]
    signing_input = f"{header}.{tampered}".encode()
    forged = f"{header}.{tampered}.{b64url(ROOT.sign(signing_input))}"
    _rejected(lambda: verify_trust_list(forged, PUBLIC, NOW), errors.TrustListMalformed)


def test_a_changed_payload_fails_the_signature():
    token = sign_trust_list(_list([1, 2]), ROOT, form=2)
    header, payload, signature = _segments(token)
    tampered = payload.replace('"seq":1', '"seq":2')
    _rejected(lambda: verify_trust_list(f"{header}.{tampered}.{signature}", PUBLIC, NOW),
              errors.TrustListSignatureInvalid)
    other = Ed25519PrivateKey.generate()
    _rejected(lambda: verify_trust_list(sign_trust_list(_list([1]), other, form=2), PUBLIC, NOW),
              errors.TrustListSignatureInvalid)


def _with_revoked(token, revoked):
    claims = _claims(token) | {"revoked": revoked}
    return jws.sign_unencoded(jws.canonical_json(claims), ROOT, kid_for(PUBLIC), TRUST_LIST2_TYP)


def test_a_truncated_code_is_refused():
    token = sign_trust_list(_list(random.Random(1).sample(range(2**SERIAL_BITS), 500)), ROOT, form=2)
    revoked = _claims(token)["revoked"]
    code = _pad_decode(revoked["g"])
    for cut in (len(code) - 1, len(code) // 2, 12, 9, 0):
        forged = _with_revoked(token, revoked | {"g": b64url(code[:cut])})
        _rejected(lambda forged=forged: verify_trust_list(forged, PUBLIC, NOW), errors.TrustListMalformed)


def test_a_huge_count_is_refused_without_allocating():
    token = sign_trust_list(_list([1, 2, 3]), ROOT, form=2)
    revoked = _claims(token)["revoked"]
    code = bytearray(_pad_decode(revoked["g"]))
    for n in (2**28, 2**28 + 1, 2**32 - 1):
        code[6:10] = min(n, 2**32 - 1).to_bytes(4, "big")
        forged = _with_revoked(token, revoked | {"n": n, "g": b64url(bytes(code))})
        _rejected(lambda forged=forged: verify_trust_list(forged, PUBLIC, NOW), errors.TrustListMalformed)


@pytest.mark.parametrize(
    "change",
    [
        {"n": 4},  # n differs from the code's count
        {"k": 3},  # k differs from the code's
        {"n": True},
        {"k": -1},
        {"g": "A"},  # not base64url
        {"g": "AB"},  # non-canonical last character
        {"g": None},
        {"z": ""},
    ],
)
def test_malformed_revoked_members_are_refused(change):
    token = sign_trust_list(_list([1, 2, 3]), ROOT, form=2)
    forged = _with_revoked(token, _claims(token)["revoked"] | change)
    _rejected(lambda: verify_trust_list(forged, PUBLIC, NOW), errors.TrustListMalformed)


def test_a_form_1_revoked_object_inside_form_2_is_refused():
    token = sign_trust_list(_list([1, 2, 3]), ROOT, form=2)
    forged = _with_revoked(token, RevokedSerials([1, 2, 3]).encode())
    _rejected(lambda: verify_trust_list(forged, PUBLIC, NOW), errors.TrustListMalformed)


def test_an_oversized_token_is_refused_before_anything():
    token = jws.unencoded_header_segment(kid_for(PUBLIC), TRUST_LIST2_TYP) + "." + "a" * MAX_TRUST_LIST_LENGTH + ".x"
    _rejected(lambda: verify_trust_list(token, PUBLIC, NOW), errors.TrustListMalformed)


def test_expiry_and_rollback_hold_in_form_2():
    trust_list = _list([1], seq=3)
    token = sign_trust_list(trust_list, ROOT, form=2)
    _rejected(lambda: verify_trust_list(token, PUBLIC, NOW + 31 * DAY), errors.TrustListExpired)
    assert verify_trust_list(token, PUBLIC, NOW + 31 * DAY, accept_expired=True) == trust_list
    _rejected(lambda: verify_trust_list(token, PUBLIC, NOW, min_seq=4), errors.TrustListRollback)


def test_a_form_2_delta_that_does_not_fit_is_refused():
    old = _list([1, 2], seq=1)
    new = build_trust_list(2, old.keys, RevokedSerials([1, 2, 3]), NOW)
    delta = sign_delta(1, old.revoked, new, ROOT, form=2)
    other = build_trust_list(1, old.keys, RevokedSerials([1, 2, 3]), NOW)
    _rejected(lambda: apply_delta(other, delta, PUBLIC, NOW), errors.TrustListDeltaMismatch)
    assert form_of(delta) == 2 and TRUST_LIST2_DELTA_TYP in _pad_decode(_segments(delta)[0]).decode()


# --- equivalence and size ----------------------------------------------------------

serial_sets = st.sets(st.integers(min_value=0, max_value=2**SERIAL_BITS - 1), max_size=300)


@settings(max_examples=60, deadline=None)
@given(values=serial_sets, later=serial_sets)
def test_both_forms_verify_to_the_same_list_and_deltas(values, later):
    old = _list(values, seq=1)
    new = build_trust_list(2, old.keys, RevokedSerials(later), NOW)
    one, two = sign_trust_list(old, ROOT, form=1), sign_trust_list(old, ROOT, form=2)
    assert verify_trust_list(one, PUBLIC, NOW) == verify_trust_list(two, PUBLIC, NOW) == old
    for delta in sign_deltas(1, old.revoked, new, ROOT, (1, 2)):
        assert apply_delta(verify_trust_list(two, PUBLIC, NOW), delta, PUBLIC, NOW) == new
        assert apply_delta(verify_trust_list(one, PUBLIC, NOW), delta, PUBLIC, NOW) == new


def test_a_million_serials_take_under_3_mb_in_form_2():
    """A format property (docs/adr/0002): 1,000,000 random serials, about 2.77 MB signed."""
    values = random.Random(14).sample(range(2**SERIAL_BITS), 1_000_000)
    trust_list = _list(values)
    token = sign_trust_list(trust_list, ROOT, form=2)
    assert len(token) < 3_000_000
    assert verify_trust_list(token, PUBLIC, NOW).revoked == trust_list.revoked
    new = build_trust_list(2, trust_list.keys, trust_list.revoked.union(random.Random(15).sample(
        range(2**SERIAL_BITS), 1000)), NOW)
    assert len(sign_delta(1, trust_list.revoked, new, ROOT, form=2)) < 6_000

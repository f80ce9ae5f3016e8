"""keys.hsm without a token: the JWS layout, CKA_EC_POINT decoding, the PIN and the extra."""

from __future__ import annotations

import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import CARD_TYP, TRUST_LIST_TYP, hsm, jws, kid_for, verify_card
from keys.jwk import public_key_bytes
from tests.factories import NOW, make_card, make_trust


@pytest.mark.parametrize("typ", [CARD_TYP, TRUST_LIST_TYP])
def test_sign_jws_writes_the_same_bytes_as_software_signing(typ: str) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))  # Ed25519 is deterministic
    claims = make_card().claims()

    assert hsm.sign_jws(claims, key, kid_for(key.public_key()), typ) == jws.sign(
        claims, key, kid_for(key.public_key()), typ
    )


def test_a_card_from_sign_jws_verifies() -> None:
    trust = make_trust()
    private, issuing = trust.signer

    token = hsm.sign_jws(make_card().claims(), private, issuing.kid, CARD_TYP)

    assert verify_card(token, trust.trust_list, NOW).kid == issuing.kid


def test_ec_point_in_its_der_octet_string() -> None:
    public = Ed25519PrivateKey.generate().public_key()
    raw = public_key_bytes(public)

    assert hsm.public_key_from_ec_point(b"\x04\x20" + raw) == public
    assert hsm.public_key_from_ec_point(raw) == public  # tokens that predate PKCS#11 3.0


@pytest.mark.parametrize(
    "ec_point",
    [b"", b"\x04\x20" + bytes(31), b"\x04\x21" + bytes(33), b"\x03\x20" + bytes(32), b"\x04" + bytes(64)],
    ids=["empty", "short", "wrong-length-byte", "not-an-octet-string", "uncompressed-p256"],
)
def test_ec_point_that_is_not_ed25519_is_refused(ec_point: bytes) -> None:
    with pytest.raises(hsm.HsmKeyUnsuitable):
        hsm.public_key_from_ec_point(ec_point)


def test_pin_from_the_environment() -> None:
    assert hsm.pin_from_env({hsm.PIN_ENV: "123456"}) == "123456"
    with pytest.raises(hsm.HsmPinRefused, match=hsm.PIN_ENV):
        hsm.pin_from_env({})


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pkcs11", None)  # import pkcs11 now raises ImportError

    with pytest.raises(hsm.HsmUnavailable, match=r"hsm extra"):
        hsm.open_token("/usr/lib/softhsm/libsofthsm2.so", "kia", "123456")

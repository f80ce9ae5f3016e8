"""JWKS export and import round trip (keys.jwk)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import jwks, kid_for, load_jwks, public_jwk
from keys.errors import KeyFileInvalid


def test_exported_jwks_imports_to_the_same_keys() -> None:
    public_keys = [Ed25519PrivateKey.generate().public_key() for _ in range(3)]
    document = jwks([public_jwk(key, state="active") for key in public_keys])
    imported = load_jwks(document)
    assert [kid for kid, _ in imported] == [kid_for(key) for key in public_keys]
    assert [key for _, key in imported] == public_keys


@pytest.mark.parametrize("document", [None, [], {"keys": "x"}, {"keys": [{"kty": "RSA"}]}, {"nokeys": []}])
def test_a_document_that_is_not_an_ed25519_jwks_is_refused(document: object) -> None:
    with pytest.raises(KeyFileInvalid):
        load_jwks(document)


def test_a_jwks_holding_a_private_key_is_refused() -> None:
    jwk = public_jwk(Ed25519PrivateKey.generate().public_key())
    jwk["d"] = "AAAA"
    with pytest.raises(KeyFileInvalid):
        load_jwks({"keys": [jwk]})

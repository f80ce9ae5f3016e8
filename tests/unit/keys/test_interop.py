"""Interoperability: an independent JOSE implementation (jwcrypto) agrees with keys/."""

from __future__ import annotations

import json

import pytest
from jwcrypto import jwk as jose_jwk
from jwcrypto import jws as jose_jws
from jwcrypto.common import JWException

from keys import jwks, public_jwk, thumbprint, verify_card, verify_trust_list
from tests.factories import NOW, b64url, make_card, make_issuing_key, make_trust


@pytest.fixture
def trust():
    return make_trust(signers=[make_issuing_key(), make_issuing_key()])


def jose_verify(token: str, keyset: jose_jwk.JWKSet) -> tuple[dict, dict]:
    """Verify ``token`` with jwcrypto using the key of its kid; returns (header, claims)."""
    signed = jose_jws.JWS()
    signed.deserialize(token)
    header = signed.jose_header
    signed.verify(keyset.get_key(header["kid"]), alg="EdDSA")
    return header, json.loads(signed.payload)


def issuing_keyset(trust) -> jose_jwk.JWKSet:
    return jose_jwk.JWKSet.from_json(json.dumps(jwks([key.to_jwk() for _, key in trust.signers])))


@pytest.mark.parametrize("signer_index", [0, 1])
def test_card_token_verifies_with_jwcrypto(trust, signer_index):
    card = make_card()
    token = trust.issue(card, trust.signers[signer_index])

    header, claims = jose_verify(token, issuing_keyset(trust))

    assert header == {"alg": "EdDSA", "kid": trust.signers[signer_index][1].kid, "typ": "kia"}
    assert claims == card.claims()
    assert list(claims) == ["sub", "reg", "bm", "iat", "exp"]


def test_jwcrypto_rejects_a_tampered_card_token(trust):
    token = trust.issue()
    header, payload, signature = token.split(".")
    tampered = f"{header}.{b64url(json.dumps({**make_card().claims(), 'reg': 3371}).encode())}.{signature}"
    with pytest.raises(JWException):
        jose_verify(tampered, issuing_keyset(trust))


def test_card_token_signed_by_jwcrypto_verifies(trust):
    private, key = trust.signer
    card = make_card()
    signed = jose_jws.JWS(json.dumps(card.claims()).encode())
    signed.add_signature(
        jose_jwk.JWK.from_pyca(private), None, json.dumps({"alg": "EdDSA", "kid": key.kid, "typ": "kia"})
    )
    assert verify_card(signed.serialize(compact=True), trust.trust_list, NOW).card == card


def test_trust_list_verifies_with_jwcrypto_against_the_root_jwk(trust):
    root = jose_jwk.JWK.from_json(json.dumps(public_jwk(trust.root.public_key())))
    signed = jose_jws.JWS()
    signed.deserialize(trust.token)

    signed.verify(root, alg="EdDSA")

    assert signed.jose_header == {"alg": "EdDSA", "kid": public_jwk(trust.root.public_key())["kid"], "typ": "kia-tl"}
    assert json.loads(signed.payload) == trust.trust_list.claims()


def test_trust_list_signed_by_jwcrypto_verifies(trust):
    root_public = trust.root.public_key()
    signed = jose_jws.JWS(json.dumps(trust.trust_list.claims()).encode())
    signed.add_signature(
        jose_jwk.JWK.from_pyca(trust.root),
        None,
        json.dumps({"alg": "EdDSA", "kid": public_jwk(root_public)["kid"], "typ": "kia-tl"}),
    )
    assert verify_trust_list(signed.serialize(compact=True), root_public, NOW) == trust.trust_list


def test_jwcrypto_agrees_on_the_thumbprint_and_kid(trust):
    jwk = public_jwk(trust.root.public_key())
    root = jose_jwk.JWK.from_json(json.dumps(jwk))
    assert not root.has_private
    assert root.thumbprint() == thumbprint(trust.root.public_key())
    assert root.thumbprint().startswith(jwk["kid"])

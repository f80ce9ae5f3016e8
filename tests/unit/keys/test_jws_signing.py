"""keys.jws.sign: one signing path for software keys and keys on an HSM, in pyjwt's exact bytes."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.api_jws import PyJWS

from keys import CARD_TYP, TRUST_LIST_DELTA_TYP, TRUST_LIST_TYP, jws, kid_for, verify_card
from keys.jwk import EDDSA
from tests.factories import NOW, make_card, make_trust

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))  # Ed25519 is deterministic


def _pyjwt(claims: dict[str, Any], key: Ed25519PrivateKey, kid: str, typ: str) -> str:
    """What the office signed before keys.jws wrote tokens itself: the oracle."""
    return PyJWS(algorithms=[EDDSA]).encode(jws.canonical_json(claims), key, algorithm=EDDSA,
                                            headers={"kid": kid, "typ": typ})


@pytest.mark.parametrize("typ", [CARD_TYP, TRUST_LIST_TYP, TRUST_LIST_DELTA_TYP, "kia-config"])
@pytest.mark.parametrize("claims", [make_card().claims(), {}, {"z": 1, "a": [1, "dua"], "nama": "Añjani ✓"}])
def test_the_same_token_as_pyjwt_for_the_same_key_and_claims(typ: str, claims: dict[str, Any]) -> None:
    kid = kid_for(KEY.public_key())

    token = jws.sign(claims, KEY, kid, typ)

    assert token == _pyjwt(claims, KEY, kid, typ)
    assert token.split(".", 1)[0] == jws.header_segment(kid, typ)


class _Signer:
    """Any object with sign(bytes) -> bytes signs, as a key on an HSM does."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.key = key
        self.signed: list[bytes] = []

    def sign(self, data: bytes) -> bytes:
        self.signed.append(data)
        return self.key.sign(data)


def test_any_signer_signs_the_signing_input_once() -> None:
    trust = make_trust()
    private, issuing = trust.signer
    signer = _Signer(private)

    token = jws.sign(make_card().claims(), signer, issuing.kid, CARD_TYP)

    assert signer.signed == [token.rsplit(".", 1)[0].encode("ascii")]
    assert token == jws.sign(make_card().claims(), private, issuing.kid, CARD_TYP)
    assert verify_card(token, trust.trust_list, NOW).kid == issuing.kid

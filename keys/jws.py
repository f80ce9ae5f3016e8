"""Compact JWS signing and pinned-key verification, shared by cards and lists.

pyjwt does the JWS work: canonical base64url, the signing input, the
signature.  This module fixes the header to exactly ``alg``, ``kid`` and
``typ``, and verification always names the one algorithm pinned for the key
in hand, never the one the header asks for.
"""

from __future__ import annotations

import json
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.api_jws import PyJWS

from .jwk import EDDSA, b64url_encode

# Document types (the JWS typ header, RFC 8725 section 3.11).
CARD_TYP = "kia"
TRUST_LIST_TYP = "kia-tl"
TRUST_LIST_DELTA_TYP = "kia-tl-delta"

_JWS = PyJWS(algorithms=[EDDSA])


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def header_segment(kid: str, typ: str, alg: str = EDDSA) -> str:
    """The exact first segment this project writes for (kid, typ)."""
    return b64url_encode(canonical_json({"alg": alg, "kid": kid, "typ": typ}))


def sign(claims: dict[str, Any], key: Ed25519PrivateKey, kid: str, typ: str) -> str:
    """A compact JWS of ``claims`` (members in the given order) under ``key``."""
    token = _JWS.encode(canonical_json(claims), key, algorithm=EDDSA, headers={"kid": kid, "typ": typ})
    assert token.split(".", 1)[0] == header_segment(kid, typ), "header layout changed"
    return token


def verify(token: str, key: Ed25519PublicKey, alg: str) -> bytes:
    """The verified payload of ``token`` under ``key`` with the pinned ``alg``.

    Raises jwt.InvalidSignatureError for a bad signature, and
    jwt.InvalidAlgorithmError or jwt.DecodeError for anything else.
    """
    decoded = _JWS.decode_complete(token, key, algorithms=[alg])
    payload: bytes = decoded["payload"]
    return payload


HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})


class HeaderProblem(ValueError):
    """Why a header fails the project's rule; callers map it to their own error."""

    MALFORMED, WRONG_TYPE, BAD_MEMBERS = "malformed", "wrong_type", "bad_members"

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def unverified_header(token: str, typ: str) -> dict[str, Any]:
    """The header, NOT verified, checked against the rule for every document:
    ``typ`` as expected, and exactly the members alg, kid and typ.

    Only to pick a key or to explain a rejection.  Raises HeaderProblem.
    """
    try:
        header: dict[str, Any] = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        raise HeaderProblem(HeaderProblem.MALFORMED) from None
    except jwt.InvalidTokenError:  # pyjwt refuses a non-string kid or a crit member
        raise HeaderProblem(HeaderProblem.BAD_MEMBERS) from None
    if header.get("typ") != typ:
        raise HeaderProblem(HeaderProblem.WRONG_TYPE)
    if set(header) != HEADER_MEMBERS:
        raise HeaderProblem(HeaderProblem.BAD_MEMBERS)
    return header

"""Compact JWS signing and pinned-key verification, shared by cards and lists.

Signing writes the one layout this project uses: the header exactly ``alg``,
``kid`` and ``typ`` (``header_segment``), the claims as canonical JSON, each
in unpadded base64url, and the Ed25519 signature of the signing input made by
any ``Signer``: a software Ed25519PrivateKey, or a key on an HSM
(keys.hsm.HsmKey).  The bytes are those pyjwt writes for the same key and
claims (tests/unit/keys/test_jws_signing.py holds pyjwt as the oracle).
pyjwt does verification, which always names the one algorithm pinned for
the key in hand, never the one the header asks for.

``sign_unencoded`` writes the trust list's second form (docs/adr/0002): a JWS
whose payload is not base64url-encoded (RFC 7797, ``"b64": false``), which
pyjwt does not write; keys.signed verifies it.

The card scan path has one shortcut, ``split_compact``: a token whose header
segment is, byte for byte, one this project writes needs no header parsing,
and its payload and signature are decoded here, as strictly as pyjwt and
``jwk.b64url_decode`` do (padding refused too).
"""

from __future__ import annotations

import binascii
import json
import re
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jwt.api_jws import PyJWS

from .jwk import EDDSA, b64url_encode

# Document types (the JWS typ header, RFC 8725 section 3.11).
CARD_TYP = "kia"
TRUST_LIST_TYP = "kia-tl"
TRUST_LIST_DELTA_TYP = "kia-tl-delta"
# The trust list's second form (docs/adr/0002): an unencoded JSON payload (RFC 7797).
TRUST_LIST2_TYP = "kia-tl2"
TRUST_LIST2_DELTA_TYP = "kia-tl2-delta"

_JWS = PyJWS(algorithms=[EDDSA])


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def header_segment(kid: str, typ: str, alg: str = EDDSA) -> str:
    """The exact first segment this project writes for (kid, typ)."""
    return b64url_encode(canonical_json({"alg": alg, "kid": kid, "typ": typ}))


class Signer(Protocol):
    """Anything that makes an Ed25519 signature of bytes: an Ed25519PrivateKey, or an HsmKey."""

    def sign(self, data: bytes) -> bytes: ...


def sign(claims: dict[str, Any], key: Signer, kid: str, typ: str) -> str:
    """A compact JWS of ``claims`` (members in the given order) signed by ``key`` with EdDSA."""
    signing_input = f"{header_segment(kid, typ)}.{b64url_encode(canonical_json(claims))}"
    return f"{signing_input}.{b64url_encode(key.sign(signing_input.encode('ascii')))}"


def unencoded_header_segment(kid: str, typ: str) -> str:
    """The exact first segment of a JWS with an unencoded payload (RFC 7797) for (kid, typ)."""
    return b64url_encode(canonical_json({"alg": EDDSA, "b64": False, "crit": ["b64"], "kid": kid, "typ": typ}))


def is_unencodable(payload: bytes) -> bool:
    """Whether ``payload`` may stand unencoded in a compact JWS: printable ASCII with no '.'."""
    return payload.isascii() and b"." not in payload and (not payload or payload.decode("ascii").isprintable())


def sign_unencoded(payload: bytes, key: Signer, kid: str, typ: str) -> str:
    """A compact JWS whose payload is ``payload`` itself (RFC 7797 ``"b64": false``), signed with EdDSA.

    The signing input is the header segment, ``.`` and the payload bytes; the
    payload must be printable ASCII without ``.`` (RFC 7797 section 5.2), or
    ValueError is raised.
    """
    if not is_unencodable(payload):
        raise ValueError("an unencoded payload must be printable ASCII without '.'")
    signing_input = f"{unencoded_header_segment(kid, typ)}.".encode("ascii") + payload
    return f"{signing_input.decode('ascii')}.{b64url_encode(key.sign(signing_input))}"


def verify(token: str, key: Ed25519PublicKey, alg: str) -> bytes:
    """The verified payload of ``token`` under ``key`` with the pinned ``alg``.

    Raises jwt.InvalidSignatureError for a bad signature, and
    jwt.InvalidAlgorithmError or jwt.DecodeError for anything else.
    """
    decoded = _JWS.decode_complete(token, key, algorithms=[alg])
    payload: bytes = decoded["payload"]
    return payload


# split_compact's strict base64url: the alphabet by one pattern over the whole
# token, then per segment the length and the unused low bits of the last
# character (4 bits when the length is 2 mod 4, 2 bits when 3 mod 4), which a
# canonical encoding leaves zero; binascii decodes in C.
_COMPACT_SEGMENTS = re.compile(r"[A-Za-z0-9_-]*\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]*)")
_CANONICAL_LAST = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}
_URL_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def split_compact(token: str) -> tuple[bytes, bytes, bytes]:
    """The signing input, payload and signature of compact ``token``, NOT verified.

    The header segment is not decoded: only for a caller that matched it
    exactly against a ``header_segment`` it wrote, and so takes the algorithm
    from its own pinned key.  Every segment must be unpadded base64url, and
    payload and signature canonical, as ``jwk.b64url_decode`` requires.
    Raises ValueError for anything else.
    """
    segments = _COMPACT_SEGMENTS.fullmatch(token)
    if segments is None:
        raise ValueError("not a compact JWS in unpadded base64url")
    payload, signature = segments.groups()
    signing_input = token[: len(token) - len(signature) - 1]
    return signing_input.encode("ascii"), _decode_segment(payload), _decode_segment(signature)


def _decode_segment(segment: str) -> bytes:
    """Canonical unpadded base64url already known to be in the alphabet."""
    unused = len(segment) % 4
    if unused == 1 or (unused and segment[-1] not in _CANONICAL_LAST[unused]):
        raise ValueError("non-canonical base64url")
    padded = segment.encode("ascii").translate(_URL_TO_STANDARD) + b"=" * (-unused % 4)
    return binascii.a2b_base64(padded, strict_mode=True)


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

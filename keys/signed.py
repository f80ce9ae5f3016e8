"""Verifying the project's signed lists: an office's trust list, the national trust directory.

Both are compact JWS signed with EdDSA by a pinned root key, with their own
``typ`` and a JSON object of exactly known members, of which ``seq``,
``iat``, ``exp`` (and a delta's ``from``) are whole seconds or counts.
``verified_claims`` makes those checks in one order for both
(``verified_unencoded_claims`` for the trust list's second form, whose
payload is not base64url-encoded, docs/adr/0002); each caller
maps a ``Problem`` to its own error family and names its document in the
message ("trust list", "trust directory").
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import jws
from .jwk import EDDSA, b64url_decode

_COUNTS = ("seq", "iat", "exp", "from")


class Problem(ValueError):
    """Why a signed list is refused: ``kind`` picks the caller's error, the message explains."""

    MALFORMED, WRONG_TYPE, BAD_SIGNATURE = "malformed", "wrong_type", "bad_signature"

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def verified_claims(
    token: object, root_key: Ed25519PublicKey, typ: str, names: frozenset[str], max_length: int, document: str
) -> dict[str, Any]:
    """The claims of ``token``, a ``typ`` JWS signed by ``root_key``, holding exactly ``names``.

    Checks, in order: text, at most ``max_length`` characters, the header
    (``typ`` before the signature), EdDSA pinned, the signature, JSON, the
    members, and that the counts among them are whole numbers.  Raises
    Problem; ``document`` names the list in its message.
    """
    return _claims(verified_payload(_text(token, max_length, document), root_key, typ, document), names, document)


def verified_unencoded_claims(
    token: object, root_key: Ed25519PublicKey, typ: str, names: frozenset[str], max_length: int, document: str
) -> dict[str, Any]:
    """As ``verified_claims``, for a JWS with an unencoded payload (RFC 7797, docs/adr/0002).

    The header must be exactly ``jws.unencoded_header_segment`` for its kid:
    ``typ`` is checked first, then ``b64`` false and ``crit`` ["b64"], EdDSA
    pinned, all before the signature; the payload must be printable ASCII
    without ``.``.
    """
    # Indices, not split: a list of 5,000,000 serials is a 14 MB payload, and a
    # terminal's peak memory is set by loading it (docs/benchmarks.md).
    token = _text(token, max_length, document)
    first, last = token.find("."), token.rfind(".")
    if token.count(".") != 2:
        raise Problem(Problem.MALFORMED, f"the {document} is not a compact JWS with an unencoded payload")
    header_segment = token[:first]
    header = unverified_header(header_segment)
    if header is None:
        raise Problem(Problem.MALFORMED, f"the {document} header is not a compact JWS header")
    if header.get("typ") != typ:
        raise Problem(Problem.WRONG_TYPE, f"expected a JWS of type {typ}, got another kind of document")
    kid = header.get("kid")
    if not isinstance(kid, str) or header_segment != jws.unencoded_header_segment(kid, typ):
        # Names b64 false, crit ["b64"] and EdDSA, in the one layout the office writes.
        raise Problem(
            Problem.MALFORMED, f"the {document} header is not exactly alg EdDSA, b64 false, crit b64, kid and typ"
        )
    if not token.isascii() or not token.isprintable():
        raise Problem(Problem.MALFORMED, f"the {document} payload is not printable ASCII")
    try:
        signature = b64url_decode(token[last + 1 :])
    except ValueError:
        raise Problem(Problem.MALFORMED, f"the {document} signature is not base64url") from None
    signing_input = token[:last].encode("ascii")
    try:
        root_key.verify(signature, signing_input)
    except InvalidSignature:
        raise Problem(Problem.BAD_SIGNATURE, f"the {document} is not signed by the pinned root key") from None
    del signing_input
    # Parsed in place (no 12 MB slice at 5,000,000 serials); the payload must be the JSON alone.
    try:
        claims, end = json.JSONDecoder().raw_decode(token, first + 1)
    except ValueError:
        raise Problem(Problem.MALFORMED, f"the {document} payload is not JSON") from None
    if end != last:
        raise Problem(Problem.MALFORMED, f"the {document} payload is not JSON alone")
    return _members(claims, names, document)


def _text(token: object, max_length: int, document: str) -> str:
    """``token`` as stripped text of at most ``max_length`` characters, or Problem (MALFORMED)."""
    if isinstance(token, bytes):
        token = token.decode("ascii", "replace")
    if not isinstance(token, str):
        raise Problem(Problem.MALFORMED, f"a {document} must be text")
    if len(token) > max_length:
        raise Problem(Problem.MALFORMED, f"the {document} is larger than any genuine list")
    return token.strip()


def unverified_header(header_segment: str) -> dict[str, Any] | None:
    """The JSON object of a header segment, NOT verified; None if it is none (to choose how to verify)."""
    if len(header_segment) > 1024:
        return None
    try:
        header = json.loads(b64url_decode(header_segment))
    except ValueError:
        return None
    return header if isinstance(header, dict) else None


def _claims(payload: bytes, names: frozenset[str], document: str) -> dict[str, Any]:
    try:
        claims = json.loads(payload)
    except ValueError:
        raise Problem(Problem.MALFORMED, f"the {document} payload is not JSON") from None
    return _members(claims, names, document)


def _members(claims: object, names: frozenset[str], document: str) -> dict[str, Any]:
    if not isinstance(claims, dict) or set(claims) != names:
        raise Problem(Problem.MALFORMED, f"the {document} does not hold exactly the expected members")
    for name in (count for count in _COUNTS if count in names):
        value = claims[name]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**40:
            raise Problem(Problem.MALFORMED, f"the {document}'s {name} must be a whole number")
    return claims


def verified_payload(token: str, root_key: Ed25519PublicKey, typ: str, document: str) -> bytes:
    """The payload of a compact JWS of type ``typ`` signed by ``root_key`` (EdDSA pinned).

    The same checks, in the same order, as jws.unverified_header then
    jws.verify, but pyjwt only ever sees the header segment: it checks each
    character of a segment in a Python loop, 0.45 s for the 5 MB payload of
    a list of 1,000,000 revoked serials, and it parsed the list twice.  The
    segments are decoded by keys.jwk.b64url_decode (canonical, no padding)
    and the signature is verified over the signing input, as RFC 8037 says.
    """
    segments = token.split(".")
    if len(segments) != 3:
        raise Problem(Problem.MALFORMED, f"the {document} is not a compact JWS")
    header_segment, payload_segment, signature_segment = segments
    try:
        header = jws.unverified_header(f"{header_segment}..", typ)
    except jws.HeaderProblem as problem:
        if problem.kind == jws.HeaderProblem.WRONG_TYPE:
            raise Problem(Problem.WRONG_TYPE, f"expected a JWS of type {typ}, got another kind of document") from None
        raise Problem(
            Problem.MALFORMED, f"the {document} header is not a compact JWS header of alg, kid and typ"
        ) from None
    try:
        payload, signature = b64url_decode(payload_segment), b64url_decode(signature_segment)
    except ValueError:
        raise Problem(Problem.MALFORMED, f"the {document} is not a compact JWS") from None
    if header["alg"] != EDDSA:
        raise Problem(Problem.BAD_SIGNATURE, f"the {document} is not signed with the root key's algorithm")
    try:
        root_key.verify(signature, f"{header_segment}.{payload_segment}".encode("ascii"))
    except InvalidSignature:
        raise Problem(Problem.BAD_SIGNATURE, f"the {document} is not signed by the pinned root key") from None
    return payload

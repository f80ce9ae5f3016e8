"""Ed25519 public keys as JWKs (RFC 8037), thumbprints (RFC 7638) and kids.

The kid printed in every card header is the first ``KID_LENGTH`` characters
of the key's RFC 7638 thumbprint: every byte of the token counts on a printed
QR.  Short kids may collide; verifiers therefore try every key with a kid.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import KeyFileInvalid

# The one signature algorithm of card tokens and trust lists (RFC 8037).
EDDSA = "EdDSA"
KID_LENGTH = 4
KID_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{{KID_LENGTH}}}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url, refusing any non-canonical spelling."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) != text:
        raise ValueError("non-canonical base64url")
    return data


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def thumbprint(key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK SHA-256 thumbprint, base64url."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(public_key_bytes(key))}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url_encode(hashlib.sha256(canonical).digest())


def kid_for(key: Ed25519PublicKey) -> str:
    return thumbprint(key)[:KID_LENGTH]


def is_valid_kid(kid: object) -> bool:
    return isinstance(kid, str) and KID_PATTERN.fullmatch(kid) is not None


def public_jwk(key: Ed25519PublicKey, **extra: Any) -> dict[str, Any]:
    """The key as a public JWK with its kid, alg and use."""
    jwk: dict[str, Any] = {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url_encode(public_key_bytes(key)),
        "kid": kid_for(key),
        "alg": EDDSA,
        "use": "sig",
    }
    jwk.update(extra)
    return jwk


def load_public_jwk(jwk: object) -> Ed25519PublicKey:
    """Read an Ed25519 public JWK; raises KeyFileInvalid for anything else.

    Private members (``d``) are refused: a public JWK file must never carry
    the private key.
    """
    if not isinstance(jwk, dict):
        raise KeyFileInvalid("a JWK must be a JSON object")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise KeyFileInvalid("only Ed25519 (kty OKP, crv Ed25519) keys are supported")
    if "d" in jwk:
        raise KeyFileInvalid("the JWK holds a private key; export the public key only")
    if jwk.get("alg", EDDSA) != EDDSA:
        raise KeyFileInvalid("an Ed25519 JWK must have alg EdDSA")
    x = jwk.get("x")
    try:
        raw = b64url_decode(x) if isinstance(x, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise KeyFileInvalid("the JWK's x is not a 32-byte Ed25519 public key")
    key = Ed25519PublicKey.from_public_bytes(raw)
    if "kid" in jwk and jwk["kid"] != kid_for(key):
        raise KeyFileInvalid("the JWK's kid does not match its key")
    return key


def jwks(keys: list[dict[str, Any]]) -> dict[str, Any]:
    return {"keys": keys}


def load_jwks(document: object) -> list[tuple[str, Ed25519PublicKey]]:
    """The (kid, key) pairs of a JWKS; raises KeyFileInvalid if any key is bad."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeyFileInvalid('a JWKS must be an object with a "keys" list')
    pairs = []
    for jwk in document["keys"]:
        key = load_public_jwk(jwk)
        pairs.append((kid_for(key), key))
    return pairs

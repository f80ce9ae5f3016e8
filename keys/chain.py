"""The terminal's redemption log as the office receives it (DESIGN section 7).

A terminal logs every decision as a ``Redemption`` with its own sequence
number, chained: ``hash_n = SHA-256(hash_{n-1} || canonical(record_n))`` from
32 zero bytes.  It signs ``Checkpoint`` tokens (sequence, hash) with its
terminal key, and authenticates each sync request with a short-lived
``sync token`` (a JWT: issuer the terminal, audience the office, unique jti).
The office recomputes the chain from what it already holds, so a record
that was changed, dropped or inserted breaks it.  docs/sync-protocol.md
specifies the wire format.

Records hold no child's data: the card serial, the age category and money.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.api_jwt import PyJWT

from . import jws
from .eligibility import is_valid_region
from .errors import KiaError
from .jwk import EDDSA, b64url_decode, b64url_encode

GENESIS = bytes(32)
CHECKPOINT_TYP = "kia-ckpt"
SYNC_TOKEN_TYP = "kia-sync+jwt"  # noqa: S105 (a JWS type, not a secret)
# A sync token lives at most this long; the office keeps its jti that long.
MAX_SYNC_TOKEN_LIFETIME = 300
SYNC_CLOCK_LEEWAY = 60
MAX_MONEY = 100_000_000  # rupiah: more than any ticket or fare
_REASON_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz_")
# Terminal ids and jtis are plain ASCII words: nothing else reaches a database query.
_TERMINAL_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_JTI = re.compile(r"[A-Za-z0-9_-]{8,64}")
_JWT = PyJWT()


def discounted(price: int, kind: str, value: int) -> tuple[int, int]:
    """(discount, paid) in rupiah for ``price`` under a ``percent`` or ``fixed`` discount of ``value``.

    The one rule the terminal applies and the office checks: a percentage is
    rounded down to the rupiah (the partner never gives more than its rule
    says) and a fixed discount is at most the price, so ``paid = price -
    discount`` and ``0 <= paid <= price``.
    """
    discount = price * value // 100 if kind == "percent" else min(value, price)
    return discount, price - discount


class SyncError(KiaError):
    """A sync request, record or checkpoint must be refused."""


class InvalidRecord(SyncError):
    """A redemption record is not of the documented form."""


class InvalidSyncToken(SyncError):
    """The sync token is not a valid, current token of a known terminal."""


class InvalidCheckpoint(SyncError):
    """The checkpoint is not signed by the terminal or does not fit the chain."""


@dataclasses.dataclass(frozen=True)
class Redemption:
    """One decision at a terminal: a card scanned, accepted or rejected."""

    seq: int
    at: int
    serial: str | None
    accepted: bool
    reason: str
    service: str
    category: str | None
    price: int
    discount: int
    paid: int
    flags: tuple[str, ...] = ()
    # The card's home region, only for a card of another office's region, verified under the
    # national directory (docs/federation.md): None, and absent from the record, otherwise.
    home: int | None = None

    def canonical(self) -> bytes:
        """The bytes the chain hashes: sorted keys, no spaces, ASCII; ``home`` only when set."""
        # A plain dict, not dataclasses.asdict: this runs for every record synced.
        record = {field: getattr(self, field) for field in _FIELDS}
        record["flags"] = list(self.flags)
        if self.home is not None:
            record["home"] = self.home
        return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    def to_json(self) -> dict[str, Any]:
        return json.loads(self.canonical())  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, value: object) -> Redemption:
        """Read a record strictly: exactly the fields, each of its type and range."""
        if not isinstance(value, dict) or (value.keys() != _FIELD_NAMES and value.keys() != _FOREIGN_FIELD_NAMES):
            raise InvalidRecord(f"a record holds exactly the fields {', '.join(sorted(_FIELD_NAMES))}, "
                                "and home for a card of another region")
        if "home" in value and not (_is_int(value["home"]) and is_valid_region(value["home"])):
            raise InvalidRecord("home must be a region code")
        ints = ("seq", "at", "price", "discount", "paid")
        if not all(_is_int(value[name]) for name in ints) or not isinstance(value["accepted"], bool):
            raise InvalidRecord("seq, at, price, discount and paid are whole numbers; accepted is true or false")
        if not 1 <= value["seq"] < 2**62 or not 0 <= value["at"] < 2**40:
            raise InvalidRecord("seq or at is out of range")
        if not all(0 <= value[name] <= MAX_MONEY for name in ("price", "discount", "paid")):
            raise InvalidRecord("amounts are rupiah from 0 to 100,000,000")
        if value["paid"] != value["price"] - value["discount"]:
            raise InvalidRecord("paid must equal price less discount")
        if not _is_short_text(value["reason"], 40) or not _REASON_CHARS.issuperset(value["reason"]):
            raise InvalidRecord("reason must be a reason code")
        if not _is_short_text(value["service"], 64):
            raise InvalidRecord("service must be 1 to 64 characters")
        for name in ("serial", "category"):
            if value[name] is not None and not _is_short_text(value[name], 16):
                raise InvalidRecord(f"{name} must be null or 1 to 16 characters")
        flags = value["flags"]
        if not isinstance(flags, list) or len(flags) > 8 or not all(_is_word(flag, 32) for flag in flags):
            raise InvalidRecord("flags must be a list of up to 8 short words (a-z and _)")
        return cls(**{**value, "flags": tuple(flags)})


_FIELDS = tuple(field.name for field in dataclasses.fields(Redemption) if field.name != "home")
_FIELD_NAMES = frozenset(_FIELDS)
_FOREIGN_FIELD_NAMES = _FIELD_NAMES | {"home"}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_word(value: object, limit: int) -> bool:
    """A lowercase word such as ``stale``: exports list flags separated by spaces."""
    return isinstance(value, str) and 0 < len(value) <= limit and set(value) <= _REASON_CHARS


def _is_short_text(value: object, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable() and value.isascii()


def chain_hash(previous: bytes, record: Redemption) -> bytes:
    return hashlib.sha256(previous + record.canonical()).digest()


def chain_hashes(previous: bytes, records: Iterable[Redemption]) -> list[bytes]:
    """The hash after each record, starting from ``previous``."""
    hashes = []
    for record in records:
        previous = chain_hash(previous, record)
        hashes.append(previous)
    return hashes


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    terminal: str
    seq: int
    hash: bytes
    at: int


def sign_checkpoint(checkpoint: Checkpoint, key: Ed25519PrivateKey, kid: str) -> str:
    claims = {"tid": checkpoint.terminal, "seq": checkpoint.seq, "hash": b64url_encode(checkpoint.hash),
              "iat": checkpoint.at}
    return jws.sign(claims, key, kid, CHECKPOINT_TYP)


def verify_checkpoint(token: object, key: Ed25519PublicKey, terminal: str) -> Checkpoint:
    """A checkpoint signed by ``terminal``'s key; raises InvalidCheckpoint."""
    if not isinstance(token, str) or len(token) > 1024:
        raise InvalidCheckpoint("the checkpoint is not a compact JWS")
    try:
        jws.unverified_header(token, CHECKPOINT_TYP)
        claims = json.loads(jws.verify(token, key, EDDSA))
    except (jws.HeaderProblem, jwt.InvalidTokenError, ValueError):
        raise InvalidCheckpoint("the checkpoint is not signed by this terminal's key") from None
    if not isinstance(claims, dict) or set(claims) != {"tid", "seq", "hash", "iat"}:
        raise InvalidCheckpoint("the checkpoint holds exactly tid, seq, hash and iat")
    if claims["tid"] != terminal or not _is_int(claims["seq"]) or not _is_int(claims["iat"]):
        raise InvalidCheckpoint("the checkpoint is for another terminal or malformed")
    try:
        digest = b64url_decode(claims["hash"]) if isinstance(claims["hash"], str) else b""
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise InvalidCheckpoint("the checkpoint's hash is not a SHA-256 digest")
    return Checkpoint(terminal, claims["seq"], digest, claims["iat"])


@dataclasses.dataclass(frozen=True)
class SyncClaims:
    terminal: str
    jti: str
    expires_at: int


def sign_sync_token(terminal: str, audience: str, key: Ed25519PrivateKey, kid: str, now: int,
                    lifetime: int = 120) -> str:
    """A fresh token for one sync request."""
    claims = {"iss": terminal, "aud": audience, "iat": now, "exp": now + lifetime,
              "jti": secrets.token_urlsafe(16)}
    return _JWT.encode(claims, key, algorithm=EDDSA, headers={"kid": kid, "typ": SYNC_TOKEN_TYP})


def verify_sync_token(
    token: object, terminal_key: Callable[[str], Ed25519PublicKey | None], audience: str, now: int
) -> SyncClaims:
    """Check a sync token: known terminal, its key, the audience and the time.

    ``terminal_key`` looks up the active key of a terminal id (None when the
    terminal is unknown or not active).  Replay of the jti is the caller's
    check (it needs storage).  Raises InvalidSyncToken.
    """
    if not isinstance(token, str) or len(token) > 2048:
        raise InvalidSyncToken("the sync token is missing or too large")
    try:
        jws.unverified_header(token, SYNC_TOKEN_TYP)
        unverified = _JWT.decode(token, options={"verify_signature": False})
    except (jws.HeaderProblem, jwt.InvalidTokenError):
        raise InvalidSyncToken("the sync token is not a terminal's token") from None
    terminal = unverified.get("iss")
    if not isinstance(terminal, str) or not _TERMINAL_ID.fullmatch(terminal):
        raise InvalidSyncToken("the sync token names no terminal")
    key = terminal_key(terminal)
    if key is None:
        raise InvalidSyncToken("the sync token names no active terminal")
    try:
        claims = _JWT.decode(
            token,
            key,
            algorithms=[EDDSA],
            audience=audience,
            options={"require": ["iss", "aud", "iat", "exp", "jti"], "verify_exp": False, "verify_iat": False,
                     "strict_aud": True},
        )
    except jwt.InvalidAudienceError:
        raise InvalidSyncToken("the sync token is for another server") from None
    except jwt.InvalidTokenError:
        raise InvalidSyncToken("the sync token is not signed by the terminal's key") from None
    issued_at, expires_at, jti = claims["iat"], claims["exp"], claims["jti"]
    if not (_is_int(issued_at) and _is_int(expires_at) and isinstance(jti, str) and _JTI.fullmatch(jti)):
        raise InvalidSyncToken("the sync token's iat, exp or jti is malformed")
    if expires_at - issued_at > MAX_SYNC_TOKEN_LIFETIME:
        raise InvalidSyncToken("the sync token lives longer than the office allows")
    if issued_at > now + SYNC_CLOCK_LEEWAY or now >= expires_at + SYNC_CLOCK_LEEWAY:
        raise InvalidSyncToken("the sync token has expired or is not valid yet; check the terminal's clock")
    return SyncClaims(terminal, jti, expires_at)

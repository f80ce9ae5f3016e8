"""Issuing-key lifecycle: active (signs), retired (verifies), revoked (nothing).

Records are immutable; every transition returns a new record and takes the
time as an argument.  Times are POSIX seconds (the JWT NumericDate).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .errors import KeyLifecycleError
from .jwk import EDDSA, kid_for, load_public_jwk, public_jwk


class KeyState(enum.StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"
    REVOKED = "revoked"


@dataclasses.dataclass(frozen=True)
class IssuingKey:
    """An issuing key's public half, state and signing period."""

    kid: str
    public_key: Ed25519PublicKey
    state: KeyState
    created_at: int
    retired_at: int | None = None
    revoked_at: int | None = None
    alg: str = EDDSA

    @classmethod
    def new(cls, public_key: Ed25519PublicKey, now: int) -> IssuingKey:
        return cls(kid=kid_for(public_key), public_key=public_key, state=KeyState.ACTIVE, created_at=now)

    def retire(self, now: int) -> IssuingKey:
        if self.state is not KeyState.ACTIVE:
            raise KeyLifecycleError(f"key {self.kid} is {self.state.value}; only an active key can be retired")
        return dataclasses.replace(self, state=KeyState.RETIRED, retired_at=now)

    def revoke(self, now: int) -> IssuingKey:
        if self.state is KeyState.REVOKED:
            raise KeyLifecycleError(f"key {self.kid} is already revoked")
        return dataclasses.replace(self, state=KeyState.REVOKED, revoked_at=now)

    def signed_within_period(self, issued_at: int, leeway: int) -> bool:
        """Whether a card issued at ``issued_at`` falls in this key's signing period."""
        if issued_at < self.created_at - leeway:
            return False
        return self.retired_at is None or issued_at <= self.retired_at + leeway

    def to_jwk(self) -> dict[str, Any]:
        """The public JWK with the lifecycle members the trust list carries."""
        extra: dict[str, Any] = {"state": self.state.value, "created_at": self.created_at}
        if self.retired_at is not None:
            extra["retired_at"] = self.retired_at
        if self.revoked_at is not None:
            extra["revoked_at"] = self.revoked_at
        return public_jwk(self.public_key, **extra)

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any]) -> IssuingKey:
        """Inverse of ``to_jwk``; raises ValueError or KeyFileInvalid on bad input."""
        public_key = load_public_jwk(jwk)
        created_at = _time(jwk.get("created_at"))
        if created_at is None:
            raise ValueError("a key needs its created_at time")
        return cls(
            kid=kid_for(public_key),
            public_key=public_key,
            state=KeyState(str(jwk.get("state"))),
            created_at=created_at,
            retired_at=_time(jwk.get("retired_at")),
            revoked_at=_time(jwk.get("revoked_at")),
        )


def _time(value: object) -> int | None:
    """A key time in whole POSIX seconds, or None; raises ValueError otherwise."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**40:
        raise ValueError("key times must be whole seconds")
    return value


def active_key(keys: Sequence[IssuingKey]) -> IssuingKey:
    """The one key that signs new cards; raises KeyLifecycleError if none."""
    active = [key for key in keys if key.state is KeyState.ACTIVE]
    if not active:
        raise KeyLifecycleError("there is no active issuing key; run 'kia issuer key rotate'")
    return max(active, key=lambda key: key.created_at)


def rotate(keys: Sequence[IssuingKey], new_public_key: Ed25519PublicKey, now: int) -> list[IssuingKey]:
    """Add a new active key and retire every key that was active."""
    rotated = [key.retire(now) if key.state is KeyState.ACTIVE else key for key in keys]
    rotated.append(IssuingKey.new(new_public_key, now))
    return rotated


def replace_key(keys: Sequence[IssuingKey], kid: str, change: str, now: int) -> list[IssuingKey]:
    """Apply ``change`` ("retire" or "revoke") to the key with ``kid``.

    A short kid can name several keys; the operation then refuses and asks
    for the key's full thumbprint prefix to be unambiguous.
    """
    if change not in ("retire", "revoke"):
        raise ValueError(f"unknown key change {change!r}; use 'retire' or 'revoke'")
    matching = [key for key in keys if key.kid == kid]
    if not matching:
        raise KeyLifecycleError(f"there is no issuing key {kid}")
    if len(matching) > 1:
        raise KeyLifecycleError(f"several issuing keys share kid {kid}; resolve in the key store")
    target = matching[0]
    updated = target.retire(now) if change == "retire" else target.revoke(now)
    return [updated if key is target else key for key in keys]

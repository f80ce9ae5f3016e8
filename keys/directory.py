"""The national trust directory: each office's root key, by region, signed by the national root.

Like the EU DCC gateway's trust list or ICAO's master list: the ministry's
civil registry directorate signs, with its national root key, a compact JWS
of ``typ`` ``kia-dir`` whose claims are ``seq``, ``iat``, ``exp`` and
``offices``: for each regency/city office its ``region`` (Kemendagri code,
keys.eligibility), its ``root`` (public JWK, keys.jwk), its ``state``
(active, suspended, revoked) and ``valid_from`` / ``valid_until``, and
during a root rotation with an overlap the ``previous_root`` it is leaving,
trusted too until ``previous_until``.  A
delta (``typ`` ``kia-dir-delta``) carries the offices changed and the
regions removed since sequence ``from``, and the digest of the resulting
offices, so that applying it gives exactly the full directory of that
sequence or fails loudly.  docs/federation.md specifies both.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import jws, signed
from .eligibility import is_valid_region
from .errors import (
    DirectoryDeltaMismatch,
    DirectoryExpired,
    DirectoryMalformed,
    DirectoryRollback,
    DirectorySignatureInvalid,
    DirectoryWrongType,
    InvalidDirectoryError,
    KeyFileInvalid,
    OfficeNotInDirectory,
    OfficeNotTrusted,
    OfficeNotValid,
    OfficeRevoked,
    OfficeSuspended,
)
from .jwk import b64url_encode, kid_for, load_public_jwk, public_jwk, public_key_bytes

DIRECTORY_TYP = "kia-dir"
DIRECTORY_DELTA_TYP = "kia-dir-delta"
# 514 offices take about 150 KB; nothing near a megabyte is genuine.
MAX_DIRECTORY_LENGTH = 1024 * 1024
DEFAULT_DIRECTORY_VALIDITY = dt.timedelta(days=30)
_DIRECTORY_CLAIMS = frozenset({"seq", "iat", "exp", "offices"})
_DELTA_CLAIMS = frozenset({"from", "seq", "iat", "exp", "changed", "removed", "sha256"})
_OFFICE_MEMBERS = frozenset({"region", "root", "state", "valid_from", "valid_until"})
# During a root rotation (an overlap) an office also lists the root it is leaving, and until when it is trusted.
_OVERLAP_MEMBERS = frozenset({"previous_root", "previous_until"})
_DOCUMENT = "trust directory"


class OfficeState(enum.StrEnum):
    ACTIVE = "active"  # its trust lists, and so its cards, are trusted
    SUSPENDED = "suspended"  # not trusted for now; the ministry may make it active again
    REVOKED = "revoked"  # never trusted again (the root may be compromised)


@dataclasses.dataclass(frozen=True)
class Office:
    """One office's entry: the root key that signs its trust lists, for its region."""

    region: int
    root: Ed25519PublicKey
    state: OfficeState
    valid_from: int
    valid_until: int
    # A rotation with an overlap: the root the office is leaving, trusted too until ``previous_until``.
    previous_root: Ed25519PublicKey | None = None
    previous_until: int | None = None

    def __post_init__(self) -> None:
        if (self.previous_root is None) != (self.previous_until is None):
            raise ValueError("a previous root is listed with the time until which it is trusted")

    @property
    def root_kid(self) -> str:
        return kid_for(self.root)

    @property
    def root_bytes(self) -> bytes:
        return public_key_bytes(self.root)

    @property
    def listed_roots(self) -> tuple[bytes, ...]:
        """Every root listed for the office: its root, and the previous one during an overlap."""
        previous = () if self.previous_root is None else (public_key_bytes(self.previous_root),)
        return (self.root_bytes, *previous)

    def roots_at(self, now: int) -> tuple[Ed25519PublicKey, ...]:
        """The roots whose trust lists speak for the office at ``now``: its root, first, and the previous
        one until ``previous_until``.  Says nothing of the office's state or validity (``check_trusted``)."""
        if self.previous_root is not None and self.previous_until is not None and now < self.previous_until:
            return (self.root, self.previous_root)
        return (self.root,)

    def lists_root(self, root: bytes, now: int) -> bool:
        """Whether the raw public key ``root`` speaks for the office at ``now`` (see ``roots_at``)."""
        return any(public_key_bytes(key) == root for key in self.roots_at(now))

    def check_trusted(self, now: int) -> None:
        """Raise the OfficeNotTrusted leaf that says why this office is not trusted at ``now``."""
        if self.state is OfficeState.REVOKED:
            raise OfficeRevoked(self.region)
        if self.state is OfficeState.SUSPENDED:
            raise OfficeSuspended(self.region)
        if not self.valid_from <= now < self.valid_until:
            raise OfficeNotValid(self.region)

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "region": self.region,
            "root": public_jwk(self.root),
            "state": self.state.value,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
        }
        if self.previous_root is not None:  # only during an overlap: other directories are as before
            value |= {"previous_root": public_jwk(self.previous_root), "previous_until": self.previous_until}
        return value

    @classmethod
    def from_json(cls, value: object) -> Office:
        """Inverse of ``to_json``, strictly; raises ValueError naming the first problem."""
        if not isinstance(value, dict) or set(value) not in (_OFFICE_MEMBERS, _OFFICE_MEMBERS | _OVERLAP_MEMBERS):
            raise ValueError(f"an office holds exactly {', '.join(sorted(_OFFICE_MEMBERS))}, and "
                             f"{' and '.join(sorted(_OVERLAP_MEMBERS))} during a rotation")
        region = value["region"]
        if not is_valid_region(region):
            raise ValueError("an office's region is a four-digit regency/city code")
        root = _root(value["root"], region)
        previous_root, previous_until = None, None
        if "previous_root" in value:
            previous_root, previous_until = _root(value["previous_root"], region), value["previous_until"]
            if not _is_time(previous_until):
                raise ValueError(f"the previous root of region {region} is trusted until a whole time")
        try:
            state = OfficeState(value["state"])
        except ValueError:
            raise ValueError(f"the state of region {region} is active, suspended or revoked") from None
        valid_from, valid_until = value["valid_from"], value["valid_until"]
        if not (_is_time(valid_from) and _is_time(valid_until) and valid_from < valid_until):
            raise ValueError(f"the validity of region {region} is two whole times, the first earlier")
        return cls(region, root, state, valid_from, valid_until, previous_root, previous_until)


@dataclasses.dataclass(frozen=True)
class TrustDirectory:
    """A verified national directory: the offices trusted at one sequence number, by region."""

    seq: int
    issued_at: int
    expires_at: int
    offices: tuple[Office, ...]  # in region order; one office a region, one region a root
    _by_region: dict[int, Office] = dataclasses.field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        by_region = {office.region: office for office in self.offices}
        if len(by_region) != len(self.offices):
            raise ValueError("a region is listed twice")
        roots = [root for office in self.offices for root in office.listed_roots]
        if len(set(roots)) != len(roots):
            # One root for two regions would let one office speak for another's cards.
            raise ValueError("a root key is listed for two regions, or twice for one")
        if [office.region for office in self.offices] != sorted(by_region):
            raise ValueError("offices are listed in region order")
        object.__setattr__(self, "_by_region", by_region)

    def office(self, region: int) -> Office | None:
        return self._by_region.get(region)

    def trusted_office(self, region: int, now: int) -> Office:
        """The office of ``region`` if the directory trusts it at ``now``; raises an OfficeNotTrusted leaf."""
        office = self._by_region.get(region)
        if office is None:
            raise OfficeNotInDirectory(region)
        office.check_trusted(now)
        return office

    def is_expired(self, now: int) -> bool:
        return now >= self.expires_at

    def offices_json(self) -> list[dict[str, Any]]:
        return [office.to_json() for office in self.offices]

    def digest(self) -> str:
        """base64url SHA-256 of the canonical JSON of ``offices``: what a delta must lead to."""
        return _digest(self.offices_json())

    def claims(self) -> dict[str, Any]:
        return {"seq": self.seq, "iat": self.issued_at, "exp": self.expires_at, "offices": self.offices_json()}


def build_directory(
    seq: int, offices: Iterable[Office], now: int, validity: dt.timedelta = DEFAULT_DIRECTORY_VALIDITY
) -> TrustDirectory:
    """The directory of ``offices`` (in any order) issued at ``now``; raises ValueError for a duplicate."""
    ordered = tuple(sorted(offices, key=lambda office: office.region))
    return TrustDirectory(seq, now, now + int(validity.total_seconds()), ordered)


def sign_directory(directory: TrustDirectory, national_root: Ed25519PrivateKey) -> str:
    return jws.sign(directory.claims(), national_root, kid_for(national_root.public_key()), DIRECTORY_TYP)


@dataclasses.dataclass(frozen=True)
class DirectoryChange:
    """What a delta from sequence ``from_seq`` carries: the regions whose office is new or changed, in
    region order, and the regions no longer listed.  Enough, with the new directory, to sign the delta."""

    from_seq: int
    changed: tuple[int, ...]
    removed: tuple[int, ...]

    @classmethod
    def between(cls, old: TrustDirectory, new: TrustDirectory) -> DirectoryChange:
        return cls(
            old.seq,
            tuple(office.region for office in new.offices if old.office(office.region) != office),
            tuple(office.region for office in old.offices if new.office(office.region) is None),
        )


def sign_directory_delta(old: TrustDirectory, new: TrustDirectory, national_root: Ed25519PrivateKey) -> str:
    """A delta that turns the directory ``old`` into ``new``."""
    return sign_directory_change(DirectoryChange.between(old, new), new, national_root)


def sign_directory_change(change: DirectoryChange, new: TrustDirectory, national_root: Ed25519PrivateKey) -> str:
    """The delta that ``change`` describes, leading to ``new``: signed without the old directory (offline).

    Raises ValueError unless it leads to a later sequence, names each region
    once, every changed region is listed in ``new`` and no removed one is.
    """
    if new.seq <= change.from_seq:
        raise ValueError("a delta must lead to a later sequence")
    touched = change.changed + change.removed
    if len(set(touched)) != len(touched):
        raise ValueError("a delta names each region once")
    changed = [office for region in change.changed if (office := new.office(region)) is not None]
    if len(changed) != len(change.changed) or any(new.office(region) is not None for region in change.removed):
        raise ValueError("a delta's changed regions are listed in the directory it leads to, its removed ones not")
    claims = {
        "from": change.from_seq,
        "seq": new.seq,
        "iat": new.issued_at,
        "exp": new.expires_at,
        "changed": [office.to_json() for office in changed],
        "removed": list(change.removed),
        "sha256": new.digest(),
    }
    return jws.sign(claims, national_root, kid_for(national_root.public_key()), DIRECTORY_DELTA_TYP)


def verify_directory(
    token: str,
    national_root: Ed25519PublicKey,
    now: int,
    *,
    accept_expired: bool = False,
    min_seq: int = 0,
) -> TrustDirectory:
    """Verify a full directory against the pinned national root key.

    Raises a leaf of InvalidDirectoryError: DirectoryRollback for a
    directory older than ``min_seq`` (the sequence already held),
    DirectoryExpired past its expiry unless ``accept_expired`` is set (a
    terminal keeps working on a stale directory and says so).
    """
    claims = _verified_claims(token, national_root, DIRECTORY_TYP, _DIRECTORY_CLAIMS)
    if claims["seq"] < min_seq:
        raise DirectoryRollback(f"the directory (sequence {claims['seq']}) is older than the one held ({min_seq})")
    directory = _parse(claims, _offices(claims["offices"]), national_root)
    _check_current(directory, now, accept_expired)
    return directory


def apply_directory_delta(
    old: TrustDirectory,
    token: str,
    national_root: Ed25519PublicKey,
    now: int,
    *,
    accept_expired: bool = False,
) -> TrustDirectory:
    """The directory that ``token`` (a delta from ``old.seq``) leads to.

    Raises DirectoryRollback if the delta does not start at ``old.seq`` and
    DirectoryDeltaMismatch if it does not fit ``old`` or the result differs
    from the ministry's directory.
    """
    claims = _verified_claims(token, national_root, DIRECTORY_DELTA_TYP, _DELTA_CLAIMS)
    if claims["seq"] <= claims["from"]:
        raise DirectoryMalformed("a delta must lead to a later sequence than it starts from")
    if claims["from"] != old.seq:
        raise DirectoryRollback(
            f"the delta starts at sequence {claims['from']!r} but this directory is at {old.seq}; fetch the full one"
        )
    changed, removed = _offices(claims["changed"]), claims["removed"]
    if not isinstance(removed, list) or not all(is_valid_region(region) for region in removed):
        raise DirectoryMalformed("the delta's removed regions must be a list of region codes")
    touched = [office.region for office in changed] + removed
    if len(set(touched)) != len(touched):
        raise DirectoryMalformed("the delta names a region twice")
    if any(old.office(region) is None for region in removed) or any(
        old.office(office.region) == office for office in changed
    ):
        raise DirectoryDeltaMismatch("the delta does not fit this directory; fetch the full one")
    by_region = {office.region: office for office in old.offices if office.region not in removed}
    by_region.update((office.region, office) for office in changed)
    offices = [by_region[region] for region in sorted(by_region)]
    if _digest([office.to_json() for office in offices]) != claims["sha256"]:
        raise DirectoryDeltaMismatch("the offices after the delta differ from the ministry's; fetch a full directory")
    directory = _parse(claims, offices, national_root)
    _check_current(directory, now, accept_expired)
    return directory


_PROBLEMS: dict[str, type[InvalidDirectoryError]] = {
    signed.Problem.MALFORMED: DirectoryMalformed,
    signed.Problem.WRONG_TYPE: DirectoryWrongType,
    signed.Problem.BAD_SIGNATURE: DirectorySignatureInvalid,
}


def _verified_claims(token: object, root: Ed25519PublicKey, typ: str, names: frozenset[str]) -> dict[str, Any]:
    try:
        return signed.verified_claims(token, root, typ, names, MAX_DIRECTORY_LENGTH, _DOCUMENT)
    except signed.Problem as problem:
        raise _PROBLEMS[problem.kind](str(problem)) from None


def _offices(value: object) -> list[Office]:
    if not isinstance(value, list):
        raise DirectoryMalformed("the directory's offices must be a list")
    try:
        return [Office.from_json(entry) for entry in value]
    except ValueError as exc:
        raise DirectoryMalformed(f"the directory is malformed: {exc}") from None


def _parse(claims: dict[str, Any], offices: list[Office], national_root: Ed25519PublicKey) -> TrustDirectory:
    if claims["exp"] <= claims["iat"]:
        raise DirectoryMalformed("the directory expires before it is issued")
    if any(public_key_bytes(national_root) in office.listed_roots for office in offices):
        # The national root signs directories only, never an office's trust list.
        raise DirectoryMalformed("the directory lists the national root as an office's root")
    try:
        return TrustDirectory(claims["seq"], claims["iat"], claims["exp"], tuple(offices))
    except ValueError as exc:
        raise DirectoryMalformed(f"the directory is malformed: {exc}") from None


def _check_current(directory: TrustDirectory, now: int, accept_expired: bool) -> None:
    if directory.is_expired(now) and not accept_expired:
        raise DirectoryExpired(f"the trust directory (sequence {directory.seq}) expired; fetch a new one")


def _digest(offices: list[dict[str, Any]]) -> str:
    return b64url_encode(hashlib.sha256(jws.canonical_json(offices)).digest())


def _root(value: object, region: int) -> Ed25519PublicKey:
    """An office's root from its JWK, written exactly as keys.jwk writes it; raises ValueError."""
    try:
        root = load_public_jwk(value)
    except KeyFileInvalid as exc:
        raise ValueError(f"the root of region {region} is not an Ed25519 public JWK: {exc}") from None
    if value != public_jwk(root):
        raise ValueError(f"the root of region {region} is not a public JWK as keys.jwk writes it")
    return root


def _is_time(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**40


__all__ = [
    "DEFAULT_DIRECTORY_VALIDITY",
    "DIRECTORY_DELTA_TYP",
    "DIRECTORY_TYP",
    "MAX_DIRECTORY_LENGTH",
    "DirectoryChange",
    "Office",
    "OfficeNotTrusted",
    "OfficeState",
    "TrustDirectory",
    "apply_directory_delta",
    "build_directory",
    "sign_directory",
    "sign_directory_change",
    "sign_directory_delta",
    "verify_directory",
]

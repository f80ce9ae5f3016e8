"""The national directory signed on an air-gapped machine: the signing request and the signed bundle.

``kia national prepare`` (online, no root key) writes a **signing
request**: the national root's kid, the next sequence, the offices of the
next directory, and for each kept sequence the regions a delta from it
changes and removes, so that the offline machine needs no earlier
directory.  ``kia national sign-request`` (offline: the national root's key
file or HSM key reference, no home) signs it into a **bundle**: the full
directory and a delta from each of those sequences.  ``kia national
import`` (online) verifies the bundle under the pinned national root and
against the state, and publishes it as ``publish`` does (kia.national).

Plain Python on keys/: no home, no click.  Time is an argument.  Both
files are strict JSON, read by hand as keys.directory reads a directory
(exactly the members written, whole numbers, a size cap), so that
``kia national`` needs no more than the core dependencies.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from keys import CLOCK_SKEW_LEEWAY, jws
from keys.ceremony import fingerprint
from keys.directory import (
    MAX_DIRECTORY_LENGTH,
    DirectoryChange,
    Office,
    TrustDirectory,
    apply_directory_delta,
    build_directory,
    sign_directory,
    sign_directory_change,
    verify_directory,
)
from keys.eligibility import is_valid_region
from keys.errors import InvalidDirectoryError
from keys.jwk import kid_for
from kia.national_errors import NationalError

REQUEST_KIND = "kia-directory-request"
BUNDLE_KIND = "kia-directory-bundle"
FORMAT_VERSION = 1
# The longest a directory is signed for, online or offline.
MAX_SIGNED_DAYS = 365
# A request holds one directory's offices (a directory is at most MAX_DIRECTORY_LENGTH) and region codes.
MAX_REQUEST_LENGTH = 2 * MAX_DIRECTORY_LENGTH
# A bundle holds a directory and a delta from each kept sequence (64), each at most MAX_DIRECTORY_LENGTH.
MAX_BUNDLE_LENGTH = 65 * MAX_DIRECTORY_LENGTH
_REQUEST_MEMBERS = frozenset({"kind", "version", "root_kid", "seq", "prepared_at", "valid_days", "offices", "deltas"})
_CHANGE_MEMBERS = frozenset({"from", "changed", "removed"})
_BUNDLE_MEMBERS = frozenset({"kind", "version", "request_sha256", "directory", "deltas"})
_KID = re.compile(r"[A-Za-z0-9_-]{1,16}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_SEQ = re.compile(r"[1-9][0-9]{0,9}")
_REQUEST = "a directory signing request (kia national prepare)"
_BUNDLE = "a signed directory bundle (kia national sign-request)"


@dataclasses.dataclass(frozen=True)
class DirectoryRequest:
    """What the ministry asks the national root to sign: the directory of ``seq`` and a delta from each of
    ``deltas``' sequences, issued when signed and valid ``valid_days`` unless the signer says otherwise."""

    root_kid: str
    seq: int
    prepared_at: int
    valid_days: int
    offices: tuple[Office, ...]  # in region order
    deltas: tuple[DirectoryChange, ...]  # in sequence order

    def to_bytes(self) -> bytes:
        """The request file, in one canonical form (its SHA-256 is the fingerprint)."""
        return _canonical({
            "kind": REQUEST_KIND,
            "version": FORMAT_VERSION,
            "root_kid": self.root_kid,
            "seq": self.seq,
            "prepared_at": self.prepared_at,
            "valid_days": self.valid_days,
            "offices": [office.to_json() for office in self.offices],
            "deltas": [{"from": change.from_seq, "changed": list(change.changed), "removed": list(change.removed)}
                       for change in self.deltas],
        })

    @classmethod
    def from_bytes(cls, data: bytes) -> DirectoryRequest:
        """Parse and check a request file; raises NationalError."""
        document = _document(data, REQUEST_KIND, _REQUEST, MAX_REQUEST_LENGTH, _REQUEST_MEMBERS)
        try:
            root_kid = document["root_kid"]
            if not isinstance(root_kid, str) or not _KID.fullmatch(root_kid):
                raise ValueError("root_kid is not a key id")
            seq = _whole(document["seq"], "seq", 1, 2**31)
            prepared_at = _whole(document["prepared_at"], "prepared_at", 0, 2**40)
            valid_days = _whole(document["valid_days"], "valid_days", 1, MAX_SIGNED_DAYS + 1)
            if not isinstance(document["offices"], list):
                raise ValueError("offices is not a list")
            offices = tuple(Office.from_json(entry) for entry in document["offices"])
            # The checks a directory makes: region order, one office a region, one region a root.
            TrustDirectory(seq, prepared_at, prepared_at + 1, offices)
            deltas = _changes(document["deltas"], seq, {office.region for office in offices})
        except ValueError as exc:
            raise NationalError(f"the signing request is malformed: {exc}; prepare it again") from None
        return cls(root_kid, seq, prepared_at, valid_days, offices, deltas)


@dataclasses.dataclass(frozen=True)
class DirectoryBundle:
    """The signed directory and deltas, as carried back from the offline machine (not yet verified)."""

    request_sha256: str
    directory: str  # the full directory's JWS
    deltas: dict[int, str]  # from sequence -> the delta's JWS

    def to_bytes(self) -> bytes:
        return _canonical({
            "kind": BUNDLE_KIND,
            "version": FORMAT_VERSION,
            "request_sha256": self.request_sha256,
            "directory": self.directory,
            "deltas": {str(old): token for old, token in sorted(self.deltas.items())},
        })

    @classmethod
    def from_bytes_unverified(cls, data: bytes) -> DirectoryBundle:
        """Parse a bundle file; its signatures are checked by ``verified_directory`` and ``verified_deltas``."""
        document = _document(data, BUNDLE_KIND, _BUNDLE, MAX_BUNDLE_LENGTH, _BUNDLE_MEMBERS)
        try:
            digest, deltas = document["request_sha256"], document["deltas"]
            if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
                raise ValueError("request_sha256 is not a SHA-256 in hex")
            if not isinstance(deltas, dict) or not all(_SEQ.fullmatch(old) for old in deltas):
                raise ValueError("deltas is not an object of deltas by the sequence they start from")
            bundle = cls(digest, _token(document["directory"], "directory"),
                         {int(old): _token(token, f"the delta from {old}") for old, token in deltas.items()})
        except ValueError as exc:
            raise NationalError(f"the signed bundle is malformed: {exc}; sign the request again") from None
        return bundle

    def verified_directory(self, national_root: Ed25519PublicKey, now: int) -> TrustDirectory:
        """The bundle's directory, verified under the pinned national root; raises NationalError."""
        try:
            return verify_directory(self.directory, national_root, now)
        except InvalidDirectoryError as exc:
            raise NationalError(
                f"the bundle's directory is refused ({exc}); sign the request with the national root again"
            ) from None

    def verified_deltas(self, directory: TrustDirectory, kept: Sequence[TrustDirectory],
                        national_root: Ed25519PublicKey, now: int) -> dict[int, str]:
        """The deltas, once there is one from each ``kept`` directory and each turns it into ``directory``.

        Each is checked as a terminal checks it (keys.directory.apply_directory_delta); raises NationalError.
        """
        if sorted(self.deltas) != [old.seq for old in kept]:
            raise NationalError(f"the bundle holds deltas from sequences {sorted(self.deltas)}, not from the kept "
                                f"ones {[old.seq for old in kept]}; prepare again")
        for old in kept:
            try:
                result = apply_directory_delta(old, self.deltas[old.seq], national_root, now)
            except InvalidDirectoryError as exc:
                raise NationalError(f"the bundle's delta from sequence {old.seq} is refused ({exc}); "
                                    "sign the request again") from None
            if result != directory:
                raise NationalError(f"the bundle's delta from sequence {old.seq} does not lead to its directory; "
                                    "sign the request again")
        return dict(self.deltas)


def sign_request(
    request_file: bytes, national_root: Ed25519PrivateKey, now: int, valid_days: int | None = None
) -> tuple[TrustDirectory, DirectoryBundle]:
    """Sign the requested directory, issued at ``now``, and its deltas with the national root (a file's or an HSM's).

    ``valid_days`` None: as the request asks.  Refuses (NationalError) a
    request of another national root, and a clock behind the one that
    prepared it (a directory issued before it was asked for).
    """
    request = DirectoryRequest.from_bytes(request_file)
    kid = kid_for(national_root.public_key())
    if kid != request.root_kid:
        raise NationalError(f"this key (kid {kid}) is not the national root the request names (kid "
                            f"{request.root_kid}); use the national root's key")
    if now < request.prepared_at - CLOCK_SKEW_LEEWAY:
        raise NationalError("this machine's clock is behind the time the request was prepared; set the clock and "
                            "sign again")
    validity = dt.timedelta(days=valid_days or request.valid_days)
    directory = build_directory(request.seq, request.offices, now, validity)
    deltas = {change.from_seq: sign_directory_change(change, directory, national_root) for change in request.deltas}
    return directory, DirectoryBundle(fingerprint(request_file), sign_directory(directory, national_root), deltas)


def _document(data: bytes, kind: str, what: str, limit: int, members: frozenset[str]) -> dict[str, Any]:
    """The file's JSON object, of ``kind`` and this version, with exactly ``members``; raises NationalError."""
    if len(data) > limit:
        raise NationalError(f"the file is larger than {what} can be")
    try:
        document = json.loads(data, object_pairs_hook=_unique_members)
    except ValueError:
        raise NationalError(f"the file is not {what}: it is not JSON, or names a member twice") from None
    if not isinstance(document, dict) or document.get("kind") != kind:
        raise NationalError(f"the file is not {what}")
    if set(document) != members:
        raise NationalError(f"the file is not {what}: it holds exactly {', '.join(sorted(members))}")
    if type(document["version"]) is not int or document["version"] != FORMAT_VERSION:
        raise NationalError(f"the file is {what} of another version than {FORMAT_VERSION}; use the same kia on "
                            "both machines")
    return document


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("a member is named twice")
    return document


def _changes(value: object, seq: int, listed: set[int]) -> tuple[DirectoryChange, ...]:
    """The request's deltas: from distinct earlier sequences, in order, each fitting the offices ``listed``."""
    if not isinstance(value, list):
        raise ValueError("deltas is not a list")
    changes = []
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != _CHANGE_MEMBERS:
            raise ValueError(f"a delta holds exactly {', '.join(sorted(_CHANGE_MEMBERS))}")
        change = DirectoryChange(_whole(entry["from"], "a delta's from", 1, seq), _regions(entry["changed"]),
                                 _regions(entry["removed"]))
        if not set(change.changed) <= listed or set(change.removed) & listed:
            raise ValueError(f"the delta from {change.from_seq} changes a region not listed, or removes a listed one")
        changes.append(change)
    if [change.from_seq for change in changes] != sorted({change.from_seq for change in changes}):
        raise ValueError("the deltas must start at distinct sequences, in order")
    return tuple(changes)


def _regions(value: object) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(is_valid_region(region) for region in value) or value != sorted(
        set(value)
    ):
        raise ValueError("a delta's regions are distinct region codes, in order")
    return tuple(value)


def _whole(value: object, name: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value < high:
        raise ValueError(f"{name} is not a whole number from {low} to {high - 1}")
    return value


def _token(value: object, name: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_DIRECTORY_LENGTH or not _COMPACT_JWS.fullmatch(value):
        raise ValueError(f"{name} is not a compact JWS")
    return value


def _canonical(document: dict[str, Any]) -> bytes:
    return jws.canonical_json(document) + b"\n"

"""The office's side of federation: the national directory it holds, and its cards' use elsewhere.

A federated terminal accepts cards of other regions (docs/federation.md) and
names such a card's home region in its record (``home``, ADR 0003).  The
office trusts no terminal: it counts that record in its partner's revenue
only if the national directory it holds lists the region, trusted at the
scan's time, and not as this office's own region.  So the office pins the
ministry's national root (``kia issuer federation pin``) and takes each
directory the ministry signs (``kia issuer federation directory``); ingest
reads the held directory, verified once per process and directory.

Without a directory every record of another region's card is held with a
finding (``home_unlisted``) until an auditor releases it, never counted on
trust.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from keys.directory import TrustDirectory, verify_directory
from keys.errors import InvalidDirectoryError, KeyFileInvalid
from keys.jwk import load_public_jwk, public_jwk, public_key_bytes

from .audit import Actor
from .audit import record as audit
from .errors import Invalid, Refused
from .storage.models import NationalTrust, Office
from .storage.store import IssuerHome

# A directory is at most 1 MiB (keys.directory); a file or an answer larger is not one.
MAX_DIRECTORY_BYTES = 1 << 20


class NotPinned(Refused):
    """The office has no national root pinned, so it can take no directory."""


class DirectoryRefused(Invalid):
    """The directory does not verify under the pinned national root, or is older than the one held."""


@dataclasses.dataclass(frozen=True)
class Held:
    """The directory the office holds, and the region it lists for this office's own root (None if unlisted)."""

    directory: TrustDirectory
    own_region: int | None


@dataclasses.dataclass(frozen=True)
class Status:
    pinned: bool
    national_root_kid: str | None
    seq: int | None
    expires_at: int | None
    taken_at: int | None
    own_region: int | None
    regions: int


def pin(home: IssuerHome, jwk: object, now: int, *, by: Actor, replace: bool = False) -> str:
    """Pin the ministry's national root key (a public JWK); return its kid.

    Pinning another root over a pinned one needs ``replace`` (the ministry
    changed its root), and drops the directory held under the old one.
    """
    try:
        root = load_public_jwk(jwk)
    except KeyFileInvalid as exc:
        raise Invalid(f"the national root is not an Ed25519 public key: {exc}") from None
    written = public_jwk(root)
    with home.transaction() as session:
        own = load_public_jwk(session.get_one(Office, 1).root_jwk)
        if public_key_bytes(own) == public_key_bytes(root):
            raise Invalid("that is this office's own root, not the ministry's national root")
        held = session.get(NationalTrust, 1)
        if held is not None and held.root_jwk["x"] != written["x"]:
            if not replace:
                raise Refused("another national root is pinned; give --replace to pin this one instead")
            session.delete(held)
            session.flush()
            held = None
        if held is None:
            session.add(NationalTrust(id=1, root_jwk=written, directory=None, seq=0, taken_at=None))
            audit(session, by, "national_root_pin", written["kid"], now)
    return str(written["kid"])


def take_directory(home: IssuerHome, token: str, now: int, *, by: Actor) -> Status:
    """Take a directory the ministry signed: verified under the pinned root, not older than the one held.

    An expired directory is refused: the office takes only current ones,
    and keeps checking records against the last it took.
    """
    token = token.strip()
    if len(token) > MAX_DIRECTORY_BYTES:
        raise DirectoryRefused("that is larger than any national directory")
    with home.transaction() as session:
        held = session.get(NationalTrust, 1)
        if held is None:
            raise NotPinned("pin the national root first: kia issuer federation pin --national-root FILE")
        try:
            directory = verify_directory(token, load_public_jwk(held.root_jwk), now, min_seq=held.seq)
        except InvalidDirectoryError as exc:
            raise DirectoryRefused(f"the directory was refused: {exc}") from None
        if directory.seq != held.seq or held.directory != token:
            held.directory, held.seq, held.taken_at = token, directory.seq, now
            audit(session, by, "national_directory_take", f"seq {directory.seq}", now)
    return status(home)


def status(home: IssuerHome) -> Status:
    with home.transaction() as session:
        held = session.get(NationalTrust, 1)
        if held is None:
            return Status(False, None, None, None, None, None, 0)
        found = held_directory(session)
        directory = None if found is None else found.directory
        return Status(True, held.root_jwk["kid"], None if directory is None else directory.seq,
                      None if directory is None else directory.expires_at, held.taken_at,
                      None if found is None else found.own_region,
                      0 if directory is None else len(directory.offices))


def held_directory(session: Session) -> Held | None:
    """The directory the office holds, if any, with its own region in it."""
    held = session.get(NationalTrust, 1)
    if held is None or held.directory is None:
        return None
    own = session.get_one(Office, 1).root_jwk
    return _parsed(held.directory, json.dumps(held.root_jwk, sort_keys=True), json.dumps(own, sort_keys=True))


@functools.lru_cache(maxsize=4)
def _parsed(token: str, national_root: str, own_root: str) -> Held:
    """Verify the held directory once per process and directory (it was verified when taken, and is
    checked again here because the database is not the place to trust it from)."""
    root: Ed25519PublicKey = load_public_jwk(json.loads(national_root))
    directory = verify_directory(token, root, 0, accept_expired=True)
    own = public_key_bytes(load_public_jwk(json.loads(own_root)))
    region = next((office.region for office in directory.offices if own in office.listed_roots), None)
    return Held(directory, region)


def status_json(found: Status) -> dict[str, Any]:
    return dataclasses.asdict(found)

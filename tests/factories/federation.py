"""Offices under a national directory, for the federation tests.

``make_office`` gives one regency/city office: its root key, an issuing key
and the trust list the root signed.  ``make_directory`` lists offices' roots
under a national root.  Keys are generated at run time, never stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys.directory import Office, OfficeState, TrustDirectory, build_directory, sign_directory
from keys.federation import OfficeTrustList, verify_office_trust_list
from tests.factories import DAY, NOW, Signer, Trust, make_card, make_issuing_key, make_trust

YEAR = 365 * DAY


@dataclasses.dataclass(frozen=True)
class RegionOffice:
    """A regency/city office: its region, and its root, issuing keys and trust list (``trust``)."""

    region: int
    trust: Trust

    @property
    def root(self) -> Ed25519PrivateKey:
        return self.trust.root

    def entry(self, state: OfficeState = OfficeState.ACTIVE, *, valid_from: int = NOW - YEAR,
              valid_until: int = NOW + 5 * YEAR) -> Office:
        """The office as the national directory lists it."""
        return Office(self.region, self.root.public_key(), state, valid_from, valid_until)

    def card(self, serial: str | None = None, *, signer: Signer | None = None, region: int | None = None,
             now: int = NOW) -> str:
        """A card token of a child of this office's region (or ``region``), signed by the newest key."""
        card = make_card(region=region or self.region, now=now, age=8)
        if serial is not None:
            card = dataclasses.replace(card, serial=serial)
        return self.trust.issue(card, signer)

    def listed(self, directory: TrustDirectory, now: int = NOW) -> OfficeTrustList:
        """This office's list, verified under the directory as a terminal verifies it."""
        return verify_office_trust_list(directory, self.region, self.trust.token, now)


def make_office(region: int, *, signers: Sequence[Signer] | None = None, revoked: Iterable[str] = (),
                seq: int = 1, root: Ed25519PrivateKey | None = None, now: int = NOW) -> RegionOffice:
    return RegionOffice(region, make_trust(now, signers=signers, revoked=revoked, seq=seq, root=root))


@dataclasses.dataclass(frozen=True)
class National:
    """The national root and a directory it signed."""

    root: Ed25519PrivateKey
    directory: TrustDirectory
    token: str


def make_directory(entries: Iterable[Office], *, seq: int = 1, root: Ed25519PrivateKey | None = None,
                   now: int = NOW, validity: dt.timedelta = dt.timedelta(days=30)) -> National:
    root = root or Ed25519PrivateKey.generate()
    directory = build_directory(seq, entries, now, validity)
    return National(root, directory, sign_directory(directory, root))


def colliding_signers(now: int = NOW - 30 * DAY) -> tuple[Signer, Signer]:
    """Two issuing keys whose 4-character kids collide (a few thousand keys, a fraction of a second)."""
    seen: dict[str, Signer] = {}
    while True:
        signer = make_issuing_key(now)
        kid = signer[1].kid
        if kid in seen:
            return seen[kid], signer
        seen[kid] = signer


def run_national(*args: object) -> Any:
    """``kia national ARGS`` in process (click's runner): its JSON answer, after asserting it succeeded."""
    from kia.national import national

    result = CliRunner().invoke(national, [str(arg) for arg in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.splitlines()[-1])

"""Offices under one national directory whose partners accept each other's cards (ADR 0003).

``federated_offices`` opens an office per region on SQLite, lists their
roots in a directory signed by a national root made at run time, and has
each office pin that root and take the directory.  ``visits_at`` has a
partner of one office accept another region's cards through a terminal
and sync them; ``fetched_visits`` has the cards' home office take what the
other office signed of them.  Keys are generated at run time, never stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuer import federation, partners, visits
from issuer.storage.store import IssuerHome
from issuer.terminals import office_root
from issuer.trust_lists import export_trust_list, latest_published
from keys.chain import Redemption
from keys.directory import Office, OfficeState, build_directory, sign_directory
from keys.jwk import load_public_jwk, public_jwk
from keys.serial import serial_from_value
from tests.factories import ACTOR, DAY
from tests.factories.offices import SERVICE, UNLOCK, add_service, open_office
from tests.terminal_sim import enrolled_terminal, send

YEAR = 365 * DAY


@dataclasses.dataclass(frozen=True)
class Federation:
    national_root: Ed25519PrivateKey
    directory: str
    offices: dict[int, IssuerHome]


def federated_offices(folder: Path, regions: Sequence[int], now: int) -> Federation:
    """An office per region, founded a year before ``now``, each holding the directory that lists them all."""
    offices = {region: open_office(folder / f"office-{region}", None, now - YEAR) for region in regions}
    root = Ed25519PrivateKey.generate()
    entries = [Office(region, load_public_jwk(office_root(home)), OfficeState.ACTIVE, now - YEAR, now + 5 * YEAR)
               for region, home in offices.items()]
    directory = sign_directory(build_directory(1, entries, now, dt.timedelta(days=30)), root)
    for home in offices.values():
        federation.pin(home, public_jwk(root.public_key()), now, by=ACTOR)
        federation.take_directory(home, directory, now, by=ACTOR)
        export_trust_list(home, UNLOCK, now, home.path / "published", by=ACTOR)
    return Federation(root, directory, offices)


def foreign_scan(at: int, serial: str, home: int | None, category: str = "5-12") -> Redemption:
    """A card accepted at a partner, as a federated terminal logs it (``home`` for another region's card)."""
    price = SERVICE.prices[category]
    return Redemption(0, at, serial, True, "accepted", SERVICE.code, category, price, price // 2,
                      price - price // 2, (), home)


def visits_at(office: IssuerHome, region: int, kind: str, home: int, scans_per_day: Sequence[int], now: int,
              *, first_serial: int = 1000) -> None:
    """A partner of ``kind`` at ``office`` (of ``region``) accepts ``home``'s cards: ``scans_per_day[n]`` on
    the n-th day before ``now``'s, each card once; its terminal syncs them."""
    start = dt.datetime.fromtimestamp(now, dt.UTC).date()
    partner = partners.create_partner(office, f"Mitra {kind} {region}", kind, "education_culture", region,
                                      start - dt.timedelta(days=365), start + dt.timedelta(days=365), now - YEAR,
                                      by=ACTOR)
    add_service(office, partner, now=now - YEAR)
    partners.set_other_regions(office, partner, partners.OtherRegions("listed", (home,)), now - YEAR, by=ACTOR)
    terminal = enrolled_terminal(office, partner, now - YEAR)
    serial = first_serial
    scans = []
    for days_before, count in enumerate(scans_per_day):
        for n in range(count):
            scans.append(foreign_scan(now - (len(scans_per_day) - days_before) * DAY + 60 * n,
                                      serial_from_value(serial), home))
            serial += 1
    send(office, terminal, scans, now)


def fetched_visits(home_office: IssuerHome, home: int, answering: IssuerHome, month: int, now: int) -> None:
    """The cards' home office takes what ``answering`` signed of them in ``month``, as visits-fetch does."""
    token = visits.signed_visits(answering, UNLOCK, home, month, now)
    published = latest_published(answering)
    assert published is not None
    visits.take(home_office, token, published[1], now, by=ACTOR)

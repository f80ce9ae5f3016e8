"""An office for the tests: its home and database, partners, their services, people.

``open_office`` is the one way a test makes an office: a fresh home (root
key, first issuing key) on SQLite in ``path`` or on the PostgreSQL at
``database_url``, founded at ``now``.  Each test file passes its own
``unlock`` when it needs other passphrases.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from issuer import partners, people
from issuer.cards import issue_cards
from issuer.children import ChildRequest
from issuer.issuing_keys import KeyUnlock, init_home
from issuer.partners import ServiceRules
from issuer.storage.store import IssuerHome
from tests.factories import ACTOR, NOW, SURAKARTA, WIB, aged

# Long enough for keys.keystore.MIN_PASSPHRASE_LENGTH; a test value, not a secret.
PASSPHRASE = "sync-test passphrase 2026-11"
UNLOCK = KeyUnlock(PASSPHRASE.encode())
PASSWORD = "kata-sandi-panjang-1"  # noqa: S105 (a test value)
SERVICE = ServiceRules(
    code="bioskop-reguler",
    name="Bioskop reguler",
    prices={"0-4": 0, "5-12": 40_000, "13-16": 50_000},
    discount_kind="percent",
    discount_value=50,
    daily_limit=2,
    passback_seconds=600,
)


def clock() -> int:
    return int(time.time())


def today() -> dt.date:
    return dt.datetime.fromtimestamp(clock(), dt.UTC).date()


def open_office(path: Path, database_url: str | None, now: int | None = None, *,
                unlock: KeyUnlock = UNLOCK) -> IssuerHome:
    """A fresh office (root key, issuing key) in ``path``, on ``database_url``, founded at ``now``."""
    home = IssuerHome(path, database_url)
    init_home(home, unlock, clock() if now is None else now, by=ACTOR)
    return home


def add_partner(home: IssuerHome, *, mou_start: dt.date | None = None, mou_end: dt.date | None = None,
                name: str = "Bioskop Solo Paragon") -> int:
    """A cinema partner whose MoU is in force unless the dates say otherwise.

    In force both at the suite's fixed ``NOW`` and on today's clock, which
    the suite's second run moves a year ahead: a test may register the
    partner's terminals at either.
    """
    fixed = dt.datetime.fromtimestamp(NOW, dt.UTC).date()
    start = mou_start or min(fixed, today()) - dt.timedelta(days=365)
    end = mou_end or max(fixed, today()) + dt.timedelta(days=365)
    return partners.create_partner(home, name, "cinema", "education_culture", SURAKARTA, start, end, clock(), by=ACTOR)


def add_service(home: IssuerHome, partner_id: int, rules: ServiceRules = SERVICE, now: int | None = None
                ) -> ServiceRules:
    partners.set_service(home, partner_id, rules, clock() if now is None else now, by=ACTOR)
    return rules


def issued_cards(home: IssuerHome, count: int, now: int | None = None, unlock: KeyUnlock = UNLOCK
                 ) -> list[tuple[str, str]]:
    """``count`` cards issued to Surakarta children of 8 and 14 in turn: (serial, age category) each."""
    now = clock() if now is None else now
    day = dt.datetime.fromtimestamp(now, WIB).date()
    requests = [ChildRequest(line, aged(8 if line % 2 else 14, day), SURAKARTA) for line in range(1, count + 1)]
    issued = issue_cards(home, unlock, requests, now, by=ACTOR).cards
    return [(item.record.serial, "5-12" if item.request.line % 2 else "13-16") for item in issued]


def add_people(home: IssuerHome, now: int, *accounts: tuple[str, str, int | None]) -> None:
    """People who sign in with PASSWORD: (username, role, partner id or None) each."""
    for username, role, partner_id in accounts:
        people.create_user(home, username, PASSWORD, role, partner_id, now, by=ACTOR)

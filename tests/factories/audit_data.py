"""An office an auditor would open: partners, terminals, honest scans, a few that cannot be true.

``audit_scene`` fills a fresh office (tests.factories.offices.open_office)
as a month of a small programme looks: three Surakarta partners, four
enrolled terminals, cards the office issued, honest accepted and refused
scans, two the terminal flagged stale, and seven records the office's
checks hold (a serial that is not one, a serial never issued, a revoked
card, a price the partner never set, a scan in the future, one before the
terminal existed, a forged reason).  An auditor already released one held
record and confirmed another, so the trail and the queue hold both.
Every time comes from ``now``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from issuer import partners, quarantine
from issuer.audit import Actor
from issuer.cards import revoke_card
from issuer.partners import ServiceRules
from issuer.storage.store import IssuerHome
from keys.chain import Redemption, discounted
from keys.serial import serial_from_value
from tests.factories import ACTOR, DAY, SURAKARTA, WIB
from tests.factories.offices import SERVICE, add_people, issued_cards
from tests.terminal_sim import SimulatedTerminal, enrolled_terminal, send

POOL = ServiceRules("renang", "Renang", {"5-12": 20_000, "13-16": 25_000}, "percent", 50, 1, 0)
MUSEUM = ServiceRules("tiket-masuk", "Tiket masuk", {"5-12": 10_000, "13-16": 15_000}, "fixed", 5_000, 1, 0)
AUDITOR = Actor("auditor", "10.0.0.7")
HONEST_DAYS = 5
CINEMA_CARDS = 12  # a day's honest scans at the cinema's first terminal


@dataclasses.dataclass(frozen=True)
class Scene:
    """What ``audit_scene`` made: partner ids by name, terminals, and the records it holds."""

    cinema: int
    pool: int
    museum: int
    terminals: dict[str, SimulatedTerminal]  # cinema-1, cinema-2, pool, museum
    held_open: list[int]  # sequences at the museum's terminal awaiting a decision
    released: int  # the museum's record an auditor released
    confirmed: int  # the museum's record an auditor confirmed
    honest: int  # records no check held

    @property
    def museum_terminal(self) -> str:
        return self.terminals["museum"].terminal_id


def accepted(at: int, card: tuple[str, str], rules: ServiceRules) -> Redemption:
    """What an honest terminal logs when it accepts ``card`` for ``rules``' service at ``at``."""
    serial, category = card
    price = rules.prices[category]
    discount, paid = discounted(price, rules.discount_kind, rules.discount_value)
    return Redemption(0, at, serial, True, "accepted", rules.code, category, price, discount, paid)


def refused(at: int, serial: str | None, reason: str, rules: ServiceRules) -> Redemption:
    return Redemption(0, at, serial, False, reason, rules.code, None, 0, 0, 0)


def audit_scene(home: IssuerHome, now: int) -> Scene:
    """Fill ``home`` (an office founded at least 30 days before ``now``) as the module says."""
    today = dt.datetime.fromtimestamp(now, WIB).date()
    mou = (today - dt.timedelta(days=300), today + dt.timedelta(days=400))
    ids = {}
    for name, kind, cluster, rules in (("Bioskop Solo Paragon", "cinema", "education_culture", SERVICE),
                                       ("Kolam Renang Manahan", "pool", "health_welfare", POOL),
                                       ("Museum Keris Nusantara", "museum", "education_culture", MUSEUM)):
        ids[kind] = partners.create_partner(home, name, kind, cluster, SURAKARTA, *mou, now - 30 * DAY, by=ACTOR)
        partners.set_service(home, ids[kind], rules, now - 30 * DAY, by=ACTOR)
    add_people(home, now - 30 * DAY, ("admin", "admin", None), ("officer", "officer", None),
               ("auditor", "auditor", None), ("manager", "partner_manager", ids["cinema"]))
    cards = issued_cards(home, 30, now - 20 * DAY)
    enrolled = now - 10 * DAY
    terminals = {name: enrolled_terminal(home, ids[kind], enrolled)
                 for name, kind in (("cinema-1", "cinema"), ("cinema-2", "cinema"), ("pool", "pool"),
                                    ("museum", "museum"))}

    honest = 0
    for day in range(HONEST_DAYS, 0, -1):  # a day's scans, each card once, ten minutes apart from 10:00 WIB
        opening = now - day * DAY
        batch = [accepted(opening + n * 600, card, SERVICE) for n, card in enumerate(cards[:CINEMA_CARDS])]
        batch[-1] = dataclasses.replace(batch[-1], flags=("stale",) if day <= 2 else ())
        batch.append(refused(opening + 7_300, None, "malformed", SERVICE))
        send(home, terminals["cinema-1"], batch, opening + DAY // 2)
        honest += len(batch)
    pool_day = now - 2 * DAY
    send(home, terminals["pool"], [accepted(pool_day + n * 900, card, POOL) for n, card in enumerate(cards[12:20])],
         pool_day + 4 * 3600)
    send(home, terminals["cinema-2"], [accepted(now - 3 * 3600, cards[20], SERVICE)], now - 3000)
    honest += 9

    revoke_card(home, cards[21][0], "hilang", now - 6 * DAY, by=ACTOR)
    at = now - 2 * 3600  # 08:00 WIB
    fabricated = [
        accepted(at, cards[22], MUSEUM),
        dataclasses.replace(accepted(at + 60, cards[23], MUSEUM), serial="NOTASERL"),  # not a serial
        dataclasses.replace(accepted(at + 120, cards[24], MUSEUM), serial=serial_from_value(123_456)),  # never issued
        accepted(at + 180, cards[21], MUSEUM),  # revoked six days before
        dataclasses.replace(accepted(at + 240, cards[25], MUSEUM), price=100_000_000, discount=5_000,
                            paid=99_995_000),  # a price the museum never set
        accepted(now + 200 * DAY, cards[26], MUSEUM),  # 200 days in the future
        accepted(enrolled - 2 * DAY, cards[27], MUSEUM),  # before the terminal existed
        dataclasses.replace(accepted(at + 300, cards[28], MUSEUM), reason="forged"),  # accepted, yet forged
        accepted(at + 360, cards[29], MUSEUM),
    ]
    send(home, terminals["museum"], fabricated, now - 3600)
    honest += 2
    museum = terminals["museum"].terminal_id
    quarantine.decide(home, museum, 4, "release", "kartu sudah diverifikasi ulang di loket", now - 1800, by=AUDITOR)
    quarantine.decide(home, museum, 5, "confirm", "harga tidak pernah ditetapkan museum", now - 1200, by=AUDITOR)
    return Scene(ids["cinema"], ids["pool"], ids["museum"], terminals, [2, 3, 6, 7, 8], 4, 5, honest)

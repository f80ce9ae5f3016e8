"""Stakeholder reports (issuer.reports, ``kia issuer report``) on SQLite and PostgreSQL.

Redemptions reach the office through the real path: a simulated terminal
enrols with ``issuer.terminals.enroll`` and sends signed, chained batches to
``issuer.sync_ingest.ingest``, which sets each decision's local day and month.
Where a test needs many rows it inserts them directly, buckets included.
Every expected figure below is worked out by hand from the scans listed.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import datetime as dt
import io
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from issuer import agreements, create_app, partners, reports, summaries
from issuer.cards import issue_cards, revoke_card
from issuer.children import ChildRequest
from issuer.errors import IssuerError
from issuer.partners import ServiceRules
from issuer.people import create_user
from issuer.reports import Coverage, Figures, PartnerCount
from issuer.storage.models import CardRow, RedemptionRow
from issuer.storage.store import CardRecord, IssuerHome
from issuer.terminals import register_terminal
from keys.chain import Redemption
from keys.eligibility import region_timezone
from keys.serial import serial_from_value
from tests.factories import (
    ACTOR,
    BALANGAN,
    BIRTH_DATE,
    DAY,
    JAYAPURA,
    NOW,
    SURAKARTA,
    TURNS_FIVE_SOON,
    aged,
    utc,
)
from tests.factories.offices import UNLOCK, issued_cards
from tests.integration.conftest import RunKia
from tests.terminal_sim import enrolled_terminal, send

ACEH_BESAR, DENPASAR = 1106, 5171
# Bucketing files every stored record, whatever the office's checks found: a serial never issued will do.
NEVER_ISSUED = serial_from_value(0xA)
NOVEMBER, DECEMBER = (dt.date(2026, 11, 1), dt.date(2026, 11, 30)), (dt.date(2026, 12, 1), dt.date(2026, 12, 31))


def local(region: int, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """POSIX seconds of a wall-clock time in ``region``'s zone (WIB, WITA or WIT)."""
    return int(dt.datetime(year, month, day, hour, minute, second, tzinfo=region_timezone(region)).timestamp())


def at_utc(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> int:
    return int(dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC).timestamp())


def scan(at: int, serial: str | None, price: int, discount: int, *, accepted: bool = True,
         reason: str = "accepted", service_code: str = "tiket", category: str | None = "5-12") -> Redemption:
    """A decision the terminal logged; ``seq`` is set when it is logged."""
    return Redemption(0, at, serial, accepted, reason, service_code, category, price, discount, price - discount)


def rejected(at: int, serial: str | None, reason: str = "daily_limit") -> Redemption:
    """A refusal, which carries no amounts (verifier.decision)."""
    return scan(at, serial, 0, 0, accepted=False, reason=reason, category=None if serial is None else "5-12")


def children_cards(home: IssuerHome, now: int = NOW - 30 * DAY) -> tuple[str, str, str]:
    """Cards the office issued at ``now``: A and B to children of 8 (5-12), C to a child of 14 (13-16)."""
    (a, _), (c, _), (b, _) = issued_cards(home, 3, now)  # issued_cards alternates children of 8 and 14
    return a, b, c


def offer(home: IssuerHome, partner_id: int, code: str, prices: dict[str, int], percent: int,
          now: int = NOW - 30 * DAY) -> None:
    """A service whose rules give ``percent`` off ``prices``, at most twice a day per card."""
    partners.set_service(home, partner_id, ServiceRules(code, code, prices, "percent", percent, 2, 0), now, by=ACTOR)


@pytest.fixture
def founded_at() -> int:
    return NOW - 30 * DAY


def add_partner(home: IssuerHome, name: str, kind: str, cluster: str, region: int,
                mou: tuple[dt.date, dt.date] = (dt.date(2026, 1, 1), dt.date(2027, 12, 31))) -> int:
    return partners.create_partner(home, name, kind, cluster, region, *mou, NOW - 30 * DAY, by=ACTOR)


# --- a small programme, scan by scan -------------------------------------------


@dataclasses.dataclass(frozen=True)
class Programme:
    home: IssuerHome
    cinema: int  # Surakarta (WIB), education_culture
    pool: int  # Surakarta (WIB), health_welfare, MoU from 15 November 2026
    museum: int  # Balangan (WITA), education_culture
    bookshop: int  # Jayapura (WIT), MoU from 31 January 2027, no scans
    park: int  # Surakarta, MoU ended 1 November 2026, no scans


@pytest.fixture
def programme(office: IssuerHome) -> Programme:
    """Five partners; card A is used three times at the cinema and once at the museum.

    Cinema, counter 1 (WIB): 20 Nov A 10:00 and 14:00 accepted (50,000 less 25,000),
    B 15:00 refused (daily limit); 21 Nov C 09:00 accepted (40,000 less 10,000), an
    unreadable scan at 09:05.  Counter 2: 21 Nov A 19:00 accepted (50,000 less 25,000).
    Pool (WIB): 20 Nov B 08:00 accepted free (20,000 less 20,000); 5 Dec B refused.
    Museum (WITA): 20 Nov A 11:00 accepted (10,000 less 5,000); C at 00:30 WITA on
    1 Dec (16:30 UTC on 30 Nov, 23:30 in WIB) accepted (10,000 less 5,000).
    """
    home = office
    cinema = add_partner(home, "Bioskop Solo Paragon", "cinema", "education_culture", SURAKARTA)
    pool = add_partner(home, "Kolam Renang Manahan", "pool", "health_welfare", SURAKARTA,
                       (dt.date(2026, 11, 15), dt.date(2028, 11, 14)))
    museum = add_partner(home, "Museum Balangan", "museum", "education_culture", BALANGAN)
    bookshop = add_partner(home, "Toko Buku Jayapura", "bookshop", "education_culture", JAYAPURA,
                           (dt.date(2027, 1, 31), dt.date(2029, 1, 30)))
    park = add_partner(home, "Taman Balekambang", "recreation", "family_care", SURAKARTA,
                       (dt.date(2024, 11, 2), dt.date(2026, 11, 1)))
    card_a, card_b, card_c = children_cards(home)
    offer(home, cinema, "tiket", {"5-12": 50_000}, 50)
    offer(home, cinema, "tiket-remaja", {"13-16": 40_000}, 25)
    offer(home, pool, "tiket", {"5-12": 20_000}, 100)
    offer(home, museum, "tiket", {"5-12": 10_000, "13-16": 10_000}, 50)
    in_december, before = NOW + 14 * DAY, NOW - 10 * DAY  # the terminals are enrolled before the scans
    counter_1, counter_2 = enrolled_terminal(home, cinema, before), enrolled_terminal(home, cinema, before)
    send(home, counter_1, [
        scan(local(SURAKARTA, 2026, 11, 20, 10), card_a, 50_000, 25_000),
        scan(local(SURAKARTA, 2026, 11, 20, 14), card_a, 50_000, 25_000),
        rejected(local(SURAKARTA, 2026, 11, 20, 15), card_b),
        scan(local(SURAKARTA, 2026, 11, 21, 9), card_c, 40_000, 10_000, service_code="tiket-remaja",
             category="13-16"),
        rejected(local(SURAKARTA, 2026, 11, 21, 9, 5), None, reason="malformed"),
    ], NOW)
    send(home, counter_2, [scan(local(SURAKARTA, 2026, 11, 21, 19), card_a, 50_000, 25_000)], NOW)
    pool_counter = enrolled_terminal(home, pool, NOW - 5 * DAY)  # its MoU is in force from 15 November
    send(home, pool_counter, [scan(local(SURAKARTA, 2026, 11, 20, 8), card_b, 20_000, 20_000)], NOW)
    send(home, pool_counter, [rejected(local(SURAKARTA, 2026, 12, 5, 8), card_b, "passback")], in_december)
    museum_counter = enrolled_terminal(home, museum, before)
    send(home, museum_counter, [scan(local(BALANGAN, 2026, 11, 20, 11), card_a, 10_000, 5_000)], NOW)
    send(home, museum_counter, [scan(local(BALANGAN, 2026, 12, 1, 0, 30), card_c, 10_000, 5_000, category="13-16")],
         in_december)
    return Programme(home, cinema, pool, museum, bookshop, park)


def test_monthly_figures_per_partner_count_money_of_accepted_scans_only(programme: Programme):
    p = programme
    rows = reports.figures(p.home, "partner", "month", NOVEMBER[0], DECEMBER[1])
    assert rows == [
        Figures(str(p.cinema), 202611, scans=6, accepted=4, unique_cards=2, gross=190_000, discount=85_000,
                net=105_000),
        Figures(str(p.pool), 202611, scans=1, accepted=1, unique_cards=1, gross=20_000, discount=20_000, net=0),
        Figures(str(p.pool), 202612, scans=1, accepted=0, unique_cards=0, gross=0, discount=0, net=0),
        Figures(str(p.museum), 202611, scans=1, accepted=1, unique_cards=1, gross=10_000, discount=5_000,
                net=5_000),
        Figures(str(p.museum), 202612, scans=1, accepted=1, unique_cards=1, gross=10_000, discount=5_000,
                net=5_000),
    ]


def test_daily_figures_per_partner_use_the_partners_local_day(programme: Programme):
    p = programme
    rows = reports.figures(p.home, "partner", "day", dt.date(2026, 11, 20), dt.date(2026, 12, 1))
    assert rows == [
        Figures(str(p.cinema), 20261120, 3, 2, 1, 100_000, 50_000, 50_000),
        Figures(str(p.cinema), 20261121, 3, 2, 2, 90_000, 35_000, 55_000),
        Figures(str(p.pool), 20261120, 1, 1, 1, 20_000, 20_000, 0),
        Figures(str(p.museum), 20261120, 1, 1, 1, 10_000, 5_000, 5_000),
        Figures(str(p.museum), 20261201, 1, 1, 1, 10_000, 5_000, 5_000),  # 30 Nov in UTC and in WIB
    ]


def test_a_card_used_at_two_partners_counts_once_for_the_cluster_and_the_programme(programme: Programme):
    home = programme.home
    assert reports.figures(home, "cluster", "month", NOVEMBER[0], DECEMBER[1]) == [
        # Cinema and museum: A at both, C at the cinema; per partner that is 2 + 1 cards.
        Figures("education_culture", 202611, 7, 5, 2, 200_000, 90_000, 110_000),
        Figures("education_culture", 202612, 1, 1, 1, 10_000, 5_000, 5_000),
        Figures("health_welfare", 202611, 1, 1, 1, 20_000, 20_000, 0),
        Figures("health_welfare", 202612, 1, 0, 0, 0, 0, 0),
    ]
    assert reports.figures(home, "programme", "month", NOVEMBER[0], DECEMBER[1]) == [
        Figures("all", 202611, 8, 6, 3, 220_000, 110_000, 110_000),  # per partner: 2 + 1 + 1 cards
        Figures("all", 202612, 2, 1, 1, 10_000, 5_000, 5_000),
    ]
    assert reports.figures(home, "programme", "day", dt.date(2026, 11, 20), dt.date(2026, 11, 20)) == [
        Figures("all", 20261120, 5, 4, 2, 130_000, 75_000, 55_000),  # A at cinema and museum, B at the pool
    ]


def test_figures_per_kind_follow_the_partner(programme: Programme):
    assert reports.figures(programme.home, "kind", "month", NOVEMBER[0], DECEMBER[1]) == [
        Figures("cinema", 202611, 6, 4, 2, 190_000, 85_000, 105_000),
        Figures("museum", 202611, 1, 1, 1, 10_000, 5_000, 5_000),
        Figures("museum", 202612, 1, 1, 1, 10_000, 5_000, 5_000),
        Figures("pool", 202611, 1, 1, 1, 20_000, 20_000, 0),
        Figures("pool", 202612, 1, 0, 0, 0, 0, 0),
    ]


def test_the_date_range_is_inclusive_at_both_ends(programme: Programme):
    p = programme
    only_21 = reports.figures(p.home, "partner", "day", dt.date(2026, 11, 21), dt.date(2026, 11, 21))
    assert only_21 == [Figures(str(p.cinema), 20261121, 3, 2, 2, 90_000, 35_000, 55_000)]
    # The museum's scan of 16:30 UTC on 30 November is 1 December in WITA: not in a 30 November report.
    assert reports.figures(p.home, "programme", "day", dt.date(2026, 11, 30), dt.date(2026, 11, 30)) == []
    assert reports.figures(p.home, "programme", "day", dt.date(2026, 12, 1), dt.date(2026, 12, 1)) == [
        Figures("all", 20261201, 1, 1, 1, 10_000, 5_000, 5_000)
    ]
    assert [row.period for row in reports.figures(p.home, "programme", "month", *DECEMBER)] == [202612]
    assert reports.figures(p.home, "programme", "month", dt.date(2026, 1, 1), dt.date(2026, 10, 31)) == []


def test_a_monthly_report_from_mid_month_leaves_out_the_days_before(programme: Programme):
    p = programme
    rows = reports.figures(p.home, "partner", "month", dt.date(2026, 11, 21), dt.date(2026, 11, 30),
                           partner_id=p.cinema)
    assert rows == [Figures(str(p.cinema), 202611, 3, 2, 2, 90_000, 35_000, 55_000)]  # the 21st only


def test_the_partner_filter_keeps_one_partners_scans_in_every_grouping(programme: Programme):
    p = programme
    assert reports.figures(p.home, "partner", "month", NOVEMBER[0], DECEMBER[1], partner_id=p.pool) == [
        Figures(str(p.pool), 202611, 1, 1, 1, 20_000, 20_000, 0),
        Figures(str(p.pool), 202612, 1, 0, 0, 0, 0, 0),
    ]
    assert reports.figures(p.home, "cluster", "month", *NOVEMBER, partner_id=p.cinema) == [
        Figures("education_culture", 202611, 6, 4, 2, 190_000, 85_000, 105_000),  # without the museum
    ]
    assert reports.figures(p.home, "programme", "day", NOVEMBER[0], DECEMBER[1], partner_id=p.museum) == [
        Figures("all", 20261120, 1, 1, 1, 10_000, 5_000, 5_000),
        Figures("all", 20261201, 1, 1, 1, 10_000, 5_000, 5_000),
    ]
    assert reports.figures(p.home, "partner", "month", *NOVEMBER, partner_id=p.bookshop) == []


@pytest.mark.parametrize(("group", "period"), [("region", "month"), ("partner", "week"), ("", "")])
def test_an_unknown_grouping_or_period_is_refused(office: IssuerHome, group: str, period: str):
    with pytest.raises(ValueError, match="unknown group or period"):
        reports.figures(office, group, period, *NOVEMBER)


def test_partners_per_month_count_mous_in_force_and_partners_with_accepted_scans(programme: Programme):
    # In force: a MoU covering one day of the month counts (the park's ends 1 Nov, the
    # bookshop's starts 31 Jan, the pool's starts 15 Nov).  With scans: the pool's only
    # December scan was refused, so December has the museum alone.
    assert reports.active_partners(programme.home, dt.date(2026, 10, 1), dt.date(2027, 1, 31)) == [
        PartnerCount(202610, in_force=3, with_scans=0),  # cinema, museum, park
        PartnerCount(202611, in_force=4, with_scans=3),  # cinema, pool, museum, park
        PartnerCount(202612, in_force=3, with_scans=1),
        PartnerCount(202701, in_force=4, with_scans=0),  # the bookshop joins
    ]
    assert reports.active_partners(programme.home, dt.date(2026, 11, 20), dt.date(2026, 12, 3)) == [
        PartnerCount(202611, 4, 3),
        PartnerCount(202612, 3, 1),
    ]


def test_a_partner_is_not_in_force_between_an_ended_agreement_and_its_late_renewal(office: IssuerHome):
    partner = add_partner(office, "Kolam Renang Tirtomoyo", "pool", "education_culture", SURAKARTA,
                          (dt.date(2025, 7, 1), dt.date(2026, 6, 30)))
    agreements.renew(office, agreements.Owner("partner", partner), dt.date(2026, 9, 1), dt.date(2028, 8, 31),
                     agreements.Details(number="MoU/2026/17"), NOW, by=ACTOR)
    counts = reports.active_partners(office, dt.date(2026, 6, 1), dt.date(2026, 9, 30))
    assert [(row.month, row.in_force) for row in counts] == [(202606, 1), (202607, 0), (202608, 0), (202609, 1)]


def test_partners_over_a_range_that_ends_before_it_starts_are_no_months(office: IssuerHome):
    assert reports.figures(office, "partner", "month", dt.date(2026, 12, 1), dt.date(2026, 11, 1)) == []
    assert reports.active_partners(office, dt.date(2026, 12, 1), dt.date(2026, 11, 1)) == []


# --- local-time buckets ---------------------------------------------------------

# UTC instants and the local (day, month) they fall on in WIB (+7), WITA (+8) and WIT (+9).
BUCKETS = [
    (at_utc(2026, 10, 31, 14, 59, 59), {SURAKARTA: 20261031, BALANGAN: 20261031, JAYAPURA: 20261031}),
    (at_utc(2026, 10, 31, 15, 0, 0), {SURAKARTA: 20261031, BALANGAN: 20261031, JAYAPURA: 20261101}),
    (at_utc(2026, 10, 31, 16, 30), {SURAKARTA: 20261031, BALANGAN: 20261101, JAYAPURA: 20261101}),
    (at_utc(2026, 10, 31, 16, 59, 59), {SURAKARTA: 20261031, BALANGAN: 20261101, JAYAPURA: 20261101}),
    (at_utc(2026, 10, 31, 17, 0, 0), {SURAKARTA: 20261101, BALANGAN: 20261101, JAYAPURA: 20261101}),
    (at_utc(2026, 11, 20, 20, 0), {SURAKARTA: 20261121, BALANGAN: 20261121, JAYAPURA: 20261121}),
]


def test_ingest_files_each_decision_under_the_partner_regions_local_day_and_month(office: IssuerHome):
    regions = (SURAKARTA, BALANGAN, JAYAPURA)
    ids = {region: add_partner(office, f"Bioskop {region}", "cinema", "education_culture", region)
           for region in regions}
    for region in regions:
        send(office, enrolled_terminal(office, ids[region], NOW - DAY),
             [scan(at, NEVER_ISSUED, 50_000, 25_000) for at, _ in BUCKETS], NOW)
    with office.transaction() as session:
        stored = session.execute(
            select(RedemptionRow.partner_id, RedemptionRow.at, RedemptionRow.day, RedemptionRow.month)
        ).all()
    assert sorted(stored) == sorted(
        (ids[region], at, days[region], days[region] // 100) for at, days in BUCKETS for region in regions
    )
    october = reports.figures(office, "partner", "month", dt.date(2026, 10, 1), dt.date(2026, 11, 30))
    assert [(int(row.group), row.period, row.scans) for row in october] == [
        (ids[SURAKARTA], 202610, 4), (ids[SURAKARTA], 202611, 2),
        (ids[BALANGAN], 202610, 2), (ids[BALANGAN], 202611, 4),
        (ids[JAYAPURA], 202610, 1), (ids[JAYAPURA], 202611, 5),
    ]
    # 20:00 UTC on 20 November is the 21st everywhere in Indonesia.
    days = reports.figures(office, "partner", "day", dt.date(2026, 11, 20), dt.date(2026, 11, 21))
    assert [(int(row.group), row.period, row.scans) for row in days] == [
        (ids[region], 20261121, 1) for region in regions
    ]


# --- many rows, against a reference computed in Python ---------------------------


def _generated_rows(home: IssuerHome, partner_ids: list[int], count: int) -> list[dict[str, Any]]:
    """``count`` redemptions over 14 months, with repeated cards, inserted with their buckets."""
    rng = random.Random(2026)
    terminals = {pid: [register_terminal(home, pid, f"Kasir {n}", NOW, by=ACTOR).terminal_id for n in (1, 2)]
                 for pid in partner_ids}
    serials = [serial_from_value(value) for value in range(1, 41)]
    first = dt.date(2026, 1, 1)
    rows, seqs = [], collections.Counter[str]()
    for _ in range(count):
        pid = rng.choice(partner_ids)
        terminal = rng.choice(terminals[pid])
        seqs[terminal] += 1
        day = first + dt.timedelta(days=rng.randrange(425))  # to the end of February 2027
        at = int(dt.datetime.combine(day, dt.time(rng.randrange(24), rng.randrange(60)),
                                     tzinfo=region_timezone(SURAKARTA)).timestamp())
        accepted = rng.random() < 0.8
        price = rng.choice((0, 15_000, 40_000, 50_000))
        discount = price // rng.choice((1, 2, 4)) if accepted else 0
        rows.append({
            "terminal_id": terminal, "partner_id": pid, "seq": seqs[terminal], "at": at,
            "serial": rng.choice(serials) if rng.random() < 0.95 else None, "accepted": accepted,
            "reason": "accepted" if accepted else "daily_limit", "service": "tiket", "category": "5-12",
            "price": price, "discount": discount, "paid": price - discount, "flags": [], "hash": "0" * 64,
            "received_at": at, "day": day.year * 10000 + day.month * 100 + day.day,
            "month": day.year * 100 + day.month,
        })
    with home.transaction() as session:
        session.execute(insert(RedemptionRow), rows)
        summaries.add_records(session, [{**row, "held": False, "flagged": False} for row in rows])
    return rows


def _reference(rows: list[dict[str, Any]], key: dict[int, str], period: str, first: int, last: int,
               partner_id: int | None = None) -> list[Figures]:
    totals: dict[tuple[str, int], list[Any]] = collections.defaultdict(lambda: [0, 0, set(), 0, 0, 0])
    for row in rows:
        if not first <= row[period] <= last or partner_id not in (None, row["partner_id"]):
            continue
        total = totals[(key[row["partner_id"]], row[period])]
        total[0] += 1
        if row["accepted"]:
            total[1] += 1
            total[2] |= {row["serial"]} - {None}
            total[3], total[4], total[5] = total[3] + row["price"], total[4] + row["discount"], total[5] + row["paid"]
    return [Figures(group, when, t[0], t[1], len(t[2]), t[3], t[4], t[5])
            for (group, when), t in sorted(totals.items(), key=lambda item: (_order(item[0][0]), item[0][1]))]


def _order(group: str) -> tuple[int, str]:
    return (int(group), "") if group.isdigit() else (0, group)


@pytest.mark.parametrize("group", reports.GROUPS)
def test_figures_over_many_rows_equal_a_reference_computed_in_python(office: IssuerHome, group: str):
    ids = [add_partner(office, "Bioskop", "cinema", "education_culture", SURAKARTA),
           add_partner(office, "Museum", "museum", "education_culture", SURAKARTA),
           add_partner(office, "Kolam", "pool", "health_welfare", SURAKARTA)]
    rows = _generated_rows(office, ids, 3000)
    kinds, clusters = dict(zip(ids, ("cinema", "museum", "pool"), strict=True)), dict(
        zip(ids, ("education_culture", "education_culture", "health_welfare"), strict=True))
    key = {"partner": {pid: str(pid) for pid in ids}, "kind": kinds, "cluster": clusters,
           "programme": dict.fromkeys(ids, "all")}[group]
    days = reports.figures(office, group, "day", dt.date(2026, 3, 15), dt.date(2027, 1, 10))
    assert days == _reference(rows, key, "day", 20260315, 20270110)
    assert len(days) > 250 and sum(row.scans for row in days) > 2000
    months = reports.figures(office, group, "month", dt.date(2026, 3, 1), dt.date(2027, 1, 31))
    assert months == _reference(rows, key, "month", 202603, 202701)
    assert reports.figures(office, group, "month", dt.date(2026, 3, 1), dt.date(2027, 1, 31), ids[1]) == _reference(
        rows, key, "month", 202603, 202701, ids[1])
    # The unique cards of a month are counted over the month, never summed from its days.
    in_july = [row for row in days if row.period // 100 == 202607]
    july = next(row for row in months if row.period == 202607 and row.group == in_july[0].group)
    assert july.unique_cards < sum(row.unique_cards for row in in_july if row.group == july.group)


# --- coverage ---------------------------------------------------------------------



def issue(home: IssuerHome, region: int, *birth_dates: dt.date) -> list[CardRecord]:
    requests = [ChildRequest(line, born, region) for line, born in enumerate(birth_dates, 1)]
    return [item.record for item in issue_cards(home, UNLOCK, requests, NOW, by=ACTOR).cards]


@pytest.fixture
def cards(office: IssuerHome) -> dict[str, int]:
    """Surakarta: 6 cards, of which 1 revoked, 1 replaced, 1 ending on 25 Nov; Balangan 1; Jayapura 2."""
    solo = issue(office, SURAKARTA, BIRTH_DATE, BIRTH_DATE, BIRTH_DATE, BIRTH_DATE, BIRTH_DATE, TURNS_FIVE_SOON)
    issue(office, BALANGAN, BIRTH_DATE)
    issue(office, JAYAPURA, BIRTH_DATE, dt.date(2012, 2, 29))
    revoke_card(office, solo[3].serial, "hilang", NOW + 60, by=ACTOR)
    with office.transaction() as session:
        session.get_one(CardRow, solo[4].serial).state = "replaced"
    as_of = dt.date(2026, 6, 30)
    reports.set_eligible_children(office, SURAKARTA, 8, as_of)
    reports.set_eligible_children(office, BALANGAN, 3, as_of)
    reports.set_eligible_children(office, ACEH_BESAR, 1_000, as_of)
    reports.set_eligible_children(office, DENPASAR, 0, as_of)
    return {"ends": solo[5].expires_at}


def test_coverage_counts_active_unexpired_cards_against_eligible_children(office: IssuerHome, cards):
    as_of = dt.date(2026, 6, 30)
    assert reports.coverage(office, NOW + 7 * DAY) == [
        Coverage(ACEH_BESAR, 1_000, as_of, 0, 0.0),
        Coverage(SURAKARTA, 8, as_of, 3, 37.5),  # not the revoked, the replaced or the ended card
        Coverage(DENPASAR, 0, as_of, 0, None),  # nobody to cover: no percentage
        Coverage(BALANGAN, 3, as_of, 1, 33.3),
        Coverage(JAYAPURA, None, None, 2, None),  # cards but no count entered
    ]


def test_a_card_stops_counting_at_the_instant_it_ends(office: IssuerHome, cards):
    def solo(now: int) -> Coverage:
        return next(row for row in reports.coverage(office, now) if row.region == SURAKARTA)

    assert solo(cards["ends"] - 1).active_cards == 4 and solo(cards["ends"] - 1).coverage_percent == 50.0
    assert solo(cards["ends"]).active_cards == 3


def test_entering_eligible_children_again_replaces_the_count(office: IssuerHome):
    reports.set_eligible_children(office, SURAKARTA, 100, dt.date(2026, 1, 1))
    reports.set_eligible_children(office, SURAKARTA, 50_000_000, dt.date(2026, 6, 30))
    assert reports.coverage(office, NOW) == [Coverage(SURAKARTA, 50_000_000, dt.date(2026, 6, 30), 0, 0.0)]


@pytest.mark.parametrize(
    ("region", "count", "message"),
    [
        (3300, 10, "4-digit regency/city code"),  # a province, not a regency
        (9999, 10, "4-digit regency/city code"),  # no such province
        (337, 10, "4-digit regency/city code"),
        (SURAKARTA, -1, "from 0 to 50,000,000"),
        (SURAKARTA, 50_000_001, "from 0 to 50,000,000"),
    ],
)
def test_an_implausible_eligible_count_is_refused(office: IssuerHome, region: int, count: int, message: str):
    with pytest.raises(IssuerError, match=message):
        reports.set_eligible_children(office, region, count, dt.date(2026, 6, 30))
    assert reports.coverage(office, NOW) == []


# --- CSV and JSON -------------------------------------------------------------------


def csv_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def as_text(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """JSON rows as CSV shows them: null is an empty field."""
    return [{key: "" if value is None else str(value) for key, value in row.items()} for row in rows]


@pytest.mark.parametrize(("row_type", "header"), [
    (Figures, "group,period,scans,accepted,unique_cards,gross,discount,net,held,flagged"),
    (PartnerCount, "month,in_force,with_scans"),
    (Coverage, "region,eligible_children,as_of,active_cards,coverage_percent"),
])
def test_an_empty_report_as_csv_is_its_header(row_type: type, header: str):
    assert reports.to_csv([], row_type) == header + "\r\n"
    assert reports.to_json([]) == []


def test_csv_rows_equal_the_json_rows(programme: Programme, cards):
    home = programme.home
    for rows, row_type in [
        (reports.figures(home, "cluster", "day", *NOVEMBER), Figures),
        (reports.active_partners(home, dt.date(2026, 10, 1), dt.date(2027, 1, 31)), PartnerCount),
        (reports.coverage(home, NOW + 7 * DAY), Coverage),
    ]:
        header, parsed = csv_rows(reports.to_csv(rows, row_type))
        assert header == [field.name for field in dataclasses.fields(row_type)]
        assert len(parsed) == len(rows) > 0 and parsed == as_text(reports.to_json(rows))
    coverage = reports.to_json(reports.coverage(home, NOW + 7 * DAY))
    assert coverage[0] == {"region": ACEH_BESAR, "eligible_children": 1_000, "as_of": "2026-06-30",
                           "active_cards": 0, "coverage_percent": 0.0}
    assert json.loads(json.dumps(coverage))[-1]["coverage_percent"] is None


# --- the kia command ------------------------------------------------------------------


@pytest.fixture
def cli_office(tmp_path: Path, issuer_db_url: str | None, run_kia: RunKia,
               kia_env: dict[str, str]) -> Iterator[tuple[Path, dict[str, str], IssuerHome]]:
    """A home made with ``kia issuer init``, and that office opened in-process for partners and terminals."""
    env = kia_env if issuer_db_url is None else {**kia_env, "KIA_DATABASE_URL": issuer_db_url}
    path = tmp_path / "office"
    assert run_kia("issuer", "init", "--home", path, cwd=tmp_path, env=env).returncode == 0
    home = IssuerHome(path, issuer_db_url)
    yield path, env, home
    home.close()


def kia_issuer(run_kia: RunKia, office: tuple[Path, dict[str, str], IssuerHome]) -> Callable[..., Any]:
    """``kia issuer ARGS --home HOME``, succeeding; its output parsed when it is JSON."""
    path, env, _ = office

    def run(*args: str | int | Path) -> Any:
        result = run_kia("issuer", *map(str, args), "--home", path, cwd=path.parent, env=env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if result.stdout.startswith(("{", "[")) else result.stdout

    return run


def utc_now() -> int:
    """The real clock, which the CLI runs on."""
    return int(dt.datetime.now(dt.UTC).timestamp())


def test_kia_issuer_report_figures_as_json_and_csv(cli_office, run_kia: RunKia):
    path, env, home = cli_office
    kia = kia_issuer(run_kia, cli_office)
    always = (dt.date(2020, 1, 1), dt.date(2099, 12, 31))
    cinema = add_partner(home, "Bioskop Solo", "cinema", "education_culture", SURAKARTA, always)
    museum = add_partner(home, "Museum Balangan", "museum", "education_culture", BALANGAN, always)
    now = utc_now()
    # Cards, rules and terminals from before the scans of November 2026, which the reports are asked for.
    before = local(SURAKARTA, 2026, 11, 1)
    card_a, card_b, _ = children_cards(home, before)
    offer(home, cinema, "tiket", {"5-12": 50_000}, 50, before)
    offer(home, cinema, "hemat", {"5-12": 40_000}, 50, before)
    offer(home, museum, "tiket", {"5-12": 10_000}, 50, before)
    send(home, enrolled_terminal(home, cinema, before), [
        scan(local(SURAKARTA, 2026, 11, 20, 10), card_a, 50_000, 25_000),
        rejected(local(SURAKARTA, 2026, 11, 20, 11), card_a),
        scan(local(SURAKARTA, 2026, 11, 21, 23, 59, 59), card_b, 40_000, 20_000, service_code="hemat"),
    ], now)
    send(home, enrolled_terminal(home, museum, before), [scan(at_utc(2026, 11, 20, 16), card_a, 10_000, 5_000)], now)

    days = ("--by", "partner", "--period", "day", "--from", "2026-11-20", "--to", "2026-11-21")
    by_day = kia("report", "figures", *days, "--format", "json")
    assert by_day == [
        {"group": str(cinema), "period": 20261120, "scans": 2, "accepted": 1, "unique_cards": 1,
         "gross": 50_000, "discount": 25_000, "net": 25_000, "held": 0, "flagged": 0},
        {"group": str(cinema), "period": 20261121, "scans": 1, "accepted": 1, "unique_cards": 1,
         "gross": 40_000, "discount": 20_000, "net": 20_000, "held": 0, "flagged": 0},
        {"group": str(museum), "period": 20261121, "scans": 1, "accepted": 1, "unique_cards": 1,  # 00:00 WITA
         "gross": 10_000, "discount": 5_000, "net": 5_000, "held": 0, "flagged": 0},
    ]
    header, parsed = csv_rows(kia("report", "figures", *days, "--format", "csv"))
    assert header == list(by_day[0]) and parsed == as_text(by_day)
    assert kia("report", "figures", "--by", "programme", "--from", "2026-11-01", "--to", "2026-11-30") == [
        {"group": "all", "period": 202611, "scans": 4, "accepted": 3, "unique_cards": 2,
         "gross": 100_000, "discount": 50_000, "net": 50_000, "held": 0, "flagged": 0},
    ]
    assert kia("report", "figures", "--by", "cluster", "--period", "day", "--from", "2026-11-21", "--to",
               "2026-11-21", "--partner", museum, "--format", "csv") == (
        "group,period,scans,accepted,unique_cards,gross,discount,net,held,flagged\n"
        "education_culture,20261121,1,1,1,10000,5000,5000,0,0\n"
    )
    assert kia("report", "figures", "--from", "2025-01-01", "--to", "2025-01-31", "--format", "csv") == (
        "group,period,scans,accepted,unique_cards,gross,discount,net,held,flagged\n"
    )
    backwards = run_kia("issuer", "report", "figures", "--home", path, "--from", "2026-11-21", "--to", "2026-11-20",
                        env=env)
    assert backwards.returncode == 2 and "--from must not be after --to" in backwards.stderr


def test_kia_issuer_report_partners_and_coverage(cli_office, run_kia: RunKia, tmp_path: Path):
    path, env, home = cli_office
    kia = kia_issuer(run_kia, cli_office)
    add_partner(home, "Bioskop Solo", "cinema", "education_culture", SURAKARTA,
                (dt.date(2026, 11, 15), dt.date(2026, 12, 31)))
    add_partner(home, "Kolam Renang", "pool", "health_welfare", SURAKARTA, (dt.date(2025, 1, 1), dt.date(2026, 10, 1)))
    months = kia("report", "partners", "--from", "2026-10-01", "--to", "2027-01-31", "--format", "json")
    assert months == [{"month": 202610, "in_force": 1, "with_scans": 0},
                      {"month": 202611, "in_force": 1, "with_scans": 0},
                      {"month": 202612, "in_force": 1, "with_scans": 0},
                      {"month": 202701, "in_force": 0, "with_scans": 0}]
    header, parsed = csv_rows(kia("report", "partners", "--from", "2026-10-01", "--to", "2027-01-31",
                                  "--format", "csv"))
    assert header == ["month", "in_force", "with_scans"] and parsed == as_text(months)

    assert kia("report", "coverage", "--format", "csv") == (
        "region,eligible_children,as_of,active_cards,coverage_percent\n")
    batch = tmp_path / "sekolah.csv"
    today = utc(utc_now()).date()  # `card issue` reads the real clock
    pupils = [(aged(8, today), SURAKARTA)] * 3 + [(aged(11, today), JAYAPURA)]
    batch.write_text("birth_date,region\n" + "".join(f"{born},{region}\n" for born, region in pupils), encoding="utf-8")
    assert kia("card", "issue", "--csv", batch, "--out", tmp_path / "cards")["issued"] == 4
    assert kia("coverage", "set", "--region", SURAKARTA, "--eligible", 4, "--as-of", "2026-06-30") == {
        "region": SURAKARTA, "eligible_children": 4, "as_of": "2026-06-30"}
    coverage = kia("report", "coverage", "--format", "json")
    assert coverage == [
        {"region": SURAKARTA, "eligible_children": 4, "as_of": "2026-06-30", "active_cards": 3,
         "coverage_percent": 75.0},
        {"region": JAYAPURA, "eligible_children": None, "as_of": None, "active_cards": 1, "coverage_percent": None},
    ]
    header, parsed = csv_rows(kia("report", "coverage", "--format", "csv"))
    assert header == list(coverage[0]) and parsed == as_text(coverage)

    for args, code, message in [
        (("--region", "3300", "--eligible", "10"), 1, "kia: the region is a 4-digit regency/city code"),
        (("--region", SURAKARTA, "--eligible", "50000001"), 1, "kia: the number of eligible children is from 0"),
        (("--region", SURAKARTA, "--eligible", "-1"), 2, "--eligible"),
    ]:
        refused = run_kia("issuer", "coverage", "set", "--home", path, *map(str, args), env=env)
        assert refused.returncode == code and message in refused.stderr
        assert refused.stderr.count("\n") == 1 and refused.stdout == ""
    assert [row.eligible_children for row in reports.coverage(home, utc_now())] == [4, None]


# --- the pages read the same local days ----------------------------------------


def test_at_three_in_the_morning_of_the_first_the_pages_show_the_new_local_month(office: IssuerHome) -> None:
    """03:00 WIB on 1 December is still 30 November in UTC: the pages count the local day, as the reports do."""
    morning = local(SURAKARTA, 2026, 12, 1, 3)
    partner_id = add_partner(office, "Bioskop Solo Paragon", "cinema", "education_culture", SURAKARTA)
    ended_yesterday = add_partner(office, "Kolam Lama", "pool", "health_welfare", SURAKARTA,
                                  (dt.date(2025, 1, 1), dt.date(2026, 11, 30)))
    card_a, _, card_c = children_cards(office)
    offer(office, partner_id, "tiket", {"5-12": 40_000, "13-16": 50_000}, 50)
    terminal = enrolled_terminal(office, partner_id, morning - DAY)
    send(office, terminal, [scan(local(SURAKARTA, 2026, 11, 30, 23), card_a, 40_000, 20_000),
                            scan(local(SURAKARTA, 2026, 12, 1, 2, 30), card_c, 50_000, 25_000, category="13-16")],
         morning)
    create_user(office, "manajer", "kata-sandi-panjang-1", "partner_manager", partner_id, morning, by=ACTOR)
    create_user(office, "petugas", "kata-sandi-panjang-1", "officer", None, morning, by=ACTOR)

    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True,
                      "WTF_CSRF_ENABLED": False}, now=lambda: morning)
    try:
        for username in ("manajer", "petugas"):
            client = app.test_client()
            assert client.post("/login", data={"username": username,
                                               "password": "kata-sandi-panjang-1"}).status_code == 302
            page = client.get(f"/partners/{partner_id}").get_data(True)
            assert "1 Des 2026" in page and "30 Nov 2026" not in page  # this month by local day: December's first
            dashboard = client.get("/").get_data(True)
            # This month's table: December's scan (gross 50.000) alone, not November's (40.000).
            assert "<td>Rp 50.000</td>" in dashboard and "<td>Rp 40.000</td>" not in dashboard
        listing = client.get("/partners/").get_data(True)
        assert listing.count("expired") == 1 and f"/partners/{ended_yesterday}" in listing
    finally:
        app.extensions["kia_home"].close()


# --- what the reports pages add: a region, per service, coverage over time (issue 13) -------


def test_figures_of_one_region_keep_its_partners_only(programme: Programme):
    assert reports.figures(programme.home, "partner", "month", *NOVEMBER, region=BALANGAN) == [
        Figures(str(programme.museum), 202611, 1, 1, 1, 10_000, 5_000, 5_000)]
    by_kind = reports.figures(programme.home, "kind", "month", *NOVEMBER, region=SURAKARTA)
    assert [(row.group, row.net) for row in by_kind] == [("cinema", 105_000), ("pool", 0)]


def test_a_partners_figures_per_service(programme: Programme):
    rows = reports.figures(programme.home, reports.BY_SERVICE, "month", *NOVEMBER, programme.cinema)
    assert rows == [
        # A at 10:00, 14:00 and 19:00 (50,000 less half), B refused, and the unreadable scan: all on "tiket".
        Figures("tiket", 202611, 5, 3, 1, 150_000, 75_000, 75_000),
        Figures("tiket-remaja", 202611, 1, 1, 1, 40_000, 10_000, 30_000),
    ]


def test_partners_of_one_region_over_time(programme: Programme):
    # Surakarta: the cinema, the pool (from 15 November) and the park (until 1 November); Balangan's museum is not.
    assert reports.active_partners(programme.home, NOVEMBER[0], DECEMBER[1], region=SURAKARTA) == [
        PartnerCount(202611, 3, 2), PartnerCount(202612, 2, 0)]


@pytest.mark.parametrize(("start", "end", "period", "problem"), [
    (dt.date(2025, 10, 31), dt.date(2026, 11, 1), "day", "days"),  # 367 days
    (dt.date(2025, 11, 1), dt.date(2026, 11, 1), "day", None),  # 366 days
    (dt.date(2021, 12, 1), dt.date(2026, 11, 30), "month", None),
    (dt.date(2021, 11, 30), dt.date(2026, 11, 30), "month", "months"),
    (dt.date(2027, 11, 1), dt.date(2027, 11, 30), "month", "ahead"),
])
def test_range_problem_names_the_limit_passed(start: dt.date, end: dt.date, period: str, problem: str | None):
    assert reports.range_problem(start, end, period, dt.date(2026, 11, 22)) == problem


def test_coverage_trend_counts_the_cards_in_force_at_each_months_end(office: IssuerHome):
    """Two Surakarta cards issued on 25 October; two more on 10 November, when one of October's is revoked."""
    october = issue_at(office, SURAKARTA, local(SURAKARTA, 2026, 10, 25, 9), 2)
    issue_at(office, SURAKARTA, local(SURAKARTA, 2026, 11, 10, 9), 2)
    issue_at(office, BALANGAN, local(BALANGAN, 2026, 11, 10, 9), 1)
    revoke_card(office, october[0], "hilang", local(SURAKARTA, 2026, 11, 10, 10), by=ACTOR)
    reports.set_eligible_children(office, SURAKARTA, 10, dt.date(2026, 6, 30))
    trend = reports.coverage_trend(office, dt.date(2026, 9, 1), NOVEMBER[1], NOW)
    assert [(row.region, row.month, row.active_cards, row.coverage_percent) for row in trend] == [
        (SURAKARTA, 202609, 0, 0.0), (SURAKARTA, 202610, 2, 20.0), (SURAKARTA, 202611, 3, 30.0),
        (BALANGAN, 202609, 0, None), (BALANGAN, 202610, 0, None), (BALANGAN, 202611, 1, None),
    ]
    assert {row.eligible_children for row in trend if row.region == SURAKARTA} == {10}
    only_balangan = reports.coverage_trend(office, NOVEMBER[0], NOVEMBER[1], NOW, region=BALANGAN)
    assert [(row.region, row.active_cards) for row in only_balangan] == [(BALANGAN, 1)]


def test_a_card_issued_at_midnight_counts_for_the_month_it_starts(office: IssuerHome):
    issue_at(office, SURAKARTA, local(SURAKARTA, 2026, 10, 31, 23, 59, 59), 1)
    issue_at(office, SURAKARTA, local(SURAKARTA, 2026, 11, 1), 1)
    trend = reports.coverage_trend(office, dt.date(2026, 10, 1), NOVEMBER[1], NOW)
    assert [(row.month, row.active_cards) for row in trend] == [(202610, 1), (202611, 2)]


def issue_at(home: IssuerHome, region: int, at: int, count: int) -> list[str]:
    requests = [ChildRequest(line, BIRTH_DATE, region) for line in range(1, count + 1)]
    return [item.record.serial for item in issue_cards(home, UNLOCK, requests, at, by=ACTOR).cards]

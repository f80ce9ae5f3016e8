"""Reports from daily summaries equal reports computed straight from redemptions (issue 14).

Random records go in as ingest stores them (the rows, then
``summaries.add_records`` in the same transaction, batch by batch), some held
with an open finding; an auditor then releases or confirms some of those
through ``quarantine.decide``.  Every grouping, both periods, a partner and a
region filter, over the whole span and a random part of it, must then equal
``raw_figures`` (the computation before summaries), on SQLite and PostgreSQL.
Records fall around two month ends in partners of WIB, WITA and WIT, so a
record's local day is not its UTC day.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select

from issuer import partners, quarantine, reports, summaries
from issuer.reports import bucket
from issuer.storage import migrate
from issuer.storage.models import (
    PROGRAMME,
    Finding,
    Partner,
    RedemptionCard,
    RedemptionCardCount,
    RedemptionCardEdge,
    RedemptionProgrammeDay,
    RedemptionRow,
    ReportScope,
)
from issuer.storage.store import IssuerHome
from issuer.terminals import register_terminal
from keys.eligibility import region_timezone
from keys.times import local_date
from tests.factories import ACTOR, BALANGAN, JAYAPURA, NOW, SURAKARTA
from tests.factories.report_reference import raw_figures

SPAN = (dt.date(2026, 11, 28), dt.date(2027, 1, 2))
FIRST = int(dt.datetime(2026, 11, 29, tzinfo=dt.UTC).timestamp())
# Partners: (name, kind, cluster, region); two share a cluster, two a region's zone is different.
PARTNERS = (("Bioskop", "cinema", "education_culture", SURAKARTA), ("Kolam", "pool", "health_welfare", BALANGAN),
            ("Museum", "museum", "education_culture", JAYAPURA))
# Times: around the end of November and the end of December, in UTC hours from 29 November 00:00.
HOURS = st.one_of(st.integers(0, 3 * 24), st.integers(32 * 24 - 12, 34 * 24))


@dataclasses.dataclass(frozen=True)
class Scan:
    partner: int  # index into PARTNERS
    at: int
    accepted: bool
    held: bool
    flagged: bool
    serial: str | None
    service: str
    category: str | None
    price: int
    discount: int


SCANS = st.builds(
    Scan,
    partner=st.integers(0, len(PARTNERS) - 1),
    at=st.builds(lambda hours, seconds: FIRST + hours * 3600 + seconds, HOURS, st.integers(0, 3599)),
    accepted=st.booleans(),
    held=st.booleans(),
    flagged=st.booleans(),
    serial=st.one_of(st.none(), st.sampled_from(["8H635DT4", "2M4ZKQ7P", "X9RT3K2A", "Q4WN8M1C"])),
    service=st.sampled_from(["tiket", "kolam-anak"]),
    category=st.sampled_from([None, "0-4", "5-12"]),
    price=st.sampled_from([0, 10_000, 25_000]),
    discount=st.sampled_from([0, 5_000]),
)


@dataclasses.dataclass
class Programme:
    home: IssuerHome
    partner_ids: list[int]
    terminals: list[str]


@pytest.fixture
def programme(office: IssuerHome) -> Programme:
    ids = [partners.create_partner(office, name, kind, cluster, region, dt.date(2026, 1, 1), dt.date(2027, 12, 31),
                                   NOW, by=ACTOR) for name, kind, cluster, region in PARTNERS]
    terminals = [register_terminal(office, pid, "Kasir", NOW, by=ACTOR).terminal_id for pid in ids]
    return Programme(office, ids, terminals)


def ingest_like(programme: Programme, scans: list[Scan], cuts: list[int]) -> list[dict[str, object]]:
    """Store ``scans`` in batches split at ``cuts`` as sync_ingest does: rows, findings, summaries."""
    seqs: collections.Counter[str] = collections.Counter()
    rows = []
    for scan in scans:
        terminal = programme.terminals[scan.partner]
        seqs[terminal] += 1
        day = local_date(scan.at, region_timezone(PARTNERS[scan.partner][3]))
        assert day is not None
        rows.append({
            "terminal_id": terminal, "partner_id": programme.partner_ids[scan.partner], "seq": seqs[terminal],
            "at": scan.at, "serial": scan.serial, "accepted": scan.accepted,
            "reason": "accepted" if scan.accepted else "daily_limit", "service": scan.service,
            "category": scan.category, "price": scan.price, "discount": scan.discount,
            "paid": scan.price - scan.discount, "flags": ["stale"] if scan.flagged else [], "hash": "0" * 64,
            "received_at": scan.at, "held": scan.held, "flagged": scan.flagged,
            "day": bucket(day, "day"), "month": bucket(day, "month"),
        })
    edges = [0, *sorted(set(cuts) & set(range(1, len(rows)))), len(rows)]
    for begin, end in zip(edges, edges[1:], strict=False):
        batch = rows[begin:end]
        if not batch:
            continue
        with programme.home.transaction() as session:
            session.execute(insert(RedemptionRow), batch)
            held = [row for row in batch if row["held"]]
            if held:
                session.execute(insert(Finding), [
                    {"terminal_id": row["terminal_id"], "seq": row["seq"], "partner_id": row["partner_id"],
                     "check": "daily_limit", "evidence": "test", "found_at": NOW, "state": "open"} for row in held])
            summaries.add_records(session, batch)
    return rows


def reports_agree(home: IssuerHome, start: dt.date, end: dt.date, partner_id: int, region: int) -> None:
    for period in reports.PERIODS:
        for group in (*reports.GROUPS, reports.BY_SERVICE):
            assert reports.figures(home, group, period, start, end) == raw_figures(home, group, period, start, end)
            assert (reports.figures(home, group, period, start, end, region=region)
                    == raw_figures(home, group, period, start, end, region=region))
            assert (reports.figures(home, group, period, start, end, partner_id)
                    == raw_figures(home, group, period, start, end, partner_id))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scans=st.lists(SCANS, max_size=40), cuts=st.lists(st.integers(1, 39), max_size=4),
       decisions=st.lists(st.sampled_from([None, "release", "confirm"]), max_size=40),
       part=st.tuples(st.integers(0, 35), st.integers(0, 35)), which=st.integers(0, len(PARTNERS) - 1))
def test_reports_from_summaries_equal_reports_from_redemptions(
    programme: Programme, scans: list[Scan], cuts: list[int], decisions: list[str | None],
    part: tuple[int, int], which: int,
) -> None:
    home = programme.home
    with home.transaction() as session:  # each example starts from no records
        for table in (Finding, *summaries.TABLES, RedemptionRow):
            session.execute(delete(table))
    rows = ingest_like(programme, scans, cuts)
    reports_agree(home, *SPAN, programme.partner_ids[which], PARTNERS[which][3])

    held = [row for row in rows if row["held"]]
    for row, decision in zip(held, decisions, strict=False):
        if decision is not None:
            quarantine.decide(home, str(row["terminal_id"]), int(str(row["seq"])), decision, "checked", NOW,
                              by=ACTOR)
    start, end = sorted(SPAN[0] + dt.timedelta(days=days) for days in part)
    reports_agree(home, *SPAN, programme.partner_ids[which], PARTNERS[which][3])
    reports_agree(home, start, end, programme.partner_ids[which], PARTNERS[which][3])
    expected: dict[int, set[int]] = collections.defaultdict(set)
    with home.transaction() as session:
        for month, partner_id in session.execute(select(RedemptionRow.month, RedemptionRow.partner_id).where(
                RedemptionRow.accepted.is_(True), RedemptionRow.held.is_(False))):
            expected[month].add(partner_id)
    assert {count.month: count.with_scans for count in reports.active_partners(home, *SPAN)} == {
        month: len(expected.get(month, ())) for month in (202611, 202612, 202701)}


def test_migrations_from_0013_fill_the_summaries_and_card_sets_that_ingest_keeps(programme: Programme) -> None:
    """Taken down to 0012 and up again, the migrations' backfill equals what ingest kept.

    One card is counted at all three partners, so the programme's count of it
    is given to one partner; ingest and the backfill may give it to different
    ones, so the programme's counts are compared summed over partners.
    """
    scans = [Scan(n % 3, FIRST + n * 5_400, n % 4 != 0, n % 5 == 0, n % 7 == 0, ("8H635DT4", None)[n % 6 == 0],
                  ("tiket", "kolam-anak")[n % 2], (None, "0-4", "5-12")[n % 3], 10_000, 5_000 * (n % 2))
             for n in range(60)]
    rows = ingest_like(programme, scans, [17, 40])
    quarantine.decide(programme.home, str(rows[5]["terminal_id"]), int(str(rows[5]["seq"])), "release", "checked",
                      NOW, by=ACTOR)
    kept = summary_rows(programme.home)

    migrate.downgrade(programme.home.database, "0012")
    migrate.upgrade(programme.home.database)

    assert summary_rows(programme.home) == kept
    reports_agree(programme.home, *SPAN, programme.partner_ids[1], BALANGAN)


def summary_rows(home: IssuerHome) -> dict[str, object]:
    """What ingest keeps, comparable between ingest and backfill: scopes by what they stand for, not by id,
    and the counts of sets shared by partners (and the edges of every set, and the programme's cards of a
    day) summed over partners."""
    kept: dict[str, object] = {}
    with home.transaction() as session:
        scopes = {-scope.id: (scope.what, scope.partner_id, scope.name)
                  for scope in session.scalars(select(ReportScope))}
        for model in summaries.TABLES:
            table = model.__table__
            kept[table.name] = sorted(tuple(row) for row in session.execute(select(table)))
        kept[ReportScope.__tablename__] = sorted(scopes.values())
        kept[RedemptionCard.__tablename__] = sorted(
            (str(scopes.get(scope, scope)), month, serial, days)
            for scope, month, serial, days in session.execute(select(RedemptionCard.__table__)))
        edges = RedemptionCardEdge.__table__
        kept[edges.name] = sorted(
            (str(scopes.get(scope, scope)), day, firsts, lasts) for scope, day, firsts, lasts in session.execute(
                select(edges.c.scope, edges.c.day, func.sum(edges.c.firsts), func.sum(edges.c.lasts))
                .group_by(edges.c.scope, edges.c.day)) if firsts or lasts)
        days = RedemptionProgrammeDay.__table__  # its cards are the programme's counts, by stripe of partners
        kept[days.name] = sorted(session.execute(select(*(column for column in days.c if column.name != "cards"))))
        kept["programme days"] = sorted(session.execute(select(days.c.day, func.sum(days.c.cards))
                                                        .group_by(days.c.day)).all())
        counts = RedemptionCardCount.__table__
        kept[counts.name] = sorted(session.execute(select(counts.c.partner_id, counts.c.period, counts.c.partner_cards)
                                                   .where(counts.c.partner_cards > 0)).all())
        kept["programme"] = sorted(session.execute(select(counts.c.period, func.sum(counts.c.programme_cards))
                                                   .group_by(counts.c.period)).all())
        for what, figure in (("kind", counts.c.kind_cards), ("cluster", counts.c.cluster_cards),
                             ("region", counts.c.region_cards)):
            shared_by = getattr(Partner, what)
            kept[what] = sorted(session.execute(
                select(shared_by, counts.c.period, func.sum(figure)).join(Partner, Partner.id == counts.c.partner_id)
                .group_by(shared_by, counts.c.period)).all())
    return kept


def test_two_partners_batches_over_two_days_that_share_cards_crossing_both_commit(programme: Programme) -> None:
    """Each batch puts a card in the programme's set on a day the other's puts it there on the other day: rows
    that two batches change in opposite orders.  Both commit, every time, and the sets hold every day."""
    home = programme.home
    first, second = ([f"{letter}{number:07d}" for number in range(150)] for letter in "XY")
    barrier = threading.Barrier(2, timeout=60)
    failures: list[BaseException] = []

    def ingest(partner: int, cards: tuple[list[str], list[str]]) -> None:
        for month in range(202601, 202606):
            batch = [{"partner_id": partner, "day": month * 100 + day, "service": "tiket", "category": "5-12",
                      "accepted": True, "held": False, "flagged": False, "serial": serial, "price": 10_000,
                      "discount": 5_000, "paid": 5_000} for day, serials in enumerate(cards, start=1)
                     for serial in serials]
            barrier.wait()
            try:
                with home.transaction() as session:
                    summaries.add_records(session, batch)
            except BaseException as exc:  # noqa: BLE001 (reported by the test's thread, not lost)
                failures.append(exc)

    threads = [threading.Thread(target=ingest, args=(programme.partner_ids[0], (first, second))),
               threading.Thread(target=ingest, args=(programme.partner_ids[1], (second, first)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with home.transaction() as session:
        days = dict(session.execute(select(RedemptionCard.serial, RedemptionCard.days).where(
            RedemptionCard.scope == PROGRAMME, RedemptionCard.month == 202605)).all())
    assert days == {serial: 0b11 for serial in first + second}

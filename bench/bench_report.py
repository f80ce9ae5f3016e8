"""The monthly revenue report over 10 million redemptions in PostgreSQL.

Loads ``ROWS`` redemptions (default 10,000,000) into a fresh schema of
KIA_BENCH_DATABASE_URL: an office made by ``issuer.issuing_keys.init_home`` (its
migrations run through ``issuer.storage.migrate.upgrade``), 60 partners in WIB, WITA
and WIT regions and their terminals made by ``issuer.partners``, then
generated rows streamed in with psycopg's COPY.  The rows look like a
programme that grows over 24 months (January 2025 to December 2026): partners
of very different sizes joining over the first year, scans in opening hours
of the partner's local time, 1.5 million cards of which a few are used very
often, 9 in 10 scans accepted.  Rows arrive in time order, as sync stores them.

For speed the load drops the four secondary indexes and skips the foreign-key
triggers, then builds the same indexes again (their definitions are read
from the database first) and runs VACUUM ANALYZE, as autovacuum would.

Rows loaded by COPY pass by ingest, so migration 0013 is then run on them
(down to 0012 and up again, timed): it fills the daily summaries from every
row and builds the counted-cards index, as for an office that upgrades.

Then each report type (issue 14) is timed side by side: before, computed
straight from redemptions (tests.factories.report_reference, median of 3),
and after, ``issuer.reports.figures`` from the daily summaries with exact
unique cards (median of 11), and the summed figures alone without unique
cards; before and after must give the same rows.  Budget (issue 14): any
report over any range in at most 20 ms on 10 million redemptions (moonshot
5 ms).  The earlier cases follow: the largest partner over one month and a
year, all partners over one month (budget of issue 2: a partner's month in
at most 300 ms), with the PostgreSQL plans of three report queries.

    KIA_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/kia_bench \\
        python bench/bench_report.py [ROWS] [--keep] [--try-remedies]

``--keep`` times the data already loaded (migrated to 0013 first if it is not); ``--try-remedies`` also times the
queries with JIT off and a larger work_mem for the whole database, then with a
covering index on ``day`` alone (all in the bench database, and undone
afterwards).  The per-partner covering index of migration 0006 and the report
transaction's ``SET LOCAL jit = off`` are part of what is measured.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import functools
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from common import ROOT, machine
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(ROOT))

from issuer import issuing_keys, partners, reports, summaries  # noqa: E402
from issuer.audit import Actor  # noqa: E402
from issuer.storage import migrate  # noqa: E402
from issuer.storage.models import (  # noqa: E402
    KLA_CLUSTERS,
    PARTNER_KINDS,
    RedemptionSummary,
    RedemptionSummaryMonth,
)
from issuer.storage.store import IssuerHome  # noqa: E402
from issuer.terminals import register_terminal  # noqa: E402
from keys.eligibility import region_timezone  # noqa: E402
from keys.serial import serial_from_value  # noqa: E402
from tests.factories.report_reference import raw_figures  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/kia_bench"
BUDGET_MS = 300
SUMMARY_BUDGET_MS = 20  # issue 14: any report over any range on 10M redemptions (moonshot 5 ms)
SUMMARY_MOONSHOT_MS = 5
RUNS = 11
PARTNERS = 60
CARDS = 1_500_000
FIRST_MONTH = dt.date(2025, 1, 1)
MONTHS = 24
REGIONS = (3372, 3374, 3578, 3171, 3273, 3471, 1371, 1271, 3201, 3515, 6311, 5171, 7371, 6471, 9171, 8171)
PRICES = {"cinema": 50_000, "pool": 20_000, "transport": 5_000, "museum": 10_000, "health": 30_000,
          "education": 25_000, "bookshop": 60_000, "recreation": 35_000, "other": 15_000}
COLUMNS = ("terminal_id", "partner_id", "seq", "at", "serial", "accepted", "reason", "service", "category", "price",
           "discount", "paid", "flags", "hash", "received_at", "day", "month")
PASSPHRASE = b"bench passphrase, not a secret 2026"


def months() -> list[dt.date]:
    return [dt.date(FIRST_MONTH.year + (FIRST_MONTH.month - 1 + n) // 12, (FIRST_MONTH.month - 1 + n) % 12 + 1, 1)
            for n in range(MONTHS)]


def month_days(first: dt.date) -> list[dt.date]:
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return [first + dt.timedelta(days=n) for n in range((following - first).days)]


# --- the office and its partners -------------------------------------------------------


class Partner:
    def __init__(self, rank: int, partner_id: int, kind: str, region: int, joins: int, terminals: list[str]) -> None:
        self.rank, self.id, self.kind, self.region, self.joins = rank, partner_id, kind, region, joins
        self.terminals, self.seq = terminals, dict.fromkeys(terminals, 0)
        self.weight = 1 / rank**0.9  # a few big chains, many small venues
        self.offset = int(region_timezone(region).utcoffset(None).total_seconds())
        self.service = f"{kind}-reguler"


def make_office(home: IssuerHome) -> list[Partner]:
    issuing_keys.init_home(home, issuing_keys.KeyUnlock(PASSPHRASE), int(dt.datetime(2024, 12, 1,
                                                                                     tzinfo=dt.UTC).timestamp()),
                      by=Actor.command_line())
    made = []
    for rank in range(1, PARTNERS + 1):
        kind = PARTNER_KINDS[(rank - 1) % len(PARTNER_KINDS)]
        region = REGIONS[(rank - 1) % len(REGIONS)]
        joins = 0 if rank <= 10 else (rank * 7) % 12  # the big ones from the start, the rest during 2025
        start = months()[joins]
        partner_id = partners.create_partner(home, f"Mitra {rank}", kind, KLA_CLUSTERS[rank % len(KLA_CLUSTERS)],
                                             region, start, start.replace(year=start.year + 2) - dt.timedelta(days=1),
                                             int(time.time()), by=Actor.command_line())
        count = max(1, round(6 / rank**0.5))
        # The MoUs are the simulated months', not today's: registered today they may have ended.
        terminals = [register_terminal(home, partner_id, f"Kasir {n}", int(time.time()),
                                       by=Actor.command_line(), mou_override="benchmark history").terminal_id
                     for n in range(1, count + 1)]
        made.append(Partner(rank, partner_id, kind, region, joins, terminals))
    return made


# --- the rows --------------------------------------------------------------------------------


def generated_lines(partner_list: list[Partner], total: int, rng: random.Random) -> Iterator[str]:
    """COPY text lines, month by month, each month in time order."""
    serials = [serial_from_value(rng.randrange(2**35)) for _ in range(CARDS)]
    growth = [0.5 + n / (MONTHS - 1) for n in range(MONTHS)]  # twice the scans at the end as at the start
    counter = 0
    for index, first in enumerate(months()):
        count = round(total * growth[index] / sum(growth)) if index < MONTHS - 1 else total - counter
        active = [partner for partner in partner_list if partner.joins <= index]
        cumulative, running = [], 0.0
        for partner in active:
            running += partner.weight
            cumulative.append(running)
        days = month_days(first)
        midnights = [int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) for day in days]
        rows = []
        random_value, randrange = rng.random, rng.randrange
        for _ in range(count):
            partner = active[bisect.bisect_left(cumulative, random_value() * running)]
            day = randrange(len(days))
            at = midnights[day] - partner.offset + 9 * 3600 + randrange(12 * 3600)  # 09:00-21:00 local
            rows.append((at, partner, days[day]))
        rows.sort(key=lambda row: row[0])
        for at, partner, day in rows:
            counter += 1
            terminal = partner.terminals[randrange(len(partner.terminals))]
            partner.seq[terminal] += 1
            roll = random_value()
            price = PRICES[partner.kind]
            serial = serials[int(CARDS * random_value() ** 2.5)]  # a few cards come back often
            category = ("0-4", "5-12", "5-12", "13-16")[randrange(4)]
            if roll < 0.91:
                accepted, reason, discount = "t", "accepted", price // 2
            elif roll < 0.93:
                accepted, reason, discount, serial, category = "f", "malformed", 0, "\\N", "\\N"
            else:
                accepted, discount = "f", 0
                reason = ("daily_limit", "daily_limit", "card_revoked", "expired", "passback")[randrange(5)]
            flags = '["stale"]' if roll > 0.995 else "[]"
            yield (f"{terminal}\t{partner.id}\t{partner.seq[terminal]}\t{at}\t{serial}\t{accepted}\t{reason}\t"
                   f"{partner.service}\t{category}\t{price}\t{discount}\t{price - discount}\t{flags}\t"
                   f"{counter:064x}\t{at + randrange(21600)}\t{day.year * 10000 + day.month * 100 + day.day}\t"
                   f"{day.year * 100 + day.month}\n")


def load(engine: Engine, partner_list: list[Partner], total: int) -> None:
    with engine.begin() as connection:
        indexes = list(connection.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = 'redemptions' AND indexname <> 'redemptions_pkey'"
        )))
        for name, _ in indexes:
            connection.execute(text(f'DROP INDEX "{name}"'))
    began = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()
        cursor.execute("SET session_replication_role = replica")  # generated rows: skip the foreign-key triggers
        chunk: list[str] = []
        with cursor.copy(f"COPY redemptions ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for number, line in enumerate(generated_lines(partner_list, total, random.Random(2026)), 1):
                chunk.append(line)
                if len(chunk) == 50_000:
                    copy.write("".join(chunk))
                    chunk.clear()
                if number % 1_000_000 == 0:
                    print(f"  {number:,} rows, {time.perf_counter() - began:.0f} s", flush=True)
            copy.write("".join(chunk))
        raw.driver_connection.commit()
    finally:
        raw.close()
    print(f"  COPY of {total:,} rows: {time.perf_counter() - began:.0f} s")
    began = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text("SET maintenance_work_mem = '1GB'"))
        for _, definition in indexes:
            # On the partitioned table (migration 0017) the parent's index reads "ON ONLY": made so, it would
            # stay invalid and index no partition.
            connection.execute(text(definition.replace(" ON ONLY ", " ON ")))
    print(f"  the {len(indexes)} secondary indexes built again: {time.perf_counter() - began:.0f} s")
    began = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE redemptions"))
    print(f"  VACUUM ANALYZE: {time.perf_counter() - began:.0f} s")


# --- the reports ------------------------------------------------------------------------------------


def timings(function: Callable[[], object], runs: int = RUNS) -> list[float]:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        function()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def captured_query(home: IssuerHome, call: Callable[[], object]) -> tuple[list[str], str, Any]:
    """The settings (SET LOCAL) and the SQL and parameters of the report query ``call`` sends."""
    settings: list[str] = []
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.startswith("SET LOCAL"):
            settings.append(statement)
        elif "FROM redemption" in statement:
            seen.append((statement, parameters))

    event.listen(home.database.engine, "before_cursor_execute", keep)
    try:
        call()
    finally:
        event.remove(home.database.engine, "before_cursor_execute", keep)
    return settings, *seen[-1]


def explain(home: IssuerHome, call: Callable[[], object]) -> str:
    """The plan of the report's query, run as the product runs it (same settings, one transaction)."""
    settings, statement, parameters = captured_query(home, call)
    raw = home.database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for setting in settings:
            cursor.execute(setting)
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        raw.rollback()
        return plan
    finally:
        raw.close()


def measure(home: IssuerHome, biggest: int, label: str = "") -> dict[str, float]:
    november = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    year = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    cases: dict[str, Callable[[], object]] = {
        "one partner, one month, by month": lambda: reports.figures(home, "partner", "month", *november, biggest),
        "one partner, one month, by day": lambda: reports.figures(home, "partner", "day", *november, biggest),
        "one partner, 2026, by month": lambda: reports.figures(home, "partner", "month", *year, biggest),
        "all 60 partners, one month, by month": lambda: reports.figures(home, "partner", "month", *november),
        "whole programme, one month (unique cards)": lambda: reports.figures(home, "programme", "month", *november),
    }
    medians = {}
    print(f"\n{'report' + label:52} {'median':>9} {'min':>9} {'max':>9}")
    for name, call in cases.items():
        samples = timings(call)
        medians[name] = statistics.median(samples)
        print(f"{name:52} {medians[name]:6.0f} ms {min(samples):6.0f} ms {max(samples):6.0f} ms")
    return medians


def summaries_migrated(home: IssuerHome, fresh: bool) -> None:
    """Run migrations 0013 to 0016 (summaries, monthly rollup, card sets filled from every row) and time them.

    Freshly loaded rows went in by COPY, past ingest: the migrations are taken
    down to 0012 and up again, so that they fill what ingest keeps as they
    would for an office upgrading with these rows.
    """
    if fresh:
        migrate.downgrade(home.database, "0012")
    if migrate.current_revision(home.database) == migrate.head_revision():
        return
    if migrate.current_revision(home.database) == "0012":
        began = time.perf_counter()
        migrate.upgrade(home.database, "0014")
        print(f"migrations 0013-0014 (daily summaries filled from every row, counted-cards index built): "
              f"{time.perf_counter() - began:.0f} s")
    for revision, what in (("0015", "monthly rollup, partners' and programme's card sets and counts filled"),
                           ("0016", "kinds', clusters', regions' and services' card sets and counts filled")):
        if int(migrate.current_revision(home.database) or 0) < int(revision):
            began = time.perf_counter()
            migrate.upgrade(home.database, revision)
            print(f"migration {revision} ({what}): {time.perf_counter() - began:.0f} s")
    began = time.perf_counter()
    migrate.upgrade(home.database)
    print(f"migrations to {migrate.head_revision()} (monthly partitions, per-partner and programme rollups): "
          f"{time.perf_counter() - began:.0f} s")
    with home.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in KEPT_TABLES:
            connection.execute(text(f"VACUUM ANALYZE {table}"))
            count, size = connection.execute(text(f"SELECT count(*), {_SIZE} FROM {table}"),  # noqa: S608
                                             {"table": table}).one()
            print(f"{table}: {count:,} rows, {size} with indexes")


# A table's size with its indexes; a partitioned one's (migration 0017) is its partitions'.
_SIZE = ("pg_size_pretty(pg_total_relation_size(CAST(:table AS regclass)) + (SELECT coalesce(sum("
         "pg_total_relation_size(inhrelid)), 0) FROM pg_inherits WHERE inhparent = CAST(:table AS regclass)))")
KEPT_TABLES = ("redemption_summaries", "redemption_summary_months", "redemption_cards", "redemption_card_counts",
               "redemption_service_card_counts", "redemption_card_edges", "report_scopes")


def summed_only(home: IssuerHome, group: str, period: str, start: dt.date, end: dt.date,
                partner_id: int | None = None, region: int | None = None) -> list[Any]:
    """The summed figures of reports.figures without unique cards: what the summaries alone cost."""
    days = (reports.bucket(start, "day"), reports.bucket(end, "day"))
    months, cut = reports._whole_months(start, end) if period == "month" else (None, [days])
    parts = [reports._sums(RedemptionSummary, RedemptionSummary.day, group, period,
                           RedemptionSummary.day.between(*span), partner_id, region) for span in cut]
    if months is not None:
        parts.append(reports._sums(RedemptionSummaryMonth, RedemptionSummaryMonth.month, group, period,
                                   RedemptionSummaryMonth.month.between(*months), partner_id, region))
    with home.transaction() as session:
        return [list(session.execute(part)) for part in parts]


def compare(home: IssuerHome, biggest: int) -> list[tuple[str, float, float, float]]:
    """Each report type before (scanning redemptions) and after (daily summaries), median ms, side by side."""
    november = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    year = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    everything = (FIRST_MONTH, dt.date(2026, 12, 31))
    cut_months = (dt.date(2026, 1, 15), dt.date(2026, 3, 14))
    cases: list[tuple[str, tuple[Any, ...]]] = [
        ("a partner's month, by day", ("partner", "day", *november, biggest)),
        ("a partner's month, by month", ("partner", "month", *november, biggest)),
        ("a partner's year, by month", ("partner", "month", *year, biggest)),
        ("a partner's year, by day (365 rows)", ("partner", "day", *year, biggest)),
        ("a partner's year per service, by month", (reports.BY_SERVICE, "month", *year, biggest)),
        ("all partners, one month, by month", ("partner", "month", *november)),
        ("all partners, a year, by month", ("partner", "month", *year)),
        ("per kind, a year, by month", ("kind", "month", *year)),
        ("per cluster, one month, by day", ("cluster", "day", *november)),
        ("the programme, one month, by day", ("programme", "day", *november)),
        ("the programme, a year, by month", ("programme", "month", *year)),
        ("the programme, 24 months, by month", ("programme", "month", *everything)),
        ("a partner, 15 Jan to 14 Mar, by month", ("partner", "month", *cut_months, biggest)),
        ("the programme, 15 Jan to 14 Mar, by month", ("programme", "month", *cut_months)),
        ("a region's programme, a year, by month", ("programme", "month", *year, None, 3372)),
    ]
    rows = []
    print(f"\n{'report (median of ' + str(RUNS) + ' runs)':44} {'before':>9} {'after':>9} {'no cards':>9} "
          f"{'budget':>7}")
    for name, arguments in cases:
        before, after = raw_figures(home, *arguments), reports.figures(home, *arguments)
        assert after == before, f"{name}: the summaries disagree with the redemptions"
        slow = statistics.median(timings(functools.partial(raw_figures, home, *arguments), 3))
        fast = statistics.median(timings(functools.partial(reports.figures, home, *arguments)))
        sums = statistics.median(timings(functools.partial(summed_only, home, *arguments)))
        verdict = ("moonshot" if fast <= SUMMARY_MOONSHOT_MS else "met" if fast <= SUMMARY_BUDGET_MS
                   else "MISSED")
        print(f"{name:44} {slow:6.1f} ms {fast:6.1f} ms {sums:6.1f} ms {SUMMARY_BUDGET_MS:4} ms {verdict}",
              flush=True)
        rows.append((name, slow, fast, sums))
    return rows


def ingest_cost(home: IssuerHome, biggest: int) -> None:
    """What keeping the summaries costs a batch at ingest, side by side: the daily rows alone (before this
    step), and everything issuer.summaries keeps now (daily and monthly rows, card sets and counts).

    A terminal's batch: 500 records of the largest partner on one day, four categories, cards drawn from
    the loaded ones (so some are already in the day's and month's sets), 91 in 100 accepted.  Each run is
    rolled back; median of RUNS_INGEST, the two interleaved.
    """
    rng = random.Random(7)
    with home.transaction() as session:
        serials = list(session.scalars(text(
            "SELECT serial FROM redemptions WHERE partner_id = :partner AND month = 202611 AND serial IS NOT NULL "
            "LIMIT 20000"), {"partner": biggest}))
    batches = []
    for _ in range(RUNS_INGEST):
        batch = []
        for _ in range(500):
            accepted = rng.random() < 0.91
            batch.append({"partner_id": biggest, "day": 20261120, "service": "bench", "category": rng.choice(
                ("0-4", "5-12", "13-16", None)), "accepted": accepted, "held": False, "flagged": False,
                "price": 20_000, "discount": 10_000 if accepted else 0, "paid": 10_000 if accepted else 20_000,
                "serial": rng.choice(serials) if rng.random() < 0.5 else serial_from_value(rng.randrange(2**35))})
        batches.append(batch)

    def daily_only(batch: list[dict[str, Any]]) -> None:
        totals: dict[Any, list[int]] = {}
        for record in batch:
            summaries.count(totals.setdefault(summaries.key(record), [0] * len(summaries.COUNTS)), record)
        summaries._add(session, RedemptionSummary, ("partner_id", "day", "service", "category"), summaries.COUNTS,
                       [{"partner_id": key[0], "day": key[1], "month": key[1] // 100, "service": key[2],
                         "category": key[3], **dict(zip(summaries.COUNTS, totals[key], strict=True))}
                        for key in sorted(totals)])

    ways: dict[str, Callable[[list[dict[str, Any]]], None]] = {
        "daily summaries only (before)": daily_only,
        "summaries, months and card sets (now)": lambda batch: summaries.add_records(session, batch)}
    samples: dict[str, list[float]] = {name: [] for name in ways}
    for batch in batches:
        for name, way in ways.items():
            with Session(home.database.engine) as session:
                began = time.perf_counter()
                way(batch)
                session.flush()
                samples[name].append((time.perf_counter() - began) * 1000)
                session.rollback()
    print(f"\nkept at ingest, a batch of 500 records (median of {RUNS_INGEST}, interleaved):")
    for name, values in samples.items():
        print(f"  {name:40} {statistics.median(values):6.2f} ms")


RUNS_INGEST = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=10_000_000)
    parser.add_argument("--keep", action="store_true", help="time the rows already loaded")
    parser.add_argument("--try-remedies", action="store_true",
                        help="also time with JIT off, more work_mem, and covering indexes")
    options = parser.parse_args()
    url = os.environ.get("KIA_BENCH_DATABASE_URL", DEFAULT_URL)
    print(f"machine: {machine()}")
    engine = create_engine(url)
    with tempfile.TemporaryDirectory(prefix="kia-bench-") as folder:
        home = IssuerHome(Path(folder) / "office", url)
        if not options.keep:
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            began = time.perf_counter()
            load(engine, make_office(home), options.rows)
            print(f"loaded in {time.perf_counter() - began:.0f} s")
        else:
            with engine.connect() as connection:
                root_kid = connection.execute(text("SELECT root_kid FROM office")).scalar_one()
            home.path.mkdir(parents=True)
            home.write_marker(root_kid)
        with engine.connect() as connection:
            server = connection.execute(text("SHOW server_version")).scalar_one()
            settings = ", ".join(f"{name} {connection.execute(text(f'SHOW {name}')).scalar_one()}"
                                 for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather"))
            rows = connection.execute(text("SELECT count(*) FROM redemptions")).scalar_one()
            size = connection.execute(text(f"SELECT {_SIZE}"), {"table": "redemptions"}).scalar()
            biggest, in_november, in_2026 = connection.execute(text(
                "SELECT partner_id, count(*) FILTER (WHERE month = 202611), count(*) FILTER (WHERE month / 100 = 2026) "
                "FROM redemptions GROUP BY partner_id ORDER BY count(*) DESC LIMIT 1"
            )).one()
            all_november = connection.execute(text("SELECT count(*) FROM redemptions WHERE month = 202611")).scalar()
        print(f"PostgreSQL {server} ({settings}); redemptions: {rows:,} rows, {size} with indexes")
        print(f"largest partner {biggest}: {in_november:,} rows in November 2026, {in_2026:,} in 2026; "
              f"all partners: {all_november:,} rows in November 2026")
        summaries_migrated(home, fresh=not options.keep)
        print(f"load average before timing: {os.getloadavg()[0]:.1f}")
        compare(home, biggest)
        print(f"load average after timing: {os.getloadavg()[0]:.1f}")
        ingest_cost(home, biggest)
        medians = measure(home, biggest)
        monthly = medians["one partner, one month, by month"]
        print(f"budget (one partner's monthly report <= {BUDGET_MS} ms): "
              f"{'met' if monthly <= BUDGET_MS else 'MISSED'} ({monthly:.0f} ms)")
        november = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
        print("\nplan of the per-partner monthly query:")
        print(explain(home, lambda: reports.figures(home, "partner", "month", *november, biggest)))
        print("\nplan of the all-partners monthly query:")
        print(explain(home, lambda: reports.figures(home, "partner", "month", *november)))
        print("\nplan of the programme's monthly query:")
        print(explain(home, lambda: reports.figures(home, "programme", "month", *november)))
        if options.try_remedies:
            try_remedies(engine, home, biggest)
        home.close()
    engine.dispose()


def try_remedies(engine: Engine, home: IssuerHome, biggest: int) -> None:
    """The same reports with settings and indexes that would answer them faster.

    Tried on the bench database only and undone afterwards: JIT off and a
    larger work_mem for the database, then a covering index on ``day`` alone
    for the reports over all partners.  (The per-partner covering index and
    JIT off for report queries are in the product since migration 0006.)
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        name = connection.execute(text("SELECT current_database()")).scalar_one()
        connection.execute(text(f'ALTER DATABASE "{name}" SET jit = off'))
        connection.execute(text(f'ALTER DATABASE "{name}" SET work_mem = \'64MB\''))
    indexes = {
        "bench_day_covering": "(day) INCLUDE (partner_id, month, accepted, serial, price, discount, paid)",
    }
    november = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    try:
        home.database.engine.dispose()  # new connections take the database's settings
        measure(home, biggest, " (jit off, work_mem 64MB)")
        began = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text("SET maintenance_work_mem = '1GB'"))
            for index, columns in indexes.items():
                connection.execute(text(f"CREATE INDEX {index} ON redemptions {columns}"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE redemptions"))
        print(f"\ncovering indexes built in {time.perf_counter() - began:.0f} s:")
        for index, columns in indexes.items():
            print(f"  {index} ON redemptions {columns}")
        home.database.engine.dispose()
        measure(home, biggest, " (and covering indexes)")
        print("\nplan of the per-partner monthly query with them:")
        print(explain(home, lambda: reports.figures(home, "partner", "month", *november, biggest)))
        print("\nplan of the all-partners monthly query with them:")
        print(explain(home, lambda: reports.figures(home, "partner", "month", *november)))
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for index in indexes:
                connection.execute(text(f"DROP INDEX IF EXISTS {index}"))
            connection.execute(text(f'ALTER DATABASE "{name}" RESET jit'))
            connection.execute(text(f'ALTER DATABASE "{name}" RESET work_mem'))
        home.database.engine.dispose()


if __name__ == "__main__":
    main()

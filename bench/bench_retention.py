"""Removing a month of records under the retention rule: dropping its partitions against deleting its rows.

An office made with the CLI on PostgreSQL gets ``--months`` months of
generated records (``--rows`` a month, 2023 onwards) and card-set rows (half
as many), written in SQL, with the monthly summaries that count them.  Then,
one after the other:

- migration 0017 down and up again on those rows: copying them out of the
  partitions into plain tables, and back into a partition per month;
- the same rows copied into plain (unpartitioned) tables with the same
  indexes, as before migration 0017, where a month is removed by DELETE and
  its space made reusable by VACUUM;
- ``issuer.retention.prune`` of the first month: its partitions dropped.

Each removal is timed once, on the same rows: a removal cannot be repeated.
Like the other benchmarks it empties the database first.

    KIA_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/kia_bench \\
        python bench/bench_retention.py [--rows 1000000] [--months 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import ROOT, cli_office, machine, reset_schema
from sqlalchemy import text

sys.path.insert(0, str(ROOT))

from issuer import retention  # noqa: E402
from issuer.audit import Actor  # noqa: E402
from issuer.storage import migrate  # noqa: E402
from issuer.storage.store import IssuerHome  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/kia_bench"
FIRST_MONTH = 202301

RECORDS = """
INSERT INTO redemptions (terminal_id, partner_id, seq, at, serial, accepted, reason, service, category, price,
                         discount, paid, flags, hash, received_at, day, month, held, flagged)
SELECT 'T0000001', :partner, g, 1672531200 + g, 'S' || lpad(to_hex(g % 400000), 7, '0'), true, 'accepted',
       'bioskop-reguler', '5-12', 50000, 25000, 25000, '[]', md5(g::text) || md5((g + 1)::text), 1672531300 + g,
       :month * 100 + 1 + g % 28, :month, false, false
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g
"""
CARDS = """
INSERT INTO redemption_cards (scope, month, serial, days)
SELECT :partner, :month, 'S' || lpad(to_hex(g), 7, '0'), 1 FROM generate_series(1, CAST(:count AS bigint)) AS g
"""
SUMMARY = """
INSERT INTO redemption_summary_months (partner_id, month, service, category, scans, accepted, gross, discount, net,
                                       held, flagged)
VALUES (:partner, :month, 'bioskop-reguler', '5-12', :rows, :rows, 0, 0, 0, 0, 0)
"""


def timed(label: str, work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    print(f"  {label:<58} {seconds:8.2f} s", flush=True)
    return seconds


def size_mb(office: IssuerHome, *tables: str) -> float:
    with office.database.engine.connect() as connection:
        return sum(float(connection.execute(text(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "WHERE c.relname = :name OR c.oid IN (SELECT inhrelid FROM pg_inherits "
            "WHERE inhparent = (SELECT oid FROM pg_class WHERE relname = :name AND relkind = 'p'))"),
            {"name": name}).scalar_one()) for name in tables) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="records a month")
    parser.add_argument("--months", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get("KIA_BENCH_DATABASE_URL", DEFAULT_URL)
    reset_schema(url)
    print(f"# bench_retention: {args.months} months of {args.rows:,} records, {machine()}")
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "office"
        _, partner = cli_office(home, url)
        office = IssuerHome(home, url)
        months = [retention.add_months(FIRST_MONTH, step) for step in range(args.months)]
        with office.database.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO terminals (id, partner_id, name, state, created_at, acknowledged_seq, chain_hash) "
                "VALUES ('T0000001', :partner, 'Kasir', 'retired', 0, 0, '')"), {"partner": partner})
        fill = time.perf_counter()
        with office.database.engine.begin() as connection:
            for index, month in enumerate(months):
                first = index * args.rows + 1
                connection.execute(text(RECORDS), {"partner": partner, "month": month, "first": first,
                                                   "last": first + args.rows - 1})
                connection.execute(text(CARDS), {"partner": partner, "month": month, "count": args.rows // 2})
                connection.execute(text(SUMMARY), {"partner": partner, "month": month, "rows": args.rows})
            connection.execute(text("ANALYZE"))
        print(f"  filled in {time.perf_counter() - fill:.1f} s (into the default partitions); "
              f"records and card sets {size_mb(office, 'redemptions', 'redemption_cards'):,.0f} MB")
        timed("make_partitions: the months moved out of the default", lambda: retention.make_partitions(
            office, int(time.time())))
        timed(f"migration 0017 down: {args.months} months into plain tables",
              lambda: migrate.downgrade(office.database, "0016"))
        timed("migration 0017 up: into a partition per month", lambda: migrate.upgrade(office.database))

        with office.database.engine.begin() as connection:  # the tables as before 0017, beside the partitioned
            for table in ("redemptions", "redemption_cards"):
                connection.execute(text(f"CREATE TABLE {table}_plain (LIKE {table} INCLUDING ALL)"))
                connection.execute(text(f"INSERT INTO {table}_plain SELECT * FROM {table}"))
            connection.execute(text("ANALYZE"))
        plain_before = size_mb(office, "redemptions_plain", "redemption_cards_plain")

        def delete_month() -> None:
            with office.database.engine.begin() as connection:
                for table in ("redemptions_plain", "redemption_cards_plain"):
                    connection.execute(text(f"DELETE FROM {table} WHERE month = :month"), {"month": months[0]})

        def vacuum() -> None:
            with office.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM redemptions_plain, redemption_cards_plain"))

        deleted = timed("before 0017: DELETE of the first month's rows", delete_month)
        vacuumed = timed("before 0017: VACUUM after it", vacuum)
        plain_after = size_mb(office, "redemptions_plain", "redemption_cards_plain")
        partitioned_before = size_mb(office, "redemptions", "redemption_cards")
        dropped = timed("now: retention.prune, the first month's partitions dropped", lambda: retention.prune(
            office, months[1], int(time.time()), Actor.command_line()))
        partitioned_after = size_mb(office, "redemptions", "redemption_cards")
        print(f"  disk: plain {plain_before:,.0f} -> {plain_after:,.0f} MB (VACUUM keeps the space for reuse); "
              f"partitioned {partitioned_before:,.0f} -> {partitioned_after:,.0f} MB")
        print(f"  a month removed: DELETE + VACUUM {deleted + vacuumed:.2f} s, drop {dropped:.3f} s "
              f"({(deleted + vacuumed) / dropped:,.0f}x)")
        office.close()


if __name__ == "__main__":
    main()

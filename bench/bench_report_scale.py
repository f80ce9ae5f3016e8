"""Reports at 100 million redemptions, simulated: what the reports read, at that size.

Reports read only what ingest keeps (issuer.summaries): daily and monthly
summaries (per partner, and per service and category), unique-card counts
per partner (and service) and period, and each card set's first and last
counted days.  Their size grows with partners, days, services and
categories, not with redemptions: with the 60 partners of
bench/bench_report.py, 100 million redemptions keep exactly as many rows as
10 million.  So this simulates the harder case: a programme ten times as
large in partners too, 600 partners over 24 months, each with two services
and four age categories, whose figures add up to ``REDEMPTIONS`` (default
100,000,000).  The kept tables are filled directly in SQL (no redemption
rows are generated: no report timed here reads them), then each report that
the kept tables answer is timed with ``issuer.reports.figures`` (median of
11).  Budget (issue 14): under 50 ms at 100M.

Reports that still read card sets' rows (a range inside one month) or
count distinct serials from redemptions (kinds or clusters within a region)
are not timed here: they cost the rows they read, see docs/benchmarks.md.
Like the other benchmarks it empties the database first (its public schema
is dropped and made again).

    KIA_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/kia_bench \\
        python bench/bench_report_scale.py [REDEMPTIONS] [--partners 600]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine, median_seconds, reset_schema
from sqlalchemy import create_engine, text

sys.path.insert(0, str(ROOT))

from issuer import issuing_keys, partners, reports  # noqa: E402
from issuer.audit import Actor  # noqa: E402
from issuer.storage.models import KLA_CLUSTERS, PARTNER_KINDS  # noqa: E402
from issuer.storage.store import IssuerHome  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/kia_bench"
BUDGET_MS = 50
RUNS = 11
FIRST, LAST = dt.date(2025, 1, 1), dt.date(2026, 12, 31)
REGIONS = (3372, 3374, 3578, 3171, 3273, 3471, 1371, 1271, 3201, 3515, 6311, 5171, 7371, 6471, 9171, 8171)
PASSPHRASE = b"bench passphrase, not a secret 2026"


def make_partners(home: IssuerHome, count: int) -> list[int]:
    now = int(time.time())
    issuing_keys.init_home(home, issuing_keys.KeyUnlock(PASSPHRASE), now, by=Actor.command_line())
    return [partners.create_partner(home, f"Mitra {rank}", PARTNER_KINDS[rank % len(PARTNER_KINDS)],
                                    KLA_CLUSTERS[rank % len(KLA_CLUSTERS)], REGIONS[rank % len(REGIONS)], FIRST,
                                    LAST, now, by=Actor.command_line())
            for rank in range(1, count + 1)]


FILL = """
WITH days AS (
    SELECT (EXTRACT(YEAR FROM d) * 10000 + EXTRACT(MONTH FROM d) * 100 + EXTRACT(DAY FROM d))::int AS day
    FROM generate_series(CAST(:first AS date), CAST(:last AS date), INTERVAL '1 day') AS d
), weights AS (  -- a few big partners, many small ones, as bench_report.py draws them
    SELECT id, 1 / power(row_number() OVER (ORDER BY id), 0.9) AS weight FROM partners
), shares AS (
    SELECT id, weight / SUM(weight) OVER () AS share FROM weights
)
INSERT INTO redemption_summaries (partner_id, day, service, category, month, scans, accepted, gross, discount, net,
                                  held, flagged)
SELECT s.id, days.day, service, category, days.day / 100, scans, accepted, accepted * 20000, accepted * 10000,
       accepted * 10000, 0, 0
FROM shares AS s CROSS JOIN days CROSS JOIN (VALUES ('reguler'), ('keluarga')) AS services (service)
     CROSS JOIN (VALUES ('0-4'), ('5-12'), ('13-16'), ('')) AS categories (category)
     CROSS JOIN LATERAL (SELECT GREATEST(1, round(:total * s.share / :cells * (0.5 + random())))::bigint AS scans)
         AS drawn
     CROSS JOIN LATERAL (SELECT (scans * 91 / 100)::bigint AS accepted) AS taken
"""

ROLLUP = """
INSERT INTO redemption_summary_months (partner_id, month, service, category, scans, accepted, gross, discount, net,
                                       held, flagged)
SELECT partner_id, month, service, category, SUM(scans), SUM(accepted), SUM(gross), SUM(discount), SUM(net),
       SUM(held), SUM(flagged)
FROM redemption_summaries GROUP BY partner_id, month, service, category
"""

COUNTS = """
INSERT INTO redemption_card_counts (partner_id, period, partner_cards, programme_cards, kind_cards, cluster_cards,
                                    region_cards)
SELECT partner_id, day, SUM(accepted) * 9 / 10, SUM(accepted) * 6 / 10, SUM(accepted) * 8 / 10,
       SUM(accepted) * 8 / 10, SUM(accepted) * 7 / 10 FROM redemption_summaries
GROUP BY partner_id, day
UNION ALL
SELECT partner_id, month, SUM(accepted) * 7 / 10, SUM(accepted) * 4 / 10, SUM(accepted) * 6 / 10,
       SUM(accepted) * 6 / 10, SUM(accepted) * 5 / 10 FROM redemption_summary_months
GROUP BY partner_id, month
"""

SERVICE_COUNTS = """
INSERT INTO redemption_service_card_counts (partner_id, service, period, cards)
SELECT partner_id, service, day, SUM(accepted) * 9 / 10 FROM redemption_summaries GROUP BY partner_id, service, day
UNION ALL
SELECT partner_id, service, month, SUM(accepted) * 7 / 10 FROM redemption_summary_months
GROUP BY partner_id, service, month
"""

SCOPES = """
INSERT INTO report_scopes (what, partner_id, name)
SELECT DISTINCT 'kind', 0, kind FROM partners UNION SELECT DISTINCT 'cluster', 0, cluster FROM partners
UNION SELECT DISTINCT 'region', 0, CAST(region AS VARCHAR(64)) FROM partners
UNION SELECT DISTINCT 'service', partner_id, service FROM redemption_summaries
"""

# Every set's first and last counted days: a card's first day of the month on one day, its last on another.
EDGES = """
WITH daily AS (
    SELECT s.partner_id, s.service, s.day, s.accepted, p.kind, p.cluster, CAST(p.region AS VARCHAR(64)) AS region
    FROM redemption_summaries AS s JOIN partners AS p ON p.id = s.partner_id
), scoped AS (
    SELECT partner_id AS scope, day, accepted FROM daily
    UNION ALL SELECT 0, day, accepted FROM daily
    UNION ALL SELECT -r.id, d.day, d.accepted FROM daily AS d
        JOIN report_scopes AS r ON r.what = 'kind' AND r.name = d.kind
    UNION ALL SELECT -r.id, d.day, d.accepted FROM daily AS d
        JOIN report_scopes AS r ON r.what = 'cluster' AND r.name = d.cluster
    UNION ALL SELECT -r.id, d.day, d.accepted FROM daily AS d
        JOIN report_scopes AS r ON r.what = 'region' AND r.name = d.region
    UNION ALL SELECT -r.id, d.day, d.accepted FROM daily AS d
        JOIN report_scopes AS r ON r.what = 'service' AND r.partner_id = d.partner_id AND r.name = d.service
)
INSERT INTO redemption_card_edges (scope, day, partner_id, firsts, lasts)
SELECT scope, day, 0, SUM(accepted) * 3 / 10, SUM(accepted) * 3 / 10 FROM scoped GROUP BY scope, day
"""

# The summaries over services and categories, a row per partner and day or month (migration 0018).
_FIGURES = ("scans", "accepted", "gross", "discount", "net", "held", "flagged")
PARTNER_ROLLUPS = tuple(
    f"INSERT INTO {table} (partner_id, {keys}, {', '.join(_FIGURES)}) SELECT partner_id, {keys}, "
    f"{', '.join(f'SUM({name})' for name in _FIGURES)} FROM {source} GROUP BY partner_id, {keys}"
    for table, keys, source in (("redemption_partner_days", "day, month", "redemption_summaries"),
                                ("redemption_partner_months", "month", "redemption_summary_months")))

# The programme's days in 16 stripes by partner (migration 0019), after the counts.
PROGRAMME_DAYS = (
    f"INSERT INTO redemption_programme_days (day, stripe, month, {', '.join(_FIGURES)}) SELECT day, partner_id % 16, "
    f"MIN(month), {', '.join(f'SUM({name})' for name in _FIGURES)} FROM redemption_partner_days "
    f"GROUP BY day, partner_id % 16",
    "UPDATE redemption_programme_days SET cards = c.cards FROM (SELECT period, partner_id % 16 AS stripe, "
    "SUM(programme_cards) AS cards FROM redemption_card_counts WHERE period >= 1000000 "
    "GROUP BY period, partner_id % 16) AS c WHERE redemption_programme_days.day = c.period "
    "AND redemption_programme_days.stripe = c.stripe",
)

KEPT = ("redemption_summaries", "redemption_summary_months", "redemption_partner_days", "redemption_partner_months",
        "redemption_programme_days", "redemption_card_counts", "redemption_service_card_counts",
        "redemption_card_edges")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("redemptions", nargs="?", type=int, default=100_000_000)
    parser.add_argument("--partners", type=int, default=600)
    options = parser.parse_args()
    url = os.environ.get("KIA_BENCH_DATABASE_URL", DEFAULT_URL)
    print(f"machine: {machine()}")
    engine = create_engine(url)
    reset_schema(url)
    with tempfile.TemporaryDirectory(prefix="kia-bench-") as folder:
        home = IssuerHome(Path(folder) / "office", url)
        began = time.perf_counter()
        ids = make_partners(home, options.partners)
        cells = options.partners * ((LAST - FIRST).days + 1) * 2 * 4
        with engine.begin() as connection:
            connection.execute(text("SELECT setseed(0.14)"))
            connection.execute(text(FILL), {"first": FIRST, "last": LAST, "total": options.redemptions,
                                            "cells": cells / options.partners})
            connection.execute(text(ROLLUP))
            for statement in (*PARTNER_ROLLUPS, COUNTS, *PROGRAMME_DAYS, SERVICE_COUNTS, SCOPES, EDGES):
                connection.execute(text(statement))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in KEPT:
                connection.execute(text(f"VACUUM ANALYZE {table}"))
                rows, size = connection.execute(text(
                    f"SELECT count(*), pg_size_pretty(pg_total_relation_size('{table}')) FROM {table}")).one()
                print(f"{table}: {rows:,} rows, {size} with indexes")
            scans = connection.execute(text("SELECT SUM(scans) FROM redemption_summaries")).scalar_one()
            biggest, region = connection.execute(text(
                "SELECT partner_id, MIN(region) FROM redemption_summary_months JOIN partners ON id = partner_id "
                "GROUP BY partner_id ORDER BY SUM(scans) DESC LIMIT 1")).one()
        print(f"{len(ids)} partners, {scans:,} redemptions summarised; filled in {time.perf_counter() - began:.0f} s")
        november, year, everything = (dt.date(2026, 11, 1), dt.date(2026, 11, 30)), (dt.date(2026, 1, 1), LAST), (
            FIRST, LAST)
        cut = dt.date(2026, 1, 15), dt.date(2026, 3, 14)
        cases = [
            ("a partner's month, by day", ("partner", "day", *november, biggest)),
            ("a partner's year, by month", ("partner", "month", *year, biggest)),
            ("a partner's year, by day (365 rows)", ("partner", "day", *year, biggest)),
            ("all partners, one month, by month", ("partner", "month", *november)),
            ("all partners, a year, by month", ("partner", "month", *year)),
            ("all partners, one month, by day", ("partner", "day", *november)),
            ("the programme, one month, by day", ("programme", "day", *november)),
            ("the programme, a year, by day", ("programme", "day", *year)),
            ("the programme, 24 months, by month", ("programme", "month", *everything)),
            ("a partner's year per service, by month", (reports.BY_SERVICE, "month", *year, biggest)),
            ("per kind, a year, by month", ("kind", "month", *year)),
            ("per cluster, one month, by day", ("cluster", "day", *november)),
            ("a region's programme, a year, by month", ("programme", "month", *year, None, region)),
            ("a partner, 15 Jan to 14 Mar, by month", ("partner", "month", *cut, biggest)),
            ("the programme, 15 Jan to 14 Mar, by month", ("programme", "month", *cut)),
            ("per kind, 15 Jan to 14 Mar, by month", ("kind", "month", *cut)),
        ]
        print(f"load average before timing: {os.getloadavg()[0]:.1f}")
        print(f"\n{'report (median of ' + str(RUNS) + ' runs)':44} {'median':>9} {'budget':>7}")
        for name, arguments in cases:
            call = functools.partial(reports.figures, home, *arguments)
            call()  # warm: the first run reads the pages into the cache
            median = median_seconds(call, RUNS) * 1000
            print(f"{name:44} {median:6.1f} ms {BUDGET_MS:4} ms {'met' if median <= BUDGET_MS else 'MISSED'}",
                  flush=True)
        print(f"load average after timing: {os.getloadavg()[0]:.1f}")
        home.close()
    engine.dispose()


if __name__ == "__main__":
    main()

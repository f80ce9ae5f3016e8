"""The transparency log's integration: how fast pending facts are placed in the tree, and proofs read.

Terminals' batches record their facts in ``log_pending`` without a lock; one
integration at a time (``kia issuer log publish``, before it signs) places
them in the tree.  It must keep up with ingest: the budget is the ingest
budget, 10,000 facts/s, sustained.  For each database: a fresh office with
one partner and terminal; ``FACTS`` records stored as ingest stores them
(batches of 500, each with its one pending row for the log, a transaction
each; not timed), then ``transparency.integrate_all`` timed, ``RUNS`` times
over fresh records on the growing log; then inclusion and consistency proofs
and tiles read from the stored hashes.

    KIA_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/kia_bench_log \\
        python bench/bench_log_integrate.py [--facts 200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from common import reset_schema
from sqlalchemy import insert

from issuer import partners, terminals, transparency
from issuer.audit import Actor
from issuer.issuing_keys import KeyUnlock, init_home
from issuer.storage.models import RedemptionRow
from issuer.storage.store import IssuerHome
from keys.tiles import Tile

BATCH = 500
UNLOCK = KeyUnlock(None, allow_unencrypted_for_development=True)
ACTOR = Actor("bench", "local")


def record(home: IssuerHome, terminal: str, partner: int, count: int, start: int, now: int) -> None:
    """``count`` records of ``terminal``, stored as ingest stores them: a transaction per batch of 500."""
    for first in range(start, start + count, BATCH):
        last = min(first + BATCH, start + count) - 1
        with home.transaction() as session:
            session.execute(insert(RedemptionRow), [
                {"terminal_id": terminal, "partner_id": partner, "seq": seq, "at": now - 60, "serial": None,
                 "accepted": False, "reason": "malformed", "service": "tiket", "category": None, "price": 0,
                 "discount": 0, "paid": 0, "flags": [], "hash": f"{seq:064x}", "received_at": now, "day": 0,
                 "month": 0, "held": False, "flagged": False}
                for seq in range(first, last + 1)])
            transparency.record_redemptions(session, terminal, first, last, now)


def bench(name: str, url: str | None, facts: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        if url:
            reset_schema(url)
        home = IssuerHome(Path(folder) / "office", url)
        now = int(time.time())
        init_home(home, UNLOCK, now, by=ACTOR)
        today = dt.date.fromtimestamp(now)
        partner = partners.create_partner(home, "Bioskop", "cinema", "education_culture", 3372,
                                          today - dt.timedelta(days=30), today + dt.timedelta(days=300), now, by=ACTOR)
        terminal = terminals.register_terminal(home, partner, "Kasir", now, by=ACTOR).terminal_id
        rates = []
        for run in range(runs):
            record(home, terminal, partner, facts, run * facts + 1, now)
            started = time.perf_counter()
            placed = transparency.integrate_all(home)
            elapsed = time.perf_counter() - started
            rates.append(placed / elapsed)
            print(f"  {name}: integrated {placed:,} facts in {elapsed:.2f} s = {placed / elapsed:,.0f} facts/s")
        with home.transaction() as session:
            size = transparency.size_of(session)
            timings = {}
            started = time.perf_counter()
            for index in range(0, size, max(1, size // 200)):
                transparency.inclusion(session, index, size)
            timings["inclusion proof"] = (time.perf_counter() - started) / 200
            started = time.perf_counter()
            for old in range(1, size, max(1, size // 200)):
                transparency.consistency(session, old, size)
            timings["consistency proof"] = (time.perf_counter() - started) / 200
            started = time.perf_counter()
            for index in range(0, 200):
                transparency.tile(session, Tile(0, index))
            timings["level-0 tile"] = (time.perf_counter() - started) / 200
        for what, seconds in timings.items():
            print(f"  {name}: {what} at size {size:,}: {seconds * 1000:.2f} ms")
        print(f"  {name}: median {statistics.median(rates):,.0f} facts/s "
              f"({'meets' if statistics.median(rates) >= 10_000 else 'MISSES'} the 10,000 facts/s budget)")
        home.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=200_000, help="records stored, then integrated, per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-sqlite", action="store_true")
    options = parser.parse_args()
    print(f"machine: {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores")
    url = os.environ.get("KIA_BENCH_DATABASE_URL")
    if url:
        bench("PostgreSQL", url, options.facts, options.runs)
    if not options.skip_sqlite:
        bench("SQLite", None, options.facts, options.runs)


if __name__ == "__main__":
    main()

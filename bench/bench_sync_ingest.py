"""Sync ingest throughput through the real HTTP API, PostgreSQL and SQLite side by side.

For each database: a fresh office made with the ``kia`` CLI, ``TERMINALS``
terminals registered with the CLI and enrolled over HTTP, and gunicorn with
2 workers started as its own process (``gunicorn -c gunicorn.conf.py
"issuer:create_app()"``, port 0).  Before the clock starts, every client
builds all its request bodies (records, chain, signed checkpoint) and one
fresh sync token per request, so the client's crypto is not timed.  Then
``TERMINALS`` client threads, one terminal each, post ``BATCHES`` batches of
500 between them.  The office checks token, jti, chain and checkpoint on every
batch, as in production, and every record against what it knows (issue 11:
the card, the partner's rules, the terminal's history, the card's other uses).
The records are honest, so those checks hold nothing: the office's ``CARDS``
cards are written straight into its database before the clock starts (signing
200,000 tokens would take minutes and is not what is measured), each of the
age its serial's category says, and the partner's services price every
category.  A run ends with a count of held records, which must be 0.
Figures: records/s per run (median of ``RUNS``) and the batch latency (p50,
p99 over all timed batches).

Budgets: at least 10,000 redemptions/s into PostgreSQL, stored, checked and
counted on arrival (issue 11, inline ingest); at least 70,000 acknowledged
through HTTP (issue 14), measured with the sync journal (ADR 0005).  ``--intake``
picks the service's KIA_SYNC_INTAKE: ``journal`` folds each run's journal
after the run with ``FOLDS`` processes (timed apart: the folds' records/s);
``both`` runs an inline and a journal server of the one office, interleaved;
``all`` adds a journal server whose batches niced folds take while they
arrive (``--folds-during``), with the rate until the last batch is folded.
``--profile`` also times the phases of one worker's work in-process (Flask
test client, same bodies) to show where the time goes.

    KIA_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/kia_bench \\
        python bench/bench_sync_ingest.py [--batches 200] [--runs 3] [--terminals 4] [--intake all] [--profile]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import dataclasses
import hashlib
import http.client
import json
import multiprocessing
import os
import pstats
import random
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from common import BENCH_PASSPHRASE as PASSPHRASE
from common import BENCH_SERVICES as SERVICES
from common import cli_office, gunicorn, kia, machine, reset_schema
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text

from keys import kid_for, public_jwk
from keys.chain import GENESIS, Checkpoint, Redemption, chain_hashes, sign_checkpoint, sign_sync_token
from keys.serial import serial_from_value

BATCH = 500
BUDGET = 10_000  # records/s into PostgreSQL, stored, checked and counted on arrival (issue 11)
INTAKE_BUDGET = 70_000  # records/s acknowledged into PostgreSQL through HTTP (issue 14; ADR 0005's journal)
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/kia_bench"
CARDS = 200_000
CATEGORIES = ("0-4", "5-12", "5-12", "13-16")  # a serial's value modulo 4 picks its card's category
AGES = {"0-4": 3, "5-12": 8, "13-16": 14}


# --- the office --------------------------------------------------------------


def make_office(home: Path, url: str | None, terminals: int) -> tuple[dict[str, str], list[str]]:
    """A home made with the CLI, one partner, ``terminals`` enrolment codes."""
    env, partner = cli_office(home, url, mou_end="2027-12-31", service_options=("--daily-limit", "100"))
    issue_cards_directly(home, url)
    codes = [kia("issuer", "terminal", "register", "--home", str(home), "--partner", str(partner),
                 "--name", f"Kasir {n}", env=env)["enrolment_code"] for n in range(1, terminals + 1)]
    return env, codes


def issue_cards_directly(home: Path, url: str | None) -> None:
    """``CARDS`` card rows (serial values 0 to CARDS - 1) in the office's database, without signing tokens."""
    import datetime as dt

    from sqlalchemy import insert, select

    from issuer.storage.models import CardRow, IssuingKeyRow
    from issuer.storage.store import IssuerHome

    now = int(time.time())
    today = dt.date.today()
    office = IssuerHome(home, url)
    with office.transaction() as session:
        kid = session.scalars(select(IssuingKeyRow.kid).where(IssuingKeyRow.state == "active")).one()
        months = {category: (today.year - age) * 100 + today.month for category, age in AGES.items()}
        rows = [{"serial": serial_from_value(value), "region": 3372, "birth_month": months[CATEGORIES[value % 4]],
                 "issued_at": now - 86400, "expires_at": now + 365 * 86400, "kid": kid, "token": "-",
                 "state": "active"} for value in range(CARDS)]
        for first in range(0, CARDS, 20_000):
            session.execute(insert(CardRow), rows[first:first + 20_000])
    if url:  # statistics, as autovacuum keeps them for an office's table of cards
        with office.database.engine.begin() as connection:
            connection.execute(text("ANALYZE cards"))
    office.close()


def held_count(home: Path, url: str | None) -> int:
    """Records the office's checks held (0 for these honest terminals), or -1 before the checks existed."""
    from sqlalchemy import func, select

    from issuer.storage import models
    from issuer.storage.store import IssuerHome

    if not hasattr(models.RedemptionRow, "held"):
        return -1
    office = IssuerHome(home, url)
    with office.transaction() as session:
        held = session.scalar(select(func.count()).where(models.RedemptionRow.held.is_(True)))
    office.close()
    return held or 0


def post(address: tuple[str, int], path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection(*address, timeout=60)
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


# --- where the machine's CPU goes during a run ------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def cpu_of(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far."""
    return sum((int(fields[11]) + int(fields[12])) / _TICK for fields in map(_stat, pids) if fields)


def children_of(parent: int) -> list[int]:
    pids = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    return [pid for pid in pids if (fields := _stat(pid)) and int(fields[1]) == parent]


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy (all cores, every process)."""
    user, nice, system, idle, iowait, *rest = map(int, Path("/proc/stat").read_text().split("\n")[0].split()[1:])
    return (user + nice + system + sum(rest[:3])) / _TICK


def wait_for_quiet(limit: float = 600, idle: float = 0.85) -> float:
    """Wait (up to ``limit`` s) until the machine is at least ``idle`` idle over 2 s: others share it."""
    began = time.perf_counter()
    while True:
        busy, wall = machine_busy(), time.perf_counter()
        time.sleep(2)
        share = (machine_busy() - busy) / ((time.perf_counter() - wall) * (os.cpu_count() or 1))
        if share <= 1 - idle or time.perf_counter() - began > limit:
            return time.perf_counter() - began


class CpuMeter:
    """CPU used by the gunicorn processes, PostgreSQL for us, this client, and the whole machine.

    Other processes (other people's work on a shared machine, and the kernel's
    loopback networking not charged to a process) are the difference.
    """

    def __init__(self, master: int, url: str | None) -> None:
        self.server = [master, *children_of(master)]
        self.backends: list[int] = []
        if url:
            engine = create_engine(url)
            with engine.connect() as connection:
                # Our connections, and the server's own processes (WAL writer, checkpointer...).
                self.backends = list(connection.scalars(text(
                    "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                    "AND (datname = current_database() OR backend_type <> 'client backend')"
                )))
            engine.dispose()

    def read(self) -> dict[str, float]:
        return {"server": cpu_of(self.server), "database": cpu_of(self.backends), "client": time.process_time(),
                "machine": machine_busy()}


# --- the terminals --------------------------------------------------------------


class Terminal:
    """A terminal's key, enrolment and log; it builds request bodies ahead of time."""

    def __init__(self, address: tuple[str, int], code: str, rng: random.Random) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.kid = kid_for(self.key.public_key())
        body = json.dumps({"code": code, "public_jwk": public_jwk(self.key.public_key())}).encode()
        status, answer = post(address, "/api/v1/terminals/enroll", body, {})
        if status != 201:
            raise SystemExit(f"enrolment refused: {answer}")
        self.id, self.audience = answer["terminal_id"], answer["audience"]
        self.rng, self.seq, self.chain = rng, 0, GENESIS

    def decision(self, at: int) -> Redemption:
        """A realistic scan: most accepted at half price, some refused, a few unreadable."""
        self.seq += 1
        roll = self.rng.random()
        service, price = self.rng.choice(SERVICES)
        if roll < 0.02:
            return Redemption(self.seq, at, None, False, "malformed", service, None, 0, 0, 0)
        value = self.rng.randrange(CARDS)
        serial, category = serial_from_value(value), CATEGORIES[value % 4]
        if roll < 0.10:
            return Redemption(self.seq, at, serial, False, "daily_limit", service, category, 0, 0, 0)
        flags = ("stale",) if roll > 0.99 else ()
        return Redemption(self.seq, at, serial, True, "accepted", service, category, price, price // 2,
                          price - price // 2, flags)

    def bodies(self, batches: int, now: int) -> list[tuple[bytes, str]]:
        """``batches`` request bodies and a fresh sync token for each, in order."""
        prepared = []
        for _ in range(batches):
            records = [self.decision(now - 120 + self.seq % 120) for _ in range(BATCH)]  # since the enrolment
            hashes = chain_hashes(self.chain, records)
            self.chain = hashes[-1]
            checkpoint = sign_checkpoint(Checkpoint(self.id, records[-1].seq, hashes[-1], now), self.key, self.kid)
            body = json.dumps({"records": [record.to_json() for record in records], "checkpoint": checkpoint})
            token = sign_sync_token(self.id, self.audience, self.key, self.kid, now, lifetime=300)
            prepared.append((body.encode(), token))
        return prepared


def timed_run(address: tuple[str, int], work: list[list[tuple[bytes, str]]]) -> tuple[float, list[float]]:
    """Post every client's bodies in order, clients in parallel; wall seconds and per-batch latencies."""
    latencies: list[float] = []
    failures: list[str] = []
    start = threading.Barrier(len(work) + 1)

    def client(bodies: list[tuple[bytes, str]]) -> None:
        start.wait()
        for body, token in bodies:
            began = time.perf_counter()
            status, answer = post(address, "/api/v1/sync", body, {"Authorization": f"Bearer {token}"})
            latencies.append(time.perf_counter() - began)
            if status != 200 or answer.get("stored") != BATCH:
                failures.append(f"{status} {answer}")
                return

    threads = [threading.Thread(target=client, args=(bodies,)) for bodies in work]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    if failures:
        raise SystemExit(f"a batch was refused: {failures[0][:300]}")
    return wall, latencies


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if n < total % parts else 0) for n in range(parts)]


FOLDS = 2  # fold processes by default, one a core, as two ``kia issuer intake fold`` units would run
FOLDS_DURING = FOLDS  # fold processes running while batches arrive (--folds-during)
FOLD_NICE = 10  # folds running during a burst leave the service the CPU first (``nice -n 10 kia issuer intake fold``)


def _keep_folding(home: Path, url: str | None, stop: Any, results: Any, nice: int) -> None:
    """Fold until ``stop`` is set and the journal is empty, at priority ``nice``; put the number of
    batches folded in ``results``."""
    from issuer import sync_ingest
    from issuer.storage.store import IssuerHome

    os.nice(nice)
    office = IssuerHome(home, url)
    folded = 0
    while True:
        done = sync_ingest.fold(office, 20)
        folded += done
        if not done:
            if stop.is_set():
                break
            stop.wait(0.01)
    office.close()
    results.put(folded)


@contextlib.contextmanager
def folds_running(home: Path, url: str | None, count: int, nice: int) -> Iterator[list[int]]:
    """``count`` fold processes (forked from this one: no start-up timed) folding while the block runs;
    then the rest is folded and the list holds the batches they folded."""
    context = multiprocessing.get_context("fork")
    stop, results = context.Event(), context.SimpleQueue()
    folds = [context.Process(target=_keep_folding, args=(home, url, stop, results, nice)) for _ in range(count)]
    for fold in folds:
        fold.start()
    folded: list[int] = []
    try:
        yield folded
    finally:
        stop.set()
        folded.extend(results.get() for _ in folds)
        for fold in folds:
            fold.join()


def fold_all(home: Path, url: str | None) -> tuple[int, float, float]:
    """Fold the journal with ``FOLDS`` processes, each as ``kia issuer intake fold --once`` does:
    batches folded, wall seconds, the machine's CPU seconds."""
    began, busy = time.perf_counter(), machine_busy()
    with folds_running(home, url, FOLDS, 0) as folded:
        pass
    return sum(folded), time.perf_counter() - began, machine_busy() - busy


def bench(name: str, url: str | None, batches: int, runs: int, terminals: int, *, quiet_wait: float = 600,
          compare_authentication: bool = False, intake: str = "inline") -> dict[str, dict[str, float]]:
    """Figures for ``name``; with ``compare_authentication``, for two servers of the one office, their runs
    interleaved: one authenticating as before issue 14 (bench/old_authentication.py), one as now.

    ``intake`` "journal" runs the service with KIA_SYNC_INTAKE=journal and folds each run's journal after
    it (timed apart); "both" runs an inline and a journal server of the one office, interleaved."""
    with tempfile.TemporaryDirectory(prefix="kia-bench-") as folder:
        home = Path(folder) / "office"
        if url:
            reset_schema(url)
        env, codes = make_office(home, url, terminals)
        journal = dict(env, KIA_SYNC_INTAKE="journal")
        busy = dict(journal, FOLDS_DURING="1")  # not the service's: tells this bench to fold during the run
        running = f"{FOLDS_DURING} fold{'s' if FOLDS_DURING != 1 else ''} running"
        servers = {"inline": {name: env}, "journal": {f"{name}, journal": journal},
                   "both": {f"{name}, inline": env, f"{name}, journal": journal},
                   "all": {f"{name}, inline": env, f"{name}, journal": journal,
                           f"{name}, journal, {running}": busy}}[intake]
        if compare_authentication:
            from old_authentication import sitecustomize_folder

            old = dict(env, PYTHONPATH=str(sitecustomize_folder(Path(folder) / "old-authentication")))
            servers = {f"{name}, authentication before issue 14": old, f"{name}, cheaper authentication": env}
        with contextlib.ExitStack() as stack:
            started = {label: stack.enter_context(gunicorn(home, server_env)) for label, server_env in servers.items()}
            rng = random.Random(7)
            clients = [Terminal(next(iter(started.values()))[0], code, rng) for code in codes]
            for address, _ in started.values():  # warm-up: imports, pools
                timed_run(address, [client.bodies(1, int(time.time())) for client in clients])
            fold_all(home, url)
            meters = {label: CpuMeter(master, url) for label, (_, master) in started.items()}
            rates: dict[str, list[float]] = {label: [] for label in servers}
            latencies: dict[str, list[float]] = {label: [] for label in servers}
            cpu = {label: collections.Counter[str]() for label in servers}
            fold_rates: dict[str, list[float]] = {label: [] for label in servers}
            for _ in range(runs):
                for label, (address, _) in started.items():  # interleaved: drift hits each alike
                    waited = wait_for_quiet(quiet_wait)  # before the tokens are made: they live 300 s
                    now = int(time.time())
                    work = [client.bodies(count, now) for client, count in zip(clients, split(batches, terminals),
                                                                               strict=True)]
                    before = meters[label].read()
                    if servers[label].get("FOLDS_DURING"):
                        began = time.perf_counter()
                        with folds_running(home, url, FOLDS_DURING, FOLD_NICE) as folded_during:
                            wall, run_latencies = timed_run(address, work)
                            after = meters[label].read()  # the CPU of the run's seconds; the folds' is in "other"
                        until_folded = time.perf_counter() - began
                        if sum(folded_during) != batches:
                            raise SystemExit(f"the folds took {sum(folded_during)} batches of {batches}")
                        fold_rates[label].append(batches * BATCH / until_folded)
                        print(f"  {label}: acknowledged in {wall:.2f} s, all folded {until_folded:.2f} s after the "
                              f"first batch = {fold_rates[label][-1]:,.0f} records/s sustained")
                    else:
                        wall, run_latencies = timed_run(address, work)
                        after = meters[label].read()
                    cpu[label].update({part: after[part] - before[part] for part in after})
                    cpu[label]["wall"] += wall
                    rates[label].append(batches * BATCH / wall)
                    latencies[label] += run_latencies
                    print(f"  {label}: {batches * BATCH:,} records in {wall:.2f} s = {rates[label][-1]:,.0f} "
                          f"records/s (waited {waited:.0f} s for a quiet machine; load "
                          f"{os.getloadavg()[0]:.2f})")
                    if servers[label].get("KIA_SYNC_INTAKE") == "journal" and not servers[label].get("FOLDS_DURING"):
                        folded, fold_wall, fold_cpu = fold_all(home, url)
                        if folded != batches:
                            raise SystemExit(f"the folds took {folded} batches of {batches}")
                        cpu[label]["fold"] += fold_cpu
                        cpu[label]["fold_wall"] += fold_wall
                        fold_rates[label].append(batches * BATCH / fold_wall)
                        print(f"  {label}: folded in {fold_wall:.2f} s = {fold_rates[label][-1]:,.0f} records/s")
        print(f"  {name}: records held by the office's checks: {held_count(home, url)}")
        shutil.rmtree(home, ignore_errors=True)
    return {label: figures(label, rates[label], latencies[label], cpu[label], runs * batches, fold_rates[label])
            for label in servers}


def figures(label: str, rates: list[float], latencies: list[float], cpu: collections.Counter[str],
            batches: int, fold_rates: list[float]) -> dict[str, float]:
    latencies = sorted(latencies)
    per_batch = {part: seconds / batches * 1000 for part, seconds in cpu.items()}
    busy = 100 * cpu["machine"] / (cpu["wall"] * (os.cpu_count() or 1))
    other = per_batch["machine"] - per_batch["server"] - per_batch["database"] - per_batch["client"]
    print(f"  {label}: CPU per batch of {BATCH}: gunicorn workers {per_batch['server']:.1f} ms, "
          f"PostgreSQL {per_batch['database']:.1f} ms, client {per_batch['client']:.0f} ms, "
          f"other processes {other:.0f} ms; machine busy {busy:.0f}% of {os.cpu_count()} cores")
    if fold_rates and "fold" not in per_batch:
        print(f"  {label}: acknowledged and folded, records/s: {statistics.median(fold_rates):,.0f} (median)")
    elif fold_rates:
        print(f"  {label}: {FOLDS} folds: the machine's CPU per batch {per_batch['fold']:.1f} ms (folds and "
              f"PostgreSQL); {statistics.median(fold_rates):,.0f} records/s (median)")
    return {
        "fold_rate": statistics.median(fold_rates) if fold_rates else 0.0,
        "rate": statistics.median(rates),
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, round(0.99 * len(latencies)))] * 1000,
        **{f"cpu_{part}": value for part, value in per_batch.items()},
    }


# --- where one worker's time goes ---------------------------------------------------


def profile(url: str, batches: int) -> None:
    """One process handles batches through the Flask test client, as a worker does.

    First the phases of a request, timed by wrapping the functions
    issuer.sync_ingest calls (no profiler running); then cProfile's top functions on
    more batches; then the two largest phases against faster ways to do the
    same work, measured here and not changed in the product.
    """
    from sqlalchemy.orm import SessionTransaction

    from issuer import create_app, sync_ingest, terminals
    from issuer.api import terminals as api_terminals
    from issuer.storage.store import IssuerHome

    reset_schema(url)
    with tempfile.TemporaryDirectory(prefix="kia-profile-") as folder:
        home_path = Path(folder) / "office"
        _, (code,) = make_office(home_path, url, 1)
        os.environ["KIA_KEY_PASSPHRASE"] = PASSPHRASE
        app = create_app({"HOME": str(home_path), "DATABASE_URL": url})
        client = app.test_client()
        key = Ed25519PrivateKey.generate()
        enrol = {"code": code, "public_jwk": public_jwk(key.public_key())}
        answer = client.post("/api/v1/terminals/enroll", json=enrol).get_json()
        terminal = Terminal.__new__(Terminal)
        terminal.key, terminal.kid = key, kid_for(key.public_key())
        terminal.id, terminal.audience = answer["terminal_id"], answer["audience"]
        terminal.rng, terminal.seq, terminal.chain = random.Random(7), 0, GENESIS

        def send(bodies: list[tuple[bytes, str]]) -> float:
            began = time.perf_counter()
            for body, token in bodies:
                response = client.post("/api/v1/sync", data=body, content_type="application/json",
                                       headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 200, response.get_json()
            return time.perf_counter() - began

        send(terminal.bodies(2, int(time.time())))  # warm-up
        phases: dict[str, float] = {}
        undo: list[Callable[[], None]] = []

        def timed(owner: Any, name: str, label: str, pick: Callable[..., bool] = lambda *a, **k: True) -> None:
            original = getattr(owner, name)
            phases[label] = 0.0

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if not pick(*args, **kwargs):
                    return original(*args, **kwargs)
                began = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    phases[label] += time.perf_counter() - began

            setattr(owner, name, wrapper)
            undo.append(lambda: setattr(owner, name, original))

        timed(api_terminals, "_body", "request JSON parse + pydantic validation")
        timed(sync_ingest, "ingest", "sync_ingest.ingest, all of it")
        timed(IssuerHome, "require", "  IssuerHome.require() x 2: marker, has_table, office")
        timed(sync_ingest, "authenticate_terminal", "  authenticate: token and jti, a transaction of its own")
        timed(terminals, "verify_sync_token", "    sync token: JWT decodes, Ed25519")
        timed(terminals, "_read_and_spend", "    terminal, audience and jti: one statement")
        timed(sync_ingest, "_parsed", "  Redemption.from_json x 500")
        timed(sync_ingest, "chain_hashes", "  chain: canonical JSON + SHA-256 x 500")
        timed(sync_ingest, "verify_checkpoint", "  checkpoint: Ed25519 verify")
        timed(sync_ingest, "_buckets", "  local day and month x 500")
        timed(sync_ingest, "_known", "  what the checks know: cards, uses, rules (SELECTs)")
        timed(sync_ingest, "check_batch", "  the checks x 500 (Python)")
        timed(sync_ingest, "_store", "  storing 500 rows (COPY on PostgreSQL)")
        timed(sync_ingest.summaries, "add_records", "  summaries kept for the reports")
        timed(sync_ingest.summaries, "_upsert", "    daily and monthly figures")
        timed(sync_ingest.summaries, "_add_cards", "    cards into their six sets, with counts")
        timed(sync_ingest.summaries, "_sets_of", "      which sets: partners and scopes (SELECTs)")
        timed(sync_ingest.transparency, "record_redemptions", "  the log's pending row")
        timed(SessionTransaction, "commit", "  commits (savepoint and 2 transactions)")
        total = send(terminal.bodies(batches, int(time.time())))
        for restore in reversed(undo):
            restore()
        profiler = cProfile.Profile()
        bodies = terminal.bodies(batches, int(time.time()))
        profiler.enable()
        send(bodies)
        profiler.disable()
        app.extensions["kia_home"].close()

    print(f"\nprofile: {batches} batches of {BATCH} in one process (Flask test client, PostgreSQL), "
          f"{total / batches * 1000:.1f} ms a batch = {batches * BATCH / total:,.0f} records/s for one worker")
    print(f"{'phase':58} {'ms/batch':>9} {'share':>6}")
    print(f"{'whole request (test client)':58} {total / batches * 1000:9.1f} {100:5.0f}%")
    for label, seconds in phases.items():
        print(f"{label:58} {seconds / batches * 1000:9.1f} {100 * seconds / total:5.0f}%")
    print("\ntop functions by own time (cProfile, which slows small calls):")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats("sync_ingest|redemption_checks", 20)
    alternatives(url, terminal)


def alternatives(url: str, terminal: Terminal, rounds: int = 21) -> None:
    """The two largest phases beside faster ways of doing the same work (median of ``rounds``)."""
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from issuer.storage.db import make_engine
    from issuer.storage.models import RedemptionRow
    from keys.chain import chain_hash

    records = [terminal.decision(int(time.time())) for _ in range(BATCH)]

    def canonical_by_hand(record: Redemption) -> bytes:
        fields = {field.name: getattr(record, field.name) for field in dataclasses.fields(Redemption)}
        fields["flags"] = list(record.flags)
        if record.home is None:  # only another region's card names its home
            del fields["home"]
        return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    assert all(canonical_by_hand(record) == record.canonical() for record in records)

    def by_hand() -> None:
        previous = GENESIS
        for record in records:
            previous = hashlib.sha256(previous + canonical_by_hand(record)).digest()

    def current_chain() -> None:
        previous = GENESIS
        for record in records:
            previous = chain_hash(previous, record)

    engine = make_engine(url)
    with engine.connect() as connection:
        terminal_id, partner_id = connection.execute(text("SELECT id, partner_id FROM terminals LIMIT 1")).one()
    seq = [10**9]

    def rows() -> list[dict[str, Any]]:
        made = []
        for record in records:
            seq[0] += 1
            made.append({"terminal_id": terminal_id, "partner_id": partner_id, "seq": seq[0], "at": record.at,
                         "serial": record.serial, "accepted": record.accepted, "reason": record.reason,
                         "service": record.service, "category": record.category, "price": record.price,
                         "discount": record.discount, "paid": record.paid, "flags": list(record.flags),
                         "hash": "0" * 64, "received_at": record.at, "day": 20261122, "month": 202611})
        return made

    def orm_insert(multirow: bool) -> Callable[[], None]:
        def run() -> None:
            batch = rows()
            engine.dialect.use_insertmanyvalues_wo_returning = multirow
            with Session(engine) as session, session.begin():
                session.execute(insert(RedemptionRow), batch)
            engine.dialect.use_insertmanyvalues_wo_returning = False
        return run

    columns = list(rows()[0])

    def copy_rows() -> None:
        batch = rows()
        with engine.begin() as connection:
            cursor = connection.connection.driver_connection.cursor()
            with cursor.copy(f"COPY redemptions ({', '.join(columns)}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row([json.dumps(row[name]) if name == "flags" else row[name] for name in columns])

    def median_ms(function: Callable[[], None]) -> float:
        samples = []
        for _ in range(rounds):
            began = time.perf_counter()
            function()
            samples.append(time.perf_counter() - began)
        return statistics.median(samples) * 1000

    print(f"\nthe same work done other ways, {BATCH} records, median of {rounds} (not in the product):")
    for label, function in [
        ("chain, Redemption.canonical()", current_chain),
        ("chain, canonical dict built field by field (same bytes)", by_hand),
        ("INSERT, session.execute(insert(), rows): 500 statements", orm_insert(False)),
        ("INSERT, same with insertmanyvalues: 1 multi-row statement", orm_insert(True)),
        ("INSERT, psycopg COPY", copy_rows),
    ]:
        print(f"  {label:60} {median_ms(function):6.1f} ms")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200, help="batches of 500 per timed run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--terminals", type=int, default=4, help="terminals, one client thread each")
    parser.add_argument("--profile", action="store_true", help="also time the phases in-process")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--compare-authentication", action="store_true",
                        help="two servers of one office, authenticating as before issue 14 and as now, interleaved")
    parser.add_argument("--intake", choices=["inline", "journal", "both", "all"], default="inline",
                        help="KIA_SYNC_INTAKE of the service; 'both' runs one server of each, interleaved; 'all' "
                             "adds a journal server whose batches are folded while they arrive")
    parser.add_argument("--quiet-wait", type=float, default=600,
                        help="seconds to wait at most for a quiet machine before each run")
    parser.add_argument("--folds-during", type=int, default=FOLDS,
                        help="with --intake all: fold processes running while batches arrive")
    options = parser.parse_args()
    global FOLDS_DURING
    FOLDS_DURING = options.folds_during
    url = os.environ.get("KIA_BENCH_DATABASE_URL", DEFAULT_URL)
    print(f"machine: {machine()}")
    print(f"{options.batches} batches of {BATCH} a run, {options.runs} runs, {options.terminals} terminals "
          f"(one client thread each), gunicorn 2 sync workers, chain and checkpoint checked")
    results = bench("PostgreSQL", url, options.batches, options.runs, options.terminals,
                    quiet_wait=options.quiet_wait, compare_authentication=options.compare_authentication,
                    intake=options.intake)
    if not options.skip_sqlite:
        results.update(bench("SQLite (WAL, one writer at a time)", None, options.batches, options.runs,
                             options.terminals, quiet_wait=options.quiet_wait,
                             compare_authentication=options.compare_authentication, intake=options.intake))
    print(f"\n{'database':56} {'records/s (median)':>19} {'batch p50':>10} {'batch p99':>10} {'CPU/batch':>10} "
          f"{'fold records/s':>15}")
    for name, result in results.items():
        fold = f"{result['fold_rate']:15,.0f}" if result["fold_rate"] else f"{'-':>15}"
        print(f"{name:56} {result['rate']:19,.0f} {result['p50']:8.0f} ms {result['p99']:8.0f} ms "
              f"{result['cpu_server'] + result['cpu_database']:7.1f} ms {fold}")
    if options.compare_authentication:
        rate = results["PostgreSQL, cheaper authentication"]["rate"]
        print(f"budget (PostgreSQL >= {BUDGET:,} records/s): {'met' if rate >= BUDGET else 'MISSED'} ({rate:,.0f})")
    for name, result in results.items() if not options.compare_authentication else ():
        if name.startswith("PostgreSQL"):  # issue 11's budget for inline ingest, issue 14's for any journal
            budget = INTAKE_BUDGET if "journal" in name else BUDGET
            verdict = "met" if result["rate"] >= budget else "MISSED"
            print(f"budget ({name} >= {budget:,} records/s acknowledged): {verdict} ({result['rate']:,.0f})")
    if options.profile:
        wait_for_quiet(options.quiet_wait)
        profile(url, 40)


if __name__ == "__main__":
    main()

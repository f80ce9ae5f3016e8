"""Office CPU per idle poll: a terminal with nothing to push, old way (unconditional) vs new (issue 14).

For each database: a fresh office made with the ``kia`` CLI (one partner with
three services, a published trust list), gunicorn with 2 workers as its own
process (``gunicorn -c gunicorn.conf.py "issuer:create_app()"``, port 0), and
one real terminal (verifier.sync.Sync over HTTP) enrolled with it.  An idle
round is what the terminal's background loop does every minute when no
record waits: pull the trust list (``?since=N``) and the configuration, each
with a fresh sync token where one is needed.

- old way: no If-None-Match (a terminal from before issue 14): the trust
  list answers 204, the configuration is signed afresh every time;
- new way: If-None-Match with the held list's and configuration's tags: both
  answer 304, nothing is read but the sequence, nothing is signed.

The two ways run interleaved, ``RUNS`` runs of ``ROUNDS`` rounds each, and
the figure is the office's CPU time per round (gunicorn master and workers,
plus PostgreSQL's backends for this database), read from /proc (schedstat,
nanoseconds), median over runs.  The terminal's own CPU is not counted.

``--compare-authentication`` compares instead two offices' servers on the one
database, both polled the new way: one authenticating as before issue 14's
cheaper authentication (bench/old_authentication.py, installed in its
workers), one as the product does now.  Each server's PostgreSQL backends are
told apart by their application_name (PGAPPNAME).

    KIA_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/kia_bench \\
        python bench/bench_idle_poll.py [--rounds 200] [--runs 5] [--skip-postgresql] \\
        [--compare-authentication] [--profile]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import BENCH_PASSPHRASE as PASSPHRASE
from common import cli_office, gunicorn, kia, machine, reset_schema
from sqlalchemy import create_engine, text

from verifier.enrolment import enroll_terminal
from verifier.home import TerminalHome
from verifier.sync import Answer, OfficeClient, Sync
from verifier.terminal import Terminal

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/kia_bench"


# --- the office ------------------------------------------------------------------------


def make_office(home: Path, url: str | None) -> tuple[dict[str, str], dict[str, Any]]:
    """A home made with the CLI: one partner, its services, a published trust list, one terminal registered."""
    env, partner = cli_office(home, url)
    kia("issuer", "trustlist", "export", "--home", str(home), "--out", str(home.with_name("published")), env=env)
    registration = kia("issuer", "terminal", "register", "--home", str(home), "--partner", str(partner),
                       "--name", "Kasir 1", env=env)
    return env, registration


# --- the office's CPU ------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time of a process so far: /proc/PID/schedstat in nanoseconds (clock ticks from stat otherwise)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        pass
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_of(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    pids.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return pids


def database_backends(url: str | None, application: str | None = None) -> list[int]:
    """PostgreSQL's processes serving this database (the gunicorn workers' connections), none for SQLite;
    only those of ``application`` (their PGAPPNAME) when given."""
    if not url:
        return []
    engine = create_engine(url)
    with engine.connect() as connection:
        pids = list(connection.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database() "
            "AND (CAST(:application AS text) IS NULL OR application_name = :application)"),
            {"application": application}))
    engine.dispose()
    return pids


# --- the terminal ------------------------------------------------------------------------------


class OldTerminal:
    """The terminal's HTTP client without the conditional header: a terminal from before issue 14."""

    def __init__(self, client: OfficeClient) -> None:
        self.client = client

    def request(self, method: str, path: str, *, body: object = None, token: str | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        return self.client.request(method, path, body=body, token=token)


def enrolled_terminal(folder: Path, address: tuple[str, int], registration: dict[str, Any]) -> Terminal:
    home = TerminalHome(folder)
    key = home.create_key(None, unencrypted_for_development=True)
    client = OfficeClient(f"http://{address[0]}:{address[1]}")
    enroll_terminal(home, client, key, registration["enrolment_code"], int(time.time()),
                    registration["root_fingerprint"])
    return Terminal.open(home, key, int(time.time()))


def clock() -> int:
    return int(time.time())


def timed_rounds(sync: Sync, rounds: int, pids: list[int]) -> tuple[float, float]:
    """Office CPU seconds and wall seconds per idle round, over ``rounds`` rounds."""
    before, began = sum(map(cpu_seconds, pids)), time.perf_counter()
    for _ in range(rounds):
        result = sync.run(clock)
        if result.refusal is not None or result.pushed:
            raise SystemExit(f"an idle round was not idle: {result}")
    wall = time.perf_counter() - began
    return (sum(map(cpu_seconds, pids)) - before) / rounds, wall / rounds


def bench(name: str, url: str | None, rounds: int, runs: int,
          compare_authentication: bool = False) -> dict[str, dict[str, float]]:
    if compare_authentication:
        return bench_authentication(name, url, rounds, runs)
    with tempfile.TemporaryDirectory(prefix="kia-bench-idle-") as folder:
        home = Path(folder) / "office"
        if url:
            reset_schema(url)
        env, registration = make_office(home, url)
        with gunicorn(home, env) as (address, master):
            terminal = enrolled_terminal(Path(folder) / "terminal", address, registration)
            client = OfficeClient(f"http://{address[0]}:{address[1]}")
            ways = {"old way (no If-None-Match)": Sync(terminal, OldTerminal(client)),  # type: ignore[arg-type]
                    "new way (If-None-Match, 304)": Sync(terminal, client)}
            for sync in ways.values():  # warm-up: imports, connection pools; the new way takes its tags
                timed_rounds(sync, 20, [])
            pids = [master, *children_of(master), *database_backends(url)]
            cpu: dict[str, list[float]] = {way: [] for way in ways}
            wall: dict[str, list[float]] = {way: [] for way in ways}
            for _ in range(runs):
                for way, sync in ways.items():  # interleaved: drift on a shared machine hits both alike
                    office, elapsed = timed_rounds(sync, rounds, pids)
                    cpu[way].append(office)
                    wall[way].append(elapsed)
            terminal.close()
        shutil.rmtree(home, ignore_errors=True)
    return summary(name, ways, cpu, wall)


def bench_authentication(name: str, url: str | None, rounds: int, runs: int) -> dict[str, dict[str, float]]:
    """Idle rounds the new way against two servers of one office: authentication before and after issue 14."""
    from old_authentication import sitecustomize_folder

    with tempfile.TemporaryDirectory(prefix="kia-bench-idle-") as folder:
        home = Path(folder) / "office"
        if url:
            reset_schema(url)
        env, registration = make_office(home, url)
        old_env = dict(env, PGAPPNAME="kia-bench-auth-old",
                       PYTHONPATH=str(sitecustomize_folder(Path(folder) / "old-authentication")))
        new_env = dict(env, PGAPPNAME="kia-bench-auth-new")
        with gunicorn(home, old_env) as (old_address, old_master), gunicorn(home, new_env) as (address, master):
            terminal = enrolled_terminal(Path(folder) / "terminal", address, registration)
            servers = {"authentication before issue 14": (old_address, old_master, "kia-bench-auth-old"),
                       "cheaper authentication (now)": (address, master, "kia-bench-auth-new")}
            ways = {way: Sync(terminal, OfficeClient(f"http://{server[0][0]}:{server[0][1]}"))
                    for way, server in servers.items()}
            for sync in ways.values():
                timed_rounds(sync, 20, [])
            pids = {way: [server[1], *children_of(server[1]), *database_backends(url, server[2])]
                    for way, server in servers.items()}
            cpu: dict[str, list[float]] = {way: [] for way in ways}
            wall: dict[str, list[float]] = {way: [] for way in ways}
            for _ in range(runs):
                for way, sync in ways.items():  # interleaved
                    office, elapsed = timed_rounds(sync, rounds, pids[way])
                    cpu[way].append(office)
                    wall[way].append(elapsed)
            terminal.close()
        shutil.rmtree(home, ignore_errors=True)
    return summary(name, ways, cpu, wall)


def summary(name: str, ways: dict[str, Sync], cpu: dict[str, list[float]],
            wall: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    results = {}
    for way in ways:
        results[way] = {"cpu_ms": statistics.median(cpu[way]) * 1000, "wall_ms": statistics.median(wall[way]) * 1000,
                        "min_ms": min(cpu[way]) * 1000, "max_ms": max(cpu[way]) * 1000}
        print(f"  {name}, {way}: office CPU {results[way]['cpu_ms']:.2f} ms a round "
              f"(runs {results[way]['min_ms']:.2f} to {results[way]['max_ms']:.2f}), "
              f"round trip {results[way]['wall_ms']:.1f} ms")
    return results


def profile(url: str | None, count: int = 300) -> None:
    """Where an idle round's office CPU goes: each request and each step in one process (no HTTP server).

    Requests through Flask's test client, steps by calling the office's
    functions; CPU time of this process (process_time) per call, median of 5.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from old_authentication import old_authenticate_terminal

    from issuer import create_app, terminals, trust_lists
    from issuer.issuing_keys import KeyUnlock
    from keys import kid_for, public_jwk
    from keys.chain import sign_sync_token

    with tempfile.TemporaryDirectory(prefix="kia-profile-idle-") as folder:
        home_path = Path(folder) / "office"
        if url:
            reset_schema(url)
        _, registration = make_office(home_path, url)
        os.environ["KIA_KEY_PASSPHRASE"] = PASSPHRASE
        app = create_app({"HOME": str(home_path), "DATABASE_URL": url})
        home, client = app.extensions["kia_home"], app.test_client()
        key = Ed25519PrivateKey.generate()
        enrolled = client.post("/api/v1/terminals/enroll", json={"code": registration["enrolment_code"],
                                                                 "public_jwk": public_jwk(key.public_key())}).get_json()
        terminal_id, audience, kid = enrolled["terminal_id"], enrolled["audience"], kid_for(key.public_key())

        def tokens() -> list[str]:
            return [sign_sync_token(terminal_id, audience, key, kid, int(time.time())) for _ in range(count)]

        bearer = tokens()
        tag = client.get("/api/v1/terminals/config", headers={"Authorization": f"Bearer {bearer[0]}"}).headers["ETag"]
        seq = trust_lists.published_seq(home)
        unlock = KeyUnlock.from_env()

        def per_call(step: Any, made: Any = lambda: [None] * count) -> float:
            samples = []
            for _ in range(5):
                inputs = made()
                began = time.process_time()
                for item in inputs:
                    step(item)
                samples.append((time.process_time() - began) / count)
            return statistics.median(samples) * 1000

        steps = {
            "GET /healthz (the framework's floor)": per_call(lambda _: client.get("/healthz")),
            "GET trustlist?since=N, 204 (old way)": per_call(lambda _: client.get(f"/api/v1/trustlist?since={seq}")),
            "GET trustlist?since=N, If-None-Match, 304": per_call(lambda _: client.get(
                f"/api/v1/trustlist?since={seq}", headers={"If-None-Match": f'"tl-{seq}"'})),
            "GET config, 200 signed (old way)": per_call(lambda token: client.get(
                "/api/v1/terminals/config", headers={"Authorization": f"Bearer {token}"}), tokens),
            "GET config, If-None-Match, 304": per_call(lambda token: client.get(
                "/api/v1/terminals/config", headers={"Authorization": f"Bearer {token}", "If-None-Match": tag}),
                tokens),
            "  authenticate_terminal (token, jti spent)": per_call(
                lambda token: terminals.authenticate_terminal(home, token, int(time.time())), tokens),
            "  the same before issue 14 (old_authentication.py)": per_call(
                lambda token: old_authenticate_terminal(home, token, int(time.time())), tokens),
            "  current_config, tag current (reads, digest)": per_call(
                lambda _: terminals.current_config(home, unlock, terminal_id, int(time.time()), tag)),
            "  current_config, no tag (reads, signs)": per_call(
                lambda _: terminals.current_config(home, unlock, terminal_id, int(time.time()), None)),
            "  published_seq (the trust list's one query)": per_call(lambda _: trust_lists.published_seq(home)),
        }
        home.close()
    print(f"\nprofile ({'PostgreSQL' if url else 'SQLite'}, one process, Flask test client, CPU per call, "
          f"median of 5 x {count}):")
    for label, milliseconds in steps.items():
        print(f"  {label:50} {milliseconds:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="idle rounds a run")
    parser.add_argument("--runs", type=int, default=5, help="runs of each way, interleaved")
    parser.add_argument("--skip-postgresql", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--profile", action="store_true", help="also time each request and step in-process")
    parser.add_argument("--compare-authentication", action="store_true",
                        help="poll the new way, authenticating as before issue 14 and as now, side by side")
    options = parser.parse_args()
    url = os.environ.get("KIA_BENCH_DATABASE_URL", DEFAULT_URL)
    print(f"machine: {machine()}; load before: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    print(f"{options.runs} runs x {options.rounds} idle rounds each way, interleaved; gunicorn 2 sync workers; "
          "office CPU = gunicorn master and workers (+ PostgreSQL backends), from /proc")
    results = {}
    compare = options.compare_authentication
    if not options.skip_postgresql:
        results["PostgreSQL"] = bench("PostgreSQL", url, options.rounds, options.runs, compare)
    if not options.skip_sqlite:
        results["SQLite"] = bench("SQLite", None, options.rounds, options.runs, compare)
    print(f"\n{'database':12} {'way':30} {'office CPU/round (median)':>26} {'round trip':>11}")
    for database, ways in results.items():
        for way, figures in ways.items():
            print(f"{database:12} {way:30} {figures['cpu_ms']:23.2f} ms {figures['wall_ms']:8.1f} ms")
        old, new = (figures["cpu_ms"] for figures in ways.values())
        print(f"{database:12} {'new / old':30} {new / old:24.2f}x")
        if compare:
            continue
        for hint in (60, 600):  # derived: rounds a minute times CPU a round
            print(f"{database:12} 100,000 idle terminals, new way, X-KIA-Poll-After {hint:>3} s: "
                  f"{new * 100_000 / hint / 1000:.1f} cores (old way, every minute: {old * 100_000 / 60_000:.1f})")
    if options.profile:
        databases: list[str | None] = [None] if options.skip_postgresql else [url, None]
        for profiled in databases:
            profile(profiled)
    print(f"load after: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

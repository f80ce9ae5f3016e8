"""Helpers shared by the benchmarks: timing, a throwaway card factory, the office under gunicorn."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import Card, IssuingKey, RevokedSerials, build_trust_list, card_validity, issue_card, new_serial
from keys.eligibility import birth_month

NOW = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


def machine() -> str:
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{python}, {os.cpu_count()} cores, {platform.machine()}"


def median_seconds(function: Callable[[], object], rounds: int, inner: int = 1) -> float:
    """Median over ``rounds`` of the time of ``inner`` calls, per call."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(inner):
            function()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples)


def sample_tokens(count: int, seed_ages: tuple[int, ...] = (0, 2, 4, 5, 9, 13, 16)) -> tuple[list[str], object]:
    """``count`` genuine tokens of children of several ages, and their trust list."""
    signing = Ed25519PrivateKey.generate()
    key = IssuingKey.new(signing.public_key(), int(NOW.timestamp()) - 60)
    tokens = []
    regions = (3372, 6311, 9171, 1101, 3578)
    for index in range(count):
        age = seed_ages[index % len(seed_ages)]
        born = NOW.date().replace(year=NOW.year - age) - dt.timedelta(days=1 + index % 300)
        region = regions[index % len(regions)]
        validity = card_validity(born, region, NOW)
        card = Card(new_serial(), region, birth_month(born), validity.issued_at, validity.expires_at)
        tokens.append(issue_card(card, signing, key.kid))
    trust = build_trust_list(1, [key], RevokedSerials(), int(NOW.timestamp()))
    return tokens, trust


@contextmanager
def gunicorn(home: Path, env: dict[str, str]) -> Iterator[tuple[tuple[str, int], int]]:
    """The service under gunicorn, 2 workers, as production starts it; yields ((host, port), master pid)."""
    env = dict(env, KIA_HOME=str(home), KIA_BIND="127.0.0.1:0", KIA_WORKERS="2")
    process = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "issuer:create_app()"], env=env,
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    assert process.stderr is not None
    for line in process.stderr:
        if match := LISTENING.search(line):
            break
    else:
        raise SystemExit(f"gunicorn exited before listening ({process.wait()})")
    errors: list[str] = []
    drain = threading.Thread(target=lambda: errors.extend(line for line in process.stderr if "Error" in line),
                             daemon=True)
    drain.start()
    try:
        yield ("127.0.0.1", int(match[1])), process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)
        if errors:
            print(f"  server errors logged: {len(errors)}, first: {errors[0].strip()}")


# --- offices made with the kia command, for the benchmarks that serve one ----------------------------

BENCH_PASSPHRASE = "bench passphrase, not a secret 2026"
BENCH_SERVICES = (("bioskop-reguler", 50_000), ("bioskop-3d", 75_000), ("matinee", 35_000))


def kia(*args: str, env: dict[str, str]) -> Any:
    """Run ``kia ARGS`` as an operator does and return its JSON; stop the benchmark if it fails."""
    result = subprocess.run([str(BIN / "kia"), *args], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"kia {' '.join(args[:3])} failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def reset_schema(url: str) -> None:
    """Empty a PostgreSQL benchmark database (drop and re-create its public schema)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def cli_office(home: Path, url: str | None, *, mou_end: str = "2030-12-31",
               service_options: tuple[str, ...] = ()) -> tuple[dict[str, str], int]:
    """A home made with the CLI, holding one cinema with BENCH_SERVICES priced for every age: (env, partner id)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("KIA_")}
    env["KIA_KEY_PASSPHRASE"] = BENCH_PASSPHRASE
    if url:
        env["KIA_DATABASE_URL"] = url
    kia("issuer", "init", "--home", str(home), env=env)
    partner: int = kia("issuer", "partner", "add", "--home", str(home), "--name", "Bioskop Solo Paragon",
                       "--kind", "cinema", "--cluster", "education_culture", "--region", "3372",
                       "--mou-start", "2026-01-01", "--mou-end", mou_end, env=env)["partner_id"]
    for service, price in BENCH_SERVICES:
        kia("issuer", "partner", "service", str(partner), "--home", str(home), "--code", service, "--name", service,
            *(f"--price={category}={price}" for category in ("0-4", "5-12", "13-16")), "--percent", "50",
            *service_options, env=env)
    return env, partner

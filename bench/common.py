"""Helpers shared by the benchmarks: timing, a throwaway card factory, the office under gunicorn."""

from __future__ import annotations

import datetime as dt
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

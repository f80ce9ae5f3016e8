"""Run the suite twice at once: on the real clock, and a year and a day ahead.

    python -m tests.both_clocks

What `make test` runs.  The two runs go side by side, a core each, so the
whole takes about as long as one on a 2-core machine.  The run ahead
(tests/clock_ahead.py) gets its own PostgreSQL database beside
KIA_TEST_DATABASE_URL's (its name with ``_clock_ahead``, created when
missing), since every PostgreSQL test empties the database it is given, and
its own temporary folder.  The real clock's run shows its progress as it
goes; the other's output follows when both are done.  The installed-wheel
tests run once, on the real clock.  Exits non-zero when either run fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from tests.conftest import POSTGRES_URL_ENV

DAYS_AHEAD = 366
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]


def database_beside(url: str, suffix: str) -> str:
    """The URL of a database named as ``url``'s plus ``suffix`` on the same server, created when missing."""
    given = make_url(url)
    beside = given.set(database=f"{given.database}{suffix}")
    engine = create_engine(given, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                       {"name": beside.database}).first()
            if found is None:
                connection.execute(text(f'CREATE DATABASE "{beside.database}"'))
    finally:
        engine.dispose()
    return beside.render_as_string(hide_password=False)


def main() -> int:
    env = dict(os.environ)
    ahead_env = dict(env)
    if env.get(POSTGRES_URL_ENV):
        ahead_env[POSTGRES_URL_ENV] = database_beside(env[POSTGRES_URL_ENV], "_clock_ahead")
    with tempfile.TemporaryDirectory(prefix="kia-clock-ahead-") as folder:
        log_path = Path(folder) / "output.txt"
        with log_path.open("w") as log:
            ahead = subprocess.Popen(
                [sys.executable, "-m", "tests.clock_ahead", str(DAYS_AHEAD), *PYTEST, "-m", "not installed",
                 "--basetemp", str(Path(folder) / "tmp")],
                env=ahead_env, stdout=log, stderr=subprocess.STDOUT,
            )
            try:
                real = subprocess.run(PYTEST, env=env, check=False).returncode
            finally:
                ahead_code = ahead.wait()
        print(f"\n--- the same suite with the clock {DAYS_AHEAD} days ahead ---", flush=True)
        sys.stdout.write(log_path.read_text(errors="replace"))
    print(f"\nreal clock: exit {real}; clock {DAYS_AHEAD} days ahead: exit {ahead_code}", flush=True)
    return real or ahead_code


if __name__ == "__main__":
    sys.exit(main())

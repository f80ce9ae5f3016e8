"""Run a command with the wall clock moved ahead, for it and every process it starts.

    python -m tests.clock_ahead DAYS COMMAND [ARGS...]

`make test` runs the suite a second time this way (a year and a day ahead), so a
test that meets a fixed date with today's date fails in CI the day it is
written, not the day the calendar catches up with it.

The clock is moved by libfaketime, preloaded into every process (pytest and
the `kia` servers and commands it starts), from the build that
python-libfaketime ships.  Chromium does not start with it preloaded, so the
browser fixture leaves it out: the browser keeps the real time, as a
partner's own browser keeps its own.  Debian's libfaketime 0.9.10 cannot serve here: with the monotonic clock
faked, Python's timed waits (`Event.wait(0.05)`) never return, and with it left
alone `time.sleep` fails with EINVAL.  Only the wall clock moves; the monotonic
clock, which timeouts use, is left alone.

Before running the command, the moved clock is checked in a child process:
a preload that silently did nothing must not pass for a green run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import libfaketime

DAY = 86400


def environment(days: int, base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``base`` with libfaketime preloaded and the clock ``days`` ahead of the one ``base`` runs on.

    Under this module's own run (the suite a year ahead) a test that moves one process's clock
    moves it from there, so the process stays ``days`` ahead of the others, not behind them.
    """
    already = base.get("FAKETIME", "") if "libfaketime" in base.get("LD_PRELOAD", "") else ""
    days += int(already[1:-1]) if already.startswith("+") and already.endswith("d") else 0
    library = Path(libfaketime.__file__).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    if not library.exists():
        sys.exit(f"clock_ahead: python-libfaketime has no {library.name} for this machine ({library})")
    preload = " ".join(dict.fromkeys(filter(None, [str(library), base.get("LD_PRELOAD")])))
    return dict(base) | {
        "LD_PRELOAD": preload,
        "FAKETIME": f"+{days}d",
        # Both spellings: the variable was renamed between libfaketime releases.
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "DONT_FAKE_MONOTONIC": "1",
    }


def check(env: dict[str, str], days: int) -> None:
    """Exit unless a child process under ``env`` sees the clock ``days`` ahead (within an hour)."""
    seen = subprocess.run([sys.executable, "-c", "import time; print(time.time())"], env=env,
                          capture_output=True, text=True, check=True)
    ahead = float(seen.stdout) - time.time()
    if abs(ahead - days * DAY) > 3600:
        sys.exit(f"clock_ahead: the clock under libfaketime is {ahead / DAY:.2f} days ahead, not {days}")


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not argv[0].isdigit():
        sys.exit("usage: python -m tests.clock_ahead DAYS COMMAND [ARGS...]")
    days, command = int(argv[0]), argv[1:]
    env = environment(days)
    check(env, days)
    print(f"clock_ahead: running with the clock {days} days ahead: {' '.join(command)}", flush=True)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main(sys.argv[1:])

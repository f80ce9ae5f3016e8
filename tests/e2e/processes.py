"""Separate processes for end-to-end tests: the real `kia` CLI and servers on loopback.

A server binds port 0 and the test reads the port from gunicorn's
"Listening at" line: it waits on that event, never on a sleep.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any KIA_ setting of the developer's shell."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KIA_")}
    env.update(extra)
    return env


def kia(*args: str, env: dict[str, str]) -> dict:
    result = subprocess.run([str(BIN / "kia"), *args], env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


@contextmanager
def running(command: list[str], env: dict[str, str]) -> Iterator[str]:
    """Run a gunicorn-based server; yield its base URL; stop it with SIGTERM."""
    process = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               text=True, start_new_session=True)
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if match := LISTENING.search(line):
                break
        else:
            pytest.fail(f"the server exited before listening (exit {process.wait()})")
        yield f"http://127.0.0.1:{match[1]}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)

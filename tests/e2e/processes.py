"""Separate processes for end-to-end tests: the real `kia` CLI and servers on loopback.

A server binds port 0 and the test reads the port from its "Listening at"
line (kia.processes.Server): it waits on that event, never on a sleep.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kia.processes import Server, ServerFailed

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any KIA_ setting of the developer's shell."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KIA_")}
    env.update(extra)
    return env


def kia(*args: str, env: dict[str, str]) -> dict:
    result = subprocess.run([str(BIN / "kia"), *args], env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


@contextmanager
def running(command: list[str], env: dict[str, str], cwd: Path = ROOT) -> Iterator[str]:
    """Run a server (kia.processes.Server) from ``cwd``; yield its base URL; stop it with SIGTERM."""
    with tempfile.TemporaryDirectory(prefix="kia-server-") as folder:
        log = Path(folder) / "server.log"
        server = Server(Path(command[0]).name, command, env, log, cwd=cwd)
        try:
            url = server.start()
        except ServerFailed as exc:
            pytest.fail(f"{exc}:\n{log.read_text(errors='replace')}")
        try:
            yield url
        finally:
            server.stop()

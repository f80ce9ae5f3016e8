"""Servers as separate processes: the office's service and the terminals.

The demo and the end-to-end tests start ``kia issuer serve`` and ``kia
verifier serve`` the way an operator would, on port 0, and wait for the
``Listening at: URL`` line each prints (an event, never a sleep).  After that
line the server's stderr is copied to a log file by a thread, so a chatty
server never blocks on a full pipe.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

LISTENING = re.compile(r"Listening at: (http://[0-9.]+:\d+)")


def kia_command() -> str:
    """The installed ``kia`` script beside this Python."""
    beside = Path(sys.executable).parent / "kia"
    return str(beside) if beside.exists() else (shutil.which("kia") or "kia")


class ServerFailed(RuntimeError):
    """A server exited before it was listening."""


class Server:
    def __init__(self, name: str, command: list[str], env: dict[str, str], log_path: Path,
                 cwd: Path | None = None) -> None:
        self.name, self.command, self.env, self.log_path, self.cwd = name, command, env, log_path, cwd
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self._copier: threading.Thread | None = None

    def start(self) -> str:
        """Start the server and return its URL once it listens."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(self.command, env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                        start_new_session=True, cwd=self.cwd)
        assert self.process.stderr is not None
        for line in self.process.stderr:
            log.write(line)
            if match := LISTENING.search(line):
                self.url = match[1]
                break
        else:
            log.close()
            code = self.process.wait()
            raise ServerFailed(f"{self.name} exited ({code}) before listening; see {self.log_path}")
        log.flush()
        self._copier = threading.Thread(target=_copy, args=(self.process.stderr, log), daemon=True)
        self._copier.start()
        return self.url

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then wait; SIGKILL if it does not stop in time."""
        return self._signal(signal.SIGTERM, timeout)

    def kill(self) -> int:
        """SIGKILL: the power cut."""
        return self._signal(signal.SIGKILL, 10.0)

    def _signal(self, sig: int, timeout: float) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            code = self.process.wait()
        if self._copier is not None:
            self._copier.join(timeout=5)
        return code


def _copy(source: IO[str], target: IO[str]) -> None:
    with target:
        for line in source:
            target.write(line)
            target.flush()

"""A process appending to the terminal log, killed with SIGKILL at random moments.

Every decision the process answered (printed after ``append`` returned) must
be in the log after the kill, exactly as answered, and the chain must verify
at the next open.  The writer is tests/integration/verifier/log_writer.py.
"""

from __future__ import annotations

import os
import random
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.verifier.records import open_log
from verifier.log import RecordNotKept

ROOT = Path(__file__).resolve().parents[3]
PLAIN_ROUNDS, PRUNE_ROUNDS = 50, 15
LINE_TIMEOUT = 30.0  # seconds: only a broken writer ever gets near it


class Writer:
    """The forking log writer, and its output read line by line."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.verifier.log_writer"],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.stdout, selectors.EVENT_READ)
        self.buffer = b""

    def line(self) -> str:
        deadline = time.monotonic() + LINE_TIMEOUT
        while b"\n" not in self.buffer:
            if not self.selector.select(deadline - time.monotonic()):
                raise AssertionError("the log writer stopped answering")
            chunk = os.read(self.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError("the log writer exited")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def round(self, path: Path, mode: str, answers: int, delay: float) -> dict[int, str]:
        """Start a child, let it answer ``answers`` decisions, kill it; all it answered."""
        self.stdin.write(f"{path} {mode}\n".encode())
        self.stdin.flush()
        pid, answered = None, {}
        while pid is None or len(answered) < answers:
            pid = self._read_into(answered, pid)
        time.sleep(delay)  # a random instant of the append cycle, not an event to wait for
        os.kill(pid, signal.SIGKILL)
        while True:  # what it printed before it died is answered too
            line = self.line()
            if line.startswith("exit "):
                assert os.WIFSIGNALED(int(line.split()[1])), f"the child ended on its own: {line}"
                return answered
            self._read_into(answered, pid, line)

    def _read_into(self, answered: dict[int, str], pid: int | None, line: str | None = None) -> int | None:
        line = self.line() if line is None else line
        if line.startswith("pid "):
            return int(line.split()[1])
        assert not line.startswith("exit "), "the child died before it was killed"
        seq, digest = line.split()
        answered[int(seq)] = digest
        return pid

    def close(self) -> None:
        self.stdin.close()
        self.process.wait(timeout=LINE_TIMEOUT)


@pytest.fixture
def writer() -> Iterator[Writer]:
    writer = Writer()
    try:
        yield writer
    finally:
        writer.close()


def test_every_answered_decision_survives_sigkill_and_the_chain_verifies(writer: Writer, tmp_path: Path) -> None:
    rng = random.Random(20261122)
    path = tmp_path / "log.db"
    answered: dict[int, str] = {}

    for _ in range(PLAIN_ROUNDS):
        answered |= writer.round(path, "plain", answers=rng.randrange(0, 30), delay=rng.random() * 0.002)
        with open_log(path) as log:  # open checks the file and recomputes the chain
            head, _ = log.head()
            assert head >= max(answered, default=0)
            assert {seq: log.hash_at(seq).hex() for seq in answered} == answered
            assert [record.seq for record in log.pending(10**6)] == list(range(1, head + 1))

    assert len(answered) > PLAIN_ROUNDS


def test_acknowledging_and_pruning_survive_sigkill_too(writer: Writer, tmp_path: Path) -> None:
    rng = random.Random(7)
    path = tmp_path / "log.db"
    answered: dict[int, str] = {}
    pruned = False

    for _ in range(PRUNE_ROUNDS):
        answered |= writer.round(path, "prune", answers=rng.randrange(10, 60), delay=rng.random() * 0.002)
        with open_log(path) as log:
            head, _ = log.head()
            acknowledged = log.acknowledged()
            assert head >= max(answered)
            for seq, digest in answered.items():
                try:
                    assert log.hash_at(seq).hex() == digest
                except RecordNotKept:
                    assert seq <= acknowledged  # only what the office holds may go
                    pruned = True

    assert pruned

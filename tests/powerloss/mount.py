"""Driving the power-cut filesystem (tests/powerloss/lazyfs.py) and the processes on it from a test.

``require_fuse`` says why the test cannot run: outside CI it skips, in CI
(``CI`` set) it fails, since a missing component must not pass silently.
The test needs Debian's ``fuse3`` (fusermount3 and libfuse3.so.3), PyPI's
``mfusepy``, /dev/fuse and root.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import selectors
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60.0  # seconds: only a stuck process gets near it


def require_fuse() -> None:
    """Skip (fail in CI) unless a FUSE filesystem can be mounted here, saying what is missing."""
    missing = []
    if not os.path.exists("/dev/fuse"):
        missing.append("/dev/fuse (the fuse kernel module)")
    if shutil.which("fusermount3") is None:
        missing.append("fusermount3 (Debian package fuse3)")
    try:
        import mfusepy  # noqa: F401  (loads libfuse3.so.3)
    except (ImportError, OSError) as exc:  # OSError: libfuse3.so.3 not found
        missing.append(f"mfusepy with libfuse3 (PyPI mfusepy, Debian fuse3): {exc}")
    if os.geteuid() != 0:
        missing.append("root, to mount")
    if missing:
        message = "the power-loss test needs " + "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(f"CI: {message}", pytrace=False)
        pytest.skip(message)


class Lines:
    """A child process's stdout, line by line."""

    def __init__(self, name: str, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None and process.stdin is not None
        self.name, self.process = name, process
        self.stdout, self.stdin = process.stdout, process.stdin
        self.buffer = b""
        self.closed = False

    def send(self, line: str) -> None:
        self.stdin.write(line.encode() + b"\n")
        self.stdin.flush()

    def pop(self) -> str | None:
        if b"\n" not in self.buffer:
            return None
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def fill(self) -> None:
        chunk = os.read(self.stdout.fileno(), 65536)
        if not chunk:
            self.closed = True
        self.buffer += chunk


def next_line(*sources: Lines, timeout: float = TIMEOUT) -> tuple[Lines, str]:
    """The next line from whichever source has one first, without polling."""
    deadline = time.monotonic() + timeout
    while True:
        for source in sources:
            line = source.pop()
            if line is not None:
                return source, line
        with selectors.DefaultSelector() as selector:
            for source in sources:
                if source.closed:
                    raise AssertionError(f"{source.name} exited (status {source.process.poll()})")
                selector.register(source.stdout, selectors.EVENT_READ, source)
            ready = selector.select(max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no answer from {', '.join(source.name for source in sources)} in {timeout} s")
        for key, _ in ready:
            key.data.fill()


@dataclasses.dataclass(frozen=True)
class Cut:
    """What a power cut found: changes since arming, unsynced changes kept and in all, syncs since arming."""

    changes: int
    kept: int
    unsynced: int
    syncs: int

    @classmethod
    def parse(cls, line: str) -> Cut:
        _, changes, kept, unsynced, syncs = line.split()
        return cls(int(changes), int(kept), int(unsynced), int(syncs))


class PowerLossMount:
    """The filesystem mounted at ``path`` over ``live``; the test cuts the power and mounts it again."""

    def __init__(self, workdir: Path) -> None:
        self.path = workdir / "mnt"
        self.live = workdir / "live"
        self.path.mkdir()
        self.live.mkdir()
        self.stderr = (workdir / "lazyfs.err").open("wb")
        process = subprocess.Popen([sys.executable, "-m", "tests.powerloss.lazyfs", str(self.live), str(self.path)],
                                   cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=self.stderr)
        self.lines = Lines("the power-loss filesystem", process)
        self.expect("mounted")

    def expect(self, word: str) -> str:
        _, line = next_line(self.lines)
        assert line.split()[0] == word, f"the filesystem answered {line!r}, not {word}"
        return line

    def arm(self, changes: int, mode: str, seed: int) -> None:
        """Cut the power when the ``changes``-th change of the mount comes."""
        self.lines.send(f"arm {changes} {mode} {seed}")
        self.expect("armed")

    def cut(self, mode: str, seed: int = 0) -> Cut:
        self.lines.send(f"cut {mode} {seed}")
        return Cut.parse(self.expect("cut"))

    def persist(self) -> None:
        self.lines.send("persist")
        self.expect("persisted")

    def remount(self) -> None:
        """After a cut: the mount comes back with what the disk kept (nothing may hold a file open)."""
        self.lines.send("remount")
        self.expect("mounted")

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self.lines.send("quit")
        try:
            self.lines.process.wait(timeout=TIMEOUT)
        finally:
            if self.lines.process.poll() is None:
                self.lines.process.kill()
            if str(self.path) in Path("/proc/self/mounts").read_text():  # left behind by a server that died
                subprocess.run(["fusermount3", "-u", "-z", str(self.path)], check=False)
            self.stderr.close()


@contextlib.contextmanager
def power_loss_mount(workdir: Path) -> Iterator[PowerLossMount]:
    require_fuse()
    mount = PowerLossMount(workdir)
    try:
        yield mount
    finally:
        mount.close()

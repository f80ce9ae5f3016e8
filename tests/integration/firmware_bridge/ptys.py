"""A serial device the tests can unplug and plug back: a pseudo-terminal behind a stable symlink.

udev names USB serial devices by a symlink that survives replugging
(``/dev/serial/by-id/...``) while the ttyACM behind it changes; the bridge is
configured with the symlink.  ``PluggedPort`` does the same with pty pairs:
the test holds the master end (the device), the bridge opens the symlink.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
from pathlib import Path


class PluggedPort:
    def __init__(self, directory: Path, name: str = "ttyKIA0", plugged: bool = True) -> None:
        self.path = directory / name
        self.master: int | None = None
        if plugged:
            self.plug()

    def plug(self) -> None:
        assert self.master is None, "already plugged"
        master, slave = os.openpty()
        device = os.ttyname(slave)
        os.close(slave)  # the bridge opens it by name, as it would a real device
        self.master = master
        self.path.unlink(missing_ok=True)
        self.path.symlink_to(device)

    def unplug(self) -> None:
        assert self.master is not None, "not plugged"
        self.path.unlink(missing_ok=True)
        os.close(self.master)
        self.master = None

    def write(self, data: bytes) -> None:
        assert self.master is not None, "not plugged"
        os.write(self.master, data)

    def close(self) -> None:
        if self.master is not None:
            with contextlib.suppress(OSError):
                self.unplug()


class MasterLink:
    """The device's end of a PluggedPort as a gate board's link (firmware_bridge.gate.board.Link)."""

    def __init__(self, port: PluggedPort) -> None:
        self.port = port

    def write(self, data: bytes) -> None:
        self.port.write(data)

    def read(self, timeout: float) -> bytes:
        assert self.port.master is not None, "not plugged"
        ready, _, _ = select.select([self.port.master], [], [], max(timeout, 0))
        return os.read(self.port.master, 4096) if ready else b""

    def close(self) -> None:
        pass  # the port belongs to the test


class NullModem:
    """Two serial devices joined by a cable: what is written to one is read from the other.

    Two pty pairs whose master ends a thread copies across, so both ends are
    real ttys a program opens by name (``a`` for the bridge, ``b`` for a
    board).  The cable holds each slave open itself: a pty whose slave was
    closed reads as hung up on the master side, and would drop what comes next.
    """

    def __init__(self, directory: Path) -> None:
        self.ends: list[tuple[int, int]] = [os.openpty(), os.openpty()]
        self.a, self.b = directory / "ttyNullA", directory / "ttyNullB"
        for path, (_, slave) in zip((self.a, self.b), self.ends, strict=True):
            path.symlink_to(os.ttyname(slave))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._copy, daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        (master_a, _), (master_b, _) = self.ends
        other = {master_a: master_b, master_b: master_a}
        while not self._stop.is_set():
            ready, _, _ = select.select(list(other), [], [], 0.05)
            for source in ready:
                os.write(other[source], os.read(source, 4096))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for master, slave in self.ends:
            os.close(master)
            os.close(slave)

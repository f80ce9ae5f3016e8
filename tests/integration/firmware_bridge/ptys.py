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

"""A serial port that is opened again after it was unplugged (pyserial).

Scanners and gate boards sit on USB serial adapters that come and go: a cable
pulled, a board rebooted, a udev symlink (``/dev/serial/by-id/...``) pointing
at a new ttyACM.  ``SerialLink.run`` opens the port, hands every chunk it reads
to a handler, calls the handler's ``idle`` when the line is quiet, and on any
error closes the port, logs, waits (0.2 s doubling to 5 s) and opens it again,
until told to stop.
"""

from __future__ import annotations

import logging
import termios
import threading
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

import serial

from . import events

D = TypeVar("D")

log = logging.getLogger(__name__)

READ_TIMEOUT = 0.1  # seconds a read waits before the handler's idle runs
FIRST_RETRY, LAST_RETRY = 0.2, 5.0


class LineHandler(Protocol):
    def received(self, data: bytes) -> None: ...

    def idle(self) -> None: ...


class Backoff:
    """Waits that double from ``first`` to ``last`` seconds; ``reset`` after a success."""

    def __init__(self, first: float = FIRST_RETRY, last: float = LAST_RETRY) -> None:
        self.first, self.last = first, last
        self.delay = first

    def wait(self, stop: threading.Event) -> bool:
        """Wait; True if ``stop`` was set meanwhile."""
        stopped = stop.wait(self.delay)
        self.delay = min(self.delay * 2, self.last)
        return stopped

    def reset(self) -> None:
        self.delay = self.first


def reopening(stop: threading.Event, open_device: Callable[[], D], unavailable: tuple[type[BaseException], ...],
              complain: Callable[[BaseException], None], backoff: Backoff | None = None) -> Iterator[D]:
    """Yield a device each time it opens, until ``stop``: a reader unplugged and plugged back.

    Opening is retried with backoff; ``complain`` hears of a failure once until
    the device opens again.  After each use (the loop body) the next open
    waits its backoff too, so a device that fails at once is not hammered.
    """
    backoff = backoff or Backoff()
    complained = False
    while not stop.is_set():
        try:
            device = open_device()
        except unavailable as exc:
            if not complained:
                complain(exc)
                complained = True
            if backoff.wait(stop):
                return
            continue
        complained = False
        backoff.reset()
        yield device
        if not stop.is_set() and backoff.wait(stop):
            return


class SerialLink:
    """One serial port, reopened whenever it fails."""

    def __init__(self, path: str, baudrate: int, name: str, bus: events.Events) -> None:
        self.path, self.baudrate, self.name, self.events = path, baudrate, name, bus

    def run(self, stop: threading.Event, handler_for: Callable[[serial.Serial], LineHandler]) -> None:
        def complain(exc: BaseException) -> None:
            log.warning("%s: cannot open %s (%s); trying again until it is back", self.name, self.path, exc)

        for port in reopening(stop, lambda: serial.Serial(self.path, self.baudrate, timeout=READ_TIMEOUT,
                                                          exclusive=True),
                              (serial.SerialException, OSError, ValueError, termios.error), complain):
            log.info("%s: %s open at %d baud", self.name, self.path, self.baudrate)
            self.events.emit(self.name, events.CONNECTED, self.path)
            try:
                self._pump(port, handler_for(port), stop)
            except (serial.SerialException, OSError, termios.error) as exc:  # termios.error is no OSError
                log.warning("%s: %s lost (%s); reopening", self.name, self.path, exc)
            finally:
                port.close()
                self.events.emit(self.name, events.DISCONNECTED, self.path)

    @staticmethod
    def _pump(port: serial.Serial, handler: LineHandler, stop: threading.Event) -> None:
        while not stop.is_set():
            data = port.read(1)  # waits up to READ_TIMEOUT; then whatever else has arrived
            if data:
                data += port.read(port.in_waiting)
                handler.received(data)
            else:
                handler.idle()

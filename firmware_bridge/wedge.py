"""Keyboard-wedge scanners: text typed into the bridge's terminal, or into a file, FIFO or tty.

A USB QR scanner in keyboard mode types like a keyboard.  The bridge reads
what it types from its standard input (``wedge:stdin``: run it on the
console the scanner types into), or from a path (``wedge:PATH``): a FIFO
another program writes typed text into, a tty or pty, or a file of recorded
scans.  No evdev: the text arrives as text.

When the input ends: standard input and plain files are finished (the
reader stops); a FIFO waits for its next writer; a tty that went away is
opened again when it is back.
"""

from __future__ import annotations

import logging
import os
import select
import stat
import sys
import threading

from . import events
from .dispatch import Dispatcher, RepeatFilter
from .lines import REPEAT_WINDOW, LineScanner
from .serial_link import Backoff

log = logging.getLogger(__name__)

POLL = 0.2  # seconds between checks for stop


class WedgeReader:
    """Typed lines from standard input (``path`` None) or a path."""

    def __init__(self, path: str | None, dispatcher: Dispatcher, repeat_window: float = REPEAT_WINDOW,
                 name: str | None = None) -> None:
        self.path = path
        self.dispatcher = dispatcher
        self.name = name or f"wedge:{path or 'stdin'}"
        self.repeats = RepeatFilter(repeat_window)

    def run(self, stop: threading.Event) -> None:
        backoff = Backoff()
        while not stop.is_set():
            try:
                fd, finishes = self._open()
            except OSError as exc:
                log.warning("%s: cannot open %s (%s); trying again", self.name, self.path, exc)
                if backoff.wait(stop):
                    break
                continue
            backoff.reset()
            self.dispatcher.events.emit(self.name, events.CONNECTED, self.path or "stdin")
            scanner = LineScanner(self.name, "wedge", self.dispatcher, self.repeats)
            try:
                ended = self._pump(fd, scanner, stop)
            except OSError as exc:  # EIO: the tty hung up
                log.warning("%s: input lost (%s); opening it again", self.name, exc)
                ended = False
            finally:
                if self.path is not None:
                    os.close(fd)
                self.dispatcher.events.emit(self.name, events.DISCONNECTED, self.path or "stdin")
            if ended:
                scanner.finish()
                if finishes:
                    log.info("%s: input ended", self.name)
                    break
            if not stop.is_set() and backoff.wait(stop):
                break
        self.dispatcher.events.emit(self.name, events.STOPPED)

    def _open(self) -> tuple[int, bool]:
        """The descriptor to read, and whether its end is the end of the input."""
        if self.path is None:
            return sys.stdin.fileno(), True
        mode = os.stat(self.path).st_mode
        if stat.S_ISFIFO(mode):
            # Opened for writing too, so the FIFO never reads as ended between two writers.
            return os.open(self.path, os.O_RDWR | os.O_NONBLOCK), False
        if stat.S_ISREG(mode):
            return os.open(self.path, os.O_RDONLY), True
        return os.open(self.path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK), False

    @staticmethod
    def _pump(fd: int, scanner: LineScanner, stop: threading.Event) -> bool:
        """Read until stopped (False) or the input ends (True)."""
        while not stop.is_set():
            ready, _, _ = select.select([fd], [], [], POLL)
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
            except BlockingIOError:
                continue
            if not data:
                return True
            scanner.feed_bytes(data)
        return False

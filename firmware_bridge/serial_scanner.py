"""QR scanners on a serial port (``serial:PATH[:BAUD]``), with pyserial.

The scanner sends each QR text and a line terminator, as a keyboard-wedge
scanner types it (firmware_bridge.lines says how doubled, dropped and stray
characters are handled).  The port is opened again whenever it is unplugged
and back; a line cut off by the unplugging is dropped.
"""

from __future__ import annotations

import threading

import serial

from .dispatch import Dispatcher, RepeatFilter
from .lines import REPEAT_WINDOW, LineScanner
from .serial_link import SerialLink

DEFAULT_BAUD = 9600


class SerialScannerReader:
    def __init__(self, path: str, baudrate: int, dispatcher: Dispatcher, repeat_window: float = REPEAT_WINDOW,
                 name: str | None = None) -> None:
        self.dispatcher = dispatcher
        self.name = name or f"serial:{path}"
        self.repeats = RepeatFilter(repeat_window)
        self.link = SerialLink(path, baudrate, self.name, dispatcher.events)

    def run(self, stop: threading.Event) -> None:
        self.link.run(stop, self._scanner_for)

    def _scanner_for(self, port: serial.Serial) -> _Lines:
        return _Lines(LineScanner(self.name, "serial", self.dispatcher, self.repeats))


class _Lines:
    def __init__(self, scanner: LineScanner) -> None:
        self.scanner = scanner

    def received(self, data: bytes) -> None:
        self.scanner.feed_bytes(data)

    def idle(self) -> None:
        pass

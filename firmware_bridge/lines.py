"""Scanners that type: lines of text to scans.

A handheld QR scanner in keyboard-wedge mode types the QR text and a line
terminator; one on a serial port sends the same bytes.  What "handled" means
for what goes wrong on the way:

* **Terminators**: CR, LF and CRLF each end a line; empty lines (a CRLF read
  as two terminators, a doubled Enter) vanish.
* **A doubled or dropped keystroke inside a card** changes the token, so its
  signature no longer verifies: the line is passed on as typed and the
  verifier refuses it (staff see "scan again"); nothing is guessed or
  repaired, and the next line is read normally: a damaged line never spills
  into the next scan.
* **A dropped terminator** joins two scans into one line, which the verifier
  refuses; reading recovers at the next terminator.
* **Garbage before a card** (an AIM prefix such as ``]Q1``, a stray key) is
  dropped: the payload starts where a card's payload starts
  (``payload.payload_from_line``).
* **The same line again** within ``repeat_window`` seconds (a scanner set to
  repeat, a double trigger) is passed on once.
* **Noise**: lines shorter than a card's payload could be are dropped, and a
  line longer than any payload is dropped whole up to its terminator.
"""

from __future__ import annotations

import codecs
import logging
import re
import time
from collections.abc import Callable

from . import events
from .dispatch import Dispatcher, RepeatFilter
from .payload import MAX_LINE_CHARS, describe, payload_from_line

log = logging.getLogger(__name__)

REPEAT_WINDOW = 1.5  # seconds within which the same line is passed on once
_TERMINATOR = re.compile(r"[\r\n]")


class LineAssembler:
    """Typed text to complete lines; a line longer than ``max_chars`` is dropped whole."""

    def __init__(self, max_chars: int = MAX_LINE_CHARS) -> None:
        self.max_chars = max_chars
        self.overlong = 0  # lines dropped for their length
        self._buffer = ""
        self._overflowing = False

    def feed(self, text: str) -> list[str]:
        pieces = _TERMINATOR.split(text)
        lines: list[str] = []
        self._buffer += pieces[0]
        for piece in pieces[1:]:  # every further piece follows a terminator
            self._end_line(lines)
            self._buffer = piece
        self._check_length()
        return lines

    def finish(self) -> list[str]:
        """The last line when the input ends without a terminator."""
        lines: list[str] = []
        self._end_line(lines)
        return lines

    def _end_line(self, lines: list[str]) -> None:
        self._check_length()
        if self._buffer and not self._overflowing:
            lines.append(self._buffer)
        self._buffer, self._overflowing = "", False

    def _check_length(self) -> None:
        if len(self._buffer) > self.max_chars:
            if not self._overflowing:
                self.overlong += 1
            self._buffer, self._overflowing = "", True


class LineScanner:
    """A typing scanner's lines, as scans handed to the dispatcher."""

    def __init__(
        self,
        name: str,
        source: str,
        dispatcher: Dispatcher,
        repeats: RepeatFilter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name, self.source, self.dispatcher = name, source, dispatcher
        self.repeats = repeats if repeats is not None else RepeatFilter(REPEAT_WINDOW, clock)
        self._lines = LineAssembler()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed_bytes(self, data: bytes) -> None:
        self.feed_text(self._decoder.decode(data))

    def feed_text(self, text: str) -> None:
        overlong = self._lines.overlong
        for line in self._lines.feed(text):
            self._line(line)
        if self._lines.overlong > overlong:
            self.dispatcher.ignore(self.name, "a line longer than any card was dropped")

    def finish(self) -> None:
        """The input ended: a last line without a terminator is still a scan."""
        for line in self._lines.feed(self._decoder.decode(b"", final=True)) + self._lines.finish():
            self._line(line)

    def _line(self, line: str) -> None:
        payload = payload_from_line(line)
        if payload is None:
            self.dispatcher.ignore(self.name, f"noise ({len(line)} characters)")
            return
        if not self.repeats.fresh(payload):
            log.info("%s: %s again within %.1f s: passed on once", self.name, describe(payload), self.repeats.window)
            self.dispatcher.events.emit(self.name, events.REPEATED)
            return
        self.dispatcher.submit(payload, self.source, self.name)

"""What readers report about themselves, for anyone who needs to wait on it.

The log tells an operator what happened; ``Events`` lets code (a status
page, a test) wait until it has happened: a serial port opened, a board said
HELLO, a scan was decided.  Kinds are the constants below; each event names
the reader and carries a short detail without child data.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from collections.abc import Callable

# Kinds of event.
LISTENING = "listening"  # a gate's TCP server is bound; detail "host:port"
CONNECTED = "connected"  # a device was opened, or a board connected
DISCONNECTED = "disconnected"  # a device was lost, or a board went away
HELLO = "hello"  # a board identified itself; detail is its board id
HEARTBEAT = "heartbeat"  # a board's heartbeat was answered
SCANNED = "scanned"  # a payload went to the verifier
DECIDED = "decided"  # the verifier decided; detail "accepted" or the reason
UNAVAILABLE = "unavailable"  # the verifier could not decide; nothing was accepted
IGNORED = "ignored"  # something seen that is not a scan to pass on; detail says why
REPEATED = "repeated"  # the same card again too soon (still on the reader, still in view)
LEFT = "left"  # a tag left the NFC reader's field
FRAME_ERROR = "frame_error"  # a gate frame was refused (NAK); detail is the error's class
STOPPED = "stopped"  # the reader's loop ended


@dataclasses.dataclass(frozen=True)
class Event:
    at: float
    reader: str
    kind: str
    detail: str = ""


class Events:
    """A thread-safe record of the last events and a count of every kind from every reader."""

    def __init__(self, keep: int = 1000, clock: Callable[[], float] = time.monotonic) -> None:
        self._recent: collections.deque[Event] = collections.deque(maxlen=keep)
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._changed = threading.Condition()
        self._clock = clock

    def emit(self, reader: str, kind: str, detail: str = "") -> None:
        with self._changed:
            self._recent.append(Event(self._clock(), reader, kind, detail))
            self._counts[(reader, kind)] += 1
            self._changed.notify_all()

    def count(self, kind: str, reader: str | None = None, detail: str | None = None) -> int:
        with self._changed:
            return self._count(kind, reader, detail)

    def recent(self, kind: str | None = None) -> list[Event]:
        with self._changed:
            return [event for event in self._recent if kind is None or event.kind == kind]

    def wait_for(self, kind: str, count: int = 1, reader: str | None = None, timeout: float = 10.0,
                 detail: str | None = None) -> bool:
        """Block until ``count`` events of ``kind`` (of ``reader``, with ``detail``) happened; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._count(kind, reader, detail) >= count, timeout)

    def _count(self, kind: str, reader: str | None, detail: str | None) -> int:
        if detail is not None:  # details vary without bound: only the recent events are searched
            return sum(1 for event in self._recent
                       if event.kind == kind and reader in (None, event.reader) and event.detail == detail)
        return sum(number for (who, each), number in self._counts.items() if each == kind and reader in (None, who))

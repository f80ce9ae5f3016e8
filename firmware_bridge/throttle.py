"""Log lines that cannot drown the log: a noisy serial line or a flood of bad frames.

The first event of a kind is logged at its level; further ones within
``interval`` seconds go to DEBUG, and the next loud line says how many were
quieted meanwhile.  Nothing is lost from the counts readers keep.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class Throttle:
    def __init__(self, interval: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval, self._clock = interval, clock
        self._last: dict[str, float] = {}
        self._quieted: dict[str, int] = {}
        self._lock = threading.Lock()

    def log(self, logger: logging.Logger, level: int, key: str, message: str, *args: object) -> None:
        """Log at ``level`` if nothing under ``key`` was loud within the interval, else at DEBUG."""
        with self._lock:
            now = self._clock()
            last = self._last.get(key)
            loud = last is None or now - last >= self.interval
            if loud:
                self._last[key] = now
                quieted = self._quieted.pop(key, 0)
            else:
                self._quieted[key] = self._quieted.get(key, 0) + 1
        if not loud:
            logger.debug(message, *args)
        elif quieted:
            logger.log(level, message + " (and %d more like it in the last %.0f s)", *args, quieted, self.interval)
        else:
            logger.log(level, message, *args)

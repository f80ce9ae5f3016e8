"""``kia bridge run``: every reader in its own thread, kept alive, stopped cleanly.

A reader recovers from what it expects (a device unplugged, a board gone) by
itself.  What it does not expect (a bug, a library raising something new)
ends its ``run``; the supervisor logs it and starts the reader again after a
pause, so one broken reader never takes the others down.  A reader whose
input ended (a file, a closed standard input) is finished; the bridge stops
when every reader has finished, or on SIGINT or SIGTERM.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from .serial_link import Backoff
from .spec import Reader

log = logging.getLogger(__name__)

JOIN_TIMEOUT = 10.0  # seconds each reader gets to stop


def supervise(reader: Reader, stop: threading.Event, backoff: Backoff | None = None) -> None:
    """Run ``reader`` until it finishes or ``stop`` is set, restarting it after an unexpected error."""
    backoff = backoff or Backoff(1.0, 30.0)
    while not stop.is_set():
        try:
            reader.run(stop)
        except Exception:
            log.exception("%s: the reader failed; starting it again", reader.name)
            if backoff.wait(stop):
                break
            continue
        if not stop.is_set():
            log.info("%s: finished", reader.name)
        return


def run_readers(readers: Sequence[Reader], stop: threading.Event) -> None:
    """Run every reader until all have finished or ``stop`` is set; then wait for them to stop."""
    threads = [threading.Thread(target=supervise, args=(reader, stop), name=reader.name, daemon=True)
               for reader in readers]
    for thread in threads:
        thread.start()
    log.info("bridge running with %d reader(s): %s", len(readers), ", ".join(reader.name for reader in readers))
    while not stop.is_set() and any(thread.is_alive() for thread in threads):
        stop.wait(0.5)
    stop.set()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
        if thread.is_alive():
            log.warning("%s: did not stop within %.0f s", thread.name, JOIN_TIMEOUT)
    log.info("bridge stopped")

"""From a payload to a verdict a reader can act on.

Every reader hands its payloads to one ``Dispatcher``, which asks the
verifier (through ``verifier.local``, the only part of the project the
bridge uses) and turns the answer into a ``Verdict``: accepted or not, and
two lines for a gate's screen.  When the verifier cannot decide, the verdict
is a refusal that says so ("VERIFIKASI GAGAL"): a gate never opens without a
decision the terminal has logged.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

from verifier.local import DISPLAY_WIDTH, LocalVerifierClient, ScanOutcome, Verifier, VerifierUnavailable

from . import events
from .payload import describe
from .throttle import Throttle

log = logging.getLogger(__name__)

# What a gate's screen shows when no decision could be had (Bahasa Indonesia, ASCII).
UNAVAILABLE_DISPLAY = ("VERIFIKASI GAGAL", "HUBUNGI PETUGAS")
NOT_A_CARD_DISPLAY = ("BUKAN KARTU KIA", "TEMPELKAN KARTU KIA")
UNAVAILABLE_REASON = "verifier_unavailable"
NOT_A_CARD_REASON = "not_a_card"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What a reader does with a scan: open or not, and what the screen says."""

    accepted: bool
    reason: str
    display: tuple[str, str]
    outcome: ScanOutcome | None = None  # None when the verifier gave no decision


UNAVAILABLE = Verdict(False, UNAVAILABLE_REASON, UNAVAILABLE_DISPLAY)
NOT_A_CARD = Verdict(False, NOT_A_CARD_REASON, NOT_A_CARD_DISPLAY)


def screen_line(text: str) -> str:
    """``text`` as a 20-character ASCII line (gate boards drive HD44780-style displays)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    printable = "".join(char if " " <= char <= "~" else " " for char in ascii_text)
    return printable.strip()[:DISPLAY_WIDTH]


def verdict_for(outcome: ScanOutcome) -> Verdict:
    first, second = (tuple(outcome.display) + ("", ""))[:2]
    lines = (screen_line(first), screen_line(second))
    if not any(lines):
        lines = ("DITERIMA", "") if outcome.accepted else ("DITOLAK", "")
    return Verdict(bool(outcome.accepted), outcome.reason, lines, outcome)


class Dispatcher:
    """Hands payloads to the verifier; never raises, never accepts without a decision."""

    def __init__(self, verifier: Verifier, bus: events.Events | None = None) -> None:
        self.verifier = verifier
        self.events = bus if bus is not None else events.Events()
        self._throttle = Throttle()

    def submit(self, payload: str, source: str, reader: str, label: str | None = None) -> Verdict:
        """The verdict on ``payload`` from ``reader`` (``label`` names it more precisely in the log)."""
        who = label or reader
        self.events.emit(reader, events.SCANNED, source)
        started = time.perf_counter()
        try:
            outcome = self.verifier.scan(payload, source)
        except VerifierUnavailable as exc:
            log.warning("%s: no decision for %s: %s", who, describe(payload), exc)
            self.events.emit(reader, events.UNAVAILABLE, str(exc))
            return UNAVAILABLE
        except Exception:  # a gate must get an answer even when the verifier client breaks
            log.exception("%s: the verifier failed on %s", who, describe(payload))
            self.events.emit(reader, events.UNAVAILABLE, "error")
            return UNAVAILABLE
        verdict = verdict_for(outcome)
        log.info("%s: %s %s: %s (seq %s, %.1f ms)", who, source, describe(payload),
                 "accepted" if verdict.accepted else f"refused, {verdict.reason}", outcome.seq,
                 (time.perf_counter() - started) * 1000)
        self.events.emit(reader, events.DECIDED, "accepted" if verdict.accepted else verdict.reason)
        return verdict

    def ignore(self, reader: str, why: str, label: str | None = None) -> None:
        """Record something a reader saw that is not a scan (noise, another tag)."""
        self._throttle.log(log, logging.INFO, f"ignored {reader}", "%s: ignored: %s", label or reader, why)
        self.events.emit(reader, events.IGNORED, why)


class ServedVerifier:
    """The verifier that serves a terminal's home, found again whenever it moves.

    ``kia verifier serve`` writes its URL to HOME/serve.json; after a restart
    it may listen on another port.  So the file is read at every scan and the
    HTTP client replaced when the URL changed.  Thread-safe.
    """

    def __init__(self, home: Path, timeout: float = 3.0) -> None:
        self.home, self.timeout = home, timeout
        self._client: LocalVerifierClient | None = None
        self._lock = threading.Lock()

    def scan(self, payload: str, source: str) -> ScanOutcome:
        return self._current().scan(payload, source)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _current(self) -> LocalVerifierClient:
        found = LocalVerifierClient.for_home(self.home, self.timeout)  # raises VerifierUnavailable
        with self._lock:
            client = self._client
            if client is None or (client.host, client.port, client.path) != (found.host, found.port, found.path):
                if client is not None:
                    client.close()
                    log.info("the verifier of %s moved to %s:%s", self.home, found.host, found.port)
                self._client = client = found
            return client


class RepeatFilter:
    """Recognises the same card seen again within ``window`` seconds of its last sighting.

    A card lying on a reader, or held in front of a camera, is seen again and
    again; each sighting refreshes it, so it is reported once until it has
    been gone for ``window`` seconds.  Thread-safe; forgets old keys.
    """

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic, keep: int = 1024) -> None:
        self.window, self._clock, self._keep = window, clock, keep
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def recent(self, key: str) -> bool:
        with self._lock:
            last = self._seen.get(key)
            return last is not None and self._clock() - last < self.window

    def saw(self, key: str) -> None:
        with self._lock:
            now = self._clock()
            self._seen[key] = now
            if len(self._seen) > self._keep:
                self._seen = {k: t for k, t in self._seen.items() if now - t < self.window}

    def fresh(self, key: str) -> bool:
        """True the first time ``key`` is seen after ``window`` seconds away; records the sighting."""
        repeated = self.recent(key)
        self.saw(key)
        return not repeated

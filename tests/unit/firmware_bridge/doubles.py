"""Test doubles for the bridge's one port, ``verifier.local.Verifier``.

``CardVerifier`` decides as a terminal would, with the real crypto core
(keys.verify_card) against a test trust list, but logs nothing: it records
what it was asked.  A doubled or dropped keystroke therefore fails exactly as
it would at a counter.  ``UnavailableVerifier`` is a terminal that cannot
decide.
"""

from __future__ import annotations

import dataclasses
import threading

from keys import InvalidCardError, verify_card
from tests.factories import NOW, Trust, make_trust
from verifier.local import ScanOutcome, VerifierUnavailable


@dataclasses.dataclass(frozen=True)
class Call:
    payload: str
    source: str


class CardVerifier:
    """Decides scans with keys.verify_card at tests.factories.NOW; thread-safe."""

    def __init__(self, trust: Trust | None = None, now: int = NOW) -> None:
        self.trust = trust or make_trust()
        self.now = now
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._seq = 0

    def scan(self, payload: str, source: str) -> ScanOutcome:
        with self._lock:
            self.calls.append(Call(payload, source))
            self._seq += 1
            seq = self._seq
        try:
            verified = verify_card(payload, self.trust.trust_list, self.now)
        except InvalidCardError as error:
            return ScanOutcome(False, error.reason, "Kartu ditolak.", ("DITOLAK", error.reason[:20]), seq=seq)
        return ScanOutcome(True, "accepted", "Kartu sah.", ("DITERIMA", "Bayar Rp20.000"),
                           price=40000, discount=20000, paid=20000, seq=seq,
                           category=verified.card.age_category_at(self.now))

    @property
    def payloads(self) -> list[str]:
        with self._lock:
            return [call.payload for call in self.calls]


class UnavailableVerifier:
    """A terminal that cannot decide (stopped, disk full): every scan raises."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def scan(self, payload: str, source: str) -> ScanOutcome:
        self.calls.append(Call(payload, source))
        raise VerifierUnavailable("the verifier did not answer")


class BrokenVerifier:
    """A verifier client with a bug: raises something unexpected."""

    def scan(self, payload: str, source: str) -> ScanOutcome:
        raise RuntimeError("bug")

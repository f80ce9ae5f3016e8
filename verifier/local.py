"""The small interface verifier/ gives readers (DESIGN section 3).

firmware_bridge/ turns what a reader sees into a scan payload and hands it to
a ``Verifier``: usually ``LocalVerifierClient``, which posts it to the local
API of ``kia verifier serve`` (``POST /api/v1/scan``) and returns the
decision once the terminal has committed it to its log.  The bridge imports
nothing else of the project.

Wire form of ``POST /api/v1/scan``::

    request  {"payload": "<QR text or token>", "source": "nfc"}
    response 200 {"accepted": true, "reason": "accepted", "message": "...",
                  "display": ["DITERIMA", "Bayar Rp20.000"],
                  "price": 40000, "discount": 20000, "paid": 20000,
                  "seq": 17, "category": "5-12", "eligible_until": "2031-04-30",
                  "flags": []}

``display`` is two lines of at most 20 characters, for a gate board's
screen.  A scan the terminal could not log (a full disk) answers 503 with
``{"error": "...", "message": "..."}``: never accept a card without a record.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import threading
import urllib.parse
from pathlib import Path
from typing import Any, Protocol

SOURCES = ("nfc", "wedge", "serial", "camera", "gate", "screen", "api")
# Larger payloads are refused by the verifier as too_large; the API reads no more.
MAX_PAYLOAD_CHARS = 16_384
DISPLAY_WIDTH = 20
# Written by ``kia verifier serve`` in its home once it is listening.
SERVE_FILE = "serve.json"


class VerifierUnavailable(Exception):
    """The verifier could not decide or could not log the decision: do not open the gate."""


@dataclasses.dataclass(frozen=True)
class ScanOutcome:
    """A committed decision, as a reader needs it."""

    accepted: bool
    reason: str
    message: str
    display: tuple[str, str]
    price: int = 0
    discount: int = 0
    paid: int = 0
    seq: int | None = None
    category: str | None = None
    eligible_until: str | None = None
    flags: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        value = dataclasses.asdict(self)
        value["display"], value["flags"] = list(self.display), list(self.flags)
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ScanOutcome:
        names = {field.name for field in dataclasses.fields(cls)}
        known = {name: value[name] for name in names if name in value}
        known["display"] = tuple(value.get("display") or ("", ""))[:2]
        known["flags"] = tuple(value.get("flags") or ())
        return cls(**known)


class Verifier(Protocol):
    """Anything that decides a scan and commits it before answering."""

    def scan(self, payload: str, source: str) -> ScanOutcome:
        """Raises VerifierUnavailable when there is no committed decision."""
        ...


class LocalVerifierClient:
    """``Verifier`` over the local API of ``kia verifier serve``.

    Keeps one HTTP connection open (a gate answers within milliseconds) and
    opens a new one when the verifier has restarted.  Thread-safe.
    """

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the local verifier's URL is http://HOST:PORT, not {base_url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.path = parts.path.rstrip("/") + "/api/v1/scan"
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_home(cls, home: Path, timeout: float = 5.0) -> LocalVerifierClient:
        """The client for the verifier serving ``home`` (from its serve.json)."""
        try:
            served = json.loads((home / SERVE_FILE).read_text(encoding="utf-8"))
            return cls(str(served["url"]), timeout)
        except (OSError, ValueError, KeyError, TypeError):
            raise VerifierUnavailable(
                f"no verifier is serving {home}: start 'kia verifier serve --home {home}'"
            ) from None

    def scan(self, payload: str, source: str) -> ScanOutcome:
        body = json.dumps({"payload": payload[:MAX_PAYLOAD_CHARS], "source": source})
        with self._lock:
            status, answer = self._post(body)
        try:
            value = json.loads(answer)
        except ValueError:
            raise VerifierUnavailable(f"the verifier answered {status} without JSON") from None
        if status != 200 or not isinstance(value, dict):
            message = value.get("message") if isinstance(value, dict) else None
            raise VerifierUnavailable(str(message or f"the verifier answered {status}"))
        return ScanOutcome.from_json(value)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _post(self, body: str) -> tuple[int, bytes]:
        # A kept-alive connection the verifier closed (it restarted) fails at once:
        # then, and only then, try once more on a new connection.
        reused = self._connection is not None
        for retry in (reused, False):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._connection.request("POST", self.path, body, {"Content-Type": "application/json"})
                response = self._connection.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException) as exc:
                self._connection.close()
                self._connection = None
                if not retry:
                    where = f"{self.host}:{self.port}"
                    raise VerifierUnavailable(f"the verifier at {where} did not answer: {exc}") from None
        raise AssertionError("unreachable")

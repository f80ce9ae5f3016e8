"""The terminal's side of sync (DESIGN section 7, docs/sync-protocol.md).

One round pushes every record the office has not acknowledged, in batches of
at most 500 with a signed checkpoint each, prunes what the office has held
for RETENTION_SECONDS (the chain's base is kept), then pulls the trust list (a delta
when the office keeps one, else the full list) and the partner's rules.  It
is safe to cut anywhere: the log keeps every record until the office
acknowledges it, and the office is idempotent on (terminal, sequence), so a
batch sent twice is counted once.

Each request carries a fresh sync token, dated by the office's clock as last
seen (a terminal whose clock drifted still authenticates, and its decisions
are flagged).  When the terminal's clock jumped since then, the office's 401
carries its clock again (the ``Date`` header), and the request is sent once
more with a token dated by it: the first try after a jump succeeds.  The
office's refusals (a fork, a suspended terminal) are kept for the staff
screen; trust lists are pulled even then, since revocations matter most when
something is wrong.

Pulls are conditional (If-None-Match): an office that has nothing new
answers 304 without reading a list or signing a configuration.

``SyncLoop`` runs rounds in the background of ``kia verifier serve`` with
exponential backoff and jitter, for as long as the terminal is offline, and
spaces idle rounds as the office's poll hint asks.
"""

from __future__ import annotations

import dataclasses
import email.utils
import ipaddress
import json
import logging
import random
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from keys.chain import SYNC_CLOCK_LEEWAY, Checkpoint, sign_checkpoint, sign_sync_token
from keys.errors import InvalidTrustListError, KiaError
from keys.trustlist import apply_delta, verify_trust_list

from .config import ConfigRefused, accept_config
from .decision import ConfigInvalid
from .errors import SetupError, VerifierError
from .terminal import Refusal, Terminal

log = logging.getLogger("kia.verifier.sync")

BATCH_SIZE = 500
# Acknowledged records stay on the terminal this long (for staff and auditors), then go.
RETENTION_SECONDS = 90 * 86400
TIMEOUT = 15.0
JOSE = "application/jose"
# The office may ask idle terminals to sync less often than every minute (docs/sync-protocol.md);
# never less often than hourly, so revocations still reach the counter within the hour.
POLL_AFTER_HEADER = "X-KIA-Poll-After"
MAX_POLL_AFTER = 3600


class OfficeUnreachable(VerifierError):
    """The office did not answer (offline, refused, timed out): try again later."""


class InsecureServer(SetupError):
    """The office's URL is plain HTTP to another machine: anyone on the way could answer for it."""


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a URL's host name, without brackets) names this machine."""
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        """The answer's header ``name``, whatever its case."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return {}


class OfficeClient:
    """HTTPS to the office's service; plain HTTP only to this machine (tests and loopback demos).

    Raises ValueError for a URL that is not HTTP(S), InsecureServer for plain
    HTTP to another host.
    """

    def __init__(self, server: str, timeout: float = TIMEOUT) -> None:
        parts = urllib.parse.urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the office's URL is https://HOST[:PORT], not {server!r}")
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise InsecureServer(f"plain HTTP is allowed only to this machine (127.0.0.1, localhost, [::1]); "
                                 f"use https:// for {parts.hostname}")
        self.server = server.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, path: str, *, body: Any = None, token: str | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json, application/jose", **(headers or {})}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.server + path, data, headers, method=method)  # noqa: S310 (checked scheme)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return Answer(response.status, response.read(), dict(response.headers.items()))
        except urllib.error.HTTPError as error:
            with error:
                return Answer(error.code, error.read(), dict(error.headers.items()))
        except (OSError, ValueError) as exc:
            raise OfficeUnreachable(f"the office at {self.server} did not answer: {_why(exc)}") from None


@dataclasses.dataclass(frozen=True)
class SyncResult:
    pushed: int
    acknowledged: int
    trust_list_seq: int
    config_version: int | None
    refusal: Refusal | None
    poll_after: int | None = None  # the office's hint (X-KIA-Poll-After): seconds between idle rounds


class Sync:
    """One terminal's sync with its office; ``now`` is passed to every round."""

    def __init__(self, terminal: Terminal, client: OfficeClient) -> None:
        self.terminal, self.client = terminal, client
        # The configuration token last taken from the office and its ETag, to ask for it conditionally.
        self._config_tag: tuple[str, str] | None = None
        self._poll_after: int | None = None

    def run(self, now: Callable[[], int]) -> SyncResult:
        """One round: push, then pull.  Raises OfficeUnreachable when offline."""
        self._poll_after = None
        pushed, refusal = self._push(now)
        if refusal is None:
            self.terminal.log.prune(now(), RETENTION_SECONDS)
        self._pull_trust_list(now)
        if refusal is None:
            refusal = self._pull_config(now)
        self.terminal.record_refusal(refusal)
        config = self.terminal.config
        return SyncResult(
            pushed=pushed,
            acknowledged=self.terminal.log.acknowledged(),
            trust_list_seq=self.terminal.trust.seq,
            config_version=config.version if config else None,
            refusal=refusal,
            poll_after=self._poll_after,
        )

    # --- push ----------------------------------------------------------------------

    def _push(self, now: Callable[[], int]) -> tuple[int, Refusal | None]:
        """Send what the office lacks; the number of records sent and any refusal."""
        log_ = self.terminal.log
        pushed = 0
        while records := log_.pending(BATCH_SIZE):
            last = records[-1].seq
            checkpoint = sign_checkpoint(
                Checkpoint(self.terminal.identity.terminal_id, last, log_.hash_at(last), now()),
                self.terminal.key, self.terminal.kid,
            )
            log_.store_checkpoint(last, checkpoint, now())
            answer = self._call("POST", "/api/v1/sync", now,
                                body={"records": [record.to_json() for record in records], "checkpoint": checkpoint})
            body = answer.json()
            acknowledges = answer.status == 200 or (answer.status == 409 and body.get("error") == "gap")
            if acknowledges and int(body["acknowledged"]) > log_.head()[0]:
                # The office holds records this log never wrote: a replaced or restored log.
                return pushed, Refusal("ahead_of_log", "the office holds more records than this terminal's "
                                       "log; keep the log and call the office", now())
            if answer.status == 200:
                before = log_.acknowledged()
                log_.acknowledge(int(body["acknowledged"]))
                pushed += len(records)
                if log_.acknowledged() > before:
                    continue
                return pushed, Refusal("not_acknowledged", "the office stored the batch but acknowledged nothing new",
                                       now())
            if answer.status == 409 and body.get("error") == "gap" and log_.acknowledged() < body["acknowledged"]:
                # The office holds more than we knew (an answer lost on the way): move on from there.
                log_.acknowledge(int(body["acknowledged"]))
                continue
            return pushed, self._refusal(answer, now())
        return pushed, None

    # --- pull ------------------------------------------------------------------------

    def _pull_trust_list(self, now: Callable[[], int]) -> None:
        """Bring the trust list up to the office's, asking for the second form (docs/adr/0002).

        Either form verifies (keys.trustlist tells them by typ) and the token
        verified is stored as it came; an office that does not know ``form``
        answers 400, and is asked again without it.
        """
        held = self.terminal.trust
        root = self.terminal.home.root_key()
        # The list held, in either form, is current when it is the office's latest.
        tags = f'"tl2-{held.seq}", "tl-{held.seq}"'
        answer = self._get_trust_list(f"?since={held.seq}", now, {"If-None-Match": tags})
        if answer.status in (204, 304):  # the list held is the office's latest
            return
        try:
            if answer.status == 200 and "X-KIA-Delta-From" in answer.headers:
                token = answer.body.decode("ascii")
                trust = apply_delta(held, token, root, now(), accept_expired=True)
                self.terminal.home.save_delta(trust.seq, token)
            else:
                if answer.status not in (200, 404):
                    raise OfficeUnreachable(f"the office answered {answer.status} for the trust list")
                if answer.status == 404:  # no delta kept from our sequence: the full list
                    answer = self._get_trust_list("", now, None)
                    if answer.status != 200:
                        raise OfficeUnreachable(f"the office answered {answer.status} for the trust list")
                token = answer.body.decode("ascii")
                trust = verify_trust_list(token, root, now(), accept_expired=True, min_seq=held.seq)
                self.terminal.home.save_full_trust_list(token)
        except (InvalidTrustListError, UnicodeDecodeError) as exc:
            # Never take a list that does not verify; keep deciding on the one held.
            log.error("refused the office's trust list: %s", exc)
            return
        self.terminal.replace_trust(trust)
        log.info("trust list now at sequence %d (%d revoked serials)", trust.seq, len(trust.revoked))

    def _get_trust_list(self, query: str, now: Callable[[], int], headers: dict[str, str] | None) -> Answer:
        """GET the trust list with ``query`` (``?since=N`` or empty) in the second form, or the first from an
        office that does not know the second (400)."""
        joined = f"{query}&form=2" if query else "?form=2"
        answer = self._call("GET", f"/api/v1/trustlist{joined}", now, authenticated=False, headers=headers)
        if answer.status == 400:
            answer = self._call("GET", f"/api/v1/trustlist{query}", now, authenticated=False, headers=headers)
        return answer

    def _pull_config(self, now: Callable[[], int]) -> Refusal | None:
        held = self._config_tag  # asked for conditionally only while the home still holds that token
        conditional = held is not None and self.terminal.home.config_token() == held[0]
        answer = self._call("GET", "/api/v1/terminals/config", now,
                            headers={"If-None-Match": held[1]} if held and conditional else None)
        if answer.status == 304:  # the configuration held is current: nothing was signed, nothing changes
            return None
        if answer.status != 200:
            return self._refusal(answer, now())
        try:
            config = accept_config(answer.body.decode("ascii"), self.terminal.trust,
                                   self.terminal.identity.terminal_id, now(), self.terminal.config)
        except ConfigRefused as exc:
            # A replayed or expired configuration: keep the held one and tell staff.
            log.error("refused the office's terminal configuration: %s", exc)
            return Refusal(exc.code, str(exc), now())
        except (ConfigInvalid, UnicodeDecodeError) as exc:
            log.error("refused the office's terminal configuration: %s", exc)
            return None
        token = answer.body.decode("ascii")
        self.terminal.home.save_config(token)
        self.terminal.replace_config(config)
        tag = answer.header("ETag")
        self._config_tag = None if tag is None else (token, tag)
        return None

    # --- the wire ---------------------------------------------------------------------

    def _call(self, method: str, path: str, now: Callable[[], int], *, body: Any = None,
              authenticated: bool = True, headers: dict[str, str] | None = None) -> Answer:
        if not authenticated:
            return self._send(method, path, now, body, None, headers)
        offset = self.terminal.clock().offset
        answer = self._send(method, path, now, body, self._token(now()), headers)
        if answer.status == 401 and abs(self.terminal.clock().offset - offset) > SYNC_CLOCK_LEEWAY:
            # The terminal's clock jumped since it last saw the office's: the token was dated by a
            # stale offset.  The refusal's Date gave the office's clock again; date a new token by it.
            answer = self._send(method, path, now, body, self._token(now()), headers)
        return answer

    def _send(self, method: str, path: str, now: Callable[[], int], body: Any, token: str | None,
              headers: dict[str, str] | None) -> Answer:
        answer = self.client.request(method, path, body=body, token=token, headers=headers)
        if "Date" in answer.headers:
            server_time = email.utils.parsedate_to_datetime(answer.headers["Date"]).timestamp()
            self.terminal.record_contact(int(server_time), now())
        hint = answer.header(POLL_AFTER_HEADER)
        if hint is not None and hint.isdigit() and len(hint) <= 9:
            self._poll_after = int(hint)
        return answer

    def _token(self, now: int) -> str:
        identity = self.terminal.identity
        server_now = now + self.terminal.clock().offset
        return sign_sync_token(identity.terminal_id, identity.audience, self.terminal.key, self.terminal.kid,
                               server_now)

    @staticmethod
    def _refusal(answer: Answer, now: int) -> Refusal:
        body = answer.json()
        code = body.get("error") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        return Refusal(str(code or f"http_{answer.status}"), str(message or f"the office answered {answer.status}"),
                       now)


class SyncLoop:
    """Sync in the background: soon after start, then every ``interval``; on
    failure, wait ``interval·2^n`` (at most ``ceiling``) with jitter, forever.

    While nothing waits to be pushed, rounds are spaced as the office's poll
    hint asks (``X-KIA-Poll-After``, never closer than ``interval``, never
    further than MAX_POLL_AFTER); the loop still looks every ``interval``, and
    a record waiting to be pushed makes the round due at once.
    """

    def __init__(self, sync: Sync, now: Callable[[], int], *, interval: float = 60.0, ceiling: float = 900.0,
                 rng: random.Random | None = None) -> None:
        self.sync, self.now = sync, now
        self.interval, self.ceiling = interval, ceiling
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not secrecy)
        self.failures = 0
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.rounds = 0
        self.last_error: str | None = None
        self.last_round_at: int | None = None
        self.poll_after: int | None = None  # the office's hint at the last round that reached it
        self._thread: threading.Thread | None = None
        self._one_at_a_time = threading.Lock()

    def delay(self) -> float:
        """Seconds until the loop looks again: ``interval`` when well, backoff with equal jitter when not."""
        if self.failures == 0:
            return self.interval
        backoff = min(self.ceiling, self.interval * 2 ** min(self.failures, 20))
        return float(backoff / 2 + self.rng.uniform(0, backoff / 2))

    def idle_interval(self) -> float:
        """Seconds between rounds while nothing waits to be pushed: the office's hint, within bounds."""
        if self.poll_after is None:
            return self.interval
        return min(max(self.interval, float(self.poll_after)), max(self.interval, float(MAX_POLL_AFTER)))

    def due(self, now: int) -> bool:
        """Whether a round should run at ``now``: the first, after a failure, with records to push, or once
        the idle interval has passed since the last round."""
        if self.last_round_at is None or self.failures:
            return True
        if now - self.last_round_at >= self.idle_interval():
            return True
        return bool(self.sync.terminal.log.pending(1))

    def round(self) -> SyncResult | None:
        """One round now (the loop's, or staff pressing "sync"); None when it failed."""
        with self._one_at_a_time:
            return self._round()

    def _round(self) -> SyncResult | None:
        result = None
        try:
            result = self.sync.run(self.now)
        except OfficeUnreachable as exc:
            self.failures += 1
            self.last_error = str(exc)
            log.warning("%s; next try in about %.0f s", exc, self.delay())
        except KiaError as exc:
            self.failures += 1
            self.last_error = str(exc)
            log.error("sync failed: %s", exc)
        else:
            self.failures, self.last_error = 0, None
            self.poll_after = result.poll_after
            if result.refusal:
                log.warning("the office refused: %s (%s)", result.refusal.code, result.refusal.message)
        finally:
            self.rounds += 1
            self.last_round_at = self.now()
        return result

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kia-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=TIMEOUT + 5)

    def _run(self) -> None:
        while not self.stopping.is_set():
            if self.due(self.now()):
                self.round()
            self.wake.wait(self.delay())
            self.wake.clear()


def _why(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__

"""A running terminal: decides scans, commits them, and knows its own state.

``Terminal`` joins the pure decision (verifier/decision.py) to the durable
log (verifier/log.py): a scan is decided and committed while the log holds
its lock (``decide_and_append``), so two readers scanning the same card at
once cannot both pass the daily limit or the anti-passback window, and
nothing is shown before it is in the log.  The sync loop swaps in a newer
trust list or configuration under the terminal's own lock, and so does
``reload_if_changed`` when another process (a hand-run ``kia verifier
sync``) has put newer ones in the home.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import TrustList
from keys.chain import Redemption
from keys.eligibility import WIB, region_timezone
from keys.errors import KiaError

from .config import TerminalConfig, verify_config
from .decision import Decision, TerminalClock, decide
from .federation import TerminalFederation
from .home import Fingerprint, Identity, TerminalHome
from .log import DaySummary, TerminalLog

log = logging.getLogger("kia.verifier")

# A terminal that has not reached the office for this long shows a banner.
OFFLINE_WARNING_SECONDS = 3 * 24 * 3600

# Names in the log's meta table.
LAST_SERVER_TIME, CLOCK_OFFSET, LAST_CONTACT = "last_server_time", "clock_offset", "last_contact"
REFUSAL = "refusal"


@dataclasses.dataclass(frozen=True)
class Refusal:
    """The office refused the terminal's sync, or the terminal refused what the office sent
    (older or expired rules): what staff must know and do."""

    code: str
    message: str
    at: int

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Status:
    """What the staff screen shows besides the last decision."""

    terminal_id: str
    partner: str | None
    service: str | None
    trust_list_seq: int
    trust_list_expires_at: int
    config_version: int | None  # the partner's signed rules held, None before the first
    stale: bool
    last_contact: int
    offline_long: bool
    clock_skew: bool
    mou_until: dt.date | None
    mou_expired: bool
    refusal: Refusal | None
    pending: int
    today: DaySummary
    recent: list[Redemption]
    zone: dt.tzinfo


class Terminal:
    def __init__(
        self,
        home: TerminalHome,
        identity: Identity,
        key: Ed25519PrivateKey,
        log: TerminalLog,
        trust: TrustList,
        config: TerminalConfig | None,
        service_code: str | None = None,
        loaded: Fingerprint = (),
        federation: TerminalFederation | None = None,
    ) -> None:
        self.home, self.identity, self.key, self.log = home, identity, key, log
        self.kid = home.key_id(key)
        self.trust, self.config = trust, config
        self.service_code = service_code
        self.lock = threading.Lock()
        self._clock: TerminalClock | None = None
        # The home's files as they were when trust and config were last read from them.
        self._loaded = loaded
        # Other offices' lists under the national directory (verifier/federation.py); none held: own list alone.
        self.federation = federation or TerminalFederation(home)

    @classmethod
    def open(
        cls, home: TerminalHome, key: Ed25519PrivateKey, now: int, service_code: str | None = None
    ) -> Terminal:
        """Load everything from the home, verifying each signature again.

        Raises HomeError, InvalidTrustListError, ConfigInvalid or LogCorrupt.
        """
        identity = home.require()
        home.make_private()  # whatever a person or an older version left readable
        # Taken before reading, so a change while reading is seen by reload_if_changed.
        loaded = home.trust_fingerprint()
        trust, config = _load(home, identity, now)
        federation = TerminalFederation(home)
        federation.reload_if_changed(now)
        log = TerminalLog.open(home.log_path, _zone(config))
        return cls(home, identity, key, log, trust, config, service_code, loaded, federation)

    # --- scanning --------------------------------------------------------------------

    def scan(self, payload: str | bytes, now: int) -> tuple[Decision, Redemption]:
        """Decide ``payload`` and commit the decision; raises LogUnavailable if it cannot be logged."""
        with self.lock:
            trust, config = self.trust, self.config
        service = config.service(self.service_code) if config else None
        clock = self.clock()
        deciding = self.federation.trust(trust, now)  # the own list itself unless a directory is held
        # The log holds its lock from the history lookup to the commit.
        return self.log.decide_and_append(lambda history: decide(payload, deciding, service, history, now, clock),
                                          now)

    def clock(self) -> TerminalClock:
        """The office's clock as last seen: kept in memory, read from the log once."""
        if self._clock is None:
            server_time = self.log.get_meta(LAST_SERVER_TIME)
            self._clock = TerminalClock(int(server_time) if server_time else None,
                                        int(self.log.get_meta(CLOCK_OFFSET) or 0))
        return self._clock

    # --- what sync changes ---------------------------------------------------------------

    def replace_trust(self, trust: TrustList) -> None:
        with self.lock:
            self.trust = trust

    def replace_config(self, config: TerminalConfig) -> None:
        """Take ``config`` unless it is older than the one held (verifier.config.accept_config refuses those)."""
        with self.lock:
            if self.config is None or config.version >= self.config.version:
                self.config = config

    def reload_if_changed(self, now: int) -> bool:
        """Take the home's trust list and rules when they changed on disk and are newer than those held,
        and the federation's files (verifier/federation.py) when they changed.

        Costs a few ``stat`` calls when nothing changed; the scan path never
        reads a file.  A list or configuration that no longer verifies is
        refused (logged) and the terminal keeps deciding on what it holds.
        True when something newer was taken.
        """
        federated = self.federation.reload_if_changed(now)
        fingerprint = self.home.trust_fingerprint()
        if fingerprint == self._loaded:
            return federated
        self._loaded = fingerprint
        try:
            trust, config = _load(self.home, self.identity, now)
        except KiaError as exc:
            # Often a sync caught half-way (a new full list beside old deltas): the next change retries.
            log.warning("kept the trust list and rules held: the home's do not verify now (%s)", exc)
            return federated
        taken = False
        with self.lock:
            if trust.seq > self.trust.seq:
                self.trust, taken = trust, True
            if config is not None and (self.config is None or config.version > self.config.version):
                self.config, taken = config, True
        # Whoever synced also saw the office's clock: read it again from the log.
        self._clock = None
        if taken:
            log.info("took the home's trust list (sequence %d) and rules (version %s)", trust.seq,
                     config.version if config else None)
        return taken or federated

    def record_contact(self, server_time: int, now: int) -> None:
        """The office answered: remember its clock, to flag a skewed terminal clock."""
        clock = TerminalClock.measured(server_time, now)
        self.log.set_meta(LAST_SERVER_TIME, str(server_time))
        self.log.set_meta(CLOCK_OFFSET, str(clock.offset))
        self.log.set_meta(LAST_CONTACT, str(now))
        self._clock = clock

    def record_refusal(self, refusal: Refusal | None) -> None:
        self.log.set_meta(REFUSAL, json.dumps(refusal.to_json()) if refusal else "")

    def refusal(self) -> Refusal | None:
        value = self.log.get_meta(REFUSAL)
        return Refusal(**json.loads(value)) if value else None

    # --- the staff screen ------------------------------------------------------------------

    def status(self, now: int) -> Status:
        with self.lock:
            trust, config = self.trust, self.config
        contact = self.log.get_meta(LAST_CONTACT)
        # Enrolment was the first contact with the office.
        last_contact = int(contact) if contact else self.identity.enrolled_at
        service = config.service(self.service_code) if config else None
        today = dt.datetime.fromtimestamp(now, _zone(config)).date()
        return Status(
            terminal_id=self.identity.terminal_id,
            partner=config.partner_name if config else None,
            service=service.name if service else None,
            trust_list_seq=trust.seq,
            trust_list_expires_at=trust.expires_at,
            config_version=config.version if config else None,
            stale=trust.is_expired(now),
            last_contact=last_contact,
            offline_long=now - last_contact > OFFLINE_WARNING_SECONDS,
            clock_skew=self.clock().is_skewed(now),
            mou_until=config.mou_until if config else None,
            mou_expired=config is not None and config.mou_until < today,
            refusal=self.refusal(),
            pending=self.log.head()[0] - self.log.acknowledged(),
            today=self.log.today(now),
            recent=self.log.recent(10),
            zone=_zone(config),
        )

    def close(self) -> None:
        self.log.close()


def _load(home: TerminalHome, identity: Identity, now: int) -> tuple[TrustList, TerminalConfig | None]:
    """The home's trust list and rules, every signature checked again."""
    trust = home.load_trust_list(now)
    token = home.config_token()
    return trust, verify_config(token, trust, identity.terminal_id) if token else None


def _zone(config: TerminalConfig | None) -> dt.tzinfo:
    """The partner's local time zone: its day is the one the daily limit counts."""
    return region_timezone(config.region) if config and config.region else WIB

"""The bridge's side of one conversation with a gate board.

Transport-free: the TCP server and the serial line feed it bytes
(``receive``) and call ``tick`` when the line is quiet; it answers through
``send``.  It keeps a gate safe whatever arrives:

* a SCAN before HELLO is refused (NAK HELLO_REQUIRED): every decision in the
  log names its gate;
* a SCAN sent again with the same SEQ and bytes (the board did not hear the
  answer) gets the same answer again, without asking the verifier twice, so
  a retransmission never counts as a second visit;
* anything the verifier cannot decide is a DENY ("VERIFIKASI GAGAL");
* damaged frames get a NAK, noise is skipped, a partial frame is dropped when
  the line has been quiet for INTER_BYTE_TIMEOUT, and the log says so without
  drowning (one line per kind every 10 s; the rest at DEBUG).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from .. import events
from ..dispatch import NOT_A_CARD, Dispatcher, Verdict
from ..errors import FrameError, HelloRequired, NotACard, UnknownType
from ..payload import payload_from_ndef
from ..throttle import Throttle
from . import protocol
from .protocol import Decision, Frame, Heartbeat, HeartbeatAck, Hello, HelloAck, Nak, NakReason, Scan, ScanKind

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class GateSettings:
    """What a gate reader tells its boards."""

    pulse_ms: int = 1000  # how long an ACCEPT pulses the turnstile's relay
    heartbeat_ms: int = 5000  # a board sends a HEARTBEAT this often when idle
    silent_after: int = 3  # heartbeats missed before the board counts as gone

    @property
    def silence_limit(self) -> float:
        return self.silent_after * self.heartbeat_ms / 1000


class GateSession:
    """One board's conversation.  Not thread-safe: one transport thread drives it."""

    def __init__(
        self,
        name: str,
        dispatcher: Dispatcher,
        send: Callable[[bytes], object],
        settings: GateSettings | None = None,
        *,
        peer: str = "",
        on_hello: Callable[[GateSession], None] | None = None,
        latency: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name  # the reader's name: its events carry it
        self.peer = peer  # where the board is, for the log
        self.dispatcher = dispatcher
        self.settings = settings or GateSettings()
        self.board_id: str | None = None
        self.firmware = ""
        self._send = send
        self._on_hello = on_hello
        self._latency = latency
        self._clock = clock
        self._decoder = protocol.FrameDecoder()
        self._last_heard = self._last_byte = clock()
        self._last_scan: tuple[int, bytes, bytes] | None = None  # seq, scan payload, answer frame
        self._errors = 0
        self._reported_noise = 0
        self._silent = False
        self._throttle = Throttle(clock=clock)

    @property
    def label(self) -> str:
        where = f"{self.name} {self.peer}".rstrip()
        return f"{where} board {self.board_id}" if self.board_id else where

    def receive(self, data: bytes) -> None:
        """Bytes from the board.  Raises OSError only when answering fails (the link is gone)."""
        received_at = self._last_byte = self._clock()
        for item in self._decoder.feed(data):
            self._handle(item, received_at)
        self._report_noise()

    def tick(self) -> bool:
        """Call when the line is quiet.  False once the board has been silent too long."""
        now = self._clock()
        if self._decoder.pending and now - self._last_byte >= protocol.INTER_BYTE_TIMEOUT:
            for item in self._decoder.expire():
                self._handle(item, now)
            self._report_noise()
        silent = now - self._last_heard > self.settings.silence_limit
        if silent and not self._silent:
            log.warning("%s: silent for %.1f s (no heartbeat)", self.label, now - self._last_heard)
        self._silent = silent
        return not silent

    # --- frames ------------------------------------------------------------------

    def _handle(self, item: Frame | FrameError, received_at: float) -> None:
        if isinstance(item, FrameError):
            self._refuse(item)
            return
        try:
            message = protocol.parse_message(item)
            if isinstance(message, Hello):
                self._hello(item.seq, message)
            elif isinstance(message, Heartbeat):
                self._heard()
                self.dispatcher.events.emit(self.name, events.HEARTBEAT, self.board_id or "")
                self._reply(HeartbeatAck(), item.seq)
            elif isinstance(message, Scan):
                self._scan(item.seq, message, received_at)
            else:
                raise UnknownType(f"a board does not send {type(message).__name__}", item.seq)
        except FrameError as error:
            self._refuse(error)

    def _hello(self, seq: int, hello: Hello) -> None:
        self._heard()
        if hello.board_id != self.board_id:
            log.info("%s: board %s (firmware %s) says hello", self.label, hello.board_id, hello.firmware or "?")
        self.board_id, self.firmware = hello.board_id, hello.firmware
        self._last_scan = None
        # Everything before the answer: once a board holds its HELLO_ACK, the hello is
        # recorded and an older connection under its id is gone, so this session can
        # never be mistaken for the older one.
        self.dispatcher.events.emit(self.name, events.HELLO, hello.board_id)
        if self._on_hello is not None:
            self._on_hello(self)
        self._reply(HelloAck(self.settings.heartbeat_ms), seq)

    def _scan(self, seq: int, scan: Scan, received_at: float) -> None:
        if self.board_id is None:
            raise HelloRequired("a board sends HELLO before its first SCAN", seq)
        self._heard()
        key = bytes([scan.kind]) + scan.data
        if self._last_scan is not None and self._last_scan[:2] == (seq, key):
            log.info("%s: SCAN %d sent again: same answer, not decided twice", self.label, seq)
            self._send(self._last_scan[2])
            return
        verdict = self._decide(scan)
        answer = protocol.encode(
            Decision(verdict.accepted, verdict.display[0], verdict.display[1],
                     self.settings.pulse_ms if verdict.accepted else 0),
            seq,
        )
        self._last_scan = (seq, key, answer)
        self._send(answer)
        if self._latency is not None:
            self._latency(self._clock() - received_at)

    def _decide(self, scan: Scan) -> Verdict:
        if scan.kind == ScanKind.NDEF:
            try:
                payload = payload_from_ndef(scan.data)
            except NotACard as exc:
                self.dispatcher.ignore(self.name, str(exc), self.label)
                return NOT_A_CARD
        else:
            payload = scan.data.decode("ascii", errors="replace").strip()
        return self.dispatcher.submit(payload, "gate", self.name, self.label)

    # --- answers -----------------------------------------------------------------

    def _reply(self, message: protocol.Message, seq: int) -> None:
        self._send(protocol.encode(message, seq))

    def _refuse(self, error: FrameError) -> None:
        self._errors += 1
        self._throttle.log(log, logging.WARNING, "refused", "%s: frame refused (%s, %d so far): %s",
                           self.label, type(error).__name__, self._errors, error)
        self.dispatcher.events.emit(self.name, events.FRAME_ERROR, type(error).__name__)
        self._reply(Nak(NakReason(error.nak)), error.seq if error.seq is not None else 0)

    def _heard(self) -> None:
        if self._silent:
            log.info("%s: heard again", self.label)
        self._last_heard = self._clock()
        self._silent = False

    def _report_noise(self) -> None:
        dropped = self._decoder.dropped
        if dropped > self._reported_noise:
            self._throttle.log(log, logging.INFO, "noise", "%s: skipped %d bytes of noise (%d in all)", self.label,
                               dropped - self._reported_noise, dropped)
            self._reported_noise = dropped

"""The bridge's side of one conversation with a gate board.

Transport-free: the TCP server and the serial line feed it bytes
(``receive``) and call ``tick`` when the line is quiet; it answers through
``send``, and sets ``ended`` when the line must be closed.  It keeps a gate
safe whatever arrives:

* protocol v2 (the default): nothing but a HELLO from a board whose key the
  bridge holds is taken first; anything else ends the session.  The bridge
  answers with a sealed HELLO_ACK (``auth``), and the board is *admitted*
  (its id held, its slot taken, an older connection under its id replaced)
  only when its first sealed frame verifies.  From then on every frame must
  be the session's next sealed frame: a forged, altered, replayed or
  reordered one ends the session (NAK AUTH_FAILED, then the line closes);
* protocol v1 (``--gate-protocol-v1-insecure`` only): a HELLO is taken on
  its word, as before; a SCAN before it is refused (NAK HELLO_REQUIRED);
* a SCAN sent again with the same SEQ and content (the board did not hear
  the answer) gets the same answer again, without asking the verifier twice,
  so a retransmission never counts as a second visit (in v2 the copy is a
  new sealed frame, and so is the answer);
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
from ..errors import (
    BadCrc,
    FrameError,
    FrameTooLarge,
    HelloRequired,
    NotACard,
    Truncated,
    UnknownType,
    UnsupportedVersion,
)
from ..payload import payload_from_ndef
from ..throttle import Throttle
from . import auth, protocol
from .auth import AuthFailed, Channel, UnknownBoard
from .keyfile import BoardKeys
from .protocol import (
    Decision,
    Frame,
    FrameType,
    Heartbeat,
    HeartbeatAck,
    Hello,
    HelloAck,
    Nak,
    NakReason,
    Scan,
    ScanKind,
)

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class GateSettings:
    """What a gate reader tells its boards."""

    pulse_ms: int = 1000  # how long an ACCEPT pulses the turnstile's relay
    heartbeat_ms: int = 5000  # a board sends a HEARTBEAT this often when idle
    silent_after: int = 3  # heartbeats missed before the board counts as gone
    keys: BoardKeys | None = None  # v2: the boards this bridge holds keys for (None: no board is admitted)
    insecure_v1: bool = False  # speak protocol v1: no authentication at all (--gate-protocol-v1-insecure)
    handshake_timeout: float = 5.0  # seconds a TCP connection has to be admitted before it is closed

    @property
    def version(self) -> int:
        return protocol.VERSION_1 if self.insecure_v1 else protocol.VERSION

    @property
    def silence_limit(self) -> float:
        return self.silent_after * self.heartbeat_ms / 1000


# Refusals that line noise can cause: a board is NAKed and may resend.  Any other refusal
# before a v2 board is admitted ends the session (a stranger gets no second try on a line).
DAMAGED = (BadCrc, FrameTooLarge, Truncated)


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
        on_admitted: Callable[[GateSession], bool] | None = None,
        latency: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name  # the reader's name: its events carry it
        self.peer = peer  # where the board is, for the log
        self.dispatcher = dispatcher
        self.settings = settings or GateSettings()
        self.board_id: str | None = None  # in v2 only claimed until the board is admitted
        self.firmware = ""
        self.admitted = False  # v2: the board proved its key; v1: it said HELLO
        self.ended: str | None = None  # why the line must be closed, once it must
        self._send = send
        self._on_admitted = on_admitted
        self._latency = latency
        self._clock = clock
        self._decoder = protocol.FrameDecoder()
        self._channel: Channel | None = None  # v2, from the HELLO_ACK on
        self._last_hello: tuple[int, bytes, bytes] | None = None  # seq, HELLO payload, answer frame
        self._last_scan: tuple[int, bytes, Decision] | None = None  # seq, scan payload, answer
        self._last_heard = self._last_byte = clock()
        self._errors = 0
        self._reported_noise = 0
        self._silent = False
        self._throttle = Throttle(clock=clock)

    @property
    def version(self) -> int:
        return self.settings.version

    @property
    def label(self) -> str:
        where = f"{self.name} {self.peer}".rstrip()
        if self.board_id is None:
            return where
        return f"{where} board {self.board_id}" + ("" if self.admitted else " (not admitted)")

    def receive(self, data: bytes) -> None:
        """Bytes from the board.  Raises OSError only when answering fails (the link is gone)."""
        received_at = self._last_byte = self._clock()
        for item in self._decoder.feed(data):
            if self.ended is not None:
                break  # nothing more is read on a line being closed
            self._handle(item, received_at)
        self._report_noise()

    def tick(self) -> bool:
        """Call when the line is quiet.  False once the board has been silent too long."""
        now = self._clock()
        if self._decoder.pending and now - self._last_byte >= protocol.INTER_BYTE_TIMEOUT:
            for item in self._decoder.expire():
                if self.ended is None:
                    self._handle(item, now)
            self._report_noise()
        silent = now - self._last_heard > self.settings.silence_limit
        if silent and not self._silent:
            log.warning("%s: silent for %.1f s (no heartbeat)", self.label, now - self._last_heard)
        self._silent = silent
        return not silent

    # --- frames ------------------------------------------------------------------

    def _handle(self, item: Frame | FrameError, received_at: float) -> None:
        try:
            if isinstance(item, FrameError):
                raise item
            if item.version != self.version:
                raise UnsupportedVersion(
                    f"protocol version {item.version}; this bridge speaks {self.version}", item.seq)
            if item.type == FrameType.HELLO:
                self._hello(item)
                return
            frame = self._open(item)
            message = protocol.parse_message(frame)
            if isinstance(message, Heartbeat):
                self._heard()
                self.dispatcher.events.emit(self.name, events.HEARTBEAT, self.board_id or "")
                self._reply(HeartbeatAck(), frame.seq)
            elif isinstance(message, Scan):
                self._scan(frame.seq, message, received_at)
            else:
                raise UnknownType(f"a board does not send {type(message).__name__}", frame.seq)
        except FrameError as error:
            if self._ends_session(error):
                self._end(error)
            else:
                self._refuse(error)

    def _ends_session(self, error: FrameError) -> bool:
        if isinstance(error, AuthFailed | UnknownBoard):
            return True
        return self.version >= 2 and not self.admitted and not isinstance(error, DAMAGED)

    def _open(self, frame: Frame) -> Frame:
        """A frame after HELLO: v2 opens it (and admits the board at its first), v1 takes it as it is."""
        if self.version < 2:
            if self.board_id is None and frame.type == FrameType.SCAN:
                raise HelloRequired("a board sends HELLO before its first SCAN", frame.seq)
            return frame
        if self._channel is None:
            raise HelloRequired("a board sends HELLO before anything else", frame.seq)
        opened = self._channel.open(frame)
        if not self.admitted:
            self._admit()
        return opened

    def _hello(self, frame: Frame) -> None:
        hello = protocol.parse_message(frame)
        assert isinstance(hello, Hello)
        if self._last_hello is not None and self._last_hello[:2] == (frame.seq, frame.payload):
            log.info("%s: HELLO %d sent again: same answer", self.label, frame.seq)
            self._send(self._last_hello[2])  # a new nonce would leave the board with another session key
            return
        if self.admitted:
            log.info("%s: says HELLO again: its session ends, a new one begins", self.label)
        self.board_id, self.firmware = hello.board_id, hello.firmware
        self.admitted, self._channel, self._last_scan = False, None, None
        self._heard()
        if self.version < 2:
            log.warning("%s: protocol v1, NOT AUTHENTICATED: anyone on the gate network can pose as this board",
                        self.label)
            self._admit()
            answer = protocol.encode(HelloAck(self.settings.heartbeat_ms, protocol.VERSION_1), frame.seq,
                                     protocol.VERSION_1)
        else:
            key = self.settings.keys.key_for(hello.board_id) if self.settings.keys is not None else None
            if key is None:
                raise UnknownBoard(f"board {hello.board_id} has no key in this bridge's board key file", frame.seq)
            log.info("%s: says hello (firmware %s); waiting for its proof", self.label, hello.firmware or "?")
            ack = HelloAck(self.settings.heartbeat_ms, nonce=auth.new_nonce())
            self._channel, answer = auth.answer_hello(key, hello.board_id, hello.nonce, ack, frame.seq)
        self._last_hello = (frame.seq, frame.payload, answer)
        self._send(answer)

    def _admit(self) -> None:
        """The board takes its slot (v2: it proved its key).  Everything before the answer, so once a
        board holds its answer an older connection under its id is gone."""
        self.admitted = True
        if self._on_admitted is not None and not self._on_admitted(self):
            self.admitted = False
            raise AuthFailed("no free slot for another board on this gate reader", None)
        log.info("%s: admitted (firmware %s)", self.label, self.firmware or "?")
        self.dispatcher.events.emit(self.name, events.HELLO, self.board_id or "")

    def _scan(self, seq: int, scan: Scan, received_at: float) -> None:
        self._heard()
        key = bytes([scan.kind]) + scan.data
        if self._last_scan is not None and self._last_scan[:2] == (seq, key):
            log.info("%s: SCAN %d sent again: same answer, not decided twice", self.label, seq)
            self._reply(self._last_scan[2], seq)
            return
        verdict = self._decide(scan)
        answer = Decision(verdict.accepted, verdict.display[0], verdict.display[1],
                          self.settings.pulse_ms if verdict.accepted else 0)
        self._last_scan = (seq, key, answer)
        self._reply(answer, seq)
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
        """Sealed once a v2 session has its key; plain before, and in v1."""
        if self._channel is not None:
            self._send(self._channel.seal(message, seq))
        else:
            self._send(protocol.encode(message, seq, self.version))

    def _refuse(self, error: FrameError) -> None:
        self._errors += 1
        self._throttle.log(log, logging.WARNING, "refused", "%s: frame refused (%s, %d so far): %s",
                           self.label, type(error).__name__, self._errors, error)
        self.dispatcher.events.emit(self.name, events.FRAME_ERROR, type(error).__name__)
        self._reply(Nak(NakReason(error.nak), self.version), error.seq if error.seq is not None else 0)

    def _end(self, error: FrameError) -> None:
        """A plain NAK saying why, then the line closes: the board starts again with HELLO."""
        self._errors += 1
        self._throttle.log(log, logging.WARNING, "ended", "%s: session ended (%s): %s",
                           self.label, type(error).__name__, error)
        self.dispatcher.events.emit(self.name, events.FRAME_ERROR, type(error).__name__)
        self.ended = f"{type(error).__name__}: {error}"
        self.admitted, self._channel = False, None
        self._send(protocol.encode(Nak(NakReason(error.nak), self.version),
                                   error.seq if error.seq is not None else 0, self.version))

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

"""A reference gate board in Python: what firmware should do, runnable against a bridge.

Firmware developers can read this next to docs/gate-protocol.md, run it
against ``kia bridge run --reader gate:...`` (``kia bridge simulate board``),
and compare their board's bytes with it.  The tests drive the bridge with it.

What a board does (section "Board behaviour" of the specification):

* protocol v2: holds its board key (provisioned at installation); says HELLO
  with a fresh nonce, takes the HELLO_ACK only if it is sealed under the
  session key of both nonces (so only a bridge holding the key can answer),
  proves its own key at once with a sealed HEARTBEAT, and from then on
  seals every frame and takes only the bridge's next sealed frame: anything
  forged, replayed or altered ends the session (the board reconnects);
* protocol v1 (``insecure_v1``, for old bridges only): no keys, plain frames;
* numbers every frame it starts with the next SEQ (mod 256); a resent frame
  keeps its SEQ (and in v2 is sealed again under the next counter), and an
  answer counts only if it carries that SEQ;
* says HELLO first, and again whenever answered NAK HELLO_REQUIRED (the
  bridge restarted), then resends the frame that was refused;
* waits ``answer_timeout`` seconds for an answer and resends the same frame
  up to ``retries`` times, at once after NAK BAD_CRC or TOO_LARGE;
* sends a HEARTBEAT when idle for the interval the HELLO_ACK gave, and
  reconnects when an answer never comes or the connection drops, waiting
  1 s, then 2, 4... up to 30 s between attempts;
* pulses the relay only on ACCEPT (in v2: one whose MAC verified in its own
  session), for the milliseconds it says, and never opens on anything else
  (a DENY, a NAK, a timeout, a frame that does not verify).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

import serial

from ..errors import BridgeError, FrameError
from . import auth, protocol
from .auth import AuthFailed, Channel
from .protocol import (
    Decision,
    Frame,
    FrameDecoder,
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

ANSWER_TIMEOUT = 2.0
RETRIES = 2


class BoardError(BridgeError):
    """The bridge refused a frame for good, or never answered it."""


class NoAnswer(BoardError):
    """No answer with the frame's SEQ came back, after every retry."""


class BridgeNotAuthenticated(BoardError):
    """A frame from the bridge did not verify in this board's session: forged, replayed or altered."""


class SessionEnded(BoardError):
    """The bridge ended the session (a plain NAK in a v2 session): say HELLO again (over TCP: reconnect)."""

    def __init__(self, reason: NakReason) -> None:
        super().__init__(f"the bridge ended the session: {reason.name}")
        self.reason = reason


class Link(Protocol):
    def write(self, data: bytes) -> None: ...

    def read(self, timeout: float) -> bytes:
        """What has arrived within ``timeout`` (b"" if nothing); raises OSError when the link is gone."""
        ...

    def close(self) -> None: ...


class TcpLink:
    """A board's TCP connection to the bridge."""

    def __init__(self, host: str, port: int, connect_timeout: float = 5.0, source: str | None = None) -> None:
        self.socket = socket.create_connection((host, port), timeout=connect_timeout,
                                               source_address=(source, 0) if source else None)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def write(self, data: bytes) -> None:
        self.socket.sendall(data)

    def read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.socket], [], [], max(timeout, 0))
        if not ready:
            return b""
        data = self.socket.recv(4096)
        if not data:
            raise ConnectionResetError("the bridge closed the connection")
        return data

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.socket.close()


class SerialBoardLink:
    """A board's serial line to the bridge."""

    def __init__(self, path: str, baudrate: int = 115200) -> None:
        self.port = serial.Serial(path, baudrate, timeout=0)

    def write(self, data: bytes) -> None:
        self.port.write(data)
        self.port.flush()

    def read(self, timeout: float) -> bytes:
        self.port.timeout = max(timeout, 0)
        try:
            data = self.port.read(1)
            return data + self.port.read(self.port.in_waiting) if data else b""
        except serial.SerialException as exc:
            raise OSError(str(exc)) from None

    def close(self) -> None:
        self.port.close()


@dataclasses.dataclass
class Relay:
    """What the board's relay and screen did: a record for the tests and the simulator's output."""

    pulses: list[int] = dataclasses.field(default_factory=list)
    screen: tuple[str, str] = ("", "")


class BoardSimulator:
    """One board on one link.  Methods are for one thread at a time (a board has one CPU loop)."""

    def __init__(
        self,
        link: Link,
        board_id: str = "GATE-01",
        firmware: str = "reference-1.0",
        answer_timeout: float = ANSWER_TIMEOUT,
        retries: int = RETRIES,
        clock: Callable[[], float] = time.monotonic,
        *,
        key: bytes | None = None,
        insecure_v1: bool = False,
    ) -> None:
        if (key is None) != insecure_v1:
            raise ValueError("a board speaks protocol v2 with its key, or v1 (insecure_v1) without one")
        if key is not None and len(key) != auth.KEY_SIZE:
            raise ValueError(f"a board key is {auth.KEY_SIZE} bytes")
        self.link = link
        self.key = key
        self.version = protocol.VERSION_1 if insecure_v1 else protocol.VERSION
        self.board_id, self.firmware = board_id, firmware
        self.answer_timeout, self.retries = answer_timeout, retries
        self.heartbeat_ms: int | None = None
        self.relay = Relay()
        self.naks: list[NakReason] = []  # every NAK received, in order
        self._clock = clock
        self._seq = 0
        self._decoder = FrameDecoder()
        self._pending: list[Frame | FrameError] = []
        self._channel: Channel | None = None  # v2: from a verified HELLO_ACK on
        self._nonce = b""  # v2: this board's nonce in its last HELLO
        self.started = clock()

    # --- requests ------------------------------------------------------------

    def hello(self) -> HelloAck:
        """Start a session: HELLO, and in v2 the handshake up to the board's proof.

        Raises BridgeNotAuthenticated when the answer does not prove the bridge holds this board's key.
        """
        self._channel = None
        self._nonce = auth.new_nonce() if self.version >= 2 else b""
        answer = self._request(Hello(self.board_id, self.firmware, self._nonce), may_need_hello=False)
        if not isinstance(answer, HelloAck):
            raise BoardError(f"HELLO was answered with {type(answer).__name__}")
        self.heartbeat_ms = answer.heartbeat_ms
        if self._channel is not None:
            self.heartbeat()  # the board's proof: its first sealed frame, before any card is read
        return answer

    def scan(self, data: bytes | str, kind: ScanKind = ScanKind.TEXT) -> Decision:
        """Send what the card held; return the decision and act on it (relay, screen)."""
        raw = data.encode("ascii") if isinstance(data, str) else data
        answer = self._request(Scan(kind, raw))
        if not isinstance(answer, Decision):
            raise BoardError(f"SCAN was answered with {type(answer).__name__}")
        self.relay.screen = (answer.line1, answer.line2)
        if answer.accepted and answer.pulse_ms:
            self.relay.pulses.append(answer.pulse_ms)
        return answer

    def heartbeat(self) -> None:
        answer = self._request(Heartbeat(int(self._clock() - self.started)))
        if not isinstance(answer, HeartbeatAck):
            raise BoardError(f"HEARTBEAT was answered with {type(answer).__name__}")

    def send_raw(self, data: bytes) -> None:
        """Put bytes on the line as they are (noise, broken frames: for tests)."""
        self.link.write(data)

    def frame_for(self, message: protocol.Message, seq: int) -> bytes:
        """The frame this board sends for ``message``: sealed under its next counter once in a v2 session."""
        if self._channel is not None and not isinstance(message, Hello):
            return self._channel.seal(message, seq)
        return protocol.encode(message, seq, self.version)

    def next_frame(self, timeout: float) -> Frame | FrameError | None:
        """The next thing the bridge sent (a frame or a FrameError), or None after ``timeout``."""
        deadline = self._clock() + timeout
        while True:
            if self._pending:
                return self._pending.pop(0)
            remaining = deadline - self._clock()
            if remaining <= 0:
                return None
            self._pending += self._decoder.feed(self.link.read(remaining))

    def next_message(self, timeout: float) -> tuple[int, protocol.Message] | None:
        """The next intact frame from the bridge as (SEQ, message), opened in a v2 session; None after ``timeout``.

        Raises BridgeNotAuthenticated for a frame that does not open in the session.
        """
        deadline = self._clock() + timeout
        while (remaining := deadline - self._clock()) > 0:
            item = self.next_frame(remaining)
            if item is None:
                return None
            if isinstance(item, FrameError):
                continue
            try:
                message = self._read(item)
            except FrameError:
                continue
            if message is not None:
                return item.seq, message
        return None

    def close(self) -> None:
        self.link.close()

    # --- the exchange --------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def _request(self, message: protocol.Message, *, may_need_hello: bool = True) -> protocol.Message:
        seq = self._next_seq()
        for _attempt in range(1 + self.retries):
            self.link.write(self.frame_for(message, seq))  # a resend is sealed again, under the next counter
            try:
                answer = self._answer_to(seq)
            except SessionEnded as ended:  # over serial: the bridge restarted and knows no session
                if ended.reason != NakReason.HELLO_REQUIRED or not may_need_hello:
                    raise
                self.naks.append(ended.reason)
                self.hello()
                continue
            if answer is None:
                continue  # no answer in time: send the same message again
            if not isinstance(answer, Nak):
                return answer
            self.naks.append(answer.reason)
            if answer.reason == NakReason.HELLO_REQUIRED and may_need_hello:
                self.hello()
            elif answer.reason not in (NakReason.BAD_CRC, NakReason.TOO_LARGE):
                raise BoardError(f"the bridge refused {type(message).__name__}: {answer.reason.name}")
        raise NoAnswer(f"no answer to {type(message).__name__} (SEQ {seq}) after {1 + self.retries} tries")

    def _answer_to(self, seq: int) -> protocol.Message | None:
        deadline = self._clock() + self.answer_timeout
        while (remaining := deadline - self._clock()) > 0:
            item = self.next_frame(remaining)
            if item is None:
                return None
            if isinstance(item, FrameError):
                continue  # a damaged frame
            try:
                message = self._read(item, seq)
            except FrameError:
                continue  # intact but unreadable: as good as damaged
            if message is not None and item.seq == seq:
                return message  # anything else: a late answer to an earlier frame, a duplicate
        return None

    def _read(self, frame: Frame, seq: int | None = None) -> protocol.Message | None:
        """A frame from the bridge as a message, or None for one to ignore.

        v2 before a session: only a plain NAK, or the HELLO_ACK answering this
        board's HELLO (``seq``), which must prove the bridge's key.  In a session:
        only the next sealed frame; a plain NAK answering ``seq`` means the bridge
        ended it.  Raises BridgeNotAuthenticated or SessionEnded (the session is
        over: nothing more from this bridge is believed), or FrameError for a
        frame to skip.
        """
        if self.version < 2:
            return protocol.parse_message(frame)
        if frame.version != self.version:
            return None
        if frame.type == FrameType.NAK and len(frame.payload) == 2:  # a plain NAK: never sealed, never believed
            nak = protocol.parse_message(frame)
            assert isinstance(nak, Nak)
            if self._channel is not None and frame.seq == seq:
                self._channel = None
                raise SessionEnded(nak.reason)
            return nak
        try:
            if self._channel is None:
                if frame.type != FrameType.HELLO_ACK or frame.seq != seq or self.key is None:
                    return None
                self._channel, answer = auth.open_hello_ack(self.key, self.board_id, self._nonce, frame)
                return answer
            return protocol.parse_message(self._channel.open(frame))
        except AuthFailed as exc:
            self._channel = None
            raise BridgeNotAuthenticated(f"a frame from the bridge did not verify: {exc}") from None


def run_board(
    connect: Callable[[], Link],
    stop: threading.Event,
    next_scan: Callable[[float], tuple[ScanKind, bytes] | None],
    on_decision: Callable[[Decision], None] = lambda decision: None,
    board_id: str = "GATE-01",
    *,
    key: bytes | None = None,
    insecure_v1: bool = False,
    answer_timeout: float = ANSWER_TIMEOUT,
    first_delay: float = 1.0,
    last_delay: float = 30.0,
) -> None:
    """A board's main loop: connect, HELLO (v2: with ``key``), scans and heartbeats, reconnect on trouble.

    ``next_scan(timeout)`` waits up to ``timeout`` for the next card read (a
    queue's get; on a real board the PN532's interrupt) and returns None if
    none came.  Reconnects after ``first_delay`` seconds, doubling up to
    ``last_delay``.  Returns when ``stop`` is set.
    """
    delay = first_delay
    while not stop.is_set():
        try:
            board = BoardSimulator(connect(), board_id, answer_timeout=answer_timeout, key=key,
                                   insecure_v1=insecure_v1)
        except OSError as exc:
            log.info("board %s: cannot connect (%s); again in %.1f s", board_id, exc, delay)
            stop.wait(delay)
            delay = min(delay * 2, last_delay)
            continue
        try:
            board.hello()
            delay = first_delay
            interval = (board.heartbeat_ms or 5000) / 1000
            while not stop.is_set():
                scanned = next_scan(interval)
                if scanned is None:
                    board.heartbeat()
                else:
                    on_decision(board.scan(scanned[1], scanned[0]))
        except (OSError, BoardError) as exc:
            log.info("board %s: link lost (%s); reconnecting in %.1f s", board_id, exc, delay)
            stop.wait(delay)
            delay = min(delay * 2, last_delay)
        finally:
            board.close()

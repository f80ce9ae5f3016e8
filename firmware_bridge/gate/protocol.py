"""The gate protocol, versions 2 and 1: frames and messages (docs/gate-protocol.md).

A frame is ``A5 VER TYPE SEQ LEN(2) PAYLOAD CRC(2)``, big-endian, with a
CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final XOR;
check value 0x29B1) over VER to the end of PAYLOAD.  The standard library's
``binascii.crc_hqx(data, 0xFFFF)`` computes exactly that CRC, so nothing is
hand-written here.

Two decoders: ``decode_frame`` for one complete frame (raises a FrameError
leaf), and ``FrameDecoder`` for a byte stream, which returns frames and the
errors it met instead of raising, and finds the next frame after garbage, a
partial frame or a bad CRC by dropping one byte and searching for the next
start byte.  Messages are typed views of a frame's payload
(``parse_message`` / ``encode``).

Version 2 frames have the same layout; what makes them safe (the handshake,
and the counter and MAC sealed into every frame after it) is in ``auth``.
Here only the v2 HELLO and HELLO_ACK differ from v1: each carries its
side's fresh 16-byte nonce.
"""

from __future__ import annotations

import binascii
import dataclasses
import enum
import struct
from collections.abc import Callable

from ..errors import BadCrc, BadPayload, FrameError, FrameTooLarge, Truncated, UnknownType, UnsupportedVersion

SOF = 0xA5
VERSION = 2  # what a bridge speaks unless run with --gate-protocol-v1-insecure
VERSION_1 = 1  # unauthenticated: kept only behind that loud option
VERSIONS = (VERSION_1, VERSION)
NONCE_SIZE = 16  # a v2 HELLO's and HELLO_ACK's fresh random nonce
# Version bytes a frame may carry: a frame of another version is still decoded and NAKed
# (UNSUPPORTED_VERSION); an A5 followed by anything else is noise.
MAX_VERSION = 15
HEADER = struct.Struct(">BBBBH")  # SOF, VER, TYPE, SEQ, LEN
CRC = struct.Struct(">H")
MAX_PAYLOAD = 1024
MAX_FRAME = HEADER.size + MAX_PAYLOAD + CRC.size
# A frame's bytes arrive with no longer gap than this, or the partial frame is dropped.
INTER_BYTE_TIMEOUT = 0.5
MAX_BOARD_ID = 32
MAX_FIRMWARE = 32
DISPLAY_WIDTH = 20


class FrameType(enum.IntEnum):
    # board -> bridge
    HELLO = 0x01
    SCAN = 0x02
    HEARTBEAT = 0x03
    # bridge -> board: every one answers the board frame whose SEQ it carries
    HELLO_ACK = 0x81
    ACCEPT = 0x82
    DENY = 0x83
    HEARTBEAT_ACK = 0x84
    NAK = 0xFF


class ScanKind(enum.IntEnum):
    TEXT = 0x01  # QR text or token, ASCII
    NDEF = 0x02  # the tag's raw NDEF message; the bridge finds the KIA record


class NakReason(enum.IntEnum):
    BAD_CRC = 0x01
    TOO_LARGE = 0x02
    UNSUPPORTED_VERSION = 0x03
    UNKNOWN_TYPE = 0x04
    BAD_PAYLOAD = 0x05
    HELLO_REQUIRED = 0x06
    UNKNOWN_BOARD = 0x07  # v2: the bridge holds no key for this board id
    AUTH_FAILED = 0x08  # v2: a MAC did not verify, or a counter did not increase


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of ``data``."""
    return binascii.crc_hqx(data, 0xFFFF)


@dataclasses.dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes = b""
    version: int = VERSION

    def encode(self) -> bytes:
        return encode_frame(self.type, self.seq, self.payload, self.version)


def encode_frame(frame_type: int, seq: int, payload: bytes = b"", version: int = VERSION) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"a frame's payload is at most {MAX_PAYLOAD} bytes, not {len(payload)}")
    head = HEADER.pack(SOF, version, frame_type, seq & 0xFF, len(payload))
    return head + payload + CRC.pack(crc16(head[1:] + payload))


def decode_frame(data: bytes) -> Frame:
    """Exactly one complete frame of version 1 or 2.  Raises Truncated, FrameTooLarge, BadCrc or UnsupportedVersion."""
    if len(data) < HEADER.size or data[0] != SOF:
        raise Truncated("not a whole frame: it must start with A5 and hold a 6-byte header")
    _, version, frame_type, seq, length = HEADER.unpack_from(data)
    if length > MAX_PAYLOAD:
        raise FrameTooLarge(f"the frame announces {length} payload bytes (at most {MAX_PAYLOAD})", seq)
    end = HEADER.size + length
    if len(data) != end + CRC.size:
        raise Truncated(f"a frame with {length} payload bytes is {end + CRC.size} bytes, not {len(data)}", seq)
    if CRC.unpack_from(data, end)[0] != crc16(data[1:end]):
        raise BadCrc("the frame's CRC does not match", seq)
    if version not in VERSIONS:
        raise UnsupportedVersion(f"protocol version {version}; this bridge speaks {VERSION}", seq)
    return Frame(frame_type, seq, bytes(data[HEADER.size : end]), version)


class FrameDecoder:
    """Frames out of a byte stream, resynchronising after anything else.

    ``feed`` returns, in order, every complete frame and every error met
    (FrameError instances, not raised).  An A5 whose next byte is not a
    version (1 to MAX_VERSION) is noise.  After an error only the start byte
    is dropped, so a real frame hidden behind a false start is still found.
    ``expire`` gives up a partial frame (call it when the line went quiet
    for INTER_BYTE_TIMEOUT); ``dropped`` counts bytes skipped as noise.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.dropped = 0

    @property
    def pending(self) -> int:
        """Bytes of a frame begun but not complete."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        self._buffer += data
        return self._drain()

    def expire(self) -> list[Frame | FrameError]:
        if not self._buffer:
            return []
        seq = self._buffer[3] if len(self._buffer) > 3 else None
        del self._buffer[:1]
        self.dropped += 1
        return [Truncated("a partial frame was dropped after the line went quiet", seq), *self._drain()]

    def _drain(self) -> list[Frame | FrameError]:
        found: list[Frame | FrameError] = []
        buffer = self._buffer
        while buffer:
            start = buffer.find(SOF)
            if start < 0:
                self.dropped += len(buffer)
                buffer.clear()
                break
            if start:
                self.dropped += start
                del buffer[:start]
            if len(buffer) > 1 and not 1 <= buffer[1] <= MAX_VERSION:
                self.dropped += 1  # A5 in noise: no frame has this version byte
                del buffer[:1]
                continue
            if len(buffer) < HEADER.size:
                break
            length = HEADER.unpack_from(buffer)[4]
            size = HEADER.size + length + CRC.size
            if length > MAX_PAYLOAD or len(buffer) >= size:
                try:
                    found.append(decode_frame(bytes(buffer[:size])))
                except UnsupportedVersion as error:  # intact: consumed whole
                    found.append(error)
                except FrameError as error:  # maybe a false start: look again one byte on
                    found.append(error)
                    self.dropped += 1
                    del buffer[:1]
                    continue
                del buffer[:size]
                continue
            break
        return found


# --- messages -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Hello:
    """Board -> bridge, first after connecting or booting: who the board is (v2: and its fresh nonce)."""

    board_id: str
    firmware: str = ""
    nonce: bytes = b""  # NONCE_SIZE bytes in v2, none in v1
    TYPE = FrameType.HELLO

    def payload(self) -> bytes:
        return _short_text(self.board_id, MAX_BOARD_ID) + _short_text(self.firmware, MAX_FIRMWARE) + self.nonce


@dataclasses.dataclass(frozen=True)
class Scan:
    """Board -> bridge: what the board read from a card."""

    kind: ScanKind
    data: bytes
    TYPE = FrameType.SCAN

    def payload(self) -> bytes:
        return bytes([self.kind]) + self.data


@dataclasses.dataclass(frozen=True)
class Heartbeat:
    """Board -> bridge when idle: still here, up for ``uptime`` seconds."""

    uptime: int = 0
    TYPE = FrameType.HEARTBEAT

    def payload(self) -> bytes:
        return struct.pack(">I", self.uptime & 0xFFFFFFFF)


@dataclasses.dataclass(frozen=True)
class HelloAck:
    """Bridge -> board: HELLO understood; send a heartbeat every ``heartbeat_ms`` when idle.

    In v2 it also carries the bridge's fresh nonce, and travels sealed (``auth``).
    """

    heartbeat_ms: int
    version: int = VERSION
    max_payload: int = MAX_PAYLOAD
    nonce: bytes = b""  # NONCE_SIZE bytes in v2, none in v1
    TYPE = FrameType.HELLO_ACK

    def payload(self) -> bytes:
        return struct.pack(">BHH", self.version, self.heartbeat_ms, self.max_payload) + self.nonce


@dataclasses.dataclass(frozen=True)
class Decision:
    """Bridge -> board, the answer to a SCAN: ACCEPT (pulse the relay) or DENY (never pulse)."""

    accepted: bool
    line1: str
    line2: str = ""
    pulse_ms: int = 0

    @property
    def TYPE(self) -> FrameType:  # the same name as the other messages' class constant
        return FrameType.ACCEPT if self.accepted else FrameType.DENY

    def payload(self) -> bytes:
        if not self.accepted and self.pulse_ms:
            raise ValueError("a DENY never pulses the relay")
        return struct.pack(">H", self.pulse_ms) + _short_text(self.line1, DISPLAY_WIDTH) + _short_text(
            self.line2, DISPLAY_WIDTH
        )


@dataclasses.dataclass(frozen=True)
class HeartbeatAck:
    """Bridge -> board: heartbeat received."""

    TYPE = FrameType.HEARTBEAT_ACK

    def payload(self) -> bytes:
        return b""


@dataclasses.dataclass(frozen=True)
class Nak:
    """Bridge -> board: the frame with this SEQ was refused, and why."""

    reason: NakReason
    version: int = VERSION
    TYPE = FrameType.NAK

    def payload(self) -> bytes:
        return bytes([self.reason, self.version])


Message = Hello | Scan | Heartbeat | HelloAck | Decision | HeartbeatAck | Nak


def encode(message: Message, seq: int, version: int = VERSION) -> bytes:
    """The plain (unsealed) frame carrying ``message``: every v1 frame; in v2 a HELLO, or a NAK ending a session."""
    if isinstance(message, Hello | HelloAck) and len(message.nonce) != _nonce_size(version):
        raise ValueError(f"a version {version} {message.TYPE.name} carries {_nonce_size(version)} nonce bytes")
    return encode_frame(message.TYPE, seq, message.payload(), version)


def parse_message(frame: Frame) -> Message:
    """The typed message of an intact frame (of a sealed v2 frame: of its opened body).

    Raises UnknownType or BadPayload.
    """
    try:
        frame_type = FrameType(frame.type)
    except ValueError:
        raise UnknownType(f"frame type 0x{frame.type:02X} is not part of the protocol", frame.seq) from None
    data = frame.payload
    try:
        message = _PARSERS[frame_type](data)
        if isinstance(message, Hello | HelloAck):
            message = _with_nonce(message, data, frame.version)
        return message
    except (ValueError, IndexError, struct.error) as exc:
        raise BadPayload(f"a {frame_type.name} payload cannot be read: {exc}", frame.seq) from None


def _nonce_size(version: int) -> int:
    return NONCE_SIZE if version >= 2 else 0


def _with_nonce(message: Hello | HelloAck, data: bytes, version: int) -> Hello | HelloAck:
    """The message with the nonce its version's layout ends with (the parsers read what comes before it)."""
    size = _nonce_size(version)
    if len(message.payload()) + size != len(data):
        raise ValueError(f"a version {version} {message.TYPE.name} ends with {size} nonce bytes")
    return dataclasses.replace(message, nonce=bytes(data[len(data) - size :]))


def _short_text(text: str, limit: int) -> bytes:
    encoded = text.encode("ascii")
    if len(encoded) > limit or not all(0x20 <= byte <= 0x7E for byte in encoded):
        raise ValueError(f"text must be at most {limit} printable ASCII characters: {text!r}")
    return bytes([len(encoded)]) + encoded


def _read_text(data: bytes, offset: int, limit: int) -> tuple[str, int]:
    length = data[offset]
    text = data[offset + 1 : offset + 1 + length]
    if length > limit or len(text) != length or not all(0x20 <= byte <= 0x7E for byte in text):
        raise ValueError(f"a text field must be 0 to {limit} printable ASCII characters")
    return text.decode("ascii"), offset + 1 + length


def _exactly(data: bytes, used: int) -> None:
    if used != len(data):
        raise ValueError(f"{len(data) - used} bytes more than the layout holds")


def _parse_hello(data: bytes) -> Hello:
    board_id, offset = _read_text(data, 0, MAX_BOARD_ID)
    firmware, offset = _read_text(data, offset, MAX_FIRMWARE)  # a v2 nonce follows: _with_nonce checks the rest
    if not board_id:
        raise ValueError("the board id is empty")
    return Hello(board_id, firmware)


def _parse_scan(data: bytes) -> Scan:
    if len(data) < 2:
        raise ValueError("a scan carries a kind byte and at least one byte of data")
    return Scan(ScanKind(data[0]), bytes(data[1:]))


def _parse_heartbeat(data: bytes) -> Heartbeat:
    (uptime,) = struct.unpack(">I", data)
    return Heartbeat(uptime)


def _parse_hello_ack(data: bytes) -> HelloAck:
    version, heartbeat_ms, max_payload = struct.unpack_from(">BHH", data)  # a v2 nonce follows
    return HelloAck(heartbeat_ms, version, max_payload)


def _parse_decision(accepted: bool, data: bytes) -> Decision:
    (pulse_ms,) = struct.unpack_from(">H", data)
    line1, offset = _read_text(data, 2, DISPLAY_WIDTH)
    line2, offset = _read_text(data, offset, DISPLAY_WIDTH)
    _exactly(data, offset)
    if not accepted and pulse_ms:
        raise ValueError("a DENY carries a relay pulse")
    return Decision(accepted, line1, line2, pulse_ms)


def _parse_heartbeat_ack(data: bytes) -> HeartbeatAck:
    _exactly(data, 0)
    return HeartbeatAck()


def _parse_nak(data: bytes) -> Nak:
    reason, version = struct.unpack(">BB", data)
    return Nak(NakReason(reason), version)


_PARSERS: dict[FrameType, Callable[[bytes], Message]] = {
    FrameType.HELLO: _parse_hello,
    FrameType.SCAN: _parse_scan,
    FrameType.HEARTBEAT: _parse_heartbeat,
    FrameType.HELLO_ACK: _parse_hello_ack,
    FrameType.ACCEPT: lambda data: _parse_decision(True, data),
    FrameType.DENY: lambda data: _parse_decision(False, data),
    FrameType.HEARTBEAT_ACK: _parse_heartbeat_ack,
    FrameType.NAK: _parse_nak,
}

__all__ = [
    "CRC",
    "HEADER",
    "MAX_FRAME",
    "MAX_PAYLOAD",
    "SOF",
    "NONCE_SIZE",
    "VERSION",
    "VERSIONS",
    "VERSION_1",
    "Decision",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "FrameType",
    "Heartbeat",
    "HeartbeatAck",
    "Hello",
    "HelloAck",
    "Message",
    "Nak",
    "NakReason",
    "Scan",
    "ScanKind",
    "crc16",
    "decode_frame",
    "encode",
    "encode_frame",
    "parse_message",
]

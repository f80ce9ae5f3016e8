"""Protocol v2's mutual authentication: the handshake's session key and sealed frames.

Each board holds a 32-byte key, provisioned at installation (``keyfile``):
the bridge holds the same key under the board's id.  The handshake:

1. the board sends a plain HELLO with its id and a fresh 16-byte nonce;
2. the bridge answers with a sealed HELLO_ACK carrying its own fresh nonce:
   only a bridge holding the board's key can seal it, under a session key
   that depends on both nonces, so the board knows the bridge is real and
   the answer is not an old one;
3. the board's first sealed frame (the reference board sends a HEARTBEAT at
   once) proves the same to the bridge.

The session key is HKDF-SHA256 of the board key, salted with both nonces,
bound to the board id.  A sealed frame is a normal frame whose payload is
``COUNTER(4) BODY MAC(16)``: COUNTER counts the frames its sender sealed in
this session (1, 2, ...; a resent frame is sealed again with the next one)
and MAC is HMAC-SHA256 under the session key, truncated to 16 bytes, of a
direction byte followed by the frame from VER to the end of BODY.  A
receiver takes a frame only if its MAC verifies and its counter is above
every counter it took before: a replayed, reordered, reflected or altered
frame is refused (``AuthFailed``) and the session ends.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import FrameError
from .protocol import (
    HEADER,
    MAX_PAYLOAD,
    NONCE_SIZE,
    SOF,
    VERSION,
    Frame,
    FrameType,
    HelloAck,
    Message,
    NakReason,
    encode_frame,
    parse_message,
)

KEY_SIZE = 32  # a board key
MAC_SIZE = 16  # HMAC-SHA256, truncated
COUNTER = struct.Struct(">I")
SEAL_OVERHEAD = COUNTER.size + MAC_SIZE
MAX_BODY = MAX_PAYLOAD - SEAL_OVERHEAD
LAST_COUNTER = 0xFFFFFFFF  # a session that would need more ends; the board starts a new one
# The direction byte that starts every MAC's input: a frame sealed by one side can never pass as the other's.
FROM_BOARD = 0x01
FROM_BRIDGE = 0x02
INFO = b"KIA gate v2 session key"


class UnknownBoard(FrameError):
    """A HELLO names a board this bridge holds no key for."""

    nak = NakReason.UNKNOWN_BOARD


class AuthFailed(FrameError):
    """A frame that is not the session's next sealed frame: forged, altered, replayed, reordered or plain."""

    nak = NakReason.AUTH_FAILED


def new_nonce() -> bytes:
    return secrets.token_bytes(NONCE_SIZE)


def new_board_key() -> bytes:
    return secrets.token_bytes(KEY_SIZE)


def session_key(board_key: bytes, board_id: str, board_nonce: bytes, bridge_nonce: bytes) -> bytes:
    """HKDF-SHA256(ikm=board key, salt=board nonce || bridge nonce, info=INFO || len(id) || id), 32 bytes."""
    if len(board_key) != KEY_SIZE or len(board_nonce) != NONCE_SIZE or len(bridge_nonce) != NONCE_SIZE:
        raise ValueError(f"a board key is {KEY_SIZE} bytes and a nonce {NONCE_SIZE}")
    identity = board_id.encode("ascii")
    info = INFO + bytes([len(identity)]) + identity
    return HKDF(algorithm=SHA256(), length=32, salt=board_nonce + bridge_nonce, info=info).derive(board_key)


def frame_mac(key: bytes, direction: int, covered: bytes) -> bytes:
    """The MAC of a sealed frame: HMAC-SHA256(key, direction || covered), first MAC_SIZE bytes."""
    return hmac.new(key, bytes([direction]) + covered, hashlib.sha256).digest()[:MAC_SIZE]


def body_unverified(frame: Frame) -> bytes:
    """A sealed frame's BODY, not verified: only for reading the bridge's nonce out of a HELLO_ACK."""
    if len(frame.payload) < SEAL_OVERHEAD:
        raise AuthFailed("the frame is not sealed: it is shorter than a counter and a MAC", frame.seq)
    return frame.payload[COUNTER.size : -MAC_SIZE]


def _covered(frame: Frame) -> bytes:
    """What a frame's MAC covers (after the direction byte): VER TYPE SEQ LEN COUNTER BODY."""
    return HEADER.pack(SOF, frame.version, frame.type, frame.seq, len(frame.payload))[1:] + frame.payload[:-MAC_SIZE]


class Channel:
    """One side of a v2 session: seals what it sends, opens what it receives.  One thread at a time."""

    def __init__(self, key: bytes, sender: int) -> None:
        if sender not in (FROM_BOARD, FROM_BRIDGE):
            raise ValueError("a channel seals for the board or for the bridge")
        self._key = key
        self._sends, self._receives = sender, FROM_BRIDGE if sender == FROM_BOARD else FROM_BOARD
        self.sent = 0  # the counter of the last frame sealed
        self.received = 0  # the counter of the last frame opened

    def seal(self, message: Message, seq: int) -> bytes:
        """The sealed frame carrying ``message``, under the next counter."""
        body = message.payload()
        if len(body) > MAX_BODY:
            raise ValueError(f"a sealed frame's body is at most {MAX_BODY} bytes, not {len(body)}")
        if self.sent >= LAST_COUNTER:
            raise AuthFailed("this session has sealed all the frames it may: start a new one", seq)
        self.sent += 1
        unsealed = Frame(message.TYPE, seq & 0xFF, COUNTER.pack(self.sent) + body + bytes(MAC_SIZE))
        mac = frame_mac(self._key, self._sends, _covered(unsealed))
        return encode_frame(message.TYPE, seq, unsealed.payload[:-MAC_SIZE] + mac, VERSION)

    def open(self, frame: Frame) -> Frame:
        """The frame with its BODY as payload, once its MAC verifies and its counter is above all before.

        Raises AuthFailed; nothing about the session changes then.
        """
        if frame.version != VERSION or len(frame.payload) < SEAL_OVERHEAD:
            raise AuthFailed("a plain frame where only sealed frames are taken", frame.seq)
        expected = frame_mac(self._key, self._receives, _covered(frame))
        if not hmac.compare_digest(expected, frame.payload[-MAC_SIZE:]):
            raise AuthFailed("the frame's MAC does not verify: altered, forged, or from another session", frame.seq)
        (counter,) = COUNTER.unpack_from(frame.payload)
        if counter <= self.received:
            raise AuthFailed(f"counter {counter} after {self.received}: a replayed or reordered frame", frame.seq)
        self.received = counter
        return Frame(frame.type, frame.seq, frame.payload[COUNTER.size : -MAC_SIZE], frame.version)


def answer_hello(board_key: bytes, board_id: str, board_nonce: bytes, hello_ack: HelloAck,
                 seq: int) -> tuple[Channel, bytes]:
    """The bridge's side of step 2: its channel, and the sealed HELLO_ACK frame (``hello_ack`` holds its nonce)."""
    channel = Channel(session_key(board_key, board_id, board_nonce, hello_ack.nonce), FROM_BRIDGE)
    return channel, channel.seal(hello_ack, seq)


def open_hello_ack(board_key: bytes, board_id: str, board_nonce: bytes, frame: Frame) -> tuple[Channel, HelloAck]:
    """The board's side of step 2: the HELLO_ACK, once it proves the bridge holds the key.  Raises AuthFailed."""
    if frame.type != FrameType.HELLO_ACK:
        raise AuthFailed(f"a HELLO was answered with frame type 0x{frame.type:02X}", frame.seq)
    try:
        claimed = parse_message(Frame(frame.type, frame.seq, body_unverified(frame), frame.version))
    except FrameError as exc:
        raise AuthFailed(f"the HELLO_ACK cannot be read, so it proves nothing: {exc}", frame.seq) from None
    assert isinstance(claimed, HelloAck)
    channel = Channel(session_key(board_key, board_id, board_nonce, claimed.nonce), FROM_BOARD)
    channel.open(frame)  # the proof: only a holder of the board key seals this under both nonces
    return channel, claimed

"""docs/gate-protocol.md is exact: every example frame in it decodes to what it says, and encodes to its bytes.

Firmware developers copy these bytes; a wrong example costs a partner days.
Each ```frame block holds a ``#`` line (a message and its fields, or
``error=Name``, or ``stream: message``) and the bytes in hex.  ``sealed``
frames belong to the worked session of section 10, whose key, nonces, HKDF
input, session key and one MAC the ```handshake block states: the test
derives the session key from them, opens each sealed frame in the
document's order (so the counters must increase as they would on a line),
and seals each message again to the same bytes.  ``v1`` frames are the
appendix's.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import re
from pathlib import Path

import pytest

from firmware_bridge import errors
from firmware_bridge.gate import auth, protocol
from firmware_bridge.gate.auth import COUNTER, Channel
from firmware_bridge.gate.protocol import (
    Decision,
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
    crc16,
    decode_frame,
    encode,
    parse_message,
)

DOC = Path(__file__).resolve().parents[3] / "docs" / "gate-protocol.md"
TEXT = DOC.read_text(encoding="utf-8")
PROSE = " ".join(TEXT.split())  # for sentences, wherever their lines break
_BLOCK = re.compile(r"^```frame\n(.*?)^```", re.S | re.M)
_HANDSHAKE = re.compile(r"^```handshake\n(.*?)^```", re.S | re.M)
_FIELD = re.compile(r'(\w+)=(b?"(?:[^"\\]|\\.)*"|\S+)')


def examples() -> list[tuple[str, bytes]]:
    found = []
    for block in _BLOCK.findall(TEXT):
        lines = block.strip().splitlines()
        assert lines[0].startswith("# "), f"an example without its # line: {lines[0]}"
        found.append((lines[0][2:], bytes.fromhex(" ".join(lines[1:]))))
    return found


def handshake() -> dict[str, str]:
    (block,) = _HANDSHAKE.findall(TEXT)
    return dict(line.split(None, 1) for line in block.strip().splitlines())  # type: ignore[misc]


WORKED = handshake()
BOARD_ID = WORKED["board_id"]
BOARD_KEY = bytes.fromhex(WORKED["board_key"])
NONCES = {"board": bytes.fromhex(WORKED["board_nonce"]), "bridge": bytes.fromhex(WORKED["bridge_nonce"])}
SESSION_KEY = bytes.fromhex(WORKED["session_key"])


def value(text: str) -> object:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare name: TEXT, BAD_CRC, board


def message_from(description: str) -> tuple[protocol.Message, int, int, int | None]:
    """The message a ``#`` line describes, its SEQ, its version and (sealed) its counter."""
    words = description.split()
    version = 1 if words[0] == "v1" else 2
    sealed = words[0] == "sealed"
    name, rest = (words[1], words[2:]) if version == 1 or sealed else (words[0], words[1:])
    fields = {key: value(text) for key, text in _FIELD.findall(" ".join(rest))}
    seq, counter = fields.pop("seq"), fields.pop("ctr", None)
    nonce = NONCES[fields["nonce"]] if "nonce" in fields else b""  # type: ignore[index]
    builders = {
        "HELLO": lambda f: Hello(f["board_id"], f.get("firmware", ""), nonce),
        "HELLO_ACK": lambda f: HelloAck(f["heartbeat_ms"], version, nonce=nonce),
        "SCAN": lambda f: Scan(ScanKind[f["kind"]], f["data"]),
        "HEARTBEAT": lambda f: Heartbeat(f["uptime"]),
        "HEARTBEAT_ACK": lambda f: HeartbeatAck(),
        "ACCEPT": lambda f: Decision(True, f["line1"], f["line2"], f["pulse_ms"]),
        "DENY": lambda f: Decision(False, f["line1"], f["line2"], f.get("pulse_ms", 0)),
        "NAK": lambda f: Nak(NakReason[f["reason"]], version),
    }
    return builders[name](fields), seq, version, counter  # type: ignore[no-untyped-call]


EXAMPLES = examples()
MESSAGES = [(text, data) for text, data in EXAMPLES if not text.startswith(("error=", "stream:"))]
PLAIN = [(text, data) for text, data in MESSAGES if not text.startswith("sealed ")]
SEALED = [(text, data) for text, data in MESSAGES if text.startswith("sealed ")]


def test_the_document_has_an_example_of_every_message_type_in_both_versions() -> None:
    v2 = {message_from(text)[0].TYPE.name for text, _ in MESSAGES if not text.startswith("v1 ")}
    v1 = {message_from(text)[0].TYPE.name for text, _ in MESSAGES if text.startswith("v1 ")}
    assert v2 == v1 == {frame_type.name for frame_type in FrameType}
    assert len(SEALED) >= 8


@pytest.mark.parametrize(("description", "data"), PLAIN, ids=[text.split(" seq")[0] for text, _ in PLAIN])
def test_each_plain_example_frame_decodes_and_encodes_exactly(description: str, data: bytes) -> None:
    message, seq, version, _ = message_from(description)

    frame = decode_frame(data)
    assert (frame.seq, frame.version) == (seq, version)
    assert parse_message(frame) == message
    assert encode(message, seq, version) == data


def test_the_worked_session_key_is_hkdf_of_the_stated_key_nonces_and_board_id() -> None:
    info = auth.INFO + bytes([len(BOARD_ID)]) + BOARD_ID.encode()
    assert bytes.fromhex(WORKED["hkdf_info"]) == info
    assert auth.session_key(BOARD_KEY, BOARD_ID, NONCES["board"], NONCES["bridge"]) == SESSION_KEY


def test_the_worked_mac_is_hmac_sha256_of_the_direction_and_the_frame_truncated_to_16_bytes() -> None:
    mac_input, full = bytes.fromhex(WORKED["mac_input"]), bytes.fromhex(WORKED["hmac"])
    heartbeat = next(data for text, data in SEALED if text.startswith("sealed HEARTBEAT "))

    assert hmac.new(SESSION_KEY, mac_input, hashlib.sha256).digest() == full
    assert mac_input == bytes([auth.FROM_BOARD]) + heartbeat[1 : -2 - auth.MAC_SIZE]
    assert heartbeat[-2 - auth.MAC_SIZE : -2] == full[: auth.MAC_SIZE]


def test_each_sealed_example_opens_in_order_and_seals_again_to_its_bytes() -> None:
    """The worked session, as each side would see it: counters increase, MACs verify, bytes match."""
    readers = {auth.FROM_BOARD: Channel(SESSION_KEY, auth.FROM_BRIDGE),  # opens what the board sealed
               auth.FROM_BRIDGE: Channel(SESSION_KEY, auth.FROM_BOARD)}
    for description, data in SEALED:
        message, seq, _, counter = message_from(description)
        sender = auth.FROM_BOARD if message.TYPE < 0x80 else auth.FROM_BRIDGE
        assert counter is not None, description

        opened = readers[sender].open(decode_frame(data))

        assert (opened.seq, parse_message(opened)) == (seq, message), description
        assert data[6:10] == COUNTER.pack(counter)
        sealer = Channel(SESSION_KEY, sender)
        sealer.sent = counter - 1
        assert sealer.seal(message, seq) == data, description


def test_the_worked_hello_ack_proves_the_bridge_to_the_board() -> None:
    hello_ack = next(data for text, data in SEALED if text.startswith("sealed HELLO_ACK"))

    _, ack = auth.open_hello_ack(BOARD_KEY, BOARD_ID, NONCES["board"], decode_frame(hello_ack))

    assert ack.nonce == NONCES["bridge"]


def test_the_replayed_scan_of_the_worked_session_does_not_open_again() -> None:
    bridge = Channel(SESSION_KEY, auth.FROM_BRIDGE)
    board_frames = [data for text, data in SEALED if message_from(text)[0].TYPE < 0x80]
    for data in board_frames:
        bridge.open(decode_frame(data))
    scan = next(data for text, data in SEALED if text.startswith("sealed SCAN seq=3"))

    with pytest.raises(auth.AuthFailed):
        bridge.open(decode_frame(scan))


def test_the_damaged_examples_are_refused_as_the_document_says() -> None:
    damaged = [(text, data) for text, data in EXAMPLES if text.startswith("error=")]
    assert len(damaged) >= 4
    for text, data in damaged:
        error = getattr(errors, text.removeprefix("error="))
        with pytest.raises(error):
            decode_frame(data)


def test_the_stream_example_yields_exactly_its_frame() -> None:
    streams = [(text, data) for text, data in EXAMPLES if text.startswith("stream:")]
    assert streams
    for text, data in streams:
        message, seq, _, _ = message_from(text.removeprefix("stream:").strip())

        found = FrameDecoder().feed(data)

        assert [parse_message(frame) for frame in found] == [message]  # type: ignore[arg-type]
        assert found[0].seq == seq  # type: ignore[union-attr]


def test_the_crc_limits_and_sizes_the_document_states_are_the_code_s() -> None:
    assert "CRC-16/CCITT-FALSE" in TEXT
    assert f"**`0x{crc16(b'123456789'):04X}`**" in TEXT
    assert f"0 to {protocol.MAX_PAYLOAD}" in TEXT
    assert f"**{int(protocol.INTER_BYTE_TIMEOUT * 1000)} ms**" in TEXT
    assert f"BODY is at most {auth.MAX_BODY} bytes" in PROSE
    assert f"| 1 to {auth.MAX_BODY - 1} | the data |" in TEXT
    assert f"| {protocol.NONCE_SIZE} | board nonce" in TEXT and f"| {auth.MAC_SIZE} | MAC:" in TEXT
    assert f'`{auth.INFO.decode()}`' in PROSE and f"the {len(auth.INFO)} ASCII bytes" in PROSE
    for reason in NakReason:
        assert f"| `{reason:02X}` | {reason.name} |" in TEXT
    for frame_type in FrameType:
        assert f"| `{frame_type:02X}` | {frame_type.name} |" in TEXT


def test_the_connection_limits_the_document_states_are_the_code_s() -> None:
    from firmware_bridge.gate.session import GateSettings
    from firmware_bridge.gate.transport import MAX_BOARDS, MAX_PENDING, MAX_PENDING_PER_ADDRESS

    assert f"admits at most {MAX_BOARDS} boards" in PROSE
    assert f"at most {MAX_PENDING} connections not admitted yet" in PROSE
    assert f"**{MAX_PENDING_PER_ADDRESS} from any one address**" in PROSE
    assert f"within **{GateSettings().handshake_timeout:g} s**" in PROSE

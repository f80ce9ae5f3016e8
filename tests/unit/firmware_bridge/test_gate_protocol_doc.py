"""docs/gate-protocol.md is exact: every example frame in it decodes to what it says, and encodes to its bytes.

Firmware developers copy these bytes; a wrong example costs a partner days.
Each ```frame block holds a ``#`` line (a message and its fields, or
``error=Name``, or ``stream: message``) and the bytes in hex.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from firmware_bridge import errors
from firmware_bridge.gate import protocol
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
_BLOCK = re.compile(r"^```frame\n(.*?)^```", re.S | re.M)
_FIELD = re.compile(r'(\w+)=(b?"(?:[^"\\]|\\.)*"|\S+)')


def examples() -> list[tuple[str, bytes]]:
    found = []
    for block in _BLOCK.findall(DOC.read_text(encoding="utf-8")):
        lines = block.strip().splitlines()
        assert lines[0].startswith("# "), f"an example without its # line: {lines[0]}"
        found.append((lines[0][2:], bytes.fromhex(" ".join(lines[1:]))))
    return found


def value(text: str) -> object:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare name: TEXT, BAD_CRC


def message_from(description: str) -> tuple[protocol.Message, int]:
    name, _, rest = description.partition(" ")
    fields = {key: value(text) for key, text in _FIELD.findall(rest)}
    seq = fields.pop("seq")
    builders = {
        "HELLO": lambda f: Hello(f["board_id"], f.get("firmware", "")),
        "HELLO_ACK": lambda f: HelloAck(f["heartbeat_ms"]),
        "SCAN": lambda f: Scan(ScanKind[f["kind"]], f["data"]),
        "HEARTBEAT": lambda f: Heartbeat(f["uptime"]),
        "HEARTBEAT_ACK": lambda f: HeartbeatAck(),
        "ACCEPT": lambda f: Decision(True, f["line1"], f["line2"], f["pulse_ms"]),
        "DENY": lambda f: Decision(False, f["line1"], f["line2"], f.get("pulse_ms", 0)),
        "NAK": lambda f: Nak(NakReason[f["reason"]]),
    }
    return builders[name](fields), seq  # type: ignore[no-untyped-call]


EXAMPLES = examples()
MESSAGES = [(text, data) for text, data in EXAMPLES if not text.startswith(("error=", "stream:"))]


def test_the_document_has_an_example_of_every_message_type() -> None:
    named = {text.split()[0] for text, _ in MESSAGES}
    assert named == {frame_type.name for frame_type in FrameType}
    assert len(EXAMPLES) >= 12


@pytest.mark.parametrize(("description", "data"), MESSAGES, ids=[text.split()[0] for text, _ in MESSAGES])
def test_each_example_frame_decodes_and_encodes_exactly(description: str, data: bytes) -> None:
    message, seq = message_from(description)

    frame = decode_frame(data)
    assert frame.seq == seq
    assert parse_message(frame) == message
    assert encode(message, seq) == data


def test_the_damaged_examples_are_refused_as_the_document_says() -> None:
    damaged = [(text, data) for text, data in EXAMPLES if text.startswith("error=")]
    assert len(damaged) >= 2
    for text, data in damaged:
        error = getattr(errors, text.removeprefix("error="))
        with pytest.raises(error):
            decode_frame(data)


def test_the_stream_example_yields_exactly_its_frame() -> None:
    streams = [(text, data) for text, data in EXAMPLES if text.startswith("stream:")]
    assert streams
    for text, data in streams:
        message, seq = message_from(text.removeprefix("stream:").strip())

        found = FrameDecoder().feed(data)

        assert [parse_message(frame) for frame in found] == [message]  # type: ignore[arg-type]
        assert found[0].seq == seq  # type: ignore[union-attr]


def test_the_crc_and_limits_the_document_states_are_the_code_s() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "CRC-16/CCITT-FALSE" in text
    assert f"**`0x{crc16(b'123456789'):04X}`**" in text
    assert f"0 to {protocol.MAX_PAYLOAD}" in text
    assert f"**{int(protocol.INTER_BYTE_TIMEOUT * 1000)} ms**" in text
    for reason in NakReason:
        assert f"| `{reason:02X}` | {reason.name} |" in text
    for frame_type in FrameType:
        assert f"| `{frame_type:02X}` | {frame_type.name} |" in text

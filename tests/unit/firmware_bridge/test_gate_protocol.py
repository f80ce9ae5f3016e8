"""The gate protocol's frames and messages: exact bytes, refusals, and a decoder that survives anything.

The frame decoder reads a serial line or a TCP stream that may carry noise,
partial frames, damaged CRCs and oversized headers.  Hypothesis feeds it
arbitrary bytes: it returns frames and errors, never raises, and finds the
next good frame after garbage.
"""

from __future__ import annotations

import binascii

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.errors import (
    BadCrc,
    BadPayload,
    FrameError,
    FrameTooLarge,
    Truncated,
    UnknownType,
    UnsupportedVersion,
)
from firmware_bridge.gate import protocol
from firmware_bridge.gate.protocol import (
    MAX_PAYLOAD,
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
    crc16,
    decode_frame,
    encode,
    encode_frame,
    parse_message,
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def drain(decoder: FrameDecoder) -> list[Frame | FrameError]:
    """Everything the decoder still holds, as if the line went quiet long enough, again and again."""
    found: list[Frame | FrameError] = []
    while decoder.pending:
        found += decoder.expire()
    return found


# --- CRC ---------------------------------------------------------------------------


def test_the_crc_is_crc16_ccitt_false_with_its_published_check_value() -> None:
    assert crc16(b"123456789") == 0x29B1
    assert binascii.crc_hqx(b"123456789", 0) == 0x31C3  # XMODEM: the other CRC of the family


def test_the_crc_covers_everything_after_the_start_byte() -> None:
    frame = encode_frame(FrameType.HEARTBEAT, 4, b"\x00\x00\x0e\x10")

    assert int.from_bytes(frame[-2:], "big") == crc16(frame[1:-2])


# --- frames ------------------------------------------------------------------------


def test_a_frame_is_start_version_type_seq_length_payload_crc() -> None:
    frame = encode_frame(FrameType.SCAN, 0x2A, b"abc")

    assert frame[:6] == bytes([0xA5, 0x02, 0x02, 0x2A, 0x00, 0x03])
    assert frame[6:9] == b"abc"
    assert len(frame) == 6 + 3 + 2
    assert decode_frame(frame) == Frame(FrameType.SCAN, 0x2A, b"abc")


def test_the_largest_payload_is_1024_bytes() -> None:
    assert decode_frame(encode_frame(FrameType.SCAN, 1, bytes(MAX_PAYLOAD))).payload == bytes(MAX_PAYLOAD)
    with pytest.raises(ValueError):
        encode_frame(FrameType.SCAN, 1, bytes(MAX_PAYLOAD + 1))


def test_a_damaged_byte_anywhere_after_the_start_is_a_bad_crc() -> None:
    frame = encode(Heartbeat(3600), 4)
    for index in range(1, len(frame)):
        damaged = bytearray(frame)
        damaged[index] ^= 0x10
        if index in (4, 5):  # the length changed: the frame no longer ends where it ends
            with pytest.raises((Truncated, FrameTooLarge)):
                decode_frame(bytes(damaged))
            continue
        with pytest.raises(BadCrc):
            decode_frame(bytes(damaged))


def test_an_oversized_header_is_refused_before_its_payload_arrives() -> None:
    with pytest.raises(FrameTooLarge) as refused:
        decode_frame(bytes([0xA5, 0x01, 0x02, 0x08, 0x08, 0x00]))
    assert refused.value.seq == 8
    assert refused.value.nak == NakReason.TOO_LARGE


def test_a_frame_of_another_version_is_read_and_refused_as_unsupported() -> None:
    with pytest.raises(UnsupportedVersion) as refused:
        decode_frame(encode_frame(FrameType.HELLO, 3, b"", version=3))
    assert refused.value.seq == 3


def test_frames_of_version_1_and_2_are_both_read() -> None:
    assert decode_frame(encode_frame(FrameType.HEARTBEAT_ACK, 1, b"", version=1)).version == 1
    assert decode_frame(encode_frame(FrameType.HEARTBEAT_ACK, 1, b"")).version == protocol.VERSION == 2


def test_a_short_or_unstarted_buffer_is_truncated() -> None:
    for data in (b"", b"\xa5\x01\x01", b"\x00" * 10, encode(HeartbeatAck(), 1)[:-1]):
        with pytest.raises(Truncated):
            decode_frame(data)


# --- messages ----------------------------------------------------------------------

NONCE = bytes(range(0xA0, 0xB0))
MESSAGES = [
    Hello("GATE-01", "1.2.0", NONCE),
    Hello("X", "", NONCE),
    Scan(ScanKind.TEXT, b"5676290000"),
    Scan(ScanKind.NDEF, b"\xd4\x12\x08dukcapil.go.id:kiaeyJ"),
    Heartbeat(0),
    Heartbeat(2**32 - 1),
    HelloAck(5000, nonce=NONCE),
    Decision(True, "DITERIMA", "Bayar Rp20.000", 1000),
    Decision(False, "VERIFIKASI GAGAL", "HUBUNGI PETUGAS"),
    Decision(True, "", "", 0),
    HeartbeatAck(),
    Nak(NakReason.BAD_CRC),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda message: type(message).__name__)
def test_every_message_survives_encoding_and_parsing(message: protocol.Message) -> None:
    frame = decode_frame(encode(message, 200))

    assert frame.seq == 200
    assert parse_message(frame) == message


V1_MESSAGES = [Hello("GATE-01", "1.2.0"), HelloAck(5000, version=1), Nak(NakReason.BAD_CRC, version=1)]


@pytest.mark.parametrize("message", V1_MESSAGES, ids=lambda message: type(message).__name__)
def test_every_v1_message_survives_encoding_and_parsing(message: protocol.Message) -> None:
    frame = decode_frame(encode(message, 200, version=1))

    assert frame.version == 1
    assert parse_message(frame) == message


def test_a_hello_carries_a_nonce_in_v2_and_none_in_v1() -> None:
    with pytest.raises(ValueError):
        encode(Hello("GATE-01"), 1)
    with pytest.raises(ValueError):
        encode(Hello("GATE-01", "", NONCE), 1, version=1)
    with pytest.raises(BadPayload):
        parse_message(Frame(FrameType.HELLO, 1, Hello("GATE-01", "", NONCE).payload(), version=1))
    with pytest.raises(BadPayload):
        parse_message(Frame(FrameType.HELLO_ACK, 1, HelloAck(5000).payload(), version=2))


def test_a_deny_never_carries_a_relay_pulse() -> None:
    with pytest.raises(ValueError):
        encode(Decision(False, "DITOLAK", "", 500), 1)
    forged = encode_frame(FrameType.DENY, 1, b"\x01\xf4\x00\x00")
    with pytest.raises(BadPayload):
        parse_message(decode_frame(forged))


def test_display_lines_are_at_most_20_printable_ascii_characters() -> None:
    for line in ("A" * 21, "Bayar Rp20.000\n", "Diterima ✓"):
        with pytest.raises(ValueError):
            encode(Decision(True, line, "", 1000), 1)


@pytest.mark.parametrize(
    ("frame_type", "payload"),
    [
        (FrameType.HELLO, b""),
        (FrameType.HELLO, b"\x00\x00"),  # an empty board id
        (FrameType.HELLO, b"\x40" + b"A" * 64 + b"\x00"),  # a board id over 32 characters
        (FrameType.HELLO, b"\x03AB"),  # shorter than it says
        (FrameType.HELLO, b"\x02AB\x00extra"),
        (FrameType.SCAN, b"\x01"),  # a kind without data
        (FrameType.SCAN, b"\x09data"),  # an unknown kind
        (FrameType.HEARTBEAT, b"\x00\x00\x01"),
        (FrameType.HEARTBEAT_ACK, b"\x00"),
        (FrameType.ACCEPT, b"\x03\xe8\x03AB"),
        (FrameType.NAK, b"\x63\x01"),  # an unknown reason
    ],
)
def test_a_payload_that_does_not_fit_its_type_is_bad_payload(frame_type: FrameType, payload: bytes) -> None:
    with pytest.raises(BadPayload) as refused:
        parse_message(Frame(frame_type, 9, payload))
    assert refused.value.seq == 9
    assert refused.value.nak == NakReason.BAD_PAYLOAD


def test_a_type_outside_the_protocol_is_unknown() -> None:
    with pytest.raises(UnknownType) as refused:
        parse_message(Frame(0x42, 7, b""))
    assert refused.value.nak == NakReason.UNKNOWN_TYPE


# --- the stream decoder --------------------------------------------------------------


def test_frames_split_anywhere_across_reads_come_out_whole_and_in_order() -> None:
    stream = b"".join(encode(message, seq) for seq, message in enumerate(MESSAGES))
    for chunk in (1, 2, 3, 7, 64):
        decoder = FrameDecoder()
        found = [item for start in range(0, len(stream), chunk) for item in decoder.feed(stream[start:start + chunk])]

        assert [parse_message(frame) for frame in found] == MESSAGES  # type: ignore[arg-type]
        assert decoder.pending == 0 and decoder.dropped == 0


def test_noise_before_a_frame_is_skipped_and_counted() -> None:
    decoder = FrameDecoder()
    noise = b"rst:0x1 (POWERON_RESET),boot:0x13\r\n\x00\xff\xa5\x99"  # an ESP32 booting, then junk

    found = decoder.feed(noise + encode(Heartbeat(1), 1))

    assert found == [Frame(FrameType.HEARTBEAT, 1, b"\x00\x00\x00\x01")]
    assert decoder.dropped == len(noise)


def test_a_bad_crc_is_reported_and_the_next_frame_still_read() -> None:
    damaged = bytearray(encode(Heartbeat(1), 1))
    damaged[-1] ^= 0xFF
    decoder = FrameDecoder()

    found = decoder.feed(bytes(damaged) + encode(Heartbeat(2), 2))

    assert isinstance(found[0], BadCrc) and found[0].seq == 1
    assert found[-1] == Frame(FrameType.HEARTBEAT, 2, b"\x00\x00\x00\x02")


def test_a_partial_frame_is_given_up_when_the_line_goes_quiet_and_what_follows_is_read() -> None:
    partial = encode(Scan(ScanKind.TEXT, b"x" * 300), 5)[:40]  # a board reset in the middle of a scan
    hello = encode(Hello("GATE-01", "", NONCE), 1)
    decoder = FrameDecoder()

    assert decoder.feed(partial + hello) == []  # still waiting for the 300 bytes it was promised
    assert decoder.pending == len(partial) + len(hello)
    found = decoder.expire()

    assert isinstance(found[0], Truncated)
    assert found[-1] == decode_frame(hello)
    assert decoder.pending == 0


def test_a_header_with_a_false_length_is_refused_without_swallowing_the_frame_behind_it() -> None:
    decoder = FrameDecoder()

    found = decoder.feed(bytes([0xA5, 0x01, 0x02, 0x08, 0xFF, 0xFF]) + encode(HeartbeatAck(), 3))

    assert isinstance(found[0], FrameTooLarge)
    assert found[-1] == Frame(FrameType.HEARTBEAT_ACK, 3, b"")


def test_an_intact_frame_of_another_version_is_consumed_whole() -> None:
    decoder = FrameDecoder()
    future = encode_frame(FrameType.SCAN, 3, b"\xa5\x01" * 10, version=3)  # its payload looks like starts

    found = decoder.feed(future + encode(HeartbeatAck(), 4))

    assert [type(item) for item in found] == [UnsupportedVersion, Frame]
    assert decoder.dropped == 0


# --- fuzzing -----------------------------------------------------------------------

DOCUMENTED = (BadCrc, FrameTooLarge, Truncated, UnsupportedVersion)


@FUZZ
@given(st.binary(max_size=2100))
def test_decode_frame_raises_only_documented_frame_errors(data: bytes) -> None:
    try:
        frame = decode_frame(data)
    except DOCUMENTED:
        return
    assert encode_frame(frame.type, frame.seq, frame.payload, frame.version) == data


@FUZZ
@given(st.builds(Frame, st.integers(0, 255), st.integers(0, 255), st.binary(max_size=80), st.sampled_from([1, 2])))
def test_parse_message_raises_only_unknown_type_or_bad_payload(frame: Frame) -> None:
    try:
        message = parse_message(frame)
    except (UnknownType, BadPayload):
        return
    assert decode_frame(encode(message, frame.seq, frame.version)) == frame


@FUZZ
@given(st.lists(st.binary(max_size=300), max_size=12))
def test_the_stream_decoder_never_raises_and_never_holds_more_than_a_frame(chunks: list[bytes]) -> None:
    decoder = FrameDecoder()
    for chunk in chunks:
        for item in decoder.feed(chunk):
            assert isinstance(item, Frame | FrameError)
        assert decoder.pending <= protocol.MAX_FRAME
    for item in drain(decoder):
        assert isinstance(item, Frame | FrameError)


@FUZZ
@given(
    garbage=st.binary(max_size=400),
    seq=st.integers(0, 255),
    data=st.binary(min_size=1, max_size=200),
    chunk=st.integers(1, 64),
)
def test_after_any_garbage_the_next_good_frame_is_found(garbage: bytes, seq: int, data: bytes, chunk: int) -> None:
    frame = encode(Scan(ScanKind.NDEF, data), seq)
    stream = garbage + frame
    decoder = FrameDecoder()

    found = [item for start in range(0, len(stream), chunk) for item in decoder.feed(stream[start:start + chunk])]
    found += drain(decoder)

    assert decode_frame(frame) in found


@FUZZ
@given(st.lists(st.sampled_from(MESSAGES), min_size=1, max_size=6), st.binary(max_size=50), st.data())
def test_garbage_between_frames_loses_no_frame(
    messages: list[protocol.Message], noise: bytes, draw: st.DataObject
) -> None:
    """Noise that cannot start a frame (no A5 byte) costs nothing, wherever it falls."""
    quiet_noise = noise.replace(b"\xa5", b"")
    stream = b"".join(quiet_noise[: draw.draw(st.integers(0, len(quiet_noise)))] + encode(message, seq)
                      for seq, message in enumerate(messages))
    decoder = FrameDecoder()

    frames = [item for item in decoder.feed(stream) if isinstance(item, Frame)]

    assert [parse_message(frame) for frame in frames] == messages

"""Protocol v2's authentication: session keys, sealed frames, and the bridge's board key file.

Hypothesis sends frames with random MACs, counters and bodies, and genuine
frames with any byte changed: none is ever opened, and none reaches the
verifier through a session.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.dispatch import Dispatcher
from firmware_bridge.gate import auth
from firmware_bridge.gate.auth import COUNTER, MAC_SIZE, AuthFailed, Channel
from firmware_bridge.gate.keyfile import (
    BoardKeyError,
    BoardKeyFile,
    add_board_key,
    parse_board_key,
    read_board_keys,
    remove_board_key,
)
from firmware_bridge.gate.protocol import (
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
    decode_frame,
    encode,
    encode_frame,
    parse_message,
)
from firmware_bridge.gate.session import GateSession

from .doubles import CardVerifier
from .test_gate_session import KEY, SETTINGS

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])
SESSION_KEY = auth.session_key(KEY, "GATE-07", bytes(16), bytes(range(16)))


def pair() -> tuple[Channel, Channel]:
    """A board's and a bridge's channel in the same session."""
    return Channel(SESSION_KEY, auth.FROM_BOARD), Channel(SESSION_KEY, auth.FROM_BRIDGE)


# --- session keys and sealed frames ----------------------------------------------------


def test_the_session_key_depends_on_the_key_both_nonces_and_the_board_id() -> None:
    keys = {
        SESSION_KEY,
        auth.session_key(bytes(32), "GATE-07", bytes(16), bytes(range(16))),
        auth.session_key(KEY, "GATE-08", bytes(16), bytes(range(16))),
        auth.session_key(KEY, "GATE-07", bytes([1]) + bytes(15), bytes(range(16))),
        auth.session_key(KEY, "GATE-07", bytes(16), bytes(range(1, 17))),
    }

    assert len(keys) == 5 and all(len(key) == 32 for key in keys)


def test_a_sealed_frame_opens_on_the_other_side_once_and_in_order() -> None:
    board, bridge = pair()
    first, second = board.seal(Heartbeat(1), 1), board.seal(Heartbeat(2), 2)

    assert parse_message(bridge.open(decode_frame(first))) == Heartbeat(1)
    assert parse_message(bridge.open(decode_frame(second))) == Heartbeat(2)
    for again in (first, second):
        with pytest.raises(AuthFailed):
            bridge.open(decode_frame(again))
    assert (board.sent, bridge.received) == (2, 2)


def test_a_frame_never_opens_on_the_side_that_sealed_it() -> None:
    board, bridge = pair()
    sealed = bridge.seal(Decision(True, "DITERIMA", "", 1000), 3)

    with pytest.raises(AuthFailed):
        bridge.open(decode_frame(sealed))
    assert parse_message(board.open(decode_frame(sealed))).accepted  # type: ignore[union-attr]


def test_a_sealed_frame_is_counter_body_and_a_16_byte_mac() -> None:
    board, _ = pair()
    frame = decode_frame(board.seal(Heartbeat(3600), 4))

    assert frame.version == 2 and frame.type == FrameType.HEARTBEAT and frame.seq == 4
    assert frame.payload[:4] == COUNTER.pack(1)
    assert frame.payload[4:-MAC_SIZE] == Heartbeat(3600).payload()
    covered = bytes([0x02, FrameType.HEARTBEAT, 4, 0, len(frame.payload)]) + frame.payload[:-MAC_SIZE]
    assert frame.payload[-MAC_SIZE:] == auth.frame_mac(SESSION_KEY, auth.FROM_BOARD, covered)


def test_a_body_too_large_to_seal_is_refused() -> None:
    board, _ = pair()

    with pytest.raises(ValueError):
        board.seal(Scan(ScanKind.TEXT, bytes(auth.MAX_BODY)), 1)
    board.seal(Scan(ScanKind.TEXT, bytes(auth.MAX_BODY - 1)), 1)


def test_a_hello_ack_that_does_not_prove_the_key_is_refused_by_the_board() -> None:
    nonce = auth.new_nonce()
    ack = HelloAck(5000, nonce=auth.new_nonce())
    _, genuine = auth.answer_hello(KEY, "GATE-07", nonce, ack, 1)
    _, forged = auth.answer_hello(bytes(32), "GATE-07", nonce, ack, 1)
    _, old = auth.answer_hello(KEY, "GATE-07", auth.new_nonce(), ack, 1)  # recorded from another session

    assert auth.open_hello_ack(KEY, "GATE-07", nonce, decode_frame(genuine))[1] == ack
    for bad in (forged, old, encode(HelloAck(5000, nonce=ack.nonce), 1)):
        with pytest.raises(AuthFailed):
            auth.open_hello_ack(KEY, "GATE-07", nonce, decode_frame(bad))


# --- fuzzing: random MACs, counters and changes are never accepted ----------------------


@FUZZ
@given(
    frame_type=st.sampled_from([FrameType.SCAN, FrameType.HEARTBEAT, FrameType.ACCEPT]),
    seq=st.integers(0, 255),
    counter=st.integers(0, 2**32 - 1),
    body=st.binary(max_size=64),
    mac=st.binary(min_size=MAC_SIZE, max_size=MAC_SIZE),
)
def test_a_frame_with_a_random_mac_and_counter_never_opens(frame_type: int, seq: int, counter: int, body: bytes,
                                                           mac: bytes) -> None:
    board, bridge = pair()
    frame = Frame(frame_type, seq, COUNTER.pack(counter) + body + mac)

    for side in (board, bridge):
        with pytest.raises(AuthFailed):
            side.open(frame)
        assert side.received == 0


@FUZZ
@given(st.data())
def test_a_genuine_frame_with_any_bytes_changed_never_opens(data: st.DataObject) -> None:
    board, bridge = pair()
    sealed = bytearray(bridge.seal(Decision(True, "DITERIMA", "Bayar Rp20.000", 1000), 7))
    changes = data.draw(st.dictionaries(st.integers(1, len(sealed) - 3), st.integers(1, 255), min_size=1))
    for index, flip in changes.items():
        sealed[index] ^= flip
    altered = bytes(sealed[:-2]) + encode_frame(sealed[2], sealed[3], bytes(sealed[6:-2]), sealed[1])[-2:]

    try:
        frame = decode_frame(altered)  # the CRC is made good again, as an attacker would
    except Exception:
        return  # the length or version byte changed: not even a frame
    with pytest.raises(AuthFailed):
        board.open(frame)


@FUZZ
@given(
    frames=st.lists(
        st.tuples(st.sampled_from([FrameType.SCAN, FrameType.HEARTBEAT, FrameType.HELLO_ACK]), st.integers(0, 255),
                  st.integers(0, 2**32 - 1), st.binary(max_size=40), st.binary(min_size=MAC_SIZE, max_size=MAC_SIZE)),
        min_size=1, max_size=5),
)
def test_a_session_never_decides_a_frame_with_a_random_mac(frames: list[tuple[int, int, int, bytes, bytes]],
                                                           tokens: list[str]) -> None:
    verifier = CardVerifier()
    sent: list[bytes] = []
    session = GateSession("gate:fuzz", Dispatcher(verifier), sent.append, SETTINGS)
    nonce = auth.new_nonce()
    session.receive(encode(Hello("GATE-07", "", nonce), 1))
    board, _ = auth.open_hello_ack(KEY, "GATE-07", nonce, decode_frame(sent[0]))
    session.receive(board.seal(Heartbeat(1), 2))
    assert session.admitted

    for frame_type, seq, counter, body, mac in frames:
        session.receive(encode_frame(frame_type, seq, COUNTER.pack(counter) + bytes([ScanKind.TEXT]) + body + mac))

    assert verifier.calls == []
    assert session.ended is not None and not session.admitted
    last = decode_frame(sent[-1])
    assert parse_message(last) == Nak(NakReason.AUTH_FAILED)


def test_frames_before_the_handshake_never_take_a_slot(dispatcher: Dispatcher) -> None:
    admitted: list[str] = []

    def admit(session: GateSession) -> bool:
        admitted.append(session.board_id or "")
        return True

    for frame in (encode(Heartbeat(1), 1), Channel(KEY, auth.FROM_BOARD).seal(Heartbeat(1), 1)):
        session = GateSession("gate:test", dispatcher, lambda _: None, SETTINGS, on_admitted=admit)
        session.receive(frame)
        assert session.ended is not None
    assert admitted == []


# --- the board key file ------------------------------------------------------------------


def test_a_board_key_is_created_once_in_a_file_only_its_owner_may_read(tmp_path: Path) -> None:
    path = tmp_path / "gate-keys"

    key = add_board_key(path, "GATE-01")

    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_board_keys(path) == {"GATE-01": key}
    with pytest.raises(BoardKeyError, match="already has a key"):
        add_board_key(path, "GATE-01")
    other = add_board_key(path, "GATE 02")  # a board id may hold a space
    assert read_board_keys(path) == {"GATE-01": key, "GATE 02": other}
    assert add_board_key(path, "GATE-01", replace=True) != key


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gate-keys"
    add_board_key(path, "GATE-01")
    os.chmod(path, 0o640)

    with pytest.raises(BoardKeyError, match="chmod 600"):
        read_board_keys(path)


@pytest.mark.parametrize("line", ["00 GATE-01", f"{'zz' * 32} GATE-01", f"{'00' * 32} ", f"{'00' * 32} {'A' * 33}"])
def test_a_malformed_key_line_is_refused_with_its_line_number(tmp_path: Path, line: str) -> None:
    path = tmp_path / "gate-keys"
    path.write_text(f"# comment\n\n{line}\n")
    path.chmod(0o600)

    with pytest.raises(BoardKeyError, match="line 3"):
        read_board_keys(path)


def test_a_board_key_is_64_hex_digits() -> None:
    assert parse_board_key("00" * 32) == bytes(32)
    for text in ("00" * 31, "00" * 33, "xyz"):
        with pytest.raises(BoardKeyError):
            parse_board_key(text)


def test_the_bridge_reads_the_key_file_again_when_it_changes_and_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "gate-keys"
    first = add_board_key(path, "GATE-01")
    keys = BoardKeyFile(path)
    assert keys.key_for("GATE-01") == first and keys.key_for("GATE-02") is None

    second = add_board_key(path, "GATE-02")
    assert keys.key_for("GATE-02") == second
    remove_board_key(path, "GATE-01")
    assert keys.key_for("GATE-01") is None  # a stolen board's key removed: refused from its next HELLO
    path.chmod(0o644)
    assert keys.key_for("GATE-02") is None  # unreadable as it is: every board refused


def test_removing_a_board_that_has_no_key_says_so(tmp_path: Path) -> None:
    path = tmp_path / "gate-keys"
    add_board_key(path, "GATE-01")

    with pytest.raises(BoardKeyError, match="no key"):
        remove_board_key(path, "GATE-09")


def test_heartbeat_acks_are_sealed_in_a_session() -> None:
    board, bridge = pair()
    assert parse_message(board.open(decode_frame(bridge.seal(HeartbeatAck(), 5)))) == HeartbeatAck()

"""The bridge's side of a gate conversation, without a line: bytes in, frames out.

A gate opens only on a decision the verifier committed; everything else (no
HELLO, a damaged frame, a tag that is not a card, a verifier that cannot
decide) answers without pulsing the relay.
"""

from __future__ import annotations

import ndef
import pytest

from firmware_bridge.dispatch import Dispatcher
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
    encode,
    encode_frame,
    parse_message,
)
from firmware_bridge.gate.session import GateSession, GateSettings
from firmware_bridge.payload import KIA_RECORD_TYPE
from keys import qr_text

from .doubles import BrokenVerifier, CardVerifier, UnavailableVerifier

SETTINGS = GateSettings(pulse_ms=800, heartbeat_ms=1000, silent_after=3)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Board:
    """The far end of a session: sends frames in, collects the answers as messages."""

    def __init__(self, dispatcher: Dispatcher, clock: Clock | None = None) -> None:
        self.sent: list[bytes] = []
        self.clock = clock or Clock()
        self.latencies: list[float] = []
        self.session = GateSession("gate:test", dispatcher, self.sent.append, SETTINGS,
                                   latency=self.latencies.append, clock=self.clock)
        self._seq = 0

    def send(self, message: protocol.Message, seq: int | None = None) -> list[tuple[int, protocol.Message]]:
        if seq is None:
            self._seq += 1
            seq = self._seq
        return self.raw(encode(message, seq))

    def raw(self, data: bytes) -> list[tuple[int, protocol.Message]]:
        before = len(self.sent)
        self.session.receive(data)
        return self.answers(before)

    def answers(self, since: int = 0) -> list[tuple[int, protocol.Message]]:
        frames = FrameDecoder().feed(b"".join(self.sent[since:]))
        return [(frame.seq, parse_message(frame)) for frame in frames]  # type: ignore[union-attr]


@pytest.fixture()
def board(dispatcher: Dispatcher) -> Board:
    return Board(dispatcher)


def ndef_message(*records: tuple[str, bytes]) -> bytes:
    return b"".join(ndef.message_encoder([ndef.Record(kind, "", data) for kind, data in records]))


# --- hello and heartbeats ------------------------------------------------------------


def test_hello_is_answered_with_the_heartbeat_interval(board: Board) -> None:
    answers = board.send(Hello("GATE-07", "2.1"), seq=1)

    assert answers == [(1, HelloAck(1000))]
    assert (board.session.board_id, board.session.firmware) == ("GATE-07", "2.1")
    assert board.session.label == "gate:test board GATE-07"


def test_a_heartbeat_is_acknowledged_with_its_seq(board: Board) -> None:
    board.send(Hello("GATE-07"))

    assert board.send(Heartbeat(12), seq=77) == [(77, HeartbeatAck())]


def test_a_board_silent_for_three_heartbeats_counts_as_gone_and_is_heard_again(dispatcher: Dispatcher) -> None:
    clock = Clock()
    board = Board(dispatcher, clock)
    board.send(Hello("GATE-07"))

    clock.now += 2.9
    assert board.session.tick()
    clock.now += 0.2
    assert not board.session.tick()
    board.send(Heartbeat(5))
    assert board.session.tick()


# --- scans ---------------------------------------------------------------------------


def test_a_scan_before_hello_is_refused_and_never_decided(board: Board, verifier: CardVerifier,
                                                          tokens: list[str]) -> None:
    answers = board.send(Scan(ScanKind.TEXT, tokens[0].encode()), seq=5)

    assert answers == [(5, Nak(NakReason.HELLO_REQUIRED))]
    assert verifier.calls == []


def test_a_genuine_card_opens_the_gate_with_the_configured_pulse(board: Board, verifier: CardVerifier,
                                                                 tokens: list[str]) -> None:
    board.send(Hello("GATE-07"))

    answers = board.send(Scan(ScanKind.TEXT, qr_text(tokens[0]).encode()), seq=9)

    assert answers == [(9, Decision(True, "DITERIMA", "Bayar Rp20.000", 800))]
    assert [(call.payload, call.source) for call in verifier.calls] == [(qr_text(tokens[0]), "gate")]
    assert len(board.latencies) == 1 and board.latencies[0] >= 0


def test_a_forged_card_is_denied_without_a_pulse(board: Board, tokens: list[str]) -> None:
    board.send(Hello("GATE-07"))
    forged = tokens[0][:-2] + ("AA" if not tokens[0].endswith("AA") else "BB")

    ((_, answer),) = board.send(Scan(ScanKind.TEXT, forged.encode()))

    assert isinstance(answer, Decision)
    assert not answer.accepted and answer.pulse_ms == 0
    assert answer.line1 == "DITOLAK"


@pytest.mark.parametrize("broken", [UnavailableVerifier, BrokenVerifier])
def test_when_the_verifier_cannot_decide_the_gate_is_denied_and_says_so(broken: type, tokens: list[str]) -> None:
    board = Board(Dispatcher(broken()))
    board.send(Hello("GATE-07"))

    answers = board.send(Scan(ScanKind.TEXT, tokens[0].encode()), seq=3)

    assert answers == [(3, Decision(False, "VERIFIKASI GAGAL", "HUBUNGI PETUGAS", 0))]


def test_a_resent_scan_gets_the_same_answer_without_a_second_decision(board: Board, verifier: CardVerifier,
                                                                      tokens: list[str]) -> None:
    board.send(Hello("GATE-07"))
    scan = Scan(ScanKind.TEXT, tokens[0].encode())

    first = board.send(scan, seq=10)
    again = board.send(scan, seq=10)

    assert first == again
    assert len(verifier.calls) == 1


def test_the_same_card_under_a_new_seq_is_a_new_visit(board: Board, verifier: CardVerifier,
                                                       tokens: list[str]) -> None:
    board.send(Hello("GATE-07"))
    scan = Scan(ScanKind.TEXT, tokens[0].encode())

    board.send(scan, seq=10)
    board.send(scan, seq=11)

    assert len(verifier.calls) == 2  # the verifier's anti-passback rule decides, not the bridge


def test_an_ndef_scan_passes_on_the_kia_record_only(board: Board, verifier: CardVerifier,
                                                    tokens: list[str]) -> None:
    board.send(Hello("GATE-07"))
    message = ndef_message(("urn:nfc:wkt:U", b"\x04kia.example"), (KIA_RECORD_TYPE, tokens[1].encode()))

    ((_, answer),) = board.send(Scan(ScanKind.NDEF, message))

    assert isinstance(answer, Decision) and answer.accepted
    assert verifier.payloads == [tokens[1]]


def test_a_tag_that_is_not_a_card_is_denied_without_asking_the_verifier(board: Board,
                                                                        verifier: CardVerifier) -> None:
    board.send(Hello("GATE-07"))

    ((_, answer),) = board.send(Scan(ScanKind.NDEF, ndef_message(("urn:nfc:wkt:T", b"\x02enhello"))))

    assert answer == Decision(False, "BUKAN KARTU KIA", "TEMPELKAN KARTU KIA", 0)
    assert verifier.calls == []


# --- bad frames ----------------------------------------------------------------------


def test_a_bad_crc_is_nakked_with_its_seq_and_the_board_can_resend(board: Board, tokens: list[str]) -> None:
    board.send(Hello("GATE-07"))
    frame = bytearray(encode(Scan(ScanKind.TEXT, tokens[0].encode()), 21))
    frame[10] ^= 0x01

    assert board.raw(bytes(frame)) == [(21, Nak(NakReason.BAD_CRC))]
    ((seq, answer),) = board.send(Scan(ScanKind.TEXT, tokens[0].encode()), seq=21)
    assert seq == 21 and isinstance(answer, Decision) and answer.accepted


def test_an_oversized_frame_is_nakked_and_the_next_frame_answered(board: Board) -> None:
    board.send(Hello("GATE-07"))
    oversized = bytes([0xA5, 0x01, 0x02, 0x30, 0x10, 0x00]) + b"\x00" * 100

    answers = board.raw(oversized + encode(Heartbeat(1), 31))

    assert answers[0] == (0x30, Nak(NakReason.TOO_LARGE))
    assert answers[-1] == (31, HeartbeatAck())


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (encode_frame(0x42, 4, b""), NakReason.UNKNOWN_TYPE),
        (encode(Decision(True, "OPEN", "", 5000), 4), NakReason.UNKNOWN_TYPE),  # a board does not send decisions
        (encode_frame(FrameType.HELLO, 4, b"\x00\x00"), NakReason.BAD_PAYLOAD),
        (encode_frame(FrameType.HELLO, 4, b"", version=3), NakReason.UNSUPPORTED_VERSION),
    ],
)
def test_an_intact_frame_the_bridge_cannot_use_is_nakked(board: Board, frame: bytes, reason: NakReason) -> None:
    assert board.raw(frame) == [(4, Nak(reason))]


def test_a_partial_frame_is_dropped_after_the_line_is_quiet_and_the_board_is_answered(
    dispatcher: Dispatcher, tokens: list[str]
) -> None:
    clock = Clock()
    board = Board(dispatcher, clock)
    board.send(Hello("GATE-07"))
    partial = encode(Scan(ScanKind.TEXT, tokens[0].encode()), 40)[:30]

    assert board.raw(partial) == []
    assert board.raw(encode(Heartbeat(2), 41)) == []  # swallowed while the partial frame waits
    clock.now += protocol.INTER_BYTE_TIMEOUT
    before = len(board.sent)
    board.session.tick()

    assert board.answers(before) == [(40, Nak(NakReason.BAD_CRC)), (41, HeartbeatAck())]


def test_noise_on_the_line_is_skipped(board: Board) -> None:
    answers = board.raw(b"\x00\x13garbage\xff\xfe" + encode(Hello("GATE-07"), 1))

    assert answers == [(1, HelloAck(1000))]

"""The bridge's side of a gate conversation, without a line: bytes in, frames out.

A gate opens only on a decision the verifier committed; everything else (no
HELLO, a damaged frame, a tag that is not a card, a verifier that cannot
decide) answers without pulsing the relay.  Protocol v2: nothing is taken
before a HELLO from a board whose key the bridge holds, the board is admitted
only once its first sealed frame verifies, and every frame after it must be
the session's next sealed frame.
"""

from __future__ import annotations

import dataclasses

import ndef
import pytest

from firmware_bridge import events
from firmware_bridge.dispatch import Dispatcher
from firmware_bridge.gate import auth, protocol
from firmware_bridge.gate.auth import Channel
from firmware_bridge.gate.keyfile import BoardKeys
from firmware_bridge.gate.protocol import (
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
    encode,
    encode_frame,
    parse_message,
)
from firmware_bridge.gate.session import GateSession, GateSettings
from firmware_bridge.payload import KIA_RECORD_TYPE
from keys import qr_text

from .doubles import BrokenVerifier, CardVerifier, UnavailableVerifier

KEY = bytes(range(32))
SETTINGS = GateSettings(pulse_ms=800, heartbeat_ms=1000, silent_after=3, keys=BoardKeys({"GATE-07": KEY}))
V1_SETTINGS = dataclasses.replace(SETTINGS, keys=None, insecure_v1=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Answers = list[tuple[int, protocol.Message]]


class Board:
    """The far end of a session: sends frames in (sealed once it has a session), collects the answers.

    ``admitted`` records what the session's transport was asked: the board ids given a slot.
    """

    def __init__(self, dispatcher: Dispatcher, clock: Clock | None = None, settings: GateSettings = SETTINGS,
                 key: bytes = KEY) -> None:
        self.sent: list[bytes] = []
        self.clock = clock or Clock()
        self.latencies: list[float] = []
        self.admitted: list[str | None] = []
        self.key = key
        self.version = settings.version
        self.channel: Channel | None = None
        self.session = GateSession("gate:test", dispatcher, self.sent.append, settings,
                                   on_admitted=self._admit, latency=self.latencies.append, clock=self.clock)
        self._seq = 0

    def _admit(self, session: GateSession) -> bool:
        self.admitted.append(session.board_id)
        return True

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def hello(self, board_id: str = "GATE-07", seq: int | None = None, nonce: bytes | None = None) -> Answers:
        """HELLO; in v2 the HELLO_ACK is checked as a board checks it, and the session's channel kept."""
        seq = self.next_seq() if seq is None else seq
        if self.version < 2:
            return self.raw(encode(Hello(board_id), seq, 1))
        nonce = auth.new_nonce() if nonce is None else nonce
        before = len(self.sent)
        self.session.receive(encode(Hello(board_id, "2.1", nonce), seq))
        frames = self.frames(before)
        if len(frames) == 1 and frames[0].type == FrameType.HELLO_ACK:
            self.channel, ack = auth.open_hello_ack(self.key, board_id, nonce, frames[0])
            return [(frames[0].seq, ack)]
        return [(frame.seq, parse_message(frame)) for frame in frames]

    def admit(self, board_id: str = "GATE-07") -> None:
        """HELLO and the board's proof (a sealed HEARTBEAT), as the reference board does."""
        self.hello(board_id)
        assert self.send(Heartbeat(1))[0][1] == HeartbeatAck()

    def frame(self, message: protocol.Message, seq: int) -> bytes:
        if self.channel is not None:
            return self.channel.seal(message, seq)
        return encode(message, seq, self.version)

    def send(self, message: protocol.Message, seq: int | None = None) -> Answers:
        return self.raw(self.frame(message, self.next_seq() if seq is None else seq))

    def raw(self, data: bytes) -> Answers:
        before = len(self.sent)
        self.session.receive(data)
        return self.answers(before)

    def frames(self, since: int = 0) -> list[Frame]:
        found = FrameDecoder().feed(b"".join(self.sent[since:]))
        assert all(isinstance(frame, Frame) for frame in found)
        return found  # type: ignore[return-value]

    def answers(self, since: int = 0) -> Answers:
        """Each answer as its board reads it: a plain NAK as it is, any other v2 frame opened in the session."""
        read = []
        for frame in self.frames(since):
            plain = self.version < 2 or (frame.type == FrameType.NAK and len(frame.payload) == 2)
            assert plain or self.channel is not None
            read.append((frame.seq, parse_message(frame if plain else self.channel.open(frame))))  # type: ignore[union-attr]
        return read


@pytest.fixture()
def board(dispatcher: Dispatcher) -> Board:
    return Board(dispatcher)


@pytest.fixture()
def admitted(board: Board) -> Board:
    board.admit()
    return board


def ndef_message(*records: tuple[str, bytes]) -> bytes:
    return b"".join(ndef.message_encoder([ndef.Record(kind, "", data) for kind, data in records]))


# --- the handshake --------------------------------------------------------------------


def test_hello_is_answered_with_a_sealed_hello_ack_that_proves_the_bridge_holds_the_key(board: Board) -> None:
    ((seq, ack),) = board.hello(seq=1)  # raises AuthFailed unless sealed under the session key

    assert seq == 1 and isinstance(ack, HelloAck)
    assert (ack.heartbeat_ms, ack.version, len(ack.nonce)) == (1000, 2, protocol.NONCE_SIZE)
    assert (board.session.board_id, board.session.firmware) == ("GATE-07", "2.1")
    assert not board.session.admitted and board.admitted == []
    assert board.session.label == "gate:test board GATE-07 (not admitted)"


def test_the_board_is_admitted_by_its_first_sealed_frame(board: Board, dispatcher: Dispatcher) -> None:
    board.hello()

    assert board.send(Heartbeat(1), seq=2) == [(2, HeartbeatAck())]
    assert board.session.admitted and board.admitted == ["GATE-07"]
    assert board.session.label == "gate:test board GATE-07"
    assert dispatcher.events.count(events.HELLO, "gate:test", "GATE-07") == 1


def test_each_hello_gets_a_fresh_bridge_nonce(dispatcher: Dispatcher) -> None:
    nonces = {Board(dispatcher).hello(nonce=bytes(16))[0][1].nonce for _ in range(3)}  # type: ignore[union-attr]

    assert len(nonces) == 3


def test_a_resent_hello_gets_the_same_hello_ack(board: Board) -> None:
    nonce = auth.new_nonce()
    hello = encode(Hello("GATE-07", "2.1", nonce), 1)
    board.session.receive(hello)
    board.session.receive(hello)  # the board did not hear the answer

    assert board.sent[0] == board.sent[1]
    board.channel = auth.open_hello_ack(KEY, "GATE-07", nonce, board.frames()[0])[0]
    assert board.send(Heartbeat(1))[0][1] == HeartbeatAck()


def test_a_board_whose_key_the_bridge_does_not_hold_is_refused(board: Board, dispatcher: Dispatcher) -> None:
    assert board.hello("GATE-99", seq=1) == [(1, Nak(NakReason.UNKNOWN_BOARD))]
    assert board.session.ended is not None and board.admitted == []


def test_a_bridge_without_board_keys_refuses_every_board(dispatcher: Dispatcher) -> None:
    board = Board(dispatcher, settings=dataclasses.replace(SETTINGS, keys=None))

    assert board.hello(seq=1) == [(1, Nak(NakReason.UNKNOWN_BOARD))]
    assert board.session.ended is not None


def test_a_board_silent_for_three_heartbeats_counts_as_gone_and_is_heard_again(dispatcher: Dispatcher) -> None:
    clock = Clock()
    board = Board(dispatcher, clock)
    board.admit()

    clock.now += 2.9
    assert board.session.tick()
    clock.now += 0.2
    assert not board.session.tick()
    board.send(Heartbeat(5))
    assert board.session.tick()


def test_a_heartbeat_is_acknowledged_with_its_seq(admitted: Board) -> None:
    assert admitted.send(Heartbeat(12), seq=77) == [(77, HeartbeatAck())]


# --- attacks on the bridge ---------------------------------------------------------------


def test_heartbeats_before_hello_take_no_slot(board: Board, dispatcher: Dispatcher) -> None:
    answers = board.send(Heartbeat(1), seq=3)

    assert answers == [(3, Nak(NakReason.HELLO_REQUIRED))]
    assert board.session.ended is not None  # the transport closes the line
    assert not board.session.admitted and board.admitted == []
    assert dispatcher.events.count(events.HEARTBEAT) == 0


def test_a_scan_before_hello_is_refused_and_never_decided(board: Board, verifier: CardVerifier,
                                                          tokens: list[str]) -> None:
    answers = board.send(Scan(ScanKind.TEXT, tokens[0].encode()), seq=5)

    assert answers == [(5, Nak(NakReason.HELLO_REQUIRED))]
    assert board.session.ended is not None
    assert verifier.calls == []


def test_an_unauthenticated_hello_cannot_take_a_board_id(dispatcher: Dispatcher, verifier: CardVerifier,
                                                          tokens: list[str]) -> None:
    """A stranger says HELLO as GATE-07 without its key: it is never admitted, so it never replaces GATE-07."""
    stranger = Board(dispatcher, key=bytes(32))
    nonce = auth.new_nonce()
    stranger.session.receive(encode(Hello("GATE-07", "", nonce), 1))
    with pytest.raises(auth.AuthFailed):  # a HELLO_ACK it cannot check, nor answer
        auth.open_hello_ack(bytes(32), "GATE-07", nonce, stranger.frames()[0])
    forged = Channel(bytes(32), auth.FROM_BOARD).seal(Scan(ScanKind.TEXT, qr_text(tokens[0]).encode()), 2)

    answers = stranger.raw(forged)

    assert answers == [(2, Nak(NakReason.AUTH_FAILED))]
    assert stranger.session.ended is not None and stranger.admitted == []
    assert verifier.calls == []


def test_a_replayed_scan_frame_is_refused(admitted: Board, verifier: CardVerifier, tokens: list[str]) -> None:
    scan = admitted.frame(Scan(ScanKind.TEXT, qr_text(tokens[0]).encode()), 9)
    assert admitted.raw(scan)[0][1] == Decision(True, "DITERIMA", "Bayar Rp20.000", 800)

    answers = admitted.raw(scan)  # the same bytes again, as a sniffer would send them

    assert answers == [(9, Nak(NakReason.AUTH_FAILED))]
    assert admitted.session.ended is not None
    assert len(verifier.calls) == 1


def test_a_scan_frame_replayed_into_another_session_is_refused(dispatcher: Dispatcher, verifier: CardVerifier,
                                                               tokens: list[str]) -> None:
    recorded = Board(dispatcher)
    recorded.admit()
    scan = recorded.frame(Scan(ScanKind.TEXT, qr_text(tokens[0]).encode()), 9)
    recorded.raw(scan)
    later = Board(dispatcher)
    later.admit()

    assert later.raw(scan) == [(9, Nak(NakReason.AUTH_FAILED))]
    assert len(verifier.calls) == 1


def test_reordered_frames_are_refused(admitted: Board, verifier: CardVerifier, tokens: list[str]) -> None:
    first = admitted.frame(Scan(ScanKind.TEXT, tokens[0].encode()), 10)
    second = admitted.frame(Scan(ScanKind.TEXT, tokens[1].encode()), 11)

    assert isinstance(admitted.raw(second)[0][1], Decision)
    assert admitted.raw(first) == [(10, Nak(NakReason.AUTH_FAILED))]
    assert verifier.payloads == [tokens[1]]


@pytest.mark.parametrize("where", ["type", "seq", "counter", "body", "mac"])
def test_an_altered_frame_with_a_good_crc_is_refused(admitted: Board, verifier: CardVerifier, tokens: list[str],
                                                     where: str) -> None:
    frame = protocol.decode_frame(admitted.frame(Scan(ScanKind.TEXT, tokens[0].encode()), 12))
    payload = bytearray(frame.payload)
    frame_type, seq = frame.type, frame.seq
    if where == "type":
        frame_type = FrameType.HEARTBEAT
    elif where == "seq":
        seq ^= 1
    else:
        payload[{"counter": 3, "body": 10, "mac": -1}[where]] ^= 0x01

    answers = admitted.raw(encode_frame(frame_type, seq, bytes(payload)))

    assert answers == [(seq, Nak(NakReason.AUTH_FAILED))]
    assert verifier.calls == []


def test_a_frame_sealed_by_the_bridge_reflected_back_is_refused(admitted: Board) -> None:
    reflected = admitted.sent[-1]  # the bridge's own sealed HEARTBEAT_ACK

    assert admitted.raw(reflected)[0][1] == Nak(NakReason.AUTH_FAILED)


def test_a_plain_frame_after_the_handshake_is_refused(admitted: Board, verifier: CardVerifier,
                                                      tokens: list[str]) -> None:
    assert admitted.raw(encode(Scan(ScanKind.TEXT, tokens[0].encode()), 5)) == [(5, Nak(NakReason.AUTH_FAILED))]
    assert verifier.calls == []


def test_a_v1_frame_is_refused_by_a_v2_bridge(board: Board, verifier: CardVerifier, tokens: list[str]) -> None:
    answers = board.raw(encode(Hello("GATE-07"), 1, version=1))

    assert answers == [(1, Nak(NakReason.UNSUPPORTED_VERSION))]
    assert board.session.ended is not None


# --- scans ---------------------------------------------------------------------------


def test_a_genuine_card_opens_the_gate_with_the_configured_pulse(admitted: Board, verifier: CardVerifier,
                                                                 tokens: list[str]) -> None:
    answers = admitted.send(Scan(ScanKind.TEXT, qr_text(tokens[0]).encode()), seq=9)

    assert answers == [(9, Decision(True, "DITERIMA", "Bayar Rp20.000", 800))]
    assert [(call.payload, call.source) for call in verifier.calls] == [(qr_text(tokens[0]), "gate")]
    assert len(admitted.latencies) == 1 and admitted.latencies[0] >= 0


def test_a_scan_as_the_proof_admits_the_board_and_is_decided(board: Board, verifier: CardVerifier,
                                                             tokens: list[str]) -> None:
    board.hello()

    ((_, answer),) = board.send(Scan(ScanKind.TEXT, tokens[0].encode()))

    assert isinstance(answer, Decision) and answer.accepted
    assert board.admitted == ["GATE-07"]


def test_a_forged_card_is_denied_without_a_pulse(admitted: Board, tokens: list[str]) -> None:
    forged = tokens[0][:-2] + ("AA" if not tokens[0].endswith("AA") else "BB")

    ((_, answer),) = admitted.send(Scan(ScanKind.TEXT, forged.encode()))

    assert isinstance(answer, Decision)
    assert not answer.accepted and answer.pulse_ms == 0
    assert answer.line1 == "DITOLAK"


@pytest.mark.parametrize("broken", [UnavailableVerifier, BrokenVerifier])
def test_when_the_verifier_cannot_decide_the_gate_is_denied_and_says_so(broken: type, tokens: list[str]) -> None:
    board = Board(Dispatcher(broken()))
    board.admit()

    answers = board.send(Scan(ScanKind.TEXT, tokens[0].encode()), seq=3)

    assert answers == [(3, Decision(False, "VERIFIKASI GAGAL", "HUBUNGI PETUGAS", 0))]


def test_a_resent_scan_gets_the_same_answer_without_a_second_decision(admitted: Board, verifier: CardVerifier,
                                                                      tokens: list[str]) -> None:
    scan = Scan(ScanKind.TEXT, tokens[0].encode())

    first = admitted.send(scan, seq=10)
    again = admitted.send(scan, seq=10)  # sealed again under the next counter, as a board resends

    assert first == again
    assert len(verifier.calls) == 1


def test_the_same_card_under_a_new_seq_is_a_new_visit(admitted: Board, verifier: CardVerifier,
                                                       tokens: list[str]) -> None:
    scan = Scan(ScanKind.TEXT, tokens[0].encode())

    admitted.send(scan, seq=10)
    admitted.send(scan, seq=11)

    assert len(verifier.calls) == 2  # the verifier's anti-passback rule decides, not the bridge


def test_an_ndef_scan_passes_on_the_kia_record_only(admitted: Board, verifier: CardVerifier,
                                                    tokens: list[str]) -> None:
    message = ndef_message(("urn:nfc:wkt:U", b"\x04kia.example"), (KIA_RECORD_TYPE, tokens[1].encode()))

    ((_, answer),) = admitted.send(Scan(ScanKind.NDEF, message))

    assert isinstance(answer, Decision) and answer.accepted
    assert verifier.payloads == [tokens[1]]


def test_a_tag_that_is_not_a_card_is_denied_without_asking_the_verifier(admitted: Board,
                                                                        verifier: CardVerifier) -> None:
    ((_, answer),) = admitted.send(Scan(ScanKind.NDEF, ndef_message(("urn:nfc:wkt:T", b"\x02enhello"))))

    assert answer == Decision(False, "BUKAN KARTU KIA", "TEMPELKAN KARTU KIA", 0)
    assert verifier.calls == []


# --- bad frames ----------------------------------------------------------------------


def test_a_bad_crc_is_nakked_with_its_seq_and_the_board_can_resend(admitted: Board, tokens: list[str]) -> None:
    frame = bytearray(admitted.frame(Scan(ScanKind.TEXT, tokens[0].encode()), 21))
    frame[10] ^= 0x01

    assert admitted.raw(bytes(frame)) == [(21, Nak(NakReason.BAD_CRC))]  # sealed: the session goes on
    ((seq, answer),) = admitted.send(Scan(ScanKind.TEXT, tokens[0].encode()), seq=21)
    assert seq == 21 and isinstance(answer, Decision) and answer.accepted


def test_a_damaged_hello_is_nakked_and_the_board_may_resend_it(board: Board) -> None:
    frame = bytearray(encode(Hello("GATE-07", "", auth.new_nonce()), 1))
    frame[8] ^= 0x01

    assert board.raw(bytes(frame)) == [(1, Nak(NakReason.BAD_CRC))]
    assert board.session.ended is None
    assert isinstance(board.hello(seq=1)[0][1], HelloAck)


def test_an_oversized_frame_is_nakked_and_the_next_frame_answered(admitted: Board) -> None:
    oversized = bytes([0xA5, 0x02, 0x02, 0x30, 0x10, 0x00]) + b"\x00" * 100

    answers = admitted.raw(oversized + admitted.frame(Heartbeat(1), 31))

    assert answers[0] == (0x30, Nak(NakReason.TOO_LARGE))
    assert answers[-1] == (31, HeartbeatAck())


def test_an_intact_sealed_frame_the_bridge_cannot_use_is_nakked(admitted: Board) -> None:
    answers = admitted.send(Decision(True, "OPEN", "", 5000), seq=4)  # a board does not send decisions

    assert answers == [(4, Nak(NakReason.UNKNOWN_TYPE))]
    assert admitted.session.ended is None  # sealed by the board: a firmware bug, not an attack


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (encode_frame(0x42, 4, b""), NakReason.HELLO_REQUIRED),
        (encode(Decision(True, "OPEN", "", 5000), 4), NakReason.HELLO_REQUIRED),
        (encode_frame(FrameType.HELLO, 4, b"\x00\x00"), NakReason.BAD_PAYLOAD),
        (encode_frame(FrameType.HELLO, 4, b"\x01A\x00"), NakReason.BAD_PAYLOAD),  # a HELLO without its nonce
        (encode_frame(FrameType.HELLO, 4, b"", version=3), NakReason.UNSUPPORTED_VERSION),
    ],
)
def test_an_intact_frame_before_the_handshake_is_nakked_and_ends_the_session(board: Board, frame: bytes,
                                                                            reason: NakReason) -> None:
    assert board.raw(frame) == [(4, Nak(reason))]
    assert board.session.ended is not None


def test_a_partial_frame_is_dropped_after_the_line_is_quiet_and_the_board_is_answered(
    dispatcher: Dispatcher, tokens: list[str]
) -> None:
    clock = Clock()
    board = Board(dispatcher, clock)
    board.admit()
    partial = board.frame(Scan(ScanKind.TEXT, tokens[0].encode()), 40)[:30]

    assert board.raw(partial) == []
    assert board.raw(board.frame(Heartbeat(2), 41)) == []  # swallowed while the partial frame waits
    clock.now += protocol.INTER_BYTE_TIMEOUT
    before = len(board.sent)
    board.session.tick()

    assert board.answers(before) == [(40, Nak(NakReason.BAD_CRC)), (41, HeartbeatAck())]


def test_noise_on_the_line_is_skipped(board: Board) -> None:
    board.session.receive(b"\x00\x13garbage\xff\xfe")

    assert board.sent == []
    assert isinstance(board.hello()[0][1], HelloAck)


# --- protocol v1, only with --gate-protocol-v1-insecure --------------------------------


@pytest.fixture()
def v1_board(dispatcher: Dispatcher) -> Board:
    return Board(dispatcher, settings=V1_SETTINGS)


def test_v1_hello_is_answered_with_the_heartbeat_interval(v1_board: Board) -> None:
    answers = v1_board.hello(seq=1)

    assert answers == [(1, HelloAck(1000, version=1))]
    assert v1_board.session.admitted and v1_board.admitted == ["GATE-07"]


def test_v1_scans_are_decided_without_any_key(v1_board: Board, tokens: list[str]) -> None:
    v1_board.hello()

    ((_, answer),) = v1_board.send(Scan(ScanKind.TEXT, tokens[0].encode()), seq=9)

    assert answer == Decision(True, "DITERIMA", "Bayar Rp20.000", 800)


def test_v1_still_lets_a_replayed_scan_through_which_is_why_it_is_insecure(v1_board: Board,
                                                                          verifier: CardVerifier,
                                                                          tokens: list[str]) -> None:
    v1_board.hello()
    scan = encode(Scan(ScanKind.TEXT, tokens[0].encode()), 9, 1)
    v1_board.raw(scan)
    v1_board.raw(encode(Heartbeat(1), 10, 1))

    ((_, answer),) = v1_board.raw(scan)

    assert answer == Decision(True, "DITERIMA", "Bayar Rp20.000", 800)  # a pulse for whoever sent it


def test_v1_a_scan_before_hello_is_nakked_hello_required(v1_board: Board, verifier: CardVerifier,
                                                         tokens: list[str]) -> None:
    answers = v1_board.send(Scan(ScanKind.TEXT, tokens[0].encode()), seq=5)

    assert answers == [(5, Nak(NakReason.HELLO_REQUIRED, version=1))]
    assert verifier.calls == []


def test_a_v1_bridge_refuses_v2_frames(v1_board: Board) -> None:
    assert v1_board.raw(encode(Hello("GATE-07", "", bytes(16)), 1)) == [
        (1, Nak(NakReason.UNSUPPORTED_VERSION, version=1))
    ]

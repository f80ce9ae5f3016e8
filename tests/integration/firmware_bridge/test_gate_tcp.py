"""Gate boards over TCP: the reference board against the bridge's server on a loopback port.

The board connects, says HELLO, proves its key, scans and sends heartbeats;
the tests also break things a turnstile on Wi-Fi meets: noise, damaged and
oversized frames, boards that go silent, drop off and come back, and a
bridge that restarts.  And they attack it as a stranger on the gate network
would (protocol v2 stops each): a HELLO taking over a board's id, a replayed
SCAN, HEARTBEATs and connection floods filling the slots, and a forged
bridge making a board pulse its relay.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from firmware_bridge import events
from firmware_bridge.dispatch import Dispatcher
from firmware_bridge.errors import FrameError
from firmware_bridge.gate import auth
from firmware_bridge.gate.board import BoardSimulator, BridgeNotAuthenticated, TcpLink, run_board
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
    decode_frame,
    encode,
    parse_message,
)
from firmware_bridge.gate.session import GateSettings
from firmware_bridge.gate.transport import MAX_BOARDS, MAX_PENDING_PER_ADDRESS, GateTcpReader
from issuer.artifacts import ndef_message
from keys import qr_text
from tests.unit.firmware_bridge.doubles import CardVerifier, UnavailableVerifier

from .conftest import TIMEOUT, Running

BOARD_KEYS = {f"GATE-{number:02d}": bytes([number]) * 32 for number in range(1, 10)}
SETTINGS = GateSettings(pulse_ms=700, heartbeat_ms=300, silent_after=2, keys=BoardKeys(BOARD_KEYS),
                        handshake_timeout=TIMEOUT * 3)  # a safety net: no test waits for it
STRANGER = "127.0.0.2"  # another address on the loopback network, for the attacker's connections


def start_gate(running: Running, dispatcher: Dispatcher, port: int = 0,
               settings: GateSettings = SETTINGS) -> tuple[GateTcpReader, threading.Event]:
    reader = GateTcpReader("127.0.0.1", port, dispatcher, settings, name="gate")
    listening = dispatcher.events.count(events.LISTENING, "gate")
    stop = running.start(reader)
    assert dispatcher.events.wait_for(events.LISTENING, listening + 1, "gate", TIMEOUT)
    assert reader.address is not None
    return reader, stop


@pytest.fixture()
def gate(running: Running, dispatcher: Dispatcher) -> GateTcpReader:
    return start_gate(running, dispatcher)[0]


def connect_board(address: tuple[str, int] | None, board_id: str = "GATE-01",
                  source: str | None = None) -> BoardSimulator:
    """A reference board with its key, connected (from ``source``, an address on loopback) and admitted."""
    assert address is not None
    board = BoardSimulator(TcpLink(*address, source=source), board_id, answer_timeout=TIMEOUT, key=BOARD_KEYS[board_id])
    board.hello()
    return board


@pytest.fixture()
def board(gate: GateTcpReader) -> Iterator[BoardSimulator]:
    simulator = connect_board(gate.address)
    yield simulator
    simulator.close()


def stranger_connection(address: tuple[str, int] | None) -> socket.socket:
    assert address is not None
    return socket.create_connection(address, timeout=TIMEOUT, source_address=(STRANGER, 0))


def read_until_closed(connection: socket.socket) -> list[Frame | FrameError]:
    """Every frame the bridge sends until it closes the connection."""
    decoder, found = FrameDecoder(), []
    while data := connection.recv(4096):
        found += decoder.feed(data)
    return found


def test_a_genuine_card_opens_the_gate_and_a_forged_one_does_not(board: BoardSimulator, verifier: CardVerifier,
                                                                 card_tokens: list[str]) -> None:
    accepted = board.scan(qr_text(card_tokens[0]))
    denied = board.scan(card_tokens[1][:-4] + "AAAA")

    assert accepted == Decision(True, "DITERIMA", "Bayar Rp20.000", 700)
    assert not denied.accepted and denied.pulse_ms == 0
    assert board.relay.pulses == [700]
    assert board.relay.screen == (denied.line1, denied.line2)
    assert [call.source for call in verifier.calls] == ["gate", "gate"]


def test_a_board_may_send_the_tag_s_whole_ndef_message(board: BoardSimulator, verifier: CardVerifier,
                                                       card_tokens: list[str]) -> None:
    decision = board.scan(ndef_message(card_tokens[2]), ScanKind.NDEF)

    assert decision.accepted
    assert verifier.payloads == [card_tokens[2]]


def test_heartbeats_are_answered(board: BoardSimulator, dispatcher: Dispatcher) -> None:
    board.heartbeat()
    board.heartbeat()

    assert dispatcher.events.count(events.HEARTBEAT, "gate") == 1 + 2  # the first was the board's proof


def test_the_gate_stays_closed_when_the_verifier_cannot_decide(running: Running, card_tokens: list[str]) -> None:
    dispatcher = Dispatcher(UnavailableVerifier(), events.Events())
    gate, _ = start_gate(running, dispatcher)
    board = connect_board(gate.address)

    decision = board.scan(card_tokens[0])

    assert decision == Decision(False, "VERIFIKASI GAGAL", "HUBUNGI PETUGAS", 0)
    assert board.relay.pulses == []
    board.close()


def test_noise_damaged_and_oversized_frames_are_nakked_and_the_board_is_still_served(
    board: BoardSimulator, dispatcher: Dispatcher, card_tokens: list[str]
) -> None:
    scan = bytearray(encode(Scan(ScanKind.TEXT, card_tokens[0].encode()), 90))
    scan[20] ^= 0x04
    board.send_raw(b"\x00\xff\xa5\x00 noise \r\n")
    board.send_raw(bytes(scan))  # a damaged scan
    board.send_raw(bytes([0xA5, 0x01, 0x02, 0x91, 0xFF, 0x00]) + bytes(64))  # announces 65280 bytes

    naks = [board.next_message(TIMEOUT), board.next_message(TIMEOUT)]  # sealed: the session goes on

    assert naks == [(90, Nak(NakReason.BAD_CRC)), (0x91, Nak(NakReason.TOO_LARGE))]
    assert board.scan(card_tokens[0]).accepted
    assert dispatcher.events.count(events.FRAME_ERROR, "gate") == 2


def test_a_frame_cut_short_is_dropped_when_the_line_goes_quiet(board: BoardSimulator,
                                                              card_tokens: list[str]) -> None:
    board.send_raw(board.frame_for(Scan(ScanKind.TEXT, card_tokens[0].encode()), 50)[:25])

    nak = board.next_message(TIMEOUT)  # after INTER_BYTE_TIMEOUT of quiet, not before

    assert nak == (50, Nak(NakReason.BAD_CRC))
    assert board.scan(card_tokens[0]).accepted


def test_a_silent_board_is_disconnected(board: BoardSimulator, dispatcher: Dispatcher) -> None:
    assert dispatcher.events.wait_for(events.DISCONNECTED, 1, "gate", TIMEOUT)
    with pytest.raises(OSError):
        board.heartbeat()


def test_a_board_that_drops_off_and_reconnects_is_served_again(gate: GateTcpReader, dispatcher: Dispatcher,
                                                              card_tokens: list[str]) -> None:
    for _ in range(3):
        board = connect_board(gate.address, "GATE-02")
        assert board.scan(card_tokens[0]).accepted
        board.close()

    assert dispatcher.events.wait_for(events.DISCONNECTED, 3, "gate", TIMEOUT)
    assert dispatcher.events.count(events.CONNECTED, "gate") == 3


def test_a_board_connecting_again_under_its_id_replaces_its_half_open_connection(
    gate: GateTcpReader, dispatcher: Dispatcher, card_tokens: list[str]
) -> None:
    old = connect_board(gate.address, "GATE-03")
    new = connect_board(gate.address, "GATE-03")

    assert dispatcher.events.wait_for(events.DISCONNECTED, 1, "gate", TIMEOUT)
    with pytest.raises(OSError):
        old.link.read(TIMEOUT)  # the bridge closed it
    assert new.scan(card_tokens[0]).accepted
    old.close()
    new.close()


def test_many_boards_are_served_at_once(gate: GateTcpReader, verifier: CardVerifier, card_tokens: list[str]) -> None:
    assert gate.address is not None
    results: queue.Queue[tuple[str, bool]] = queue.Queue()

    def gate_board(number: int) -> None:
        board = connect_board(gate.address, f"GATE-{number:02d}", f"127.0.0.{10 + number}")
        for token in card_tokens:
            results.put((board.board_id, board.scan(token).accepted))
            board.heartbeat()
        board.close()

    threads = [threading.Thread(target=gate_board, args=(number,)) for number in range(1, 9)]  # 8 addresses
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)

    answers = [results.get_nowait() for _ in range(results.qsize())]
    assert len(answers) == 8 * len(card_tokens)
    assert all(accepted for _, accepted in answers)
    assert len(verifier.calls) == 8 * len(card_tokens)


def test_the_board_loop_reconnects_after_the_bridge_restarts(running: Running, dispatcher: Dispatcher,
                                                            card_tokens: list[str]) -> None:
    gate, gate_stop = start_gate(running, dispatcher)
    assert gate.address is not None
    host, port = gate.address
    scans: queue.Queue[tuple[ScanKind, bytes]] = queue.Queue()
    decisions: queue.Queue[Decision] = queue.Queue()
    board_stop = threading.Event()

    def next_scan(timeout: float) -> tuple[ScanKind, bytes] | None:
        try:
            return scans.get(timeout=timeout)
        except queue.Empty:
            return None

    loop = threading.Thread(target=run_board, args=(lambda: TcpLink(host, port), board_stop, next_scan,
                                                    decisions.put, "GATE-09"),
                            kwargs={"key": BOARD_KEYS["GATE-09"], "answer_timeout": 1.0, "first_delay": 0.05,
                                    "last_delay": 0.2})
    loop.start()
    try:
        assert dispatcher.events.wait_for(events.HELLO, 1, "gate", TIMEOUT)
        scans.put((ScanKind.TEXT, card_tokens[0].encode()))
        assert decisions.get(timeout=TIMEOUT).accepted

        running.stop(gate_stop)  # the terminal restarts
        start_gate(running, dispatcher, port)

        assert dispatcher.events.wait_for(events.HELLO, 2, "gate", TIMEOUT)
        scans.put((ScanKind.TEXT, card_tokens[1].encode()))
        assert decisions.get(timeout=TIMEOUT).accepted
    finally:
        board_stop.set()
        loop.join(TIMEOUT)
    assert not loop.is_alive()


def test_a_heartbeat_frame_is_answered_even_when_split_into_single_bytes(board: BoardSimulator) -> None:
    for byte in board.frame_for(Heartbeat(7), 33):
        board.send_raw(bytes([byte]))

    assert board.next_message(TIMEOUT) == (33, HeartbeatAck())


def test_a_stranger_that_never_says_hello_gets_no_decision(gate: GateTcpReader, verifier: CardVerifier,
                                                          card_tokens: list[str]) -> None:
    with stranger_connection(gate.address) as stranger:
        stranger.sendall(encode(Scan(ScanKind.TEXT, card_tokens[0].encode()), 1))
        answers = read_until_closed(stranger)

    assert [parse_message(frame) for frame in answers] == [Nak(NakReason.HELLO_REQUIRED)]  # type: ignore[arg-type]
    assert verifier.calls == []


def test_a_board_whose_key_the_bridge_does_not_hold_is_refused(gate: GateTcpReader, verifier: CardVerifier) -> None:
    assert gate.address is not None
    board = BoardSimulator(TcpLink(*gate.address), "GATE-77", answer_timeout=TIMEOUT, key=bytes(32))

    with pytest.raises(Exception, match="UNKNOWN_BOARD"):
        board.hello()
    board.close()


# --- attacks -------------------------------------------------------------------------------


def test_an_unauthenticated_hello_cannot_take_over_a_board_id(board: BoardSimulator, gate: GateTcpReader,
                                                              dispatcher: Dispatcher, verifier: CardVerifier,
                                                              card_tokens: list[str]) -> None:
    with stranger_connection(gate.address) as stranger:
        stranger.sendall(encode(Hello("GATE-01", "evil", auth.new_nonce()), 1))
        # Without the key it cannot prove anything: whatever it seals next is refused, and it is gone.
        stranger.sendall(auth.Channel(bytes(32), auth.FROM_BOARD).seal(Scan(ScanKind.TEXT, b"x"), 2))
        answers = read_until_closed(stranger)

    assert [frame.type for frame in answers] == [FrameType.HELLO_ACK, FrameType.NAK]  # type: ignore[union-attr]
    assert parse_message(answers[1]) == Nak(NakReason.AUTH_FAILED)  # type: ignore[arg-type]
    assert dispatcher.events.wait_for(events.DISCONNECTED, 1, "gate", TIMEOUT)
    assert gate.admitted() == ["GATE-01"]
    assert board.scan(qr_text(card_tokens[0])).accepted  # the real board's connection still works
    assert dispatcher.events.count(events.DISCONNECTED, "gate") == 1  # the stranger's, not the board's
    assert board.relay.pulses == [700]
    assert [call.payload for call in verifier.calls] == [qr_text(card_tokens[0])]


def test_a_replayed_scan_frame_is_refused(board: BoardSimulator, gate: GateTcpReader, verifier: CardVerifier,
                                          card_tokens: list[str]) -> None:
    sniffed = board.frame_for(Scan(ScanKind.TEXT, qr_text(card_tokens[0]).encode()), 40)  # as seen on the network
    board.send_raw(sniffed)
    assert board.next_message(TIMEOUT) == (40, Decision(True, "DITERIMA", "Bayar Rp20.000", 700))

    with stranger_connection(gate.address) as stranger:  # replayed on a connection of its own
        stranger.sendall(sniffed)
        on_its_own = read_until_closed(stranger)
    board.send_raw(sniffed)  # and into the board's own connection, as an on-path attacker would
    in_the_session = board.next_message(TIMEOUT)

    assert [parse_message(frame) for frame in on_its_own] == [Nak(NakReason.HELLO_REQUIRED)]  # type: ignore[arg-type]
    assert in_the_session == (40, Nak(NakReason.AUTH_FAILED))  # plain: the session is over, the line closes
    assert len(verifier.calls) == 1
    with pytest.raises(OSError):
        board.link.read(TIMEOUT)


def test_a_replayed_card_qr_text_from_a_stranger_gets_no_accept(gate: GateTcpReader, verifier: CardVerifier,
                                                                card_tokens: list[str]) -> None:
    """The v1 attack: HELLO as any board, then the QR text read off someone's card.  Without the key: nothing."""
    with stranger_connection(gate.address) as stranger:
        stranger.sendall(encode(Hello("GATE-01", "", auth.new_nonce()), 1)
                         + encode(Scan(ScanKind.TEXT, qr_text(card_tokens[0]).encode()), 2))
        answers = read_until_closed(stranger)

    assert [frame.type for frame in answers] == [FrameType.HELLO_ACK, FrameType.NAK]  # type: ignore[union-attr]
    assert verifier.calls == []


def test_heartbeats_before_hello_take_no_slot(gate: GateTcpReader, dispatcher: Dispatcher,
                                              card_tokens: list[str]) -> None:
    flood = []
    for seq in range(MAX_BOARDS + 8):
        stranger = stranger_connection(gate.address)
        stranger.sendall(encode(Heartbeat(1), seq & 0xFF))
        assert [parse_message(frame) for frame in read_until_closed(stranger)] == [  # type: ignore[arg-type]
            Nak(NakReason.HELLO_REQUIRED)
        ]
        flood.append(stranger)

    board = connect_board(gate.address, "GATE-04")

    assert board.scan(card_tokens[0]).accepted and gate.admitted() == ["GATE-04"]
    assert dispatcher.events.count(events.HEARTBEAT, "gate") == 1  # the board's proof, none of the flood's
    for stranger in flood:
        stranger.close()
    board.close()


def test_a_flood_of_connections_from_one_address_cannot_fill_the_slots(gate: GateTcpReader,
                                                                       card_tokens: list[str]) -> None:
    flood = [stranger_connection(gate.address) for _ in range(MAX_BOARDS + 8)]  # and then silence

    board = connect_board(gate.address, "GATE-05")  # accepted after every one of them (one accept loop)

    assert board.scan(card_tokens[0]).accepted
    assert gate.pending_from(STRANGER) <= MAX_PENDING_PER_ADDRESS  # fewer once they are closed for silence
    closed = 0
    for stranger in flood[MAX_PENDING_PER_ADDRESS:]:  # every connection beyond the limit was closed at once
        closed += stranger.recv(1) == b""
        stranger.close()
    assert closed == len(flood) - MAX_PENDING_PER_ADDRESS
    for stranger in flood[:MAX_PENDING_PER_ADDRESS]:
        stranger.close()
    board.close()


def test_a_connection_not_admitted_within_the_handshake_timeout_is_closed(running: Running,
                                                                         dispatcher: Dispatcher) -> None:
    gate, _ = start_gate(running, dispatcher, settings=dataclasses.replace(SETTINGS, handshake_timeout=0.2))

    with stranger_connection(gate.address) as stranger:
        stranger.sendall(encode(Hello("GATE-01", "", auth.new_nonce()), 1))  # and never proves the key
        answers = read_until_closed(stranger)  # returns once the bridge gives up on it

    assert [frame.type for frame in answers] == [FrameType.HELLO_ACK]  # type: ignore[union-attr]
    assert gate.admitted() == [] and gate.pending_from(STRANGER) == 0


# --- a forged bridge ------------------------------------------------------------------------

Answer = Callable[[Frame, bytes, Callable[[bytes], bytes]], bytes]


class ForgedBridge:
    """A TCP server posing as the bridge to a board: ``answer(frame, its bytes, relay)`` gives each reply.

    ``relay(data)`` sends the board's bytes on to the real bridge and returns its reply: a man in the middle.
    """

    def __init__(self, real: tuple[str, int] | None, answer: Answer) -> None:
        self.real, self.answer = real, answer
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address: tuple[str, int] = self.server.getsockname()[:2]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.server.accept()
                with connection, contextlib.ExitStack() as stack:
                    upstream = stack.enter_context(socket.create_connection(self.real)) if self.real else None
                    self._converse(connection, upstream)

    def _converse(self, connection: socket.socket, upstream: socket.socket | None) -> None:
        decoder, replies = FrameDecoder(), FrameDecoder()

        def relay(data: bytes) -> bytes:
            assert upstream is not None
            upstream.sendall(data)
            while not (found := replies.feed(upstream.recv(4096))):
                pass
            frame = found[0]
            assert isinstance(frame, Frame)
            return frame.encode()

        while data := connection.recv(4096):
            for frame in decoder.feed(data):
                if isinstance(frame, Frame):
                    connection.sendall(self.answer(frame, frame.encode(), relay))

    def close(self) -> None:
        self.server.close()


def forged_accept(frame: Frame) -> bytes:
    """An ACCEPT sealed under a key the forger made up."""
    return auth.Channel(auth.new_board_key(), auth.FROM_BRIDGE).seal(Decision(True, "DITERIMA", "", 9000), frame.seq)


@pytest.mark.parametrize("forgery", ["made-up HELLO_ACK", "plain HELLO_ACK", "replayed HELLO_ACK"])
def test_a_forged_bridge_cannot_make_the_board_pulse_its_relay(gate: GateTcpReader, forgery: str,
                                                               card_tokens: list[str]) -> None:
    """A stranger poses as the bridge without the board key: the board refuses its HELLO_ACK, so never scans."""
    replayed_hello_ack = record_hello_ack(gate.address)

    def answer(frame: Frame, data: bytes, relay: Callable[[bytes], bytes]) -> bytes:
        if frame.type != FrameType.HELLO:
            return forged_accept(frame)
        if forgery == "plain HELLO_ACK":
            return encode(HelloAck(300, nonce=auth.new_nonce()), frame.seq)
        if forgery == "replayed HELLO_ACK":
            return replayed_hello_ack
        return auth.answer_hello(auth.new_board_key(), "GATE-01", bytes(16), HelloAck(300, nonce=auth.new_nonce()),
                                 frame.seq)[1]

    with contextlib.closing(ForgedBridge(None, answer)) as forger:
        board = BoardSimulator(TcpLink(*forger.address), "GATE-01", answer_timeout=TIMEOUT,
                               key=BOARD_KEYS["GATE-01"])
        with pytest.raises(BridgeNotAuthenticated):
            board.hello()
        board.close()

    assert board.relay.pulses == []


def record_hello_ack(address: tuple[str, int] | None) -> bytes:
    """The bytes of a genuine HELLO_ACK from the real bridge, as a sniffer records them."""
    recorded: list[bytes] = []

    def record(frame: Frame, data: bytes, relay: Callable[[bytes], bytes]) -> bytes:
        reply = relay(data)
        if frame.type == FrameType.HELLO:
            recorded.append(reply)
        return reply

    with contextlib.closing(ForgedBridge(address, record)) as recorder:
        connect_board(recorder.address).close()
    return recorded[0]


@pytest.mark.parametrize("forgery", ["made-up ACCEPT", "plain ACCEPT", "ACCEPT replayed from an earlier session",
                                     "DENY altered into an ACCEPT"])
def test_a_man_in_the_middle_cannot_make_the_board_pulse_its_relay(gate: GateTcpReader, verifier: CardVerifier,
                                                                   forgery: str, card_tokens: list[str]) -> None:
    """It relays the genuine handshake, then answers the SCAN itself: the board refuses the answer."""
    earlier: list[bytes] = []

    def record(frame: Frame, data: bytes, relay: Callable[[bytes], bytes]) -> bytes:
        reply = relay(data)
        if frame.type == FrameType.SCAN:
            earlier.append(reply)
        return reply

    with contextlib.closing(ForgedBridge(gate.address, record)) as recorder:
        genuine = connect_board(recorder.address)
        assert genuine.scan(card_tokens[0]).accepted
        genuine.close()

    def answer(frame: Frame, data: bytes, relay: Callable[[bytes], bytes]) -> bytes:
        if frame.type != FrameType.SCAN:
            return relay(data)
        if forgery == "made-up ACCEPT":
            return forged_accept(frame)
        if forgery == "plain ACCEPT":
            return encode(Decision(True, "DITERIMA", "", 9000), frame.seq)
        if forgery == "ACCEPT replayed from an earlier session":
            return earlier[0]
        denied = decode_frame(relay(data))  # the real DENY: made an ACCEPT with a pulse, its CRC made good
        assert denied.type == FrameType.DENY
        payload = bytearray(denied.payload)
        payload[4:6] = (9000).to_bytes(2, "big")  # the pulse, after the 4-byte counter
        return Frame(FrameType.ACCEPT, denied.seq, bytes(payload), denied.version).encode()

    with contextlib.closing(ForgedBridge(gate.address, answer)) as forger:
        board = connect_board(forger.address)  # the handshake is genuine: the real bridge answered it
        forged_card = card_tokens[1][:-4] + "AAAA"  # the real bridge would DENY it
        with pytest.raises(BridgeNotAuthenticated):
            board.scan(forged_card if forgery == "DENY altered into an ACCEPT" else card_tokens[1])
        board.close()

    assert board.relay.pulses == []


# --- protocol v1, only with --gate-protocol-v1-insecure: the same attacks succeed -------------------
# These show what the attack tests above stop: each attack works against v1, which is why it is loud.

V1_SETTINGS = dataclasses.replace(SETTINGS, keys=None, insecure_v1=True)


def test_in_v1_insecure_mode_a_stranger_s_hello_takes_over_a_board_id(running: Running, dispatcher: Dispatcher,
                                                                      verifier: CardVerifier,
                                                                      card_tokens: list[str]) -> None:
    gate, _ = start_gate(running, dispatcher, settings=V1_SETTINGS)
    assert gate.address is not None
    board = BoardSimulator(TcpLink(*gate.address), "GATE-01", answer_timeout=TIMEOUT, insecure_v1=True)
    board.hello()

    with stranger_connection(gate.address) as stranger:
        stranger.sendall(encode(Hello("GATE-01"), 1, 1) + encode(Scan(ScanKind.TEXT, card_tokens[0].encode()), 2, 1))
        assert dispatcher.events.wait_for(events.DISCONNECTED, 1, "gate", TIMEOUT)  # the real board's
        decoder, answers = FrameDecoder(), []
        while len(answers) < 2:
            answers += [parse_message(frame) for frame in decoder.feed(stranger.recv(4096))
                        if isinstance(frame, Frame)]

    assert answers[1] == Decision(True, "DITERIMA", "Bayar Rp20.000", 700)
    assert verifier.calls[0].payload == card_tokens[0]
    board.close()


def test_in_v1_insecure_mode_a_forged_bridge_makes_the_board_pulse_its_relay(card_tokens: list[str]) -> None:
    def answer(frame: Frame, data: bytes, relay: Callable[[bytes], bytes]) -> bytes:
        if frame.type == FrameType.HELLO:
            return encode(HelloAck(5000, version=1), frame.seq, 1)
        return encode(Decision(True, "", "", 9000), frame.seq, 1)

    with contextlib.closing(ForgedBridge(None, answer)) as forger:
        board = BoardSimulator(TcpLink(*forger.address), "GATE-01", answer_timeout=TIMEOUT, insecure_v1=True)
        board.hello()
        board.scan(card_tokens[0][:-4] + "AAAA")  # a forged card, "accepted"
        board.close()

    assert board.relay.pulses == [9000]

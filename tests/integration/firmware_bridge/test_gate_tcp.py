"""Gate boards over TCP: the reference board against the bridge's server on a loopback port.

The board connects, says HELLO, scans and sends heartbeats; the tests also
break things a turnstile on Wi-Fi meets: noise, damaged and oversized frames,
boards that go silent, drop off and come back, and a bridge that restarts.
"""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator

import pytest

from firmware_bridge import events
from firmware_bridge.dispatch import Dispatcher
from firmware_bridge.gate.board import BoardSimulator, TcpLink, run_board
from firmware_bridge.gate.protocol import (
    Decision,
    FrameType,
    Heartbeat,
    HeartbeatAck,
    Nak,
    NakReason,
    Scan,
    ScanKind,
    decode_frame,
    encode,
    parse_message,
)
from firmware_bridge.gate.session import GateSettings
from firmware_bridge.gate.transport import GateTcpReader
from issuer.artifacts import ndef_message
from keys import qr_text
from tests.unit.firmware_bridge.doubles import CardVerifier, UnavailableVerifier

from .conftest import TIMEOUT, Running

SETTINGS = GateSettings(pulse_ms=700, heartbeat_ms=300, silent_after=2)


def start_gate(running: Running, dispatcher: Dispatcher, port: int = 0) -> tuple[GateTcpReader, threading.Event]:
    reader = GateTcpReader("127.0.0.1", port, dispatcher, SETTINGS, name="gate")
    listening = dispatcher.events.count(events.LISTENING, "gate")
    stop = running.start(reader)
    assert dispatcher.events.wait_for(events.LISTENING, listening + 1, "gate", TIMEOUT)
    assert reader.address is not None
    return reader, stop


@pytest.fixture()
def gate(running: Running, dispatcher: Dispatcher) -> GateTcpReader:
    return start_gate(running, dispatcher)[0]


@pytest.fixture()
def board(gate: GateTcpReader) -> Iterator[BoardSimulator]:
    assert gate.address is not None
    simulator = BoardSimulator(TcpLink(*gate.address), "GATE-01", answer_timeout=TIMEOUT)
    simulator.hello()
    yield simulator
    simulator.close()


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

    assert dispatcher.events.count(events.HEARTBEAT, "gate") == 2


def test_the_gate_stays_closed_when_the_verifier_cannot_decide(running: Running, card_tokens: list[str]) -> None:
    dispatcher = Dispatcher(UnavailableVerifier(), events.Events())
    gate, _ = start_gate(running, dispatcher)
    assert gate.address is not None
    board = BoardSimulator(TcpLink(*gate.address), answer_timeout=TIMEOUT)
    board.hello()

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

    naks = [board.next_frame(TIMEOUT), board.next_frame(TIMEOUT)]

    assert [(frame.seq, parse_message(frame)) for frame in naks] == [  # type: ignore[union-attr]
        (90, Nak(NakReason.BAD_CRC)),
        (0x91, Nak(NakReason.TOO_LARGE)),
    ]
    assert board.scan(card_tokens[0]).accepted
    assert dispatcher.events.count(events.FRAME_ERROR, "gate") == 2


def test_a_frame_cut_short_is_dropped_when_the_line_goes_quiet(board: BoardSimulator,
                                                              card_tokens: list[str]) -> None:
    board.send_raw(encode(Scan(ScanKind.TEXT, card_tokens[0].encode()), 50)[:25])

    nak = board.next_frame(TIMEOUT)  # after INTER_BYTE_TIMEOUT of quiet, not before

    assert nak is not None and not isinstance(nak, Exception)
    assert nak.type == FrameType.NAK and nak.seq == 50
    assert board.scan(card_tokens[0]).accepted


def test_a_silent_board_is_disconnected(board: BoardSimulator, dispatcher: Dispatcher) -> None:
    assert dispatcher.events.wait_for(events.DISCONNECTED, 1, "gate", TIMEOUT)
    with pytest.raises(OSError):
        board.heartbeat()


def test_a_board_that_drops_off_and_reconnects_is_served_again(gate: GateTcpReader, dispatcher: Dispatcher,
                                                              card_tokens: list[str]) -> None:
    assert gate.address is not None
    for _ in range(3):
        board = BoardSimulator(TcpLink(*gate.address), "GATE-02", answer_timeout=TIMEOUT)
        board.hello()
        assert board.scan(card_tokens[0]).accepted
        board.close()

    assert dispatcher.events.wait_for(events.DISCONNECTED, 3, "gate", TIMEOUT)
    assert dispatcher.events.count(events.CONNECTED, "gate") == 3


def test_a_board_connecting_again_under_its_id_replaces_its_half_open_connection(
    gate: GateTcpReader, dispatcher: Dispatcher, card_tokens: list[str]
) -> None:
    assert gate.address is not None
    old = BoardSimulator(TcpLink(*gate.address), "GATE-03", answer_timeout=TIMEOUT)
    old.hello()
    new = BoardSimulator(TcpLink(*gate.address), "GATE-03", answer_timeout=TIMEOUT)
    new.hello()

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
        board = BoardSimulator(TcpLink(*gate.address), f"GATE-{number:02d}", answer_timeout=TIMEOUT)
        board.hello()
        for token in card_tokens:
            results.put((board.board_id, board.scan(token).accepted))
            board.heartbeat()
        board.close()

    threads = [threading.Thread(target=gate_board, args=(number,)) for number in range(8)]
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
                            kwargs={"answer_timeout": 1.0, "first_delay": 0.05, "last_delay": 0.2})
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
    for byte in encode(Heartbeat(7), 33):
        board.send_raw(bytes([byte]))

    frame = board.next_frame(TIMEOUT)

    assert frame is not None and not isinstance(frame, Exception)
    assert (frame.seq, parse_message(frame)) == (33, HeartbeatAck())


def test_a_stranger_that_never_says_hello_gets_no_decision(gate: GateTcpReader, verifier: CardVerifier,
                                                          card_tokens: list[str]) -> None:
    assert gate.address is not None
    with socket.create_connection(gate.address) as stranger:
        stranger.sendall(encode(Scan(ScanKind.TEXT, card_tokens[0].encode()), 1))
        reply = stranger.recv(64)  # one small frame: TCP_NODELAY sends it whole

    assert parse_message(decode_frame(reply)) == Nak(NakReason.HELLO_REQUIRED)
    assert verifier.calls == []

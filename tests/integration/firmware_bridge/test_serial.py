"""Serial scanners and gate boards on a real tty (a pseudo-terminal pair), with pyserial.

The bridge opens the device by a stable name; the test types into the other
end, sprays noise on the line, and unplugs and replugs the device.  The
bridge keeps running throughout and reads the next scan.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_bridge import events
from firmware_bridge.dispatch import Dispatcher
from firmware_bridge.gate.board import BoardSimulator, SerialBoardLink
from firmware_bridge.gate.keyfile import BoardKeys
from firmware_bridge.gate.protocol import Heartbeat, Nak, NakReason, Scan, ScanKind
from firmware_bridge.gate.session import GateSettings
from firmware_bridge.gate.transport import GateSerialReader
from firmware_bridge.serial_scanner import SerialScannerReader
from keys import qr_text
from tests.unit.firmware_bridge.doubles import CardVerifier

from ..conftest import RunKia
from .conftest import TIMEOUT, Running
from .ptys import MasterLink, NullModem, PluggedPort


@pytest.fixture()
def port(tmp_path: Path) -> Iterator[PluggedPort]:
    device = PluggedPort(tmp_path)
    yield device
    device.close()


def start_scanner(running: Running, dispatcher: Dispatcher, port: PluggedPort) -> SerialScannerReader:
    reader = SerialScannerReader(str(port.path), 9600, dispatcher, name="scanner")
    running.start(reader)
    assert dispatcher.events.wait_for(events.CONNECTED, 1, "scanner", TIMEOUT)
    return reader


def decided(dispatcher: Dispatcher, count: int) -> list[str]:
    assert dispatcher.events.wait_for(events.DECIDED, count, timeout=TIMEOUT), "no decision in time"
    return [event.detail for event in dispatcher.events.recent(events.DECIDED)]


# --- a QR scanner on a serial port ---------------------------------------------------------


def test_scans_typed_on_the_serial_line_are_decided(running: Running, dispatcher: Dispatcher, port: PluggedPort,
                                                    verifier: CardVerifier, card_tokens: list[str]) -> None:
    start_scanner(running, dispatcher, port)

    port.write(qr_text(card_tokens[0]).encode() + b"\r\n")
    port.write(card_tokens[1].encode() + b"\r")

    assert decided(dispatcher, 2) == ["accepted", "accepted"]
    assert verifier.payloads == [qr_text(card_tokens[0]), card_tokens[1]]
    assert {call.source for call in verifier.calls} == {"serial"}


def test_noise_on_the_line_is_dropped_and_the_next_scan_reads_well(running: Running, dispatcher: Dispatcher,
                                                                   port: PluggedPort, verifier: CardVerifier,
                                                                   card_tokens: list[str]) -> None:
    start_scanner(running, dispatcher, port)
    noise = random.Random(5).randbytes(3000)  # a loose ground: bytes of every value, terminators among them

    port.write(noise + b"\r\n" + card_tokens[0].encode() + b"\r\n")

    assert dispatcher.events.wait_for(events.DECIDED, 1, "scanner", TIMEOUT, detail="accepted")
    assert verifier.payloads[-1] == card_tokens[0]  # whatever printable runs the noise held went first


def test_a_scanner_unplugged_and_plugged_back_is_read_again(running: Running, dispatcher: Dispatcher,
                                                            port: PluggedPort, card_tokens: list[str]) -> None:
    start_scanner(running, dispatcher, port)
    port.write(card_tokens[0].encode() + b"\r\n")
    assert decided(dispatcher, 1) == ["accepted"]

    port.write(card_tokens[1].encode()[:40])  # unplugged in the middle of a scan
    port.unplug()
    assert dispatcher.events.wait_for(events.DISCONNECTED, 1, "scanner", TIMEOUT)
    port.plug()
    assert dispatcher.events.wait_for(events.CONNECTED, 2, "scanner", TIMEOUT)
    port.write(card_tokens[2].encode() + b"\r\n")

    assert decided(dispatcher, 2) == ["accepted", "accepted"]  # the cut-off line was dropped, not joined


def test_a_scanner_plugged_in_after_the_bridge_started_is_found(running: Running, dispatcher: Dispatcher,
                                                                tmp_path: Path, card_tokens: list[str]) -> None:
    port = PluggedPort(tmp_path, plugged=False)
    running.start(SerialScannerReader(str(port.path), 9600, dispatcher, name="scanner"))
    try:
        port.plug()
        assert dispatcher.events.wait_for(events.CONNECTED, 1, "scanner", TIMEOUT)
        port.write(card_tokens[0].encode() + b"\n")
        assert decided(dispatcher, 1) == ["accepted"]
    finally:
        port.close()


# --- a gate board on a serial line ---------------------------------------------------------

BOARD_KEYS = {"TURNSTILE-1": bytes(range(32)), "TURNSTILE-2": bytes(range(32, 64))}
SETTINGS = GateSettings(pulse_ms=600, heartbeat_ms=60_000, keys=BoardKeys(BOARD_KEYS))


def start_gate(running: Running, dispatcher: Dispatcher, port: PluggedPort, connections: int = 1) -> None:
    running.start(GateSerialReader(str(port.path), 115200, dispatcher, SETTINGS, name="gate"))
    assert dispatcher.events.wait_for(events.CONNECTED, connections, "gate", TIMEOUT)


def test_a_gate_board_on_a_serial_line_is_answered(running: Running, dispatcher: Dispatcher, port: PluggedPort,
                                                   card_tokens: list[str]) -> None:
    start_gate(running, dispatcher, port)
    board = BoardSimulator(MasterLink(port), "TURNSTILE-1", answer_timeout=TIMEOUT, key=BOARD_KEYS["TURNSTILE-1"])

    assert board.hello().heartbeat_ms == 60_000
    assert board.scan(qr_text(card_tokens[0])).accepted
    assert not board.scan(card_tokens[0][:-3] + "xyz").accepted
    board.heartbeat()
    assert board.relay.pulses == [600]


def test_noise_bad_crcs_and_partial_frames_on_the_serial_line_are_survived(
    running: Running, dispatcher: Dispatcher, port: PluggedPort, card_tokens: list[str]
) -> None:
    start_gate(running, dispatcher, port)
    board = BoardSimulator(MasterLink(port), "TURNSTILE-1", answer_timeout=TIMEOUT, key=BOARD_KEYS["TURNSTILE-1"])
    board.hello()
    damaged = bytearray(board.frame_for(Heartbeat(1), 7))
    damaged[-2] ^= 0x01

    board.send_raw(random.Random(7).randbytes(2000).replace(b"\xa5", b"\x5a"))
    board.send_raw(bytes(damaged))
    nak = board.next_message(TIMEOUT)
    board.send_raw(board.frame_for(Scan(ScanKind.TEXT, card_tokens[0].encode()), 8)[:30])  # cut short, then quiet
    cut = board.next_message(TIMEOUT)

    assert nak == (7, Nak(NakReason.BAD_CRC))  # sealed: the session goes on
    assert cut == (8, Nak(NakReason.BAD_CRC))
    assert board.scan(card_tokens[1]).accepted
    assert dispatcher.events.count(events.FRAME_ERROR, "gate") == 2


def test_after_the_board_is_replugged_it_is_asked_to_say_hello_again(running: Running, dispatcher: Dispatcher,
                                                                     port: PluggedPort,
                                                                     card_tokens: list[str]) -> None:
    start_gate(running, dispatcher, port)
    board = BoardSimulator(MasterLink(port), "TURNSTILE-1", answer_timeout=TIMEOUT, key=BOARD_KEYS["TURNSTILE-1"])
    board.hello()
    assert board.scan(card_tokens[0]).accepted

    port.unplug()
    assert dispatcher.events.wait_for(events.DISCONNECTED, 1, "gate", TIMEOUT)
    port.plug()
    assert dispatcher.events.wait_for(events.CONNECTED, 2, "gate", TIMEOUT)

    assert board.scan(card_tokens[1]).accepted  # NAK HELLO_REQUIRED, HELLO, the same scan again
    assert board.naks == [NakReason.HELLO_REQUIRED]
    assert dispatcher.events.count(events.HELLO, "gate") == 2


def test_the_reference_board_on_its_own_serial_port_through_a_null_modem(
    running: Running, dispatcher: Dispatcher, tmp_path: Path, run_kia: RunKia, card_tokens: list[str]
) -> None:
    cable = NullModem(tmp_path)
    try:
        running.start(GateSerialReader(str(cable.a), 115200, dispatcher, SETTINGS, name="gate"))
        assert dispatcher.events.wait_for(events.CONNECTED, 1, "gate", TIMEOUT)
        board = BoardSimulator(SerialBoardLink(str(cable.b)), "TURNSTILE-2", answer_timeout=TIMEOUT,
                               key=BOARD_KEYS["TURNSTILE-2"])
        board.hello()
        assert board.scan(card_tokens[0]).accepted
        board.close()

        key_file = tmp_path / "turnstile-2.key"
        key_file.write_text(BOARD_KEYS["TURNSTILE-2"].hex())
        result = run_kia("bridge", "simulate", "board", "--connect", f"serial:{cable.b}:115200",
                         "--board-id", "TURNSTILE-2", "--key-file", key_file, card_tokens[1])
    finally:
        cable.close()

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["accepted"] is True

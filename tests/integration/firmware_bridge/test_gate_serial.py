"""Protocol v2 on a serial line (a pty standing in for the USB adapter).

A serial line has no connection to close: a session that ends (a forged
frame, a board the bridge forgot after the port was replugged) is replaced
by a fresh one that waits for a HELLO, and the reference board starts
again by itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_bridge import events
from firmware_bridge.dispatch import Dispatcher
from firmware_bridge.gate import auth
from firmware_bridge.gate.board import BoardSimulator, BridgeNotAuthenticated
from firmware_bridge.gate.keyfile import BoardKeys
from firmware_bridge.gate.protocol import Heartbeat, Nak, NakReason
from firmware_bridge.gate.session import GateSettings
from firmware_bridge.gate.transport import GateSerialReader
from keys import qr_text
from tests.unit.firmware_bridge.doubles import CardVerifier

from .conftest import TIMEOUT, Running
from .ptys import MasterLink, PluggedPort

KEY = bytes(range(32, 64))
SETTINGS = GateSettings(pulse_ms=600, heartbeat_ms=60_000, keys=BoardKeys({"TURNSTILE-1": KEY}))


@pytest.fixture()
def port(tmp_path: Path) -> Iterator[PluggedPort]:
    device = PluggedPort(tmp_path)
    yield device
    device.close()


def start_gate(running: Running, dispatcher: Dispatcher, port: PluggedPort,
               settings: GateSettings = SETTINGS) -> None:
    running.start(GateSerialReader(str(port.path), 115200, dispatcher, settings, name="gate"))
    assert dispatcher.events.wait_for(events.CONNECTED, 1, "gate", TIMEOUT)


def board_on(port: PluggedPort, key: bytes = KEY) -> BoardSimulator:
    return BoardSimulator(MasterLink(port), "TURNSTILE-1", answer_timeout=TIMEOUT, key=key)


def test_a_board_with_its_key_is_admitted_and_served_on_a_serial_line(running: Running, dispatcher: Dispatcher,
                                                                      port: PluggedPort,
                                                                      card_tokens: list[str]) -> None:
    start_gate(running, dispatcher, port)
    board = board_on(port)

    assert board.hello().heartbeat_ms == 60_000
    assert board.scan(qr_text(card_tokens[0])).accepted
    assert not board.scan(card_tokens[0][:-3] + "xyz").accepted
    board.heartbeat()
    assert board.relay.pulses == [600]


def test_after_the_port_is_replugged_the_board_starts_a_new_session_by_itself(
    running: Running, dispatcher: Dispatcher, port: PluggedPort, card_tokens: list[str]
) -> None:
    start_gate(running, dispatcher, port)
    board = board_on(port)
    board.hello()
    assert board.scan(card_tokens[0]).accepted

    port.unplug()
    assert dispatcher.events.wait_for(events.DISCONNECTED, 1, "gate", TIMEOUT)
    port.plug()
    assert dispatcher.events.wait_for(events.CONNECTED, 2, "gate", TIMEOUT)

    assert board.scan(card_tokens[1]).accepted  # plain NAK HELLO_REQUIRED, a new handshake, the scan again
    assert board.naks == [NakReason.HELLO_REQUIRED]
    assert dispatcher.events.count(events.HELLO, "gate") == 2


def test_a_replayed_frame_on_the_serial_line_ends_the_session_and_a_new_one_begins(
    running: Running, dispatcher: Dispatcher, port: PluggedPort, verifier: CardVerifier, card_tokens: list[str]
) -> None:
    start_gate(running, dispatcher, port)
    board = board_on(port)
    board.hello()
    replayed = board.frame_for(Heartbeat(1), 9)
    board.send_raw(replayed)
    assert board.next_message(TIMEOUT) is not None

    board.send_raw(replayed)

    assert board.next_message(TIMEOUT) == (9, Nak(NakReason.AUTH_FAILED))  # plain: the session is over
    board.hello()  # the bridge waits for a HELLO on the same line
    assert board.scan(card_tokens[0]).accepted
    assert len(verifier.calls) == 1


def test_a_board_with_another_key_is_never_admitted_on_a_serial_line(running: Running, dispatcher: Dispatcher,
                                                                     port: PluggedPort) -> None:
    start_gate(running, dispatcher, port)
    impostor = board_on(port, auth.new_board_key())

    with pytest.raises(BridgeNotAuthenticated):  # the bridge's HELLO_ACK is sealed under the real key
        impostor.hello()
    assert dispatcher.events.count(events.HELLO, "gate") == 0

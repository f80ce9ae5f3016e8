"""Keyboard-wedge text from a FIFO, a file of recorded scans, and a tty that goes away and comes back."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from firmware_bridge import events
from firmware_bridge.dispatch import Dispatcher
from firmware_bridge.wedge import WedgeReader
from keys import qr_text
from tests.unit.firmware_bridge.doubles import CardVerifier

from .conftest import TIMEOUT, Running
from .ptys import PluggedPort


def test_a_fifo_is_read_across_its_writers(running: Running, dispatcher: Dispatcher, verifier: CardVerifier,
                                           tmp_path: Path, card_tokens: list[str]) -> None:
    fifo = tmp_path / "scanner"
    os.mkfifo(fifo)
    running.start(WedgeReader(str(fifo), dispatcher, name="wedge"))
    assert dispatcher.events.wait_for(events.CONNECTED, 1, "wedge", TIMEOUT)

    for token in card_tokens[:2]:  # two writers, one after the other
        with fifo.open("w") as writer:
            writer.write(f"]Q1{qr_text(token)}\r\n")

    assert dispatcher.events.wait_for(events.DECIDED, 2, "wedge", TIMEOUT, detail="accepted")
    assert verifier.payloads == [qr_text(token) for token in card_tokens[:2]]
    assert dispatcher.events.count(events.DISCONNECTED, "wedge") == 0  # a FIFO between writers has not ended


def test_a_file_of_recorded_scans_is_read_to_its_end_and_the_reader_stops(dispatcher: Dispatcher,
                                                                          verifier: CardVerifier, tmp_path: Path,
                                                                          card_tokens: list[str]) -> None:
    recorded = tmp_path / "scans.txt"
    recorded.write_text("\r\n".join(card_tokens) + "\r\n" + card_tokens[0])  # the last line has no terminator
    stop = threading.Event()

    WedgeReader(str(recorded), dispatcher, repeat_window=0.0, name="wedge").run(stop)

    assert verifier.payloads == [*card_tokens, card_tokens[0]]
    assert dispatcher.events.count(events.STOPPED, "wedge") == 1
    assert not stop.is_set()


def test_a_tty_that_goes_away_is_opened_again_when_it_is_back(running: Running, dispatcher: Dispatcher,
                                                              tmp_path: Path, card_tokens: list[str]) -> None:
    tty = PluggedPort(tmp_path, "ttyWEDGE")
    try:
        running.start(WedgeReader(str(tty.path), dispatcher, name="wedge"))
        assert dispatcher.events.wait_for(events.CONNECTED, 1, "wedge", TIMEOUT)
        tty.write(card_tokens[0].encode() + b"\r")  # a tty in canonical mode: CR arrives as LF
        assert dispatcher.events.wait_for(events.DECIDED, 1, "wedge", TIMEOUT, detail="accepted")

        tty.unplug()
        assert dispatcher.events.wait_for(events.DISCONNECTED, 1, "wedge", TIMEOUT)
        tty.plug()
        assert dispatcher.events.wait_for(events.CONNECTED, 2, "wedge", TIMEOUT)
        tty.write(card_tokens[1].encode() + b"\r")

        assert dispatcher.events.wait_for(events.DECIDED, 2, "wedge", TIMEOUT, detail="accepted")
    finally:
        tty.close()

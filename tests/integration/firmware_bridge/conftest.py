"""Fixtures for the bridge's integration tests: real sockets on loopback, real ptys, real nfcpy.

Every reader runs in its own thread until the test ends; tests wait on the
reader's events (threading.Condition underneath), never on sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol

import pytest

from firmware_bridge import events
from firmware_bridge.dispatch import Dispatcher
from tests.factories import Trust
from tests.unit.firmware_bridge.doubles import CardVerifier

TIMEOUT = 10.0  # a safety net only: each wait ends as soon as its event happens


class Reader(Protocol):
    name: str

    def run(self, stop: threading.Event) -> None: ...


class Running:
    """Readers started in threads, all stopped and joined at the end of the test."""

    def __init__(self) -> None:
        self.stops: list[tuple[threading.Event, threading.Thread]] = []

    def start(self, reader: Reader) -> threading.Event:
        stop = threading.Event()
        thread = threading.Thread(target=reader.run, args=(stop,), name=reader.name, daemon=True)
        thread.start()
        self.stops.append((stop, thread))
        return stop

    def stop(self, stop: threading.Event) -> None:
        for each, thread in self.stops:
            if each is stop:
                each.set()
                thread.join(TIMEOUT)
                assert not thread.is_alive(), f"{thread.name} did not stop"

    def stop_all(self) -> None:
        for stop, _ in self.stops:
            stop.set()
        for _, thread in self.stops:
            thread.join(TIMEOUT)
        alive = [thread.name for _, thread in self.stops if thread.is_alive()]
        assert not alive, f"readers still running: {alive}"


@pytest.fixture()
def running() -> Iterator[Running]:
    threads = Running()
    yield threads
    threads.stop_all()


@pytest.fixture()
def verifier(fixed_trust: Trust) -> CardVerifier:
    return CardVerifier(fixed_trust)


@pytest.fixture()
def dispatcher(verifier: CardVerifier) -> Dispatcher:
    return Dispatcher(verifier, events.Events())

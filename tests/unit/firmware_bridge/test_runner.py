"""The supervisor: a reader that breaks is started again; finished readers end the bridge; stop stops all."""

from __future__ import annotations

import threading

from firmware_bridge.runner import run_readers, supervise
from firmware_bridge.serial_link import Backoff


class Flaky:
    """Raises on its first runs, then finishes."""

    def __init__(self, failures: int) -> None:
        self.name = "flaky"
        self.failures = failures
        self.runs = 0

    def run(self, stop: threading.Event) -> None:
        self.runs += 1
        if self.runs <= self.failures:
            raise RuntimeError("a bug in a reader")


class UntilStopped:
    def __init__(self) -> None:
        self.name = "until-stopped"
        self.started = threading.Event()

    def run(self, stop: threading.Event) -> None:
        self.started.set()
        stop.wait()


def test_a_reader_that_raises_is_started_again_and_may_finish() -> None:
    reader = Flaky(failures=2)

    supervise(reader, threading.Event(), Backoff(0.001, 0.001))

    assert reader.runs == 3


def test_the_bridge_ends_when_every_reader_has_finished() -> None:
    stop = threading.Event()
    readers = [Flaky(0), Flaky(0)]

    run_readers(readers, stop)  # returns: nothing is left to run

    assert stop.is_set()
    assert [reader.runs for reader in readers] == [1, 1]


def test_stop_ends_readers_that_would_run_for_ever() -> None:
    stop = threading.Event()
    reader = UntilStopped()
    thread = threading.Thread(target=run_readers, args=([reader], stop))
    thread.start()
    assert reader.started.wait(10)

    stop.set()
    thread.join(10)

    assert not thread.is_alive()

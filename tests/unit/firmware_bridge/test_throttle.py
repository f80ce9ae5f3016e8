"""A noisy line cannot drown the log: one loud line per kind per interval, the rest at DEBUG and counted."""

from __future__ import annotations

import logging

import pytest

from firmware_bridge.throttle import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_one_loud_line_per_interval_and_a_count_of_the_quieted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    throttle = Throttle(10.0, clock)
    logger = logging.getLogger("test.throttle")

    for index in range(5):
        throttle.log(logger, logging.WARNING, "noise", "noise %d", index)
        clock.now += 1
    throttle.log(logger, logging.WARNING, "other", "other")
    clock.now += 10
    throttle.log(logger, logging.WARNING, "noise", "noise %d", 5)

    loud = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert loud == ["noise 0", "other", "noise 5 (and 4 more like it in the last 10 s)"]
    assert len([record for record in caplog.records if record.levelno == logging.DEBUG]) == 4

"""Decisions and logs for the terminal log's tests: built directly, no card needed."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from tests.factories import NOW, SERIAL
from verifier.decision import Decision
from verifier.log import TerminalLog

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
SERVICE = "bioskop-reguler"
ACCEPTED = Decision(True, "accepted", SERIAL, SERVICE, "5-12", 35_000, 11_550, 23_450, dt.date(2035, 5, 13))
REJECTED = Decision(False, "malformed", None, SERVICE, None, 0, 0, 0, None)


def decision(**changes: Any) -> Decision:
    """An accepted decision for SERIAL at SERVICE, with ``changes``."""
    return dataclasses.replace(ACCEPTED, **changes)


def open_log(path: Path, **options: Any) -> TerminalLog:
    return TerminalLog.open(path, WIB, **options)


def fill(log: TerminalLog, count: int, start: int = NOW, step: int = 60) -> None:
    """``count`` decisions, alternately accepted and rejected, ``step`` seconds apart."""
    for index in range(count):
        log.append(ACCEPTED if index % 2 == 0 else REJECTED, start + index * step)

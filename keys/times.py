"""Time as the project writes it: POSIX seconds inside, ISO 8601 UTC outside."""

from __future__ import annotations

import datetime as dt


def utc_datetime(timestamp: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def local_date(timestamp: int, zone: dt.tzinfo) -> dt.date | None:
    """The date in ``zone`` at ``timestamp``; None for a time beyond the calendar (a clock gone wild)."""
    try:
        return dt.datetime.fromtimestamp(timestamp, zone).date()
    except (ValueError, OverflowError, OSError):
        return None


def iso_utc(timestamp: int) -> str:
    return utc_datetime(timestamp).isoformat()


def iso_utc_or_none(timestamp: int | None) -> str | None:
    return None if timestamp is None else iso_utc(timestamp)


def parse_instant(text: str) -> int:
    """POSIX seconds of an ISO 8601 time that names its offset.

    Raises ValueError for anything else: a time without an offset is
    ambiguous across Indonesia's three zones.
    """
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("the time needs an offset, e.g. 2026-11-22T10:00:00+07:00")
    return int(moment.timestamp())

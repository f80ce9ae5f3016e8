"""How the pages write money, numbers, dates, times and regions, in the page's language.

Registered as Jinja filters (``{{ amount|rupiah }}``, ``{{ at|when }}``...):
money as ``Rp 12.500``, counts with separators, dates as ``4 Des 2026``,
instants in the office's zone with the zone's name (``4 Des 2026 10:05
WIB``), periods from the reports' YYYYMMDD and YYYYMM, regions by name.
"""

from __future__ import annotations

import datetime as dt

from flask import Flask, current_app, g

from keys.regions import region_name

from .. import audit_queries
from ..current import office
from .i18n import language

_MONTHS = {
    "id": ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}


def number(value: int | float | None) -> str:
    """``12.500`` in Bahasa Indonesia, ``12,500`` in English; empty for None."""
    if value is None:
        return ""
    text = f"{int(value):,}"
    return text.replace(",", ".") if language() == "id" else text


def rupiah(value: int | float | None) -> str:
    return "" if value is None else f"Rp {number(value)}"


def _month_name(month: int) -> str:
    return _MONTHS[language()][month - 1]


def day(value: dt.date | int | None) -> str:
    """A date, or a report's YYYYMMDD, as ``4 Des 2026``."""
    if value is None:
        return ""
    if isinstance(value, int):
        value = dt.date(value // 10000, value // 100 % 100, value % 100)
    return f"{value.day} {_month_name(value.month)} {value.year}"


def month(value: dt.date | int | None) -> str:
    """A date's month, or a report's YYYYMM, as ``Des 2026``."""
    if value is None:
        return ""
    if isinstance(value, int):
        value = dt.date(value // 100, value % 100, 1)
    return f"{_month_name(value.month)} {value.year}"


def period(value: int) -> str:
    """A report's period: YYYYMMDD as a day, YYYYMM as a month."""
    return day(value) if value >= 1_000_000 else month(value)


def office_zone() -> dt.tzinfo:
    """The office's zone (its partners' one zone), read once per request."""
    if "office_zone" not in g:
        g.office_zone = audit_queries.office_zone(audit_queries.partner_places(office(current_app)))
    zone: dt.tzinfo = g.office_zone
    return zone


def when(at: int | None, zone: dt.tzinfo | None = None) -> str:
    """An instant (seconds since the epoch) in the office's zone, labelled: ``4 Des 2026 10:05 WIB``."""
    if at is None:
        return ""
    try:
        moment = dt.datetime.fromtimestamp(at, zone or office_zone())
    except (ValueError, OverflowError, OSError):  # a clock gone wild: the raw seconds
        return f"@{at}"
    return f"{day(moment.date())} {moment:%H:%M} {moment.tzname()}"


def init_app(app: Flask) -> None:
    for name, function in (("number", number), ("rupiah", rupiah), ("day", day), ("month", month),
                           ("period", period), ("when", when), ("region", region_name)):
        app.add_template_filter(function, name)

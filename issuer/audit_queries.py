"""What the auditor's pages read: redemptions, alarms and the audit trail, filtered and paged.

Plain query functions over the office's database, for issuer.web.audit and
anyone else who reads the same way.  The quarantine queue and the decisions
on it are issuer.quarantine's; this module only counts them.

Every list is newest first and keyset-paged: a page ends with a cursor (the
time and id of its last row) and the next page starts after it, so a page
deep in ten million redemptions costs what the first one does.  Each page
also says how many rows match the filter.

A redemption's time is shown in its partner's zone (WIB, WITA or WIT), as
its report day is kept; the audit trail's days and times are the office's
zone: the one zone of its partners, or UTC when they span several.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Iterator, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from keys.eligibility import region_timezone

from .errors import Invalid
from .reports import bucket
from .storage.models import FINDING_STATES, Alarm, AuditEvent, Finding, Partner, RedemptionRow, Terminal
from .storage.store import IssuerHome

PAGE_SIZE = 50
EXPORT_BATCH = 1000  # rows read per query while an export streams: one transaction each, never one long one
FLAGS = ("held", "flagged", "none")  # held by a check; flagged by the terminal; neither
WEEK = 7 * 24 * 3600
MAX_TEXT_FILTER = 100
MAX_BIGINT = 2**63 - 1  # the database's 64-bit integers: a larger number in a link is refused, never sent

Row = TypeVar("Row")


# --- paging ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Cursor:
    """Where a page ended: the time and id of its last row."""

    at: int
    id: int

    def __str__(self) -> str:
        return f"{self.at}.{self.id}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """The cursor a page link carries; raises Invalid for anything else."""
        at, _, row_id = text.partition(".")
        try:
            cursor = cls(int(at), int(row_id))
        except ValueError:
            cursor = None
        if cursor is None or not all(abs(value) <= MAX_BIGINT for value in (cursor.at, cursor.id)):
            raise Invalid("the page link is not valid; start again from the first page")
        return cursor


@dataclasses.dataclass(frozen=True)
class Page(Generic[Row]):
    rows: list[Row]
    total: int  # rows matching the filter, whichever page this is
    next: Cursor | None  # None on the last page


def _keyset_page(
    session: Session, query: Select[*tuple[Any, ...]], conditions: Sequence[ColumnElement[bool]],
    at: InstrumentedAttribute[int], row_id: InstrumentedAttribute[int], after: Cursor | None, size: int,
    *, count: bool = True,
) -> tuple[list[Any], int, Cursor | None]:
    """Rows of ``query`` matching ``conditions``, newest first after ``after``; their total (0 unless
    ``count``); the next cursor."""
    total = session.scalar(select(func.count()).select_from(query.where(*conditions).subquery())) if count else 0
    if after is not None:
        conditions = [*conditions, or_(at < after.at, and_(at == after.at, row_id < after.id))]
    rows = list(session.execute(query.where(*conditions).order_by(at.desc(), row_id.desc()).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    return rows, total or 0, Cursor(rows[-1].at, rows[-1].id) if more else None


# --- places and times -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Place:
    """A partner as the auditor's pages name it, and the zone its days are kept in."""

    name: str
    zone: dt.tzinfo


def partner_places(home: IssuerHome) -> dict[int, Place]:
    with home.transaction() as session:
        rows = session.execute(select(Partner.id, Partner.name, Partner.region).order_by(Partner.name, Partner.id))
        return {partner_id: Place(name, region_timezone(region)) for partner_id, name, region in rows}


def office_zone(places: dict[int, Place]) -> dt.tzinfo:
    """The office's zone: its partners' one zone (a regency's office serves one), else UTC."""
    zones = {place.zone for place in places.values()}
    return zones.pop() if len(zones) == 1 else dt.UTC


def local_time(at: int, zone: dt.tzinfo) -> str:
    """``at`` as a local date and time with the zone's name, e.g. ``2026-11-22 10:00:05 WIB``."""
    try:
        moment = dt.datetime.fromtimestamp(at, zone)
    except (ValueError, OverflowError, OSError):  # a terminal's clock gone wild: the raw seconds
        return f"@{at}"
    return f"{moment:%Y-%m-%d %H:%M:%S} {moment.tzname()}"


def day_bounds(first_day: dt.date | None, last_day: dt.date | None, zone: dt.tzinfo) -> tuple[int | None, int | None]:
    """The first instant of ``first_day`` and the first instant after ``last_day`` in ``zone``."""
    def start(day: dt.date) -> int:
        return int(dt.datetime.combine(day, dt.time(0), zone).timestamp())

    try:
        return (None if first_day is None else start(first_day),
                None if last_day is None else start(last_day + dt.timedelta(days=1)))
    except (OverflowError, ValueError, OSError):
        raise Invalid("the days are beyond the calendar") from None


def _check_days(first_day: dt.date | None, last_day: dt.date | None) -> None:
    if first_day is not None and last_day is not None and first_day > last_day:
        raise Invalid("the first day is after the last day")


def _check_text(value: str | None, what: str) -> None:
    if value is not None and len(value) > MAX_TEXT_FILTER:
        raise Invalid(f"the {what} is at most {MAX_TEXT_FILTER} characters")


# --- redemptions ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RedemptionFilter:
    """Which redemptions an auditor looks at; None is any.  Days are the partner's local days."""

    partner_id: int | None = None
    terminal_id: str | None = None
    serial: str | None = None
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    flag: str | None = None  # held, flagged or none (see FLAGS)
    check: str | None = None  # a check the record failed, whatever was decided about it

    def conditions(self) -> list[ColumnElement[bool]]:
        """The filter as SQL conditions; raises Invalid for a filter that cannot match as asked."""
        if self.flag is not None and self.flag not in FLAGS:
            raise Invalid(f"the flag is one of: {', '.join(FLAGS)}")
        _check_days(self.first_day, self.last_day)
        for value, what in ((self.terminal_id, "terminal"), (self.serial, "serial"), (self.check, "check")):
            _check_text(value, what)
        found: list[ColumnElement[bool]] = []
        if self.partner_id is not None:
            found.append(RedemptionRow.partner_id == self.partner_id)
        if self.terminal_id:
            found.append(RedemptionRow.terminal_id == self.terminal_id)
        if self.serial:
            found.append(RedemptionRow.serial == self.serial.strip().upper())
        if self.first_day is not None:
            first = bucket(self.first_day, "day")
            found.extend((RedemptionRow.day >= first, RedemptionRow.month >= first // 100))  # a partition's month
        if self.last_day is not None:
            last = bucket(self.last_day, "day")
            found.extend((RedemptionRow.day <= last, RedemptionRow.month <= last // 100))
        if self.flag == "held":
            found.append(RedemptionRow.held.is_(True))
        elif self.flag == "flagged":
            found.append(RedemptionRow.flagged.is_(True))
        elif self.flag == "none":
            found.append(and_(RedemptionRow.held.is_(False), RedemptionRow.flagged.is_(False)))
        if self.check:
            found.append(select(Finding.id).where(
                Finding.terminal_id == RedemptionRow.terminal_id, Finding.seq == RedemptionRow.seq,
                Finding.check == self.check).exists())
        return found


@dataclasses.dataclass(frozen=True)
class RedemptionLine:
    """A redemption as stored, with what the office's checks found (check, state) and whether it is held."""

    id: int
    at: int
    partner_id: int
    terminal_id: str
    seq: int
    serial: str | None
    service: str
    category: str | None
    accepted: bool
    reason: str
    price: int
    discount: int
    paid: int
    flags: tuple[str, ...]
    held: bool
    findings: tuple[tuple[str, str], ...]


_REDEMPTION_COLUMNS = select(
    RedemptionRow.id, RedemptionRow.at, RedemptionRow.partner_id, RedemptionRow.terminal_id, RedemptionRow.seq,
    RedemptionRow.serial, RedemptionRow.service, RedemptionRow.category, RedemptionRow.accepted,
    RedemptionRow.reason, RedemptionRow.price, RedemptionRow.discount, RedemptionRow.paid, RedemptionRow.flags,
    RedemptionRow.held,
)


def _redemption_lines(session: Session, rows: Sequence[Any]) -> list[RedemptionLine]:
    """The rows with their findings, read in one more query."""
    found: dict[tuple[str, int], list[tuple[str, str]]] = {(row.terminal_id, row.seq): [] for row in rows}
    if found:
        findings = select(Finding.terminal_id, Finding.seq, Finding.check, Finding.state).where(
            Finding.terminal_id.in_({key[0] for key in found}), Finding.seq.in_({key[1] for key in found}))
        for terminal_id, seq, check, state in session.execute(findings.order_by(Finding.id)):
            if (terminal_id, seq) in found:
                found[(terminal_id, seq)].append((check, state))
    return [RedemptionLine(row.id, row.at, row.partner_id, row.terminal_id, row.seq, row.serial, row.service,
                           row.category, row.accepted, row.reason, row.price, row.discount, row.paid,
                           tuple(row.flags or ()), bool(row.held), tuple(found[(row.terminal_id, row.seq)]))
            for row in rows]


def redemptions(home: IssuerHome, chosen: RedemptionFilter, after: Cursor | None = None,
                size: int = PAGE_SIZE) -> Page[RedemptionLine]:
    """A page of the redemptions ``chosen``, newest scans first; raises Invalid for an impossible filter."""
    conditions = chosen.conditions()
    with home.transaction() as session:
        rows, total, following = _keyset_page(session, _REDEMPTION_COLUMNS, conditions, RedemptionRow.at,
                                              RedemptionRow.id, after, size)
        return Page(_redemption_lines(session, rows), total, following)


def all_redemptions(home: IssuerHome, chosen: RedemptionFilter) -> Iterator[RedemptionLine]:
    """Every redemption ``chosen``, newest first, read ``EXPORT_BATCH`` at a time for a streamed export."""
    conditions = chosen.conditions()
    after: Cursor | None = None
    while True:
        with home.transaction() as session:
            rows, _, after = _keyset_page(session, _REDEMPTION_COLUMNS, conditions, RedemptionRow.at,
                                          RedemptionRow.id, after, EXPORT_BATCH, count=False)
            lines = _redemption_lines(session, rows)
        yield from lines
        if after is None:
            return


CSV_COLUMNS = ("time_utc", "local_time", "partner_id", "partner", "terminal_id", "seq", "serial", "service",
               "category", "accepted", "reason", "price", "discount", "paid", "flags", "held", "checks")


def redemptions_csv(home: IssuerHome, chosen: RedemptionFilter, places: dict[int, Place]) -> Iterator[str]:
    """The redemptions ``chosen`` as CSV: a header line, then a chunk per ``EXPORT_BATCH`` rows.

    Raises Invalid at once for an impossible filter, before anything is sent.
    Text a terminal signed is data, never a formula: a cell that a
    spreadsheet would evaluate (``=``, ``+``, ``-``, ``@``) starts with ``'``.
    """
    chosen.conditions()
    return _csv_chunks(home, chosen, places)


def _csv_chunks(home: IssuerHome, chosen: RedemptionFilter, places: dict[int, Place]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for count, line in enumerate(all_redemptions(home, chosen), start=1):
        place = places.get(line.partner_id)
        writer.writerow([
            _iso_utc(line.at), local_time(line.at, place.zone) if place else "",
            line.partner_id, _cell(place.name if place else ""), _cell(line.terminal_id), line.seq,
            _cell(line.serial or ""), _cell(line.service), _cell(line.category or ""), line.accepted,
            _cell(line.reason), line.price, line.discount, line.paid, _cell(" ".join(line.flags)), line.held,
            " ".join(f"{check}:{state}" for check, state in line.findings),
        ])
        if count % EXPORT_BATCH == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _iso_utc(at: int) -> str:
    try:
        return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):  # a terminal's clock gone wild: the raw seconds
        return str(at)


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


@dataclasses.dataclass(frozen=True)
class TerminalName:
    id: str
    partner_id: int
    name: str


def terminal_names(home: IssuerHome) -> list[TerminalName]:
    """Every terminal, for the filters' choices."""
    with home.transaction() as session:
        rows = session.execute(select(Terminal.id, Terminal.partner_id, Terminal.name).order_by(Terminal.id))
        return [TerminalName(*row) for row in rows]


# --- alarms ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AlarmFilter:
    kind: str | None = None
    partner_id: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        _check_text(self.kind, "alarm")
        found: list[ColumnElement[bool]] = []
        if self.kind:
            found.append(Alarm.kind == self.kind)
        if self.partner_id is not None:
            found.append(Alarm.partner_id == self.partner_id)
        return found


@dataclasses.dataclass(frozen=True)
class AlarmLine:
    id: int
    at: int
    kind: str
    terminal_id: str | None
    partner_id: int | None
    detail: str


def alarms(home: IssuerHome, chosen: AlarmFilter, after: Cursor | None = None,
           size: int = PAGE_SIZE) -> Page[AlarmLine]:
    """A page of the alarms ``chosen``, newest first."""
    query = select(Alarm.id, Alarm.at, Alarm.kind, Alarm.terminal_id, Alarm.partner_id, Alarm.detail)
    with home.transaction() as session:
        rows, total, following = _keyset_page(session, query, chosen.conditions(), Alarm.at, Alarm.id, after, size)
        return Page([AlarmLine(*row) for row in rows], total, following)


def alarm_kinds(home: IssuerHome) -> list[str]:
    """The kinds of alarm the office has raised, for the filter's choices."""
    return _distinct(home, Alarm.kind)


# --- the audit trail --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TrailFilter:
    """Which events: one person (or terminal, ``terminal:T-...``), one action, text in the target, days."""

    username: str | None = None
    action: str | None = None
    target: str | None = None  # found anywhere in the target, whatever the case
    first_day: dt.date | None = None
    last_day: dt.date | None = None

    def conditions(self, zone: dt.tzinfo) -> list[ColumnElement[bool]]:
        _check_days(self.first_day, self.last_day)
        for value, what in ((self.username, "username"), (self.action, "action"), (self.target, "target text")):
            _check_text(value, what)
        found: list[ColumnElement[bool]] = []
        if self.username:
            found.append(AuditEvent.username == self.username.strip().lower())
        if self.action:
            found.append(AuditEvent.action == self.action)
        if self.target:
            found.append(AuditEvent.target.icontains(self.target.strip(), autoescape=True))
        first, end = day_bounds(self.first_day, self.last_day, zone)
        if first is not None:
            found.append(AuditEvent.at >= first)
        if end is not None:
            found.append(AuditEvent.at < end)
        return found


@dataclasses.dataclass(frozen=True)
class TrailLine:
    id: int
    at: int
    username: str
    action: str
    target: str | None
    remote_addr: str | None


def trail(home: IssuerHome, chosen: TrailFilter, zone: dt.tzinfo, after: Cursor | None = None,
          size: int = PAGE_SIZE) -> Page[TrailLine]:
    """A page of the audit trail ``chosen`` (days in ``zone``), newest first."""
    query = select(AuditEvent.id, AuditEvent.at, AuditEvent.username, AuditEvent.action, AuditEvent.target,
                   AuditEvent.remote_addr)
    with home.transaction() as session:
        rows, total, following = _keyset_page(session, query, chosen.conditions(zone), AuditEvent.at,
                                              AuditEvent.id, after, size)
        return Page([TrailLine(*row) for row in rows], total, following)


def trail_choices(home: IssuerHome) -> tuple[list[str], list[str]]:
    """The usernames and the actions in the audit trail, for the filters' choices."""
    return _distinct(home, AuditEvent.username), _distinct(home, AuditEvent.action)


def _distinct(home: IssuerHome, column: InstrumentedAttribute[str]) -> list[str]:
    with home.transaction() as session:
        return list(session.scalars(select(column).distinct().order_by(column)))


# --- the overview ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Overview:
    awaiting: int  # records with a finding no auditor has decided yet
    open_findings: int
    held: int  # records out of revenue now: awaiting a decision, or confirmed
    alarms_this_week: int  # raised in the seven days up to now


def records_in_state(home: IssuerHome, state: str = "open", partner_id: int | None = None) -> int:
    """How many records have findings in ``state``: those issuer.quarantine.held_records lists, all of them."""
    if state not in FINDING_STATES:
        raise Invalid("the state is open, released or confirmed")
    records = select(Finding.terminal_id, Finding.seq).where(Finding.state == state)
    if partner_id is not None:
        records = records.where(Finding.partner_id == partner_id)
    with home.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(records.distinct().subquery())) or 0)


def overview(home: IssuerHome, now: int) -> Overview:
    """What waits for an auditor, counted."""
    counts = (
        select(func.count()).select_from(Finding).where(Finding.state == "open"),
        select(func.count()).select_from(RedemptionRow).where(RedemptionRow.held.is_(True)),
        select(func.count()).select_from(Alarm).where(Alarm.at > now - WEEK, Alarm.at <= now),
    )
    with home.transaction() as session:
        open_findings, held, alarms_this_week = (int(session.scalar(count) or 0) for count in counts)
    return Overview(records_in_state(home), open_findings, held, alarms_this_week)

"""How long the office holds each record, and the monthly partitions that make removing a month cheap.

Terminals' records (``redemptions``) and the card sets behind unique-card
figures (``redemption_cards``) name cards; the figures kept at ingest
(issuer.summaries: sums and counts per partner, day and month) do not.  The
office keeps the records as long as its retention rule says, then removes
whole local months: ``prune`` with ``keep_months`` 60 keeps this month and
the 59 before it.  What remains answers every revenue figure and every
unique-card count of whole days and months, and of ranges that start on a
month's first day or end on its last, for every month ever recorded;
figures that must read records or card sets (a range strictly inside a
removed month, kinds or clusters within one region, a service across
partners) are refused for removed months (``RemovedByRetention``), not
answered wrong.  The transparency log keeps every record's chain hash, so
an auditor checks the held records' chains from the log's entry of the last
removed one (issuer.audit_export).

On PostgreSQL both tables are partitioned by month (migration 0017): one
partition ``<table>_YYYYMM`` per month and ``<table>_default`` for month 0
(a clock gone wild) and months without a partition yet.  Removing a month
drops its partitions, which costs the same for a thousand rows or a hundred
million and leaves nothing for vacuum.  ``make_partitions`` makes the
months around now ahead of ingest and moves in any rows the default caught;
the office runs it daily (``kia issuer db partitions``), and ``prune`` runs
it too.  SQLite, the embedded default, deletes the months' rows instead.

Records of month 0 are never removed: their date is unknown.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from .audit import Actor
from .audit import record as audit
from .errors import Invalid, Refused
from .storage.models import PARTITIONED, Finding, LogPending, Office, RedemptionRow, RedemptionSummaryMonth
from .storage.store import IssuerHome
from .transparency import BATCH_OF_RECORDS

MONTHS_BEHIND, MONTHS_AHEAD = 1, 3  # the months make_partitions makes around the current one
MIN_KEEP_MONTHS = 1


class RemovedByRetention(Refused):
    """The figure needs records of months the office has removed under its retention rule."""


@dataclasses.dataclass(frozen=True)
class Pruned:
    """What ``prune`` removed, or would remove: local months (YYYYMM) and the records in them."""

    kept_from: int  # the first month still held
    months: list[int]
    records: int
    done: bool


def add_months(month: int, count: int) -> int:
    """``month`` (YYYYMM) moved by ``count`` months, forwards or back."""
    index = month // 100 * 12 + month % 100 - 1 + count
    return index // 12 * 100 + index % 12 + 1


def month_of(now: int) -> int:
    """The month (YYYYMM) of ``now`` in Indonesia's westernmost zone (UTC+7), the earliest to change month
    last: every region is in that month or the next."""
    day = dt.datetime.fromtimestamp(now, dt.timezone(dt.timedelta(hours=7)))
    return day.year * 100 + day.month


def make_partitions(home: IssuerHome, now: int) -> list[str]:
    """Make the partitions of the months around ``now`` and of every month the default partitions hold;
    answer the partitions made (none on SQLite)."""
    with home.transaction() as session:
        return _make_partitions(session.connection(), now)


def _make_partitions(connection: Connection, now: int) -> list[str]:
    if connection.dialect.name != "postgresql":
        return []
    # One maker at a time (the daily job, an upgrade, a prune): the second waits, then finds the months made.
    connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('kia.retention.partitions'))"))
    current = month_of(now)
    made = []
    for table in PARTITIONED:
        wanted = {add_months(current, step) for step in range(-MONTHS_BEHIND, MONTHS_AHEAD + 1)}
        wanted |= set(connection.execute(text(
            f"SELECT DISTINCT month FROM {table}_default WHERE month > 0")).scalars())  # noqa: S608
        for month in sorted(wanted - _partitioned_months(connection, table)):
            _attach(connection, table, month)
            made.append(f"{table}_{month}")
    return made


def _partitioned_months(connection: Connection, table: str) -> set[int]:
    names = connection.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:table AS regclass)"), {"table": table}).scalars()
    return {int(name.rsplit("_", 1)[1]) for name in names if not name.endswith("_default")}


def _attach(connection: Connection, table: str, month: int) -> None:
    """Partition ``month`` of ``table``, with the rows its default partition holds for that month.

    The rows move into a table of the month first, which is then attached:
    PostgreSQL refuses a new partition while the default one holds its rows.
    """
    partition = f"{table}_{int(month)}"
    connection.execute(text(f"CREATE TABLE {partition} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    connection.execute(text(
        f"WITH moved AS (DELETE FROM {table}_default WHERE month = {int(month)} RETURNING *) "  # noqa: S608
        f"INSERT INTO {partition} SELECT * FROM moved"))
    connection.execute(text(f"ALTER TABLE {table} ATTACH PARTITION {partition} FOR VALUES IN ({int(month)})"))


def first_kept(keep_months: int, now: int) -> int:
    """The first month (YYYYMM) kept when keeping ``keep_months``: the month of ``now`` and those before it."""
    if keep_months < MIN_KEEP_MONTHS:
        raise Invalid(f"keep at least {MIN_KEEP_MONTHS} month")
    return add_months(month_of(now), -(keep_months - 1))


def parse_month(value: str) -> int:
    """``YYYY-MM`` as YYYYMM; Invalid otherwise."""
    try:
        day = dt.date.fromisoformat(f"{value}-01")
    except ValueError:
        raise Invalid(f"{value!r} is not a month written YYYY-MM") from None
    return day.year * 100 + day.month


def month_text(month: int) -> str:
    """YYYYMM written YYYY-MM."""
    return f"{month // 100:04d}-{month % 100:02d}"


def prune(home: IssuerHome, kept_from: int, now: int, by: Actor, dry_run: bool = False) -> Pruned:
    """Remove the records and card sets of every local month before ``kept_from`` (YYYYMM).

    Refused for a month after the current one, and while a removed month
    holds a record an auditor has not decided on or a record the
    transparency log has not taken in yet (run ``kia issuer log publish``
    first).  The summaries and counts stay.
    """
    if kept_from > month_of(now):
        raise Invalid(f"the records of {month_text(month_of(now))} are still being made; keep them")
    with home.transaction() as session:
        office = session.scalars(select(Office).with_for_update()).one()
        months, records = _months_held(session, office.redemptions_kept_from, kept_from)
        if dry_run or not months:
            return Pruned(max(office.redemptions_kept_from, kept_from), months, records, done=False)
        _refuse_undecided(session, kept_from)
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            _make_partitions(connection, now)
            for table in PARTITIONED:
                for month in sorted(_partitioned_months(connection, table)):
                    if month < kept_from:
                        connection.execute(text(f"DROP TABLE {table}_{int(month)}"))
        for table in PARTITIONED:  # SQLite's rows; on PostgreSQL none are left outside the dropped partitions
            connection.execute(text(f"DELETE FROM {table} WHERE month BETWEEN 1 AND :before"),  # noqa: S608
                               {"before": kept_from - 1})
        office.redemptions_kept_from = max(office.redemptions_kept_from, kept_from)
        # The months removed and their records, in no language: "2026-08..2026-09: 13".
        audit(session, by, "records_prune", f"{month_text(months[0])}..{month_text(months[-1])}: {records}", now)
        return Pruned(office.redemptions_kept_from, months, records, done=True)


def _months_held(session: Session, first: int, kept_from: int) -> tuple[list[int], int]:
    """The months from ``first`` to before ``kept_from`` that hold records, and how many: read from the
    monthly summaries, which count every stored record, so nothing is scanned."""
    rows = session.execute(
        select(RedemptionSummaryMonth.month, func.sum(RedemptionSummaryMonth.scans))
        .where(RedemptionSummaryMonth.month.between(max(first, 1), kept_from - 1))
        .group_by(RedemptionSummaryMonth.month).order_by(RedemptionSummaryMonth.month)).all()
    return [month for month, _ in rows], sum(int(count) for _, count in rows)


def _refuse_undecided(session: Session, kept_from: int) -> None:
    removed = RedemptionRow.month.between(1, kept_from - 1)
    open_findings = session.scalar(
        select(func.count()).select_from(Finding).join(RedemptionRow, (Finding.terminal_id == RedemptionRow.terminal_id)
                                                       & (Finding.seq == RedemptionRow.seq))
        .where(Finding.state == "open", removed))
    if open_findings:
        raise Refused(f"{open_findings} held records of those months await an auditor's decision; "
                      f"release or confirm them first")
    for pending in session.scalars(select(LogPending.data).where(LogPending.kind == BATCH_OF_RECORDS)):
        batch = json.loads(pending)
        if session.scalar(select(RedemptionRow.id).where(
                RedemptionRow.terminal_id == batch["terminal"],
                RedemptionRow.seq.between(batch["first"], batch["last"]), removed).limit(1)) is not None:
            raise Refused("the transparency log has not taken in all records of those months yet; "
                          "run 'kia issuer log publish' first")


def kept_from(session: Session) -> int:
    """The first local month (YYYYMM) whose records and card sets are held; 0 if none was removed."""
    return session.scalar(select(Office.redemptions_kept_from)) or 0


def require_records(session: Session, first_month: int) -> None:
    """Raise RemovedByRetention if records of ``first_month`` (YYYYMM) or later months up to now were
    removed: a figure that reads them would be wrong."""
    held_from = kept_from(session)
    if 0 < first_month < held_from:
        raise RemovedByRetention(
            f"records before {held_from // 100}-{held_from % 100:02d} were removed under the retention rule; "
            f"this figure needs them (whole days and months, and ranges from a month's first day or to its "
            f"last, are still answered)")

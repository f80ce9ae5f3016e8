"""Daily summaries of redemptions, kept in the transaction that changes them.

Reports sum these instead of scanning redemptions (issuer.reports), so a
report costs the days and services it covers, not the records.  One row per
(partner, local day, service, category) counts, as reports.Figures means them:

- ``scans``: every record;
- ``accepted``, ``gross``, ``discount``, ``net``, ``flagged``: accepted
  records no check holds (``gross`` is the price, ``net`` what was paid);
- ``held``: accepted records a check holds, until an auditor releases them.

Ingest adds each batch (``add_records``), aggregated first so that the
batch makes one upsert with one row per summary key; an auditor's decision
moves a record between ``held`` and revenue (``move_record``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .storage.models import RedemptionSummary

COUNTS = ("scans", "accepted", "gross", "discount", "net", "held", "flagged")
NO_CATEGORY = ""

Key = tuple[int, int, str, str]  # partner, day, service, category


def count(total: list[int], record: Mapping[str, Any]) -> None:
    """Add one redemption (a mapping of RedemptionRow's columns) to ``total``, figures in COUNTS order."""
    total[0] += 1
    if not record["accepted"]:
        return
    if record["held"]:
        total[5] += 1
        return
    total[1] += 1
    total[2] += record["price"]
    total[3] += record["discount"]
    total[4] += record["paid"]
    if record["flagged"]:
        total[6] += 1


def key(record: Mapping[str, Any]) -> Key:
    return record["partner_id"], record["day"], record["service"], record["category"] or NO_CATEGORY


def add_records(session: Session, records: Iterable[Mapping[str, Any]]) -> None:
    """Count new redemptions (mappings of RedemptionRow's columns) into their summaries."""
    totals: dict[Key, list[int]] = {}
    for record in records:
        found = key(record)
        total = totals.get(found)
        if total is None:
            total = totals[found] = [0] * len(COUNTS)
        count(total, record)
    _upsert(session, totals)


def move_record(session: Session, record: Mapping[str, Any], held: bool) -> None:
    """Follow a record whose ``held`` becomes ``held`` (an auditor's decision): call before changing it."""
    before, after = [0] * len(COUNTS), [0] * len(COUNTS)
    count(before, record)
    count(after, {**record, "held": held})
    change = [new - old for new, old in zip(after, before, strict=True)]
    if any(change):
        _upsert(session, {key(record): change})


def _upsert(session: Session, totals: Mapping[Key, Sequence[int]]) -> None:
    if not totals:
        return
    dialect = session.connection().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Keys in one order, so two batches of one partner lock its summaries in the same order (no deadlock).
    rows = [{"partner_id": partner, "day": day, "month": day // 100, "service": service, "category": category,
             **dict(zip(COUNTS, totals[(partner, day, service, category)], strict=True))}
            for partner, day, service, category in sorted(totals)]
    # One statement with its rows as parameters: compiled once and cached, sent as one batch by the driver.
    statement = insert(RedemptionSummary)
    table = RedemptionSummary.__table__
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.partner_id, table.c.day, table.c.service, table.c.category],
        set_={name: table.c[name] + statement.excluded[name] for name in COUNTS},
    )
    session.execute(statement, rows)

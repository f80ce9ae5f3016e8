"""The audit export: a period's records as signed, with what an auditor needs to check them alone.

``write_export`` writes the directory ``kia-audit-export/1``
(kia.audit_export_format, docs/audit.md "Export format") for the
partner-local days ``start`` to ``end`` and optionally one partner: every
record of those days, the checkpoints the terminals signed over them, the
terminals' public keys, the partners, the office's findings and its revenue
figures.  ``kia audit verify`` and ``kia audit revenue`` check it without
trusting the office.

Each terminal's records go out as one contiguous run: from its first record
of the period to the first checkpoint at or after its last one (records a
wandering clock dated outside the period included), so its chain links from
``prev_hash`` to a signature.  Everything is read in one snapshot, so the
figures are those of the records exported even while terminals sync.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keys.times import iso_utc
from kia.audit_export_format import (
    FIGURES,
    FORMATS,
    ZERO_HASH,
    FileEntry,
    Manifest,
    TableWriter,
    csv_to_parquet,
    entry_for,
    file_name,
    write_manifest,
)

from . import reports
from .audit import Actor
from .audit import record as audit
from .errors import Invalid, PartnerNotFound, Refused
from .storage.models import (
    Finding,
    LogEntry,
    Office,
    Partner,
    RedemptionRow,
    Terminal,
    TerminalCheckpoint,
    on_days,
)
from .storage.store import IssuerHome

MAX_DAYS = 366  # one export covers at most a (leap) year; ask for several for longer periods
_YIELD_ROWS = 5_000


def check_period(start: dt.date, end: dt.date) -> None:
    if start > end:
        raise Invalid("the period's first day (from) must not be after its last (to)")
    if (end - start).days >= MAX_DAYS:
        raise Invalid(f"an export covers at most {MAX_DAYS} days; ask for several periods")


def write_export(home: IssuerHome, directory: Path, start: dt.date, end: dt.date, partner_id: int | None,
                 formats: Sequence[str], now: int, *, by: Actor, redact_evidence: bool = False) -> Manifest:
    """Write the export of ``start``..``end`` (partner-local days, inclusive) into ``directory`` (new or empty).

    ``formats`` is one or both of csv and parquet.  ``redact_evidence``
    leaves out the findings' evidence and who decided them (a partner
    manager's export: evidence may name other partners' terminals).  Who
    exported what is audited (``audit_export``).  Raises Invalid (period,
    formats), PartnerNotFound, Refused (directory not empty).
    """
    check_period(start, end)
    if not formats or not set(formats) <= set(FORMATS):
        raise Invalid(f"the formats are one or more of {', '.join(FORMATS)}")
    if directory.exists() and any(directory.iterdir()):
        raise Refused(f"{directory} is not empty")
    directory.mkdir(parents=True, exist_ok=True)
    with home.transaction() as session:
        _snapshot(session)
        if partner_id is not None and session.get(Partner, partner_id) is None:
            raise PartnerNotFound(f"there is no partner {partner_id}")
        root_kid = session.scalars(select(Office.root_kid)).one()
        runs = _runs(session, start, end, partner_id)
        rows = {
            "redemptions": _redemptions(session, runs),
            "checkpoints": _checkpoints(session, runs),
            "partners": _partners(session, partner_id),
            "terminals": _terminals(session, partner_id),
            "findings": _findings(session, runs, redact_evidence),
        }
        files: dict[str, FileEntry] = {}
        for table, table_rows in rows.items():
            files |= _write_table(directory, table, table_rows, formats)
        figures = _figures(session, start, end, partner_id)
    (directory / FIGURES).write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    files[FIGURES] = entry_for(directory / FIGURES)
    manifest = Manifest(start.isoformat(), end.isoformat(), partner_id, iso_utc(now), root_kid, files)
    write_manifest(directory, manifest)
    # In a transaction of its own: the export's snapshot only reads.
    with home.transaction() as session:
        audit(session, by, "audit_export", f"{start}..{end} partner {partner_id or 'all'}", now)
    return manifest


def _snapshot(session: Session) -> None:
    """Make every read of this transaction see one state of the database.

    PostgreSQL's default (read committed) gives each statement its own view,
    and Python's sqlite3 begins no transaction for reads; without a snapshot
    a batch synced between two reads would put records in the export that
    its figures do not count.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        session.connection().exec_driver_sql("BEGIN")  # sqlite3 commits or rolls it back with the session


# (terminal id, first seq, last seq): each terminal's run of records, in terminal-id order.
Run = tuple[str, int, int]


def _runs(session: Session, start: dt.date, end: dt.date, partner_id: int | None) -> list[Run]:
    query = (select(RedemptionRow.terminal_id, func.min(RedemptionRow.seq), func.max(RedemptionRow.seq))
             .where(on_days(reports.bucket(start, "day"), reports.bucket(end, "day")))
             .group_by(RedemptionRow.terminal_id))
    if partner_id is not None:
        query = query.where(RedemptionRow.partner_id == partner_id)
    runs = []
    for terminal_id, first, last in session.execute(query):
        signed = session.scalars(select(func.min(TerminalCheckpoint.seq)).where(
            TerminalCheckpoint.terminal_id == terminal_id, TerminalCheckpoint.seq >= last)).one()
        runs.append((terminal_id, int(first), int(signed if signed is not None else last)))
    # Byte order, whatever the database's collation: the documented order of every table.
    return sorted(runs)


def _redemptions(session: Session, runs: list[Run]) -> Iterator[dict[str, Any]]:
    for terminal_id, first, last in runs:
        previous_seq, previous_hash = first - 1, _stored_hash(session, terminal_id, first - 1)
        rows = session.scalars(
            select(RedemptionRow)
            .where(RedemptionRow.terminal_id == terminal_id, RedemptionRow.seq.between(first, last))
            .order_by(RedemptionRow.seq)
            .execution_options(yield_per=_YIELD_ROWS)
        )
        for row in rows:
            if row.seq != previous_seq + 1:  # the office lost records: say what it holds, the verifier finds the gap
                previous_hash = _stored_hash(session, terminal_id, row.seq - 1)
            yield {
                "terminal_id": row.terminal_id, "partner_id": row.partner_id, "seq": row.seq, "at": row.at,
                "day": row.day, "serial": row.serial, "accepted": row.accepted, "reason": row.reason,
                "service": row.service, "category": row.category, "price": row.price, "discount": row.discount,
                "paid": row.paid, "flags": " ".join(row.flags), "prev_hash": previous_hash, "hash": row.hash,
                "received_at": row.received_at, "held": row.held, "flagged": row.flagged, "home": row.home,
            }
            previous_seq, previous_hash = row.seq, row.hash


def _stored_hash(session: Session, terminal_id: str, seq: int) -> str | None:
    """The chain hash after record ``seq`` as stored, or as the transparency log holds it once retention
    removed the record (issuer.retention); zeros before record 1; None if the office lacks it."""
    if seq == 0:
        return ZERO_HASH
    stored = session.scalars(select(RedemptionRow.hash).where(
        RedemptionRow.terminal_id == terminal_id, RedemptionRow.seq == seq)).one_or_none()
    if stored is not None:
        return stored
    entry = session.scalars(select(LogEntry.data).where(
        LogEntry.kind == "redemption", LogEntry.ref == f"{terminal_id}#{seq}")).first()
    return None if entry is None else str(json.loads(entry)["hash"])


def _checkpoints(session: Session, runs: list[Run]) -> Iterator[dict[str, Any]]:
    for terminal_id, first, last in runs:
        # The one just before the run checks its prev_hash; those inside check its records.
        for row in session.scalars(select(TerminalCheckpoint).where(
                TerminalCheckpoint.terminal_id == terminal_id, TerminalCheckpoint.seq.between(first - 1, last))
                .order_by(TerminalCheckpoint.seq)):
            yield {"terminal_id": row.terminal_id, "seq": row.seq, "hash": row.hash, "jws": row.jws,
                   "received_at": row.received_at}


def _partners(session: Session, partner_id: int | None) -> Iterator[dict[str, Any]]:
    query = select(Partner).order_by(Partner.id)
    if partner_id is not None:
        query = query.where(Partner.id == partner_id)
    for row in session.scalars(query):
        yield {"partner_id": row.id, "name": row.name, "kind": row.kind, "cluster": row.cluster,
               "region": row.region, "latitude": row.latitude, "longitude": row.longitude}


def _terminals(session: Session, partner_id: int | None) -> Iterator[dict[str, Any]]:
    query = select(Terminal)
    if partner_id is not None:
        query = query.where(Terminal.partner_id == partner_id)
    for row in sorted(session.scalars(query), key=lambda terminal: terminal.id):
        key = None if row.public_jwk is None else json.dumps(row.public_jwk, sort_keys=True, separators=(",", ":"))
        yield {"terminal_id": row.id, "partner_id": row.partner_id, "state": row.state,
               "enrolled_at": row.enrolled_at, "public_jwk": key}


def _findings(session: Session, runs: list[Run], redact: bool) -> Iterator[dict[str, Any]]:
    for terminal_id, first, last in runs:
        for row in session.scalars(select(Finding).where(
                Finding.terminal_id == terminal_id, Finding.seq.between(first, last))
                .order_by(Finding.seq, Finding.id)):
            yield {"terminal_id": row.terminal_id, "seq": row.seq, "partner_id": row.partner_id,
                   "check": row.check, "evidence": "" if redact else row.evidence, "found_at": row.found_at,
                   "state": row.state, "decided_by": None if redact else row.decided_by,
                   "decided_at": row.decided_at, "decision": None if redact else row.decision}


def _write_table(directory: Path, table: str, rows: Iterator[dict[str, Any]], formats: Sequence[str]
                 ) -> dict[str, FileEntry]:
    csv_path = directory / file_name(table, "csv")
    with TableWriter(csv_path, table) as writer:
        for row in rows:
            writer.write(row)
    files = {}
    if "parquet" in formats:
        parquet_path = directory / file_name(table, "parquet")
        csv_to_parquet(csv_path, parquet_path, table)
        files[parquet_path.name] = entry_for(parquet_path, writer.rows)
    if "csv" in formats:
        files[csv_path.name] = entry_for(csv_path, writer.rows)
    else:
        csv_path.unlink()
    return files


class _ThisTransaction:
    """The office as reports.figures opens it, inside the export's own transaction (one snapshot)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        yield self._session


def _figures(session: Session, start: dt.date, end: dt.date, partner_id: int | None) -> dict[str, Any]:
    """The office's figures per partner and for the programme, per partner-local day, as reports give them."""
    office = cast(IssuerHome, _ThisTransaction(session))
    by_partner = reports.figures(office, "partner", "day", start, end, partner_id)
    programme = reports.figures(office, "programme", "day", start, end, partner_id)

    def fields(row: reports.Figures) -> dict[str, int]:
        return {"day": row.period, "scans": row.scans, "accepted": row.accepted, "unique_cards": row.unique_cards,
                "gross": row.gross, "discount": row.discount, "net": row.net, "held": row.held,
                "flagged": row.flagged}

    return {
        "from": start.isoformat(), "to": end.isoformat(), "partner": partner_id, "period": "day",
        "partners": [{"partner_id": int(row.group), **fields(row)} for row in by_partner],
        "programme": [fields(row) for row in programme],
    }

"""Quarantine: records a check held out of revenue, and what an auditor decides about them.

issuer.sync_ingest holds a record when it fails a check of
issuer.redemption_checks and writes one finding per failed check.  An
auditor looks at the evidence and either releases the record (it counts in
revenue again, and in the reports' daily summaries) or confirms it (held for
good).  Each decision names a reason and is audited in its own transaction.
The record itself never changes: it stays exactly as the terminal signed it.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select, update

from . import summaries, transparency
from .audit import Actor
from .audit import record as audit
from .errors import Invalid, RecordNotFound, Refused
from .storage.models import Finding, RedemptionRow
from .storage.store import IssuerHome

MAX_REASON_LENGTH = 200
DECISIONS = {"release": "released", "confirm": "confirmed"}
# What the reports' daily summaries read of a record (issuer.summaries).
SUMMARY_COLUMNS = ("partner_id", "day", "service", "category", "accepted", "held", "flagged", "price", "discount",
                   "paid", "serial")


@dataclasses.dataclass(frozen=True)
class HeldRecord:
    """A held record with what was found; never the child's data (the serial is a card's, not a person's)."""

    terminal_id: str
    seq: int
    partner_id: int
    at: int
    serial: str | None
    service: str
    category: str | None
    price: int
    discount: int
    findings: tuple[tuple[str, str], ...]  # (check, evidence)
    state: str  # open, released or confirmed


def held_records(home: IssuerHome, *, state: str = "open", partner_id: int | None = None,
                 limit: int = 100) -> list[HeldRecord]:
    """Records with findings in ``state``, newest scans first."""
    if state not in ("open", "released", "confirmed"):
        raise Invalid("the state is open, released or confirmed")
    in_state = (Finding.state == state) if partner_id is None else (
        (Finding.state == state) & (Finding.partner_id == partner_id))
    with home.transaction() as session:
        rows = list(session.scalars(
            select(RedemptionRow)
            .where(select(Finding.id).where(in_state, Finding.terminal_id == RedemptionRow.terminal_id,
                                            Finding.seq == RedemptionRow.seq).exists())
            .order_by(RedemptionRow.at.desc(), RedemptionRow.terminal_id, RedemptionRow.seq)
            .limit(limit)
        ))
        found: dict[tuple[str, int], list[tuple[str, str]]] = {(row.terminal_id, row.seq): [] for row in rows}
        candidates = select(Finding.terminal_id, Finding.seq, Finding.check, Finding.evidence).where(
            in_state, Finding.terminal_id.in_({key[0] for key in found}), Finding.seq.in_({key[1] for key in found}))
        for terminal_id, seq, check, evidence in session.execute(candidates.order_by(Finding.id)):
            if (terminal_id, seq) in found:
                found[(terminal_id, seq)].append((check, evidence))
        return [HeldRecord(row.terminal_id, row.seq, row.partner_id, row.at, row.serial, row.service, row.category,
                           row.price, row.discount, tuple(found[(row.terminal_id, row.seq)]), state)
                for row in rows]


def decide(home: IssuerHome, terminal_id: str, seq: int, decision: str, reason: str, now: int, *,
           by: Actor) -> None:
    """``release`` a held record into revenue or ``confirm`` it held, for ``reason`` (audited)."""
    if decision not in DECISIONS:
        raise Invalid("the decision is release or confirm")
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON_LENGTH or any(ord(char) < 32 for char in reason):
        raise Invalid(f"give a reason of 1 to {MAX_REASON_LENGTH} characters on one line")
    with home.transaction() as session:
        row = session.scalars(select(RedemptionRow).where(
            RedemptionRow.terminal_id == terminal_id, RedemptionRow.seq == seq).with_for_update()).one_or_none()
        if row is None:
            raise RecordNotFound(f"terminal {terminal_id} has no record {seq} at the office")
        open_findings = (Finding.terminal_id == terminal_id) & (Finding.seq == seq) & (Finding.state == "open")
        decided = session.execute(
            update(Finding).where(open_findings).values(
                state=DECISIONS[decision], decided_by=by.username, decided_at=now, decision=reason),
            execution_options={"synchronize_session": False},
        ).rowcount  # type: ignore[attr-defined]
        if not decided:
            raise Refused(f"record {terminal_id}#{seq} has no open finding to decide")
        summaries.move_record(session, {column: getattr(row, column) for column in SUMMARY_COLUMNS},
                              held=decision == "confirm")
        row.held = decision == "confirm"
        transparency.record_fact(session, "record_decision", f"{terminal_id}#{seq}", now, terminal=terminal_id,
                                 seq=seq, decision=decision)
        audit(session, by, f"record_{decision}", f"{terminal_id}#{seq}", now)

"""Batches from schools and clinics, and where each stands.

A batch moves one way: submitted (uploaded and checked), verified (the
office checked it against the population register), printed, handed over
(the cards reached the school or clinic), as the Smart Kids programme runs
its school batches and Sukamara its newborn registrations at clinics.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select

from .audit import Actor
from .audit import record as audit
from .errors import BatchNotFound, Refused
from .storage.models import BatchRow, CardRow
from .storage.store import IssuerHome

STATES = ("submitted", "verified", "printed", "handed_over")
CHANNELS = ("school", "clinic")


@dataclasses.dataclass(frozen=True)
class Batch:
    id: int
    channel: str
    source: str | None
    state: str
    submitted_at: int
    rows_accepted: int
    rows_rejected: int
    cards: int

    @property
    def next_state(self) -> str | None:
        index = STATES.index(self.state)
        return STATES[index + 1] if index + 1 < len(STATES) else None


def list_batches(home: IssuerHome, limit: int = 50) -> list[Batch]:
    with home.transaction() as session:
        counts = dict(session.execute(
            select(CardRow.batch_id, func.count()).where(CardRow.batch_id.is_not(None)).group_by(CardRow.batch_id)
        ).all())
        rows = session.scalars(select(BatchRow).order_by(BatchRow.id.desc()).limit(limit))
        return [_batch(row, int(counts.get(row.id, 0))) for row in rows]


def advance(home: IssuerHome, batch_id: int, state: str, now: int, *, by: Actor) -> Batch:
    """Move a batch to ``state``, which must be the next one."""
    with home.transaction() as session:
        row = session.get(BatchRow, batch_id, with_for_update=True)
        if row is None:
            raise BatchNotFound(f"there is no batch {batch_id}")
        current = _batch(row, 0)
        if state != current.next_state:
            raise Refused(f"batch {batch_id} is {row.state}; it can only move to {current.next_state or 'nothing'}")
        row.state = state
        audit(session, by, f"batch_{state}", f"batch {batch_id}", now)
        cards = session.scalar(select(func.count()).select_from(CardRow).where(CardRow.batch_id == batch_id)) or 0
        return _batch(row, cards)


def _batch(row: BatchRow, cards: int) -> Batch:
    return Batch(row.id, row.channel, row.source, row.state, row.submitted_at, row.rows_accepted, row.rows_rejected,
                 cards)

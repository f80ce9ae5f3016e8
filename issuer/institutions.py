"""Schools and clinics that submit children for cards under their own accounts.

Balangan's Smart Kids programme issues through schools, Sukamara's Alibaba
through clinics and maternity homes: each is an institution of the office,
with accounts held to it (role ``institution``, as a partner manager is held
to its partner).  The office sees a queue per institution: how many of its
batches wait in each state.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import func, select

from keys.eligibility import is_valid_region, region_timezone

from .audit import Actor
from .audit import record as audit
from .errors import Invalid, NotFound
from .storage.models import INSTITUTION_KINDS, BatchRow, Institution
from .storage.store import IssuerHome

BATCH_STATES = ("submitted", "verified", "printed", "handed_over")


class InstitutionNotFound(NotFound):
    """No institution with that id."""


@dataclasses.dataclass(frozen=True)
class InstitutionRecord:
    """An institution as the pages show it, with how many of its batches are in each state."""

    id: int
    name: str
    kind: str
    region: int
    created_at: int
    batches: dict[str, int]

    @property
    def waiting(self) -> int:
        """Batches the office still has to act on (all but those handed over)."""
        return sum(count for state, count in self.batches.items() if state != "handed_over")


def check_institution(name: str, kind: str, region: int) -> None:
    """Raise Invalid with one sentence for the first field out of range."""
    if not 0 < len(name.strip()) <= 200 or any(ord(char) < 32 for char in name):
        raise Invalid("the institution's name is 1 to 200 characters on one line")
    if kind not in INSTITUTION_KINDS:
        raise Invalid(f"the kind of institution is one of: {', '.join(INSTITUTION_KINDS)}")
    if not is_valid_region(region):
        raise Invalid("the region is a 4-digit regency/city code, e.g. 3372")


def create_institution(home: IssuerHome, name: str, kind: str, region: int, now: int, *, by: Actor) -> int:
    """Add a school or clinic; returns its id (audited)."""
    check_institution(name, kind, region)
    with home.transaction() as session:
        row = Institution(name=name.strip(), kind=kind, region=region, created_at=now)
        session.add(row)
        session.flush()
        audit(session, by, "institution_create", f"institution {row.id}: {kind}", now)
        return row.id


def list_institutions(home: IssuerHome) -> list[InstitutionRecord]:
    """Every institution with its batches counted per state, those with the most waiting first."""
    with home.transaction() as session:
        counts: dict[int, dict[str, int]] = {}
        per_state = select(BatchRow.institution_id, BatchRow.state, func.count()).where(
            BatchRow.institution_id.is_not(None)).group_by(BatchRow.institution_id, BatchRow.state)
        for institution_id, state, count in session.execute(per_state):
            if institution_id is not None:
                counts.setdefault(institution_id, {})[state] = int(count)
        rows = session.scalars(select(Institution).order_by(Institution.name, Institution.id))
        records = [_record(row, counts.get(row.id, {})) for row in rows]
    return sorted(records, key=lambda record: -record.waiting)


def find_institution(home: IssuerHome, institution_id: int) -> InstitutionRecord:
    with home.transaction() as session:
        row = session.get(Institution, institution_id)
        if row is None:
            raise InstitutionNotFound(f"there is no institution {institution_id}")
        per_state = select(BatchRow.state, func.count()).where(BatchRow.institution_id == institution_id)
        counts = {state: int(count) for state, count in session.execute(per_state.group_by(BatchRow.state))}
        return _record(row, counts)


def institution_names(home: IssuerHome) -> dict[int, str]:
    with home.transaction() as session:
        return {row_id: name for row_id, name in session.execute(
            select(Institution.id, Institution.name).order_by(Institution.name))}


def institution_zones(home: IssuerHome) -> dict[int, dt.tzinfo]:
    """Each institution's time zone (WIB, WITA or WIT, by its region): its batches' times are its local times."""
    with home.transaction() as session:
        return {row_id: region_timezone(region) for row_id, region in session.execute(
            select(Institution.id, Institution.region))}


def _record(row: Institution, counts: dict[str, int]) -> InstitutionRecord:
    return InstitutionRecord(row.id, row.name, row.kind, row.region, row.created_at,
                             {state: counts.get(state, 0) for state in BATCH_STATES})

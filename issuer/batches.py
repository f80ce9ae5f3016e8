"""Batches from schools and clinics, and where each stands.

A batch moves one way, each step recorded with who and when
(``batch_steps``), as the Smart Kids programme runs its school batches and
Sukamara its newborn registrations at clinics:

1. submitted: a school or clinic (or an officer for it) sends a CSV or one
   child's form.  Each good row becomes a child waiting in the batch; each bad
   row is kept by line, field and error code.  Nothing is signed yet.
2. verified: the office checked the children against the population
   register; their cards are signed now, with the validity as of now.
3. printed: the office printed the cards (each print is audited: the PDFs
   carry working cards).
4. handed_over: the cards reached the school or clinic.

The same file (SHA-256) from the same institution is refused naming the
batch that has it; the same child (``children.child_key``) twice in a file,
waiting in another batch, or already holding an active card is a refused row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keys import NotEligible

from . import cards as card_service
from . import transparency
from .audit import Actor
from .audit import record as audit
from .children import ChildRequest, RowError, child_key, normal_name
from .errors import BatchNotFound, Invalid, Refused
from .issuing_keys import KeyUnlock, active_signer
from .storage.models import BatchChild, BatchRefusedRow, BatchRow, BatchStep, CardRow, Child, Institution
from .storage.store import IssuerHome

STATES = ("submitted", "verified", "printed", "handed_over")
CHANNELS = ("school", "clinic")
_CHUNK = 500  # values per IN (...): well under every database's limit
T = TypeVar("T")


class SameFileAgain(Refused):
    """The institution already submitted this very file; ``batch_id`` has it."""

    def __init__(self, batch_id: int) -> None:
        super().__init__(f"this file was already submitted as batch {batch_id}")
        self.batch_id = batch_id


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
    institution_id: int | None = None

    @property
    def next_state(self) -> str | None:
        index = STATES.index(self.state)
        return STATES[index + 1] if index + 1 < len(STATES) else None


@dataclasses.dataclass(frozen=True)
class Step:
    state: str
    at: int
    username: str


@dataclasses.dataclass(frozen=True)
class WaitingChild:
    """A child in a batch as its page shows it: the school sees its own pupils, the office its requests."""

    line: int
    external_id: str | None
    name: str | None
    serial: str | None
    state: str  # waiting, card_made, printed, handed_over


@dataclasses.dataclass(frozen=True)
class BatchView:
    batch: Batch
    institution: str | None
    steps: list[Step]
    children: list[WaitingChild]
    refused: list[RowError]


@dataclasses.dataclass(frozen=True)
class BatchCard:
    """What a printed card shows (issuer.printing.PrintedCard takes the same fields)."""

    serial: str
    token: str
    region: int
    expires_at: int
    name: str | None


@dataclasses.dataclass(frozen=True)
class HandoverLine:
    number: int
    external_id: str | None
    name: str | None
    serial: str


# --- submitting --------------------------------------------------------------------


def submit_batch(
    home: IssuerHome,
    requests: Sequence[ChildRequest],
    refused: Sequence[RowError],
    now: int,
    *,
    institution_id: int | None = None,
    channel: str = "school",
    source: str | None = None,
    file_sha256: str | None = None,
    by: Actor,
) -> int:
    """Record a batch in state ``submitted``: its children wait, its bad rows are kept; nothing is signed.

    An institution's batch takes the institution's kind as its channel.
    Raises SameFileAgain for a file this institution already sent, and
    Invalid for an unknown institution or channel.  Returns the batch id.
    """
    with home.transaction() as session:
        if institution_id is not None:
            institution = session.get(Institution, institution_id)
            if institution is None:
                raise Invalid(f"there is no institution {institution_id}")
            channel = institution.kind
        if channel not in CHANNELS:
            raise Invalid(f"a batch comes from one of: {', '.join(CHANNELS)}")
        if file_sha256 is not None:
            earlier = session.scalars(select(BatchRow.id).where(
                BatchRow.file_sha256 == file_sha256,
                BatchRow.institution_id.is_(None) if institution_id is None
                else BatchRow.institution_id == institution_id).order_by(BatchRow.id)).first()
            if earlier is not None:
                raise SameFileAgain(earlier)
        accepted, rejected, children = _sort_out(session, requests, list(refused))
        batch = BatchRow(channel=channel, source=source, state="submitted", submitted_at=now,
                         rows_accepted=len(accepted), rows_rejected=len(rejected), institution_id=institution_id,
                         file_sha256=file_sha256)
        session.add(batch)
        session.flush()
        for request in accepted:
            child = children.get(request.nik) if request.nik else None
            if child is None:
                child = Child(birth_date=request.birth_date, region=request.region, name=request.name,
                              nik=request.nik, school=request.school, created_at=now)
            session.add(BatchChild(batch_id=batch.id, line=request.line, external_id=request.external_id,
                                   child=child))
        session.add_all(BatchRefusedRow(batch_id=batch.id, line=error.line, field=error.field, code=error.code,
                                        external_id=error.external_id, ref=error.ref) for error in rejected)
        add_step(session, batch, "submitted", now, by)
        try:
            session.flush()
        except IntegrityError:
            # Another submission took one of these NIKs meanwhile; the database's message would carry it.
            raise Refused("another batch recorded one of these children just now; submit again") from None
        audit(session, by, "batch_submit", f"batch {batch.id}: {len(accepted)} children", now)
        return batch.id


def _sort_out(session: Session, requests: Sequence[ChildRequest], rejected: list[RowError]
              ) -> tuple[list[ChildRequest], list[RowError], dict[str, Child]]:
    """The requests to keep, all refused rows by line, and the known children (by NIK) to reuse.

    A child known to the office who waits in a batch, or holds an active card,
    is refused; one whose cards all ended is asked for again.
    """
    known = known_children(session, requests)
    accepted: list[ChildRequest] = []
    reuse: dict[str, Child] = {}
    for request in requests:
        found = known.get(child_key(request) or ())
        if found is not None and found.waiting_in is not None:
            rejected.append(RowError(request.line, _key_field(request), "duplicate_in_batch", request.external_id,
                                     found.waiting_in))
        elif found is not None and found.has_card:
            rejected.append(RowError(request.line, _key_field(request), "has_card", request.external_id))
        else:
            if found is not None and request.nik:
                reuse[request.nik] = found.child
            accepted.append(request)
    rejected.sort(key=lambda error: error.line)
    return accepted, rejected, reuse


def _key_field(request: ChildRequest) -> str:
    return "nik" if request.nik else "name"


@dataclasses.dataclass(frozen=True)
class Known:
    child: Child
    waiting_in: int | None  # the batch in which the child waits for a card
    has_card: bool  # an active card


def known_children(session: Session, requests: Iterable[ChildRequest]) -> dict[tuple[object, ...], Known]:
    """The children the office already holds that ``requests`` name (by ``child_key``), with their standing."""
    requests = list(requests)
    niks = sorted({r.nik for r in requests if r.nik})
    dates = sorted({r.birth_date for r in requests if not r.nik and r.name})
    rows: dict[int, Child] = {}
    for nik_chunk in _chunks(niks):
        rows.update((child.id, child) for child in session.scalars(select(Child).where(Child.nik.in_(nik_chunk))))
    for date_chunk in _chunks(dates):
        named = select(Child).where(Child.birth_date.in_(date_chunk), Child.name.is_not(None))
        rows.update((child.id, child) for child in session.scalars(named))
    waiting: dict[int, int] = {}
    active: set[int] = set()
    for chunk in _chunks(sorted(rows)):
        waiting.update(session.execute(select(BatchChild.child_id, BatchChild.batch_id).where(
            BatchChild.child_id.in_(chunk), BatchChild.serial.is_(None))).all())
        active.update(child_id for child_id in session.scalars(select(CardRow.child_id).where(
            CardRow.child_id.in_(chunk), CardRow.state == "active")) if child_id is not None)
    known: dict[tuple[object, ...], Known] = {}
    for child in rows.values():
        standing = Known(child, waiting.get(child.id), child.id in active)
        if child.nik:
            known[("nik", child.nik)] = standing
        if child.name:
            named_key = ("name", normal_name(child.name), child.birth_date, child.region)
            if named_key not in known or standing.waiting_in or standing.has_card:
                known[named_key] = standing
    return known


def _chunks(values: Sequence[T]) -> Iterable[Sequence[T]]:
    return (values[start:start + _CHUNK] for start in range(0, len(values), _CHUNK))


def add_step(session: Session, batch: BatchRow, state: str, now: int, by: Actor) -> None:
    """Move ``batch`` to ``state`` and record the step, who and when."""
    batch.state = state
    session.add(BatchStep(batch_id=batch.id, state=state, at=now, username=by.username[:64]))


# --- moving on ---------------------------------------------------------------------


Unlock = KeyUnlock | Callable[[], KeyUnlock]


def advance(home: IssuerHome, batch_id: int, state: str, now: int, *, by: Actor,
            unlock: Unlock | None = None) -> Batch:
    """Move a batch to ``state``, which must be the next one.

    Verifying signs the cards of the children waiting in the batch with the
    active key, with their validity as of ``now``: ``unlock`` opens the key,
    or is called for what opens it only when there is a card to sign;
    a child who turned 17 while waiting becomes a refused row.
    """
    with home.transaction() as session:
        row = _locked(session, batch_id)
        current = _batch(row, 0)
        if state != current.next_state:
            raise Refused(f"batch {batch_id} is {row.state}; it can only move to {current.next_state or 'nothing'}")
        if state == "verified":
            _sign_waiting(session, home, row, now, unlock)
        add_step(session, row, state, now, by)
        audit(session, by, f"batch_{state}", f"batch {batch_id}", now)
        return _batch(row, _card_count(session, batch_id))


def _sign_waiting(session: Session, home: IssuerHome, batch: BatchRow, now: int, unlock: Unlock | None) -> None:
    waiting = list(session.scalars(select(BatchChild).where(BatchChild.batch_id == batch.id,
                                                            BatchChild.serial.is_(None)).order_by(BatchChild.line)))
    if not waiting:
        return
    if unlock is None:
        raise Invalid("verifying a batch signs its cards: the issuing key's passphrase is needed")
    key, private = active_signer(session, home, unlock if isinstance(unlock, KeyUnlock) else unlock())
    rows: list[CardRow] = []
    signed: list[tuple[BatchChild, str]] = []
    serials = card_service.unused_serials(session, len(waiting))
    for item, serial in zip(waiting, serials, strict=True):
        try:
            card = card_service.signed_card(item.child, serial, key, private, now, batch)
        except NotEligible:
            session.add(BatchRefusedRow(batch_id=batch.id, line=item.line, field="birth_date",
                                        code="birth_date_adult", external_id=item.external_id))
            session.delete(item)
            batch.rows_accepted, batch.rows_rejected = batch.rows_accepted - 1, batch.rows_rejected + 1
            continue
        rows.append(card)
        signed.append((item, serial))
    session.add_all(rows)
    session.flush()  # the cards first: each child's row names its card
    for item, serial in signed:
        item.serial = serial
    transparency.append(session, [card_service.issued_fact(row, now) for row in rows], now)


def print_batch(home: IssuerHome, batch_id: int, now: int, render: Callable[[list[BatchCard]], bytes], *,
                by: Actor) -> bytes:
    """The batch's cards rendered for printing; the first print moves a verified batch to ``printed``.

    Every print is audited (``batch_printed`` the first, ``batch_print_again``
    after): the pages carry working cards.  The state moves only if rendering
    succeeds.  Raises Refused before the batch is verified.
    """
    with home.transaction() as session:
        row = _locked(session, batch_id)
        if row.state == "submitted":
            raise Refused(f"batch {batch_id} is not verified yet; its cards are signed when it is")
        printed = render(_cards(session, batch_id))
        if row.state == "verified":
            add_step(session, row, "printed", now, by)
            audit(session, by, "batch_printed", f"batch {batch_id}", now)
        else:
            audit(session, by, "batch_print_again", f"batch {batch_id}", now)
        return printed


def _cards(session: Session, batch_id: int) -> list[BatchCard]:
    rows = session.execute(
        select(CardRow, Child.name).join(BatchChild, BatchChild.serial == CardRow.serial)
        .join(Child, Child.id == BatchChild.child_id).where(BatchChild.batch_id == batch_id)
        .order_by(BatchChild.line))
    return [BatchCard(card.serial, card.token, card.region, card.expires_at, name) for card, name in rows]


# --- reading -----------------------------------------------------------------------


def list_batches(home: IssuerHome, limit: int = 50, *, institution_id: int | None = None) -> list[Batch]:
    """The latest batches, of one institution when ``institution_id`` is given."""
    with home.transaction() as session:
        query = select(BatchRow).order_by(BatchRow.id.desc()).limit(limit)
        if institution_id is not None:
            query = query.where(BatchRow.institution_id == institution_id)
        rows = list(session.scalars(query))
        counts = dict(session.execute(
            select(CardRow.batch_id, func.count()).where(CardRow.batch_id.in_([row.id for row in rows]))
            .group_by(CardRow.batch_id)).all())
        return [_batch(row, int(counts.get(row.id, 0))) for row in rows]


def batch_view(home: IssuerHome, batch_id: int) -> BatchView:
    """A batch with its steps, its children and their states, and its refused rows.  Raises BatchNotFound."""
    with home.transaction() as session:
        row = session.get(BatchRow, batch_id)
        if row is None:
            raise BatchNotFound(f"there is no batch {batch_id}")
        institution = session.get(Institution, row.institution_id) if row.institution_id is not None else None
        steps = [Step(step.state, step.at, step.username) for step in session.scalars(
            select(BatchStep).where(BatchStep.batch_id == batch_id).order_by(BatchStep.at, BatchStep.id))]
        done = {"verified": "card_made", "printed": "printed", "handed_over": "handed_over"}.get(row.state, "waiting")
        children = [WaitingChild(line, external_id, name, serial, done if serial else "waiting")
                    for line, external_id, name, serial in session.execute(
                        select(BatchChild.line, BatchChild.external_id, Child.name, BatchChild.serial)
                        .join(Child, Child.id == BatchChild.child_id).where(BatchChild.batch_id == batch_id)
                        .order_by(BatchChild.line))]
        refused = [RowError(error.line, error.field, error.code, error.external_id, error.ref)
                   for error in session.scalars(select(BatchRefusedRow).where(BatchRefusedRow.batch_id == batch_id)
                                                .order_by(BatchRefusedRow.line, BatchRefusedRow.id))]
        return BatchView(_batch(row, _card_count(session, batch_id)), institution.name if institution else None,
                         steps, children, refused)


def handover_lines(home: IssuerHome, batch_id: int) -> list[HandoverLine]:
    """The children of a batch who have a card, numbered, for the tanda terima and its CSV."""
    view = batch_view(home, batch_id)
    with_cards = [child for child in view.children if child.serial]
    return [HandoverLine(number, child.external_id, child.name, child.serial or "")
            for number, child in enumerate(with_cards, start=1)]


def _locked(session: Session, batch_id: int) -> BatchRow:
    row = session.get(BatchRow, batch_id, with_for_update=True)
    if row is None:
        raise BatchNotFound(f"there is no batch {batch_id}")
    return row


def _card_count(session: Session, batch_id: int) -> int:
    return session.scalar(select(func.count()).select_from(CardRow).where(CardRow.batch_id == batch_id)) or 0


def _batch(row: BatchRow, cards: int) -> Batch:
    return Batch(row.id, row.channel, row.source, row.state, row.submitted_at, row.rows_accepted, row.rows_rejected,
                 cards, row.institution_id)

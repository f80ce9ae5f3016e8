"""Cards: issue them to children, revoke, replace and expire them, and find them.

Each function does its work in one database transaction and records its
audit event, with the ``Actor`` who made the change, in that transaction.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keys import (
    Card,
    IssuingKey,
    card_validity,
    issue_card,
    new_serial,
)
from keys.eligibility import birth_month
from keys.serial import normalize_serial
from keys.times import utc_datetime

from . import transparency
from .audit import Actor
from .audit import record as audit
from .children import ChildRequest, RowError
from .errors import CardAlreadyRevoked, Invalid, Refused, UnknownCard
from .issuing_keys import KeyUnlock, active_signer
from .storage.models import Base, BatchChild, BatchRefusedRow, BatchRow, BatchStep, CardRow, Child
from .storage.store import CardRecord, IssuerHome, card_record

MAX_REASON_LENGTH = 200


@dataclasses.dataclass(frozen=True)
class IssuedCard:
    request: ChildRequest
    record: CardRecord


@dataclasses.dataclass(frozen=True)
class Issuance:
    cards: list[IssuedCard]
    rejected: list[RowError]
    batch_id: int | None = None


def issue_cards(
    home: IssuerHome,
    unlock: KeyUnlock,
    requests: Sequence[ChildRequest],
    now: int,
    *,
    channel: str = "counter",
    source: str | None = None,
    refused: Sequence[RowError] = (),
    by: Actor,
    on_signed: Callable[[list[tuple[str, str]]], None] | None = None,
) -> Issuance:
    """Sign a card for each request with the active key, and record child and card: the office's direct issuance.

    A request whose NIK already has a card, waits in a batch, or comes twice,
    is refused (a lost card is replaced, not issued twice).  The counter issues
    one child at a time; ``kia issuer card issue --csv`` issues a whole file
    at once as a batch (channel ``school`` or ``clinic``) recorded in state
    ``submitted`` with its children, counting the rows the caller's checks
    ``refused`` too; ``Issuance.rejected`` lists them all.  Schools and
    clinics submit through issuer.batches instead, signed only on verification.

    ``on_signed``, when given, receives the (serial, token) of the cards as
    they are signed, a slice at a time, before they are recorded: the caller
    may start drawing them, but must keep them to itself (write nothing
    anywhere) until this returns, for until then the transaction may still
    roll back and the cards never have been issued.  Children, cards and the
    batch's rows are written in a few bulk statements in one transaction.
    """
    with home.transaction() as session:
        key, private = active_signer(session, home, unlock)
        taken = _niks_with_cards(session, [r.nik for r in requests if r.nik])
        waiting = _niks_waiting(session, [r.nik for r in requests if r.nik])
        accepted, rejected = [], list(refused)
        for request in requests:
            if request.nik and request.nik in waiting:
                rejected.append(RowError(request.line, "nik", "duplicate_in_batch", request.external_id,
                                         waiting[request.nik]))
                continue
            if request.nik and request.nik in taken:
                rejected.append(RowError(request.line, "nik", "has_card", request.external_id))
                continue
            if request.nik:
                taken.add(request.nik)
            accepted.append(request)
        rejected.sort(key=lambda error: error.line)
        batch = None
        if channel != "counter":
            batch = BatchRow(
                channel=channel,
                source=source,
                state="submitted",
                submitted_at=now,
                rows_accepted=len(accepted),
                rows_rejected=len(rejected),
            )
            session.add(batch)
            session.flush()
        records: list[CardRecord] = []
        serials = unused_serials(session, len(accepted))
        for first in range(0, len(accepted), _SIGNED_SLICE):
            signed = [_signed_record(request, serial, key, private, now) for request, serial in
                      zip(accepted[first : first + _SIGNED_SLICE], serials[first : first + _SIGNED_SLICE],
                          strict=True)]
            records += signed
            if on_signed is not None:
                on_signed([(record.serial, record.token) for record in signed])
        try:
            _record_cards(session, accepted, records, now, batch.id if batch else None)
        except IntegrityError:
            # Another issuance took one of these NIKs meanwhile; the database's
            # message would carry the child's data, so it goes nowhere.
            raise Refused("another issuance recorded one of these children just now; submit again") from None
        transparency.append(session, [issued_fact(record, now) for record in records], now)
        if batch is None:
            for record in records:
                audit(session, by, "card_issue", record.serial, now)
        else:
            session.add(BatchStep(batch_id=batch.id, state="submitted", at=now, username=by.username[:64]))
            if rejected:
                session.execute(insert(BatchRefusedRow), [
                    {"batch_id": batch.id, "line": error.line, "field": error.field, "code": error.code,
                     "external_id": error.external_id, "ref": error.ref} for error in rejected])
            audit(session, by, "batch_issue", f"batch {batch.id}: {len(records)} cards", now)
        issued = [IssuedCard(request, record) for request, record in zip(accepted, records, strict=True)]
        return Issuance(issued, rejected, batch.id if batch else None)


# Cards handed to ``on_signed`` at a time: small enough that drawing starts
# while the rest are signed, large enough to cost nothing.
_SIGNED_SLICE = 128


def _signed_record(
    request: ChildRequest, serial: str, key: IssuingKey, private: Ed25519PrivateKey, now: int
) -> CardRecord:
    """The card ``request``'s child gets, signed by ``key``: what signed_card signs, without an ORM row."""
    validity = card_validity(request.birth_date, request.region, utc_datetime(now))
    card = Card(serial, request.region, birth_month(request.birth_date), validity.issued_at, validity.expires_at)
    return CardRecord(serial=serial, region=card.region, birth_month=card.birth_month, issued_at=card.issued_at,
                      expires_at=card.expires_at, kid=key.kid, token=issue_card(card, private, key.kid),
                      state="active", revoked_at=None, revocation_reason=None, replaced_by=None, listed_seq=None,
                      unlisted_seq=None)


def _record_cards(
    session: Session, accepted: list[ChildRequest], records: list[CardRecord], now: int, batch_id: int | None
) -> None:
    """The children, their cards and (in a batch) the batch's children: three bulk INSERTs, whatever the count.

    The unit of work would build, track and flush an ORM object per row: most
    of a 3,000-row batch's time in the database before (docs/benchmarks.md).
    Core statements on the tables, not ORM bulk ones, which still sort each
    row's values through the mapper.
    """
    if not records:
        return
    children, card_rows, batch_children = (Base.metadata.tables[model.__tablename__]
                                           for model in (Child, CardRow, BatchChild))
    child_ids = session.scalars(
        insert(children).returning(children.c.id, sort_by_parameter_order=True),
        [{"birth_date": request.birth_date, "region": request.region, "name": request.name, "nik": request.nik,
          "school": request.school, "created_at": now} for request in accepted],
    ).all()
    session.execute(insert(card_rows), [
        {"serial": record.serial, "child_id": child_id, "batch_id": batch_id, "region": record.region,
         "birth_month": record.birth_month, "issued_at": record.issued_at, "expires_at": record.expires_at,
         "kid": record.kid, "token": record.token, "state": record.state}
        for record, child_id in zip(records, child_ids, strict=True)])
    if batch_id is not None:
        session.execute(insert(batch_children), [
            {"batch_id": batch_id, "line": request.line, "external_id": request.external_id, "child_id": child_id,
             "serial": record.serial}
            for request, record, child_id in zip(accepted, records, child_ids, strict=True)])


def signed_card(
    child: Child, serial: str, key: IssuingKey, private: Ed25519PrivateKey, now: int, batch: BatchRow | None
) -> CardRow:
    """A new card row for ``child``, its token signed by ``key`` with the KIA validity at ``now``."""
    validity = card_validity(child.birth_date, child.region, utc_datetime(now))
    card = Card(serial, child.region, birth_month(child.birth_date), validity.issued_at, validity.expires_at)
    return CardRow(
        serial=serial,
        child=child,
        batch=batch,
        region=card.region,
        birth_month=card.birth_month,
        issued_at=card.issued_at,
        expires_at=card.expires_at,
        kid=key.kid,
        token=issue_card(card, private, key.kid),
        state="active",
    )


def _niks_waiting(session: Session, niks: list[str]) -> dict[str, int]:
    """The NIKs among ``niks`` of children waiting in a batch for their card, with the batch."""
    if not niks:
        return {}
    waiting = select(Child.nik, BatchChild.batch_id).join(BatchChild, BatchChild.child_id == Child.id).where(
        Child.nik.in_(niks), BatchChild.serial.is_(None))
    return {nik: batch_id for nik, batch_id in session.execute(waiting) if nik is not None}


def _niks_with_cards(session: Session, niks: list[str]) -> set[str]:
    if not niks:
        return set()
    with_cards = select(Child.nik).join(CardRow, CardRow.child_id == Child.id).where(Child.nik.in_(niks))
    return {nik for nik in session.scalars(with_cards) if nik is not None}


def unused_serials(session: Session, count: int) -> list[str]:
    """``count`` fresh serials that no card has (35 random bits make clashes rare, not impossible)."""
    serials: set[str] = set()
    while len(serials) < count:
        wanted = {new_serial() for _ in range(count - len(serials))} - serials
        taken = set(session.scalars(select(CardRow.serial).where(CardRow.serial.in_(wanted))))
        serials |= wanted - taken
    return list(serials)


def issued_fact(row: CardRow | CardRecord, now: int) -> transparency.Fact:
    """A card's log entry: its serial, key and token's SHA-256 (not its expiry: that follows the child's birthday)."""
    return transparency.fact("card_issued", row.serial, now, serial=row.serial, kid=row.kid,
                             token_sha256=hashlib.sha256(row.token.encode()).hexdigest())


def revoke_card(home: IssuerHome, serial: str, reason: str, now: int, *, by: Actor) -> CardRecord:
    """Revoke a card; it is listed in the next exported trust list."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON_LENGTH or any(ord(char) < 32 for char in reason):
        raise Invalid(f"give a reason of 1 to {MAX_REASON_LENGTH} characters on one line")
    with home.transaction() as session:
        row = session.get(CardRow, normalize_serial(serial), with_for_update=True)
        if row is None:
            raise UnknownCard("no card with that serial was issued from this office")
        if row.revoked_at is not None:
            raise CardAlreadyRevoked(f"card {row.serial} is already revoked")
        row.revoked_at, row.revocation_reason, row.state = now, reason, "revoked"
        transparency.record_fact(session, "card_revoked", row.serial, now, serial=row.serial)
        audit(session, by, "card_revoke", row.serial, now)
        return card_record(row)


def replace_card(home: IssuerHome, unlock: KeyUnlock, serial: str, now: int, *, by: Actor) -> CardRecord:
    """A lost or damaged card: the old one is revoked as replaced, a new serial issued to the same child."""
    with home.transaction() as session:
        old = session.get(CardRow, normalize_serial(serial), with_for_update=True)
        if old is None:
            raise UnknownCard("no card with that serial was issued from this office")
        if old.state != "active":
            raise CardAlreadyRevoked(f"card {old.serial} is {old.state}; only an active card is replaced")
        if old.child is None:
            raise Refused(f"card {old.serial} came from the first version without the child's record; "
                          "issue a new card at the counter and revoke this one")
        key, private = active_signer(session, home, unlock)
        (serial_value,) = unused_serials(session, 1)
        new = signed_card(old.child, serial_value, key, private, now, None)
        session.add(new)
        session.flush()
        old.state, old.revoked_at, old.revocation_reason, old.replaced_by = "replaced", now, "replaced", new.serial
        transparency.append(session, [issued_fact(new, now),
                                      transparency.fact("card_replaced", old.serial, now, serial=old.serial,
                                                        by=new.serial)], now)
        audit(session, by, "card_replace", f"{old.serial} -> {new.serial}", now)
        return card_record(new)


def mark_expired(home: IssuerHome, now: int, *, by: Actor) -> int:
    """Active cards whose eligibility ended by ``now`` become ``expired``; returns how many.

    One UPDATE (an index holds the active cards' expiry), so a daily run on
    millions of cards touches only the day's few.  Running it again changes
    nothing.  Every run is one audit event with the count, and no serials.
    """
    with home.transaction() as session:
        result = session.execute(
            update(CardRow).where(CardRow.state == "active", CardRow.expires_at <= now).values(state="expired"),
            execution_options={"synchronize_session": False},
        )
        count = int(result.rowcount)  # type: ignore[attr-defined]
        audit(session, by, "cards_mark_expired", f"{count} cards", now)
        return count


def find_card(home: IssuerHome, serial: str) -> CardRecord:
    with home.transaction() as session:
        row = session.get(CardRow, normalize_serial(serial))
        if row is None:
            raise UnknownCard("no card with that serial was issued from this office")
        return card_record(row)


def take_card_qr(home: IssuerHome, serial: str, now: int, *, by: Actor) -> CardRecord:
    """A card with its working token, to show or print as its QR; who took it, and when, is audited.

    The token is the card itself: whoever holds it can present the card, so
    every copy handed out leaves an event (``card_qr``).  Raises UnknownCard.
    """
    with home.transaction() as session:
        row = session.get(CardRow, normalize_serial(serial))
        if row is None:
            raise UnknownCard("no card with that serial was issued from this office")
        audit(session, by, "card_qr", row.serial, now)
        return card_record(row)


def card_count(home: IssuerHome) -> int:
    with home.transaction() as session:
        return session.scalar(select(func.count()).select_from(CardRow)) or 0

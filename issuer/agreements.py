"""Cooperation agreements (MoU) of partners and institutions: periods, versions, documents, warnings.

A partner (a cinema, a clinic...) or an institution (a school, a clinic that
submits newborns) works with the office under an agreement: a number, a
start and an end, the signed PDF and a contact person.  Agreements run two
years and are then renewed: ``renew`` adds the next period under the same
owner (never a second partner), ``amend`` changes the current period's
number, end, contact or document.  Every change adds a version (who, when,
which fields, the terms it then had), is audited, and is a fact of the
transparency log (without the contact person, who is no public matter).

A partner's row keeps the cover of its agreements: ``mou_end`` is the
latest agreement's end and ``mou_start`` the start of the unbroken run of
agreements leading to it.  Terminals, sync checks and reports read those two
dates, so a renewal that follows on the day after the old end keeps a
partner's terminals working across the change, and a renewal after a gap
leaves the gap outside the partner's cover.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from keys.eligibility import region_timezone

from . import transparency
from .audit import Actor
from .audit import record as audit
from .errors import AgreementNotFound, Invalid, PartnerNotFound, Refused
from .institutions import InstitutionNotFound
from .storage.models import Agreement, AgreementDocument, AgreementVersion, Institution, Partner
from .storage.store import IssuerHome

MOU_WARNING_DAYS = 90  # an agreement ending within this many days is marked ending soon
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024  # a scanned, signed agreement of a few pages
MAX_NOTE = 200
OwnerKind = Literal["partner", "institution"]
OWNER_KINDS: tuple[OwnerKind, ...] = ("partner", "institution")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{5,30}")


class DocumentRefused(Invalid):
    """The upload is not a PDF, or is larger than MAX_DOCUMENT_BYTES."""


class PeriodInvalid(Invalid):
    """An agreement that would end before it starts."""


class DetailInvalid(Invalid):
    """A number, contact name, phone or e-mail out of range; ``field`` names it (``contact_phone``...)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class NothingChanged(Invalid):
    """An amendment that gives nothing new."""


class RenewalOverlaps(Refused):
    """A renewal that starts before the current agreement ends; ``current_end`` is that end."""

    def __init__(self, message: str, current_end: dt.date) -> None:
        super().__init__(message)
        self.current_end = current_end


def local_today(region: int, now: int) -> dt.date:
    """The date at ``now`` where the region is: MoU dates and report days are the owner's local days."""
    return dt.datetime.fromtimestamp(now, region_timezone(region)).date()


def period_state(end: dt.date, today: dt.date) -> str:
    """``expired``, ``ending_soon`` (within MOU_WARNING_DAYS) or ``in_force``."""
    if end < today:
        return "expired"
    return "ending_soon" if (end - today).days <= MOU_WARNING_DAYS else "in_force"


@dataclasses.dataclass(frozen=True)
class Owner:
    """Whom an agreement is with: a partner or an institution, by id."""

    kind: OwnerKind
    id: int

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


@dataclasses.dataclass(frozen=True)
class Document:
    """An uploaded agreement: a PDF of at most MAX_DOCUMENT_BYTES."""

    filename: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    def check(self) -> None:
        if not self.content.startswith(b"%PDF-"):
            raise DocumentRefused("the agreement's document is a PDF file (the scan of the signed agreement)")
        if len(self.content) > MAX_DOCUMENT_BYTES:
            raise DocumentRefused(f"the agreement's document is at most {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB")


@dataclasses.dataclass(frozen=True)
class Details:
    """What an agreement says besides its period; each may be unknown (None) when it is first recorded.

    In an amendment, None keeps what the agreement said.
    """

    number: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    document: Document | None = None

    def cleaned(self) -> Details:
        """The details with blanks as None and spaces trimmed; raises Invalid for one out of range."""
        number, name, phone, email = (_blank(value) for value in (self.number, self.contact_name,
                                                                  self.contact_phone, self.contact_email))
        if number is not None and len(number) > 100:
            raise DetailInvalid("the agreement's number is at most 100 characters", "number")
        if name is not None and len(name) > 200:
            raise DetailInvalid("the contact person's name is at most 200 characters", "contact_name")
        if phone is not None and not _PHONE.fullmatch(phone):
            raise DetailInvalid("the contact's phone is digits, spaces and dashes, e.g. 0271 123456 or "
                                "+62 812 3456 7890", "contact_phone")
        if email is not None and (len(email) > 200 or not _EMAIL.fullmatch(email)):
            raise DetailInvalid("the contact's e-mail address is like nama@contoh.go.id", "contact_email")
        if self.document is not None:
            self.document.check()
        return Details(number, name, phone, email, self.document)


def _blank(value: str | None) -> str | None:
    value = " ".join(value.split()) if value is not None else None
    return value or None


# --- changes ---------------------------------------------------------------------------


def _owner_region(session: Session, owner: Owner, *, lock: bool = False) -> int:
    """The owner's region (its local day); raises NotFound for an owner the office does not have."""
    row: Partner | Institution | None = (session.get(Partner, owner.id, with_for_update=lock) if owner.kind == "partner"
                                         else session.get(Institution, owner.id, with_for_update=lock))
    if row is None:
        if owner.kind == "partner":
            raise PartnerNotFound(f"there is no partner {owner.id}")
        raise InstitutionNotFound(f"there is no institution {owner.id}")
    return row.region


def _owned(owner: Owner) -> ColumnElement[bool]:
    return Agreement.partner_id == owner.id if owner.kind == "partner" else Agreement.institution_id == owner.id


def _latest(session: Session, owner: Owner) -> Agreement | None:
    return session.scalars(select(Agreement).where(_owned(owner)).order_by(Agreement.starts_on.desc()).limit(1)
                           ).one_or_none()


def _store_document(session: Session, document: Document, now: int) -> str:
    digest = document.sha256
    if session.get(AgreementDocument, digest) is None:
        session.add(AgreementDocument(sha256=digest, content=document.content, size=len(document.content),
                                      stored_at=now))
        session.flush()  # before the rows that name it: the models hold no relationship to order them by
    return digest


TERMS = ("number", "starts_on", "ends_on", "contact_name", "contact_phone", "contact_email", "document_sha256",
         "document_name")


def _add_version(session: Session, agreement: Agreement, action: str, changed: list[str], note: str | None,
                 owner: Owner, now: int, by: Actor, *, announce: bool = True) -> None:
    """Record the agreement's terms as its next version; audit it and log it unless ``announce`` is False.

    A partner's first agreement is announced by the partner's own event and
    fact (issuer/partners.create_partner), which carry its terms.
    """
    session.add(AgreementVersion(agreement_id=agreement.id, version=agreement.version, action=action, at=now,
                                 by=by.username[:64], changed=changed, note=note,
                                 **{name: getattr(agreement, name) for name in TERMS}))
    if owner.kind == "partner":
        _keep_partner_cover(session, owner.id)
    if not announce:
        return
    transparency.record_fact(session, "agreement", f"{owner.kind}/{owner.id}#{agreement.id}", now,
                             owner_kind=owner.kind, owner=owner.id, agreement=agreement.id,
                             version=agreement.version, action=action, number=agreement.number,
                             starts_on=agreement.starts_on.isoformat(), ends_on=agreement.ends_on.isoformat(),
                             document_sha256=agreement.document_sha256)
    audit(session, by, f"agreement_{action}", f"{owner}: agreement {agreement.id} v{agreement.version}", now)


def _keep_partner_cover(session: Session, partner_id: int) -> None:
    """Set the partner's mou_start/mou_end to the cover of its agreements (module docstring)."""
    session.flush()
    periods = session.execute(select(Agreement.starts_on, Agreement.ends_on)
                              .where(Agreement.partner_id == partner_id).order_by(Agreement.starts_on.desc())).all()
    start, end = periods[0]
    for earlier_start, earlier_end in periods[1:]:
        if earlier_end + dt.timedelta(days=1) < start:
            break
        start = earlier_start
    partner = session.get_one(Partner, partner_id)
    partner.mou_start, partner.mou_end = start, end


def record_agreement(session: Session, owner: Owner, start: dt.date, end: dt.date, details: Details, now: int,
                     *, by: Actor, announce: bool = True) -> Agreement:
    """Add an agreement period in ``session`` (the owner's first, or a renewal after the latest one).

    ``announce=False``: the caller audits and logs the change itself (a new partner with its first agreement).
    """
    details = details.cleaned()
    if end <= start:
        raise PeriodInvalid("the agreement must end after it starts")
    latest = _latest(session, owner)
    if latest is not None and start <= latest.ends_on:
        raise RenewalOverlaps(f"the new agreement must start after the current one ends "
                              f"({latest.ends_on.isoformat()}); to change the current one, amend it", latest.ends_on)
    agreement = Agreement(
        partner_id=owner.id if owner.kind == "partner" else None,
        institution_id=owner.id if owner.kind == "institution" else None,
        number=details.number, starts_on=start, ends_on=end, contact_name=details.contact_name,
        contact_phone=details.contact_phone, contact_email=details.contact_email,
        document_sha256=_store_document(session, details.document, now) if details.document else None,
        document_name=_filename(details.document), version=1, created_at=now,
    )
    session.add(agreement)
    session.flush()
    changed = [name for name in TERMS if getattr(agreement, name) is not None]
    _add_version(session, agreement, "create" if latest is None else "renew", changed, None, owner, now, by,
                 announce=announce)
    return agreement


def _filename(document: Document | None) -> str | None:
    if document is None:
        return None
    name = "".join(char for char in document.filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1] if char.isprintable())
    return (name.strip() or "perjanjian.pdf")[:200]


def renew(home: IssuerHome, owner: Owner, start: dt.date, end: dt.date, details: Details, now: int, *,
          by: Actor) -> int:
    """Add the owner's next agreement period (or its first); returns the agreement's id.

    Raises NotFound for an unknown owner, Invalid for a bad field, Refused for
    a period that does not start after the latest agreement ends.
    """
    with home.transaction() as session:
        _owner_region(session, owner, lock=True)  # renewals of one owner take turns
        return record_agreement(session, owner, start, end, details, now, by=by).id


def amend(home: IssuerHome, owner: Owner, details: Details, now: int, *, ends_on: dt.date | None = None,
          note: str | None = None, by: Actor) -> int:
    """Change the owner's current (latest) agreement: its number, end, contact or document; returns its version.

    ``details`` fields left None keep their value.  Raises AgreementNotFound
    when the owner has no agreement, Invalid when nothing would change.
    """
    details = details.cleaned()
    note = _blank(note)
    if note is not None and len(note) > MAX_NOTE:
        raise Invalid(f"the note on an amendment is at most {MAX_NOTE} characters")
    with home.transaction() as session:
        _owner_region(session, owner, lock=True)
        agreement = _latest(session, owner)
        if agreement is None:
            raise AgreementNotFound(f"{owner} has no agreement to amend; add one first")
        wanted = {"number": details.number, "ends_on": ends_on, "contact_name": details.contact_name,
                  "contact_phone": details.contact_phone, "contact_email": details.contact_email}
        if details.document is not None:
            wanted |= {"document_sha256": _store_document(session, details.document, now),
                       "document_name": _filename(details.document)}
        changed = [name for name, value in wanted.items()
                   if value is not None and value != getattr(agreement, name)]
        if not changed:
            raise NothingChanged("the amendment changes nothing: give a new number, end, contact or document")
        if ends_on is not None and ends_on <= agreement.starts_on:
            raise PeriodInvalid("the agreement must end after it starts")
        for name in changed:
            setattr(agreement, name, wanted[name])
        agreement.version += 1
        _add_version(session, agreement, "amend", changed, note, owner, now, by)
        return agreement.version


# --- reading ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VersionRecord:
    """One version of an agreement as the history shows it."""

    version: int
    action: str
    at: int
    by: str
    changed: tuple[str, ...]
    note: str | None
    number: str | None
    starts_on: dt.date
    ends_on: dt.date
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None
    document_sha256: str | None
    document_name: str | None


@dataclasses.dataclass(frozen=True)
class AgreementRecord:
    """An agreement with its state on the owner's local day and its versions, newest first."""

    id: int
    owner: Owner
    number: str | None
    starts_on: dt.date
    ends_on: dt.date
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None
    document_sha256: str | None
    document_name: str | None
    version: int
    state: str  # "upcoming", "in_force", "ending_soon", "expired"
    days_left: int  # days from the owner's today to the end; negative once ended
    versions: tuple[VersionRecord, ...]

    @property
    def next_start(self) -> dt.date:
        """Where a renewal starts unless it says otherwise: the day after this agreement ends."""
        return self.ends_on + dt.timedelta(days=1)


def _owner_ids(partner_id: int | None, institution_id: int | None) -> Owner:
    return Owner("partner", partner_id) if partner_id is not None else Owner("institution", int(institution_id or 0))


def _owner_of(row: Agreement) -> Owner:
    return _owner_ids(row.partner_id, row.institution_id)


def _record(row: Agreement, owner: Owner, today: dt.date, versions: tuple[VersionRecord, ...]) -> AgreementRecord:
    state = "upcoming" if row.starts_on > today else period_state(row.ends_on, today)
    return AgreementRecord(row.id, owner, row.number, row.starts_on, row.ends_on, row.contact_name, row.contact_phone,
                           row.contact_email, row.document_sha256, row.document_name, row.version, state,
                           (row.ends_on - today).days, versions)


def agreements_of(home: IssuerHome, owner: Owner, now: int) -> list[AgreementRecord]:
    """The owner's agreements, the latest first, each with its versions (the newest first)."""
    with home.transaction() as session:
        today = local_today(_owner_region(session, owner), now)
        rows = list(session.scalars(select(Agreement).where(_owned(owner)).order_by(Agreement.starts_on.desc())))
        versions: dict[int, list[VersionRecord]] = {row.id: [] for row in rows}
        query = (select(AgreementVersion).where(AgreementVersion.agreement_id.in_(versions))
                 .order_by(AgreementVersion.version.desc()))
        for version in session.scalars(query):
            versions[version.agreement_id].append(VersionRecord(
                version.version, version.action, version.at, version.by, tuple(version.changed), version.note,
                *(getattr(version, name) for name in TERMS)))
        return [_record(row, owner, today, tuple(versions[row.id])) for row in rows]


@dataclasses.dataclass(frozen=True)
class StoredDocument:
    owner: Owner
    filename: str
    content: bytes


def document(home: IssuerHome, agreement_id: int, version: int) -> StoredDocument:
    """The PDF that version ``version`` of agreement ``agreement_id`` named; raises AgreementNotFound."""
    with home.transaction() as session:
        row = session.execute(
            select(Agreement.partner_id, Agreement.institution_id, AgreementVersion.document_name,
                   AgreementDocument.content)
            .join(AgreementVersion, AgreementVersion.agreement_id == Agreement.id)
            .join(AgreementDocument, AgreementDocument.sha256 == AgreementVersion.document_sha256)
            .where(Agreement.id == agreement_id, AgreementVersion.version == version)
        ).one_or_none()
    if row is None:
        raise AgreementNotFound(f"agreement {agreement_id} has no document in version {version}")
    partner_id, institution_id, name, content = row
    return StoredDocument(_owner_ids(partner_id, institution_id), name or "perjanjian.pdf", bytes(content))


@dataclasses.dataclass(frozen=True)
class Ending:
    """An owner's current agreement that ends within the warning days, or has ended: the daily report's row."""

    owner: Owner
    name: str
    region: int
    agreement_id: int
    number: str | None
    starts_on: dt.date
    ends_on: dt.date
    days_left: int
    state: str
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None


def ending(home: IssuerHome, now: int, days: int = MOU_WARNING_DAYS) -> list[Ending]:
    """Every partner's and institution's latest agreement that ends within ``days`` of the owner's today, or ended.

    The soonest (or longest ended) first; the daily report and the dashboard read it.
    """
    if days < 0:
        raise Invalid("the report looks 0 or more days ahead")
    with home.transaction() as session:
        # Offices have tens of partners and hundreds of schools: every agreement is read, the latest kept.
        rows = session.execute(
            select(Agreement, func.coalesce(Partner.name, Institution.name),
                   func.coalesce(Partner.region, Institution.region))
            .outerjoin(Partner, Partner.id == Agreement.partner_id)
            .outerjoin(Institution, Institution.id == Agreement.institution_id)
            .order_by(Agreement.starts_on)
        ).all()
    current: dict[Owner, tuple[Agreement, str, int]] = {}
    for row, name, region in rows:
        current[_owner_of(row)] = (row, name, region)  # ordered by start: the latest stays
    found = []
    for owner, (row, name, region) in current.items():
        today = local_today(region, now)
        if (row.ends_on - today).days > days:
            continue
        found.append(Ending(owner, name, region, row.id, row.number, row.starts_on, row.ends_on,
                            (row.ends_on - today).days, period_state(row.ends_on, today), row.contact_name,
                            row.contact_phone, row.contact_email))
    return sorted(found, key=lambda item: (item.days_left, item.owner.kind, item.owner.id))

"""The office's data, as SQLAlchemy 2 typed models.

Children's personal data (name, NIK, birth date, school) lives only in
``children``; a card row holds what its token says and its state.  Times are
POSIX seconds (BigInteger), as in the tokens.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    and_,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement


class Base(DeclarativeBase):
    pass


class Office(Base):
    """The one office this database serves: its root key and trust-list sequence."""

    __tablename__ = "office"
    __table_args__ = (CheckConstraint("id = 1", name="office_single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root_kid: Mapped[str] = mapped_column(String(8))
    root_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    root_key_file: Mapped[str] = mapped_column(String(200))
    trust_list_seq: Mapped[int] = mapped_column(Integer, default=0)
    # The first local month (YYYYMM) whose records and card sets are held; 0 while none was removed
    # (issuer.retention, migration 0017).
    redemptions_kept_from: Mapped[int] = mapped_column(Integer, server_default="0", default=0)


class NationalTrust(Base):
    """The national root the office pinned and the last directory it took under it (docs/federation.md).

    Ingest checks a foreign card's ``home`` against the directory: the region
    must be listed, trusted, and not this office's own.
    """

    __tablename__ = "national_trust"
    __table_args__ = (CheckConstraint("id = 1", name="national_trust_single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    directory: Mapped[str | None] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    taken_at: Mapped[int | None] = mapped_column(BigInteger)


class ReceivedVisits(Base):
    """What another office signed of this office's cards used at its partners in a month (issuer.visits)."""

    __tablename__ = "received_visits"

    region: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # the office that answered
    month: Mapped[int] = mapped_column(Integer, primary_key=True)  # YYYYMM
    jws: Mapped[str] = mapped_column(Text)  # as signed, for anyone to check again
    cells: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    taken_at: Mapped[int] = mapped_column(BigInteger)


class IssuingKeyRow(Base):
    __tablename__ = "issuing_keys"
    __table_args__ = (CheckConstraint("state IN ('active', 'retired', 'revoked')", name="issuing_key_state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(8), index=True)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[int] = mapped_column(BigInteger)
    retired_at: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    key_file: Mapped[str] = mapped_column(String(200))


class Child(Base):
    """A child the office issued a card to: the least data the job needs."""

    __tablename__ = "children"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    birth_date: Mapped[dt.date] = mapped_column(Date)
    region: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(200))
    nik: Mapped[str | None] = mapped_column(String(16), unique=True)
    school: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[int] = mapped_column(BigInteger)


INSTITUTION_KINDS = ("school", "clinic")  # schools (Smart Kids), clinics and maternity homes (Alibaba)


class Institution(Base):
    """A school or clinic that submits children for cards under its own accounts."""

    __tablename__ = "institutions"
    __table_args__ = (CheckConstraint("kind IN ('school', 'clinic')", name="institution_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    region: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(BigInteger)


class BatchRow(Base):
    """A batch of children from a school or a clinic, and where it stands.

    ``file_sha256`` is the uploaded file's hash: the same file from the same
    institution is refused, naming the batch that has it.
    """

    __tablename__ = "batches"
    __table_args__ = (
        CheckConstraint("channel IN ('counter', 'school', 'clinic', 'import')", name="batch_channel"),
        CheckConstraint("state IN ('submitted', 'verified', 'printed', 'handed_over')", name="batch_state"),
        Index("ix_batches_institution_file", "institution_id", "file_sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    source: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(12))
    submitted_at: Mapped[int] = mapped_column(BigInteger)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    file_sha256: Mapped[str | None] = mapped_column(String(64))


class BatchStep(Base):
    """Each state a batch reached: who moved it there, and when."""

    __tablename__ = "batch_steps"
    __table_args__ = (
        CheckConstraint("state IN ('submitted', 'verified', 'printed', 'handed_over')", name="batch_step_state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    state: Mapped[str] = mapped_column(String(12))
    at: Mapped[int] = mapped_column(BigInteger)
    username: Mapped[str] = mapped_column(String(64))


class BatchChild(Base):
    """A child a batch asks a card for: the file's line, the school's own id, and the serial once signed."""

    __tablename__ = "batch_children"
    __table_args__ = (Index("ux_batch_children_line", "batch_id", "line", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"))
    line: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str | None] = mapped_column(String(64))
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    serial: Mapped[str | None] = mapped_column(ForeignKey("cards.serial"))

    child: Mapped[Child] = relationship()


class BatchRefusedRow(Base):
    """A row of a batch file that was refused: line, field and error code, never the row's content."""

    __tablename__ = "batch_refused_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(64))
    ref: Mapped[int | None] = mapped_column(Integer)  # the other line or batch the code names


class CardRow(Base):
    __tablename__ = "cards"
    __table_args__ = (
        CheckConstraint("state IN ('active', 'revoked', 'replaced', 'expired')", name="card_state"),
        # The trust list reads the revoked cards only.
        Index("ix_cards_revoked", "revoked_at", postgresql_where="revoked_at IS NOT NULL"),
        # The daily mark-expired job reads the active cards whose expiry has come.
        Index("ix_cards_active_expiry", "expires_at", postgresql_where=text("state = 'active'"),
              sqlite_where=text("state = 'active'")),
    )

    serial: Mapped[str] = mapped_column(String(8), primary_key=True)
    child_id: Mapped[int | None] = mapped_column(ForeignKey("children.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    region: Mapped[int] = mapped_column(Integer, index=True)
    birth_month: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    kid: Mapped[str] = mapped_column(String(8))
    token: Mapped[str] = mapped_column(String(400))
    state: Mapped[str] = mapped_column(String(10), default="active")
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    revocation_reason: Mapped[str | None] = mapped_column(String(200))
    replaced_by: Mapped[str | None] = mapped_column(ForeignKey("cards.serial"))
    # Sequence of the first trust list that listed the revocation, and of the
    # first that dropped it again once the card had expired anyway.
    listed_seq: Mapped[int | None] = mapped_column(Integer)
    unlisted_seq: Mapped[int | None] = mapped_column(Integer)

    child: Mapped[Child | None] = relationship()
    batch: Mapped[BatchRow | None] = relationship()


class TrustListRow(Base):
    """Every trust list the office published."""

    __tablename__ = "trust_lists"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    revoked_count: Mapped[int] = mapped_column(Integer)
    # The signed list (None for lists imported from a first-version home).
    jws: Mapped[str | None] = mapped_column(Text)
    # The same list in the second form, kia-tl2 (None before migration 0014 or from a bundle without it).
    jws2: Mapped[str | None] = mapped_column(Text, nullable=True)


class TrustListDeltaRow(Base):
    """A signed delta from ``from_seq`` to the published list ``seq``."""

    __tablename__ = "trust_list_deltas"

    from_seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(ForeignKey("trust_lists.seq"), primary_key=True, autoincrement=False)
    jws: Mapped[str] = mapped_column(Text)
    jws2: Mapped[str | None] = mapped_column(Text, nullable=True)  # the second form, kia-tl2-delta


# --- partners, terminals, redemptions -------------------------------------------

PARTNER_KINDS = ("cinema", "pool", "transport", "museum", "health", "education", "bookshop", "recreation", "other")
# The five clusters of Indonesia's child-friendly city (KLA) programme.
KLA_CLUSTERS = ("civil_rights", "family_care", "health_welfare", "education_culture", "special_protection")
TERMINAL_STATES = ("pending", "active", "suspended", "retired")


class Partner(Base):
    __tablename__ = "partners"
    __table_args__ = (
        CheckConstraint("mou_end > mou_start", name="partner_mou_period"),
        CheckConstraint("other_regions IN ('none', 'all', 'listed')", name="partner_other_regions"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    cluster: Mapped[str] = mapped_column(String(24))
    region: Mapped[int] = mapped_column(Integer)
    mou_start: Mapped[dt.date] = mapped_column(Date)
    mou_end: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # Where the partner serves (WGS 84 degrees), for the office's travel check; None when not given.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # Cards of other regions the partner agreed to honour (docs/federation.md): "none" (this office's cards
    # only), "all" (every region the national directory trusts) or "listed" (those in other_region_codes).
    other_regions: Mapped[str] = mapped_column(String(6), default="none", server_default="none")
    other_region_codes: Mapped[list[int] | None] = mapped_column(JSON)


class PartnerService(Base):
    """One discounted service of a partner and its rules."""

    __tablename__ = "partner_services"
    __table_args__ = (
        CheckConstraint("discount_kind IN ('percent', 'fixed')", name="service_discount_kind"),
        Index("ux_partner_services_code", "partner_id", "code", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    # Price in rupiah per age category, e.g. {"0-4": 0, "5-12": 40000, "13-16": 50000}.
    prices: Mapped[dict[str, int]] = mapped_column(JSON)
    discount_kind: Mapped[str] = mapped_column(String(8))
    discount_value: Mapped[int] = mapped_column(Integer)
    daily_limit: Mapped[int] = mapped_column(Integer)
    passback_seconds: Mapped[int] = mapped_column(Integer)


class ServiceRuleVersion(Base):
    """Every version of a service's rules and when it was in force.

    A terminal decides with the rules it last fetched, so the office checks a
    record against every version in force between the terminal's enrolment
    and the scan.
    """

    __tablename__ = "service_rule_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[int] = mapped_column(BigInteger)
    valid_until: Mapped[int | None] = mapped_column(BigInteger)  # None: in force now
    prices: Mapped[dict[str, int]] = mapped_column(JSON)
    discount_kind: Mapped[str] = mapped_column(String(8))
    discount_value: Mapped[int] = mapped_column(Integer)
    daily_limit: Mapped[int] = mapped_column(Integer)


AGREEMENT_ACTIONS = ("create", "renew", "amend", "migrate")  # how a version of an agreement came to be


class AgreementDocument(Base):
    """A signed agreement's PDF, kept once by its SHA-256 whichever versions name it."""

    __tablename__ = "agreement_documents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    stored_at: Mapped[int] = mapped_column(BigInteger)


class Agreement(Base):
    """One period of cooperation (MoU) with a partner or an institution, as it stands after its latest version.

    A partner's row keeps the cover of its agreements (``mou_start``,
    ``mou_end``): terminals, sync checks and reports read that (issuer/agreements.py).
    """

    __tablename__ = "agreements"
    __table_args__ = (
        CheckConstraint("(partner_id IS NULL) <> (institution_id IS NULL)", name="agreement_one_owner"),
        CheckConstraint("ends_on > starts_on", name="agreement_period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"), index=True)
    number: Mapped[str | None] = mapped_column(String(100))  # None: not known (agreements from before 0012)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    document_sha256: Mapped[str | None] = mapped_column(ForeignKey("agreement_documents.sha256"))
    document_name: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)  # the latest version's number
    created_at: Mapped[int] = mapped_column(BigInteger)


class AgreementVersion(Base):
    """Every version of an agreement: who made it, when, which fields changed, and the terms it then had."""

    __tablename__ = "agreement_versions"
    __table_args__ = (
        CheckConstraint("action IN ('create', 'renew', 'amend', 'migrate')", name="agreement_version_action"),
        Index("ux_agreement_versions", "agreement_id", "version", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(8))
    at: Mapped[int] = mapped_column(BigInteger)
    by: Mapped[str] = mapped_column(String(64))
    changed: Mapped[list[str]] = mapped_column(JSON)  # the fields this version changed
    note: Mapped[str | None] = mapped_column(String(200))
    number: Mapped[str | None] = mapped_column(String(100))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    document_sha256: Mapped[str | None] = mapped_column(ForeignKey("agreement_documents.sha256"))
    document_name: Mapped[str | None] = mapped_column(String(200))


class Terminal(Base):
    __tablename__ = "terminals"
    __table_args__ = (CheckConstraint("state IN ('pending', 'active', 'suspended', 'retired')", name="terminal_state"),)

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[int] = mapped_column(BigInteger)
    # SHA-256 of the one-time enrolment code; the code itself is shown once.
    enrolment_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrolment_expires_at: Mapped[int | None] = mapped_column(BigInteger)
    public_jwk: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    enrolled_at: Mapped[int | None] = mapped_column(BigInteger)
    # The highest contiguous sequence stored, the chain hash after it (hex), the last checkpoint.
    acknowledged_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    chain_hash: Mapped[str] = mapped_column(String(64), default="0" * 64)
    checkpoint: Mapped[str | None] = mapped_column(Text)
    last_sync_at: Mapped[int | None] = mapped_column(BigInteger)


class TerminalStateChange(Base):
    """A terminal became active (enrolled or reactivated), suspended or retired at ``at``."""

    __tablename__ = "terminal_state_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    terminal_id: Mapped[str] = mapped_column(ForeignKey("terminals.id"), index=True)
    at: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(10))


class SyncIntake(Base):
    """A terminal's batch, acknowledged but not yet folded into the records (KIA_SYNC_INTAKE=journal).

    The request's body exactly as received, after its token, chain and
    checkpoint were checked; ``kia issuer intake fold`` stores its records,
    checks and counts them as ingest does, then deletes the row (ADR 0005).
    The primary key is the table's only index: arrival order.
    """

    __tablename__ = "sync_intake"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    terminal_id: Mapped[str] = mapped_column(ForeignKey("terminals.id"))
    first_seq: Mapped[int] = mapped_column(BigInteger)  # the first record the office did not hold before
    last_seq: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[bytes] = mapped_column(LargeBinary)  # {"records": [...], "checkpoint": "..."}
    received_at: Mapped[int] = mapped_column(BigInteger)


class TerminalCheckpoint(Base):
    """Every checkpoint a terminal signed over its log, as received: an auditor checks each one."""

    __tablename__ = "terminal_checkpoints"
    __table_args__ = (Index("ux_terminal_checkpoints_seq", "terminal_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    terminal_id: Mapped[str] = mapped_column(ForeignKey("terminals.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))  # the chain hash after record ``seq``, hex
    jws: Mapped[str] = mapped_column(Text)  # the signed checkpoint, exactly as the terminal sent it
    received_at: Mapped[int] = mapped_column(BigInteger)


# Tables partitioned by local month on PostgreSQL (migration 0017, issuer.retention): <table>_YYYYMM, <table>_default.
PARTITIONED = ("redemptions", "redemption_cards")
_PARTITION = re.compile(r"(?:redemptions|redemption_cards)_(?:\d{6}|default)")


def is_partition(name: str) -> bool:
    """Whether table ``name`` is one month's (or the default) partition of a PARTITIONED table."""
    return _PARTITION.fullmatch(name) is not None


# What reports read from a redemption besides (partner_id, day).
REPORT_COLUMNS = ("month", "accepted", "held", "flagged", "serial", "price", "discount", "paid")


class RedemptionRow(Base):
    """One decision a terminal logged, as received by sync.

    On PostgreSQL the table is partitioned by ``month`` (migration 0017,
    issuer.retention), so its key there is (id, month) and the unique index
    on (terminal, seq) holds month too; ingest keeps (terminal, seq) unique
    by storing only what continues the terminal's acknowledged sequence.
    """

    __tablename__ = "redemptions"
    __table_args__ = (
        Index("ux_redemptions_terminal_seq", "terminal_id", "seq", "month", unique=True),
        Index("ix_redemptions_partner_at", "partner_id", "at"),
        # Covering on PostgreSQL: a partner's report reads no table page (migration 0006).
        Index("ix_redemptions_partner_day", "partner_id", "day", postgresql_include=list(REPORT_COLUMNS)),
        # The office's checks look up a card's other uses around a scan.
        Index("ix_redemptions_serial_at", "serial", "at"),
        # Unique cards, the one report figure a summary cannot keep, read from this index alone (migration 0013).
        Index("ix_redemptions_counted_cards", "partner_id", "day", "serial", postgresql_include=["service"],
              postgresql_where=text("accepted AND NOT held"), sqlite_where=text("accepted AND NOT held")),
        # A region's visits, without reading the office's own cards' records (migration 0020).
        Index("ix_redemptions_home_month", "home", "month", postgresql_where=text("home IS NOT NULL"),
              sqlite_where=text("home IS NOT NULL")),
        {"postgresql_partition_by": "LIST (month)"},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    terminal_id: Mapped[str] = mapped_column(ForeignKey("terminals.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[int] = mapped_column(BigInteger)
    serial: Mapped[str | None] = mapped_column(String(16))
    accepted: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(40))
    service: Mapped[str] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(16))
    price: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)
    paid: Mapped[int] = mapped_column(BigInteger)
    flags: Mapped[list[str]] = mapped_column(JSON)
    hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[int] = mapped_column(BigInteger)
    # The partner region's local date of the decision, for reports: YYYYMMDD and YYYYMM.
    day: Mapped[int] = mapped_column(Integer, server_default="0")
    month: Mapped[int] = mapped_column(Integer, server_default="0")
    # Held out of every revenue figure: a check failed and no auditor has released it.
    held: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    # The terminal flagged the decision (stale trust list, clock skew): counted apart in reports.
    flagged: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    # The card's home region when another office issued it (ADR 0003, migration 0020); NULL for this office's.
    home: Mapped[int | None] = mapped_column(SmallInteger)


def on_days(first: int, last: int) -> ColumnElement[bool]:
    """Redemptions of local days ``first`` to ``last`` (YYYYMMDD), said by month too, so that PostgreSQL reads
    only those months' partitions."""
    return and_(RedemptionRow.day.between(first, last), RedemptionRow.month.between(first // 100, last // 100))


SUMMARY_FIGURES = ("scans", "accepted", "gross", "discount", "net", "held", "flagged")


class SummaryFigures:
    """The figures a summary row keeps, as issuer.reports.Figures means them (SUMMARY_FIGURES)."""

    scans: Mapped[int] = mapped_column(BigInteger)  # every record
    accepted: Mapped[int] = mapped_column(BigInteger)  # accepted and not held
    gross: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)
    net: Mapped[int] = mapped_column(BigInteger)
    held: Mapped[int] = mapped_column(BigInteger)  # accepted and held
    flagged: Mapped[int] = mapped_column(BigInteger)  # accepted, not held, flagged


class RedemptionSummary(SummaryFigures, Base):
    """What reports sum, per partner, local day, service and category (issuer.summaries, migration 0013).

    Kept in the transaction that changes redemptions: ingest adds each batch,
    an auditor's release moves a record from ``held`` into revenue.  The
    figures mean what issuer.reports.Figures says; a record without a
    category is filed under "".
    """

    __tablename__ = "redemption_summaries"
    # Every partner's figures of some days, read from the index alone on PostgreSQL (migration 0016).
    __table_args__ = (Index("ix_redemption_summaries_day", "day",
                            postgresql_include=["partner_id", "month", *SUMMARY_FIGURES]),)

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)  # YYYYMMDD, 0 for a clock gone wild
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(16), primary_key=True)
    month: Mapped[int] = mapped_column(Integer)  # YYYYMM: day // 100


class RedemptionSummaryMonth(SummaryFigures, Base):
    """RedemptionSummary rolled up by month (issuer.summaries, migration 0015): what a report sums for whole months.

    Kept in the same statement batch as the daily rows, so a month's row is
    always the sum of its days' rows.
    """

    __tablename__ = "redemption_summary_months"
    __table_args__ = (Index("ix_redemption_summary_months_month", "month"),)

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)  # YYYYMM, 0 for a clock gone wild
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(16), primary_key=True)


class RedemptionPartnerDay(SummaryFigures, Base):
    """RedemptionSummary summed over services and categories, per partner and local day (migration 0018): what
    every report but one per service sums, a row a partner a day whatever its services and age categories.

    Kept with the summaries, in the same statements (issuer.summaries).
    """

    __tablename__ = "redemption_partner_days"
    # Every partner's figures of some days, read from the index alone on PostgreSQL.
    __table_args__ = (Index("ix_redemption_partner_days_day", "day",
                            postgresql_include=["partner_id", "month", *SUMMARY_FIGURES]),)

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)  # YYYYMMDD, 0 for a clock gone wild
    month: Mapped[int] = mapped_column(Integer)  # YYYYMM: day // 100


class RedemptionPartnerMonth(SummaryFigures, Base):
    """RedemptionPartnerDay by month (migration 0018)."""

    __tablename__ = "redemption_partner_months"
    __table_args__ = (Index("ix_redemption_partner_months_month", "month",
                            postgresql_include=["partner_id", *SUMMARY_FIGURES]),)

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)  # YYYYMM, 0 for a clock gone wild


PROGRAMME_STRIPES = 16  # a programme day's rows: partners' batches of one day wait on each other one in 16 times


class RedemptionProgrammeDay(Base):
    """The programme's figures of a local day (migration 0019), kept in stripes by partner (``partner_id %
    PROGRAMME_STRIPES``): a report of the programme by day sums a few rows a day instead of one per partner,
    and two partners' batches of one day update one row only when their partners share a stripe.

    ``cards`` sums RedemptionCardCount.programme_cards of the stripe's partners for the day: summed over
    stripes, the programme's unique cards of the day.
    """

    __tablename__ = "redemption_programme_days"

    day: Mapped[int] = mapped_column(Integer, primary_key=True)  # YYYYMMDD, 0 for a clock gone wild
    stripe: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    month: Mapped[int] = mapped_column(Integer)
    scans: Mapped[int] = mapped_column(BigInteger, server_default="0")
    accepted: Mapped[int] = mapped_column(BigInteger, server_default="0")
    gross: Mapped[int] = mapped_column(BigInteger, server_default="0")
    discount: Mapped[int] = mapped_column(BigInteger, server_default="0")
    net: Mapped[int] = mapped_column(BigInteger, server_default="0")
    held: Mapped[int] = mapped_column(BigInteger, server_default="0")
    flagged: Mapped[int] = mapped_column(BigInteger, server_default="0")
    cards: Mapped[int] = mapped_column(BigInteger, server_default="0")


# Serials compared byte-wise on PostgreSQL: the locale's collation costs every index insert and lookup.
CARD_SERIAL = String(16).with_variant(postgresql.VARCHAR(16, collation="C"), "postgresql")
PROGRAMME = 0  # the scope of RedemptionCard rows that stand for the whole programme (no partner has id 0)


class RedemptionCard(Base):
    """A card counted in a scope and month, with the days it was counted on: the distinct cards behind
    unique-card figures (migration 0015).

    ``scope`` is a partner's id, PROGRAMME, or minus the id of a ReportScope
    (a kind, a cluster, a region's programme, a partner's service: migration
    0016).  A row exists once the card has an accepted record no check holds
    in that scope and local month (YYYYMM); bit ``d - 1`` of ``days`` is set
    once it has one on day ``d``.  Ingest and an auditor's release add rows
    and days (issuer.summaries); a row or day that was new bumps
    RedemptionCardCount and RedemptionCardEdge, so reports read counts, and
    these rows only for a range inside one month that touches neither of its
    ends.  One row a month, not one a day: a card that comes back within the
    month costs a bit, not a row.
    """

    __tablename__ = "redemption_cards"
    __table_args__ = {"postgresql_partition_by": "LIST (month)"}  # by month on PostgreSQL (migration 0017)

    scope: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(CARD_SERIAL, primary_key=True)
    days: Mapped[int] = mapped_column(Integer)


CARD_COUNT_COLUMNS = ("partner_id", "partner_cards", "programme_cards", "kind_cards", "cluster_cards", "region_cards")


class RedemptionCardCount(Base):
    """How many cards became counted, per partner and period (a local day YYYYMMDD or month YYYYMM).

    ``partner_cards`` is the partner's unique cards in the period.
    ``programme_cards`` counts the cards new to the whole programme in the
    period whose first counted record was this partner's: summed over
    partners it is the programme's unique cards, and no row is shared by two
    partners' ingests.
    """

    __tablename__ = "redemption_card_counts"
    # Every partner's count of some periods, read from the index alone on PostgreSQL.
    __table_args__ = (Index("ix_redemption_card_counts_period", "period",
                            postgresql_include=[*CARD_COUNT_COLUMNS]),)

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    period: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_cards: Mapped[int] = mapped_column(BigInteger)
    programme_cards: Mapped[int] = mapped_column(BigInteger)
    # As programme_cards, for the partner's kind, its cluster and its region's programme (migration 0016).
    kind_cards: Mapped[int] = mapped_column(BigInteger, server_default="0")
    cluster_cards: Mapped[int] = mapped_column(BigInteger, server_default="0")
    region_cards: Mapped[int] = mapped_column(BigInteger, server_default="0")


class ReportScope(Base):
    """A set of cards kept beside partners' and the programme's (migration 0016): one kind or cluster of
    partners, one region's programme (``name`` its code), or one partner's service (``partner_id``, 0 for
    the others).  Its RedemptionCard rows have scope ``-id``.

    A partner's kind, cluster and region never change once it is registered
    (issuer.partners), so its cards stay in the sets they went into.
    """

    __tablename__ = "report_scopes"
    __table_args__ = (
        CheckConstraint("what IN ('kind', 'cluster', 'region', 'service')", name="report_scope_what"),
        Index("ux_report_scopes", "what", "partner_id", "name", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    what: Mapped[str] = mapped_column(String(8))
    partner_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))


class RedemptionCardEdge(Base):
    """Per set (a RedemptionCard scope) and local day: the cards whose first and whose last counted day of
    the month it is (migration 0016).

    A range that cuts a month keeps its first days or its last days: its
    unique cards are those whose first counted day is on or before its end,
    or whose last is on or after its start, so sums of these answer it.
    Changes are kept under the partner whose batch made them (``partner_id``,
    0 for what migration 0016 filled), so no two partners' ingests update one
    row: a row alone may go below zero, the sum over partners never does.
    """

    __tablename__ = "redemption_card_edges"

    scope: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    firsts: Mapped[int] = mapped_column(BigInteger)
    lasts: Mapped[int] = mapped_column(BigInteger)


class RedemptionServiceCardCount(Base):
    """A partner's unique cards per service and period (a local day or month), kept as RedemptionCardCount."""

    __tablename__ = "redemption_service_card_counts"

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[int] = mapped_column(Integer, primary_key=True)
    cards: Mapped[int] = mapped_column(BigInteger)


FINDING_STATES = ("open", "released", "confirmed")


class Finding(Base):
    """A check a stored redemption failed, with its evidence, and what an auditor decided.

    The record is held while any of its findings is open or confirmed; an
    auditor releases it (counted again) or confirms it (held for good).
    """

    __tablename__ = "findings"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'released', 'confirmed')", name="finding_state"),
        Index("ix_findings_record", "terminal_id", "seq"),
        Index("ix_findings_state", "state", "partner_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    terminal_id: Mapped[str] = mapped_column(ForeignKey("terminals.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    check: Mapped[str] = mapped_column(String(32))
    evidence: Mapped[str] = mapped_column(String(300))
    found_at: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(10), default="open")
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[int | None] = mapped_column(BigInteger)
    decision: Mapped[str | None] = mapped_column(String(200))


class SyncTokenSeen(Base):
    """Every sync token's jti until it expires: a replayed token is refused."""

    __tablename__ = "sync_tokens_seen"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    terminal_id: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


class Alarm(Base):
    __tablename__ = "alarms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    terminal_id: Mapped[str | None] = mapped_column(String(16))
    partner_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(String(500))


class RegionEligibility(Base):
    """How many children of a region may hold a KIA, as the office last counted."""

    __tablename__ = "region_eligibility"
    __table_args__ = (CheckConstraint("eligible_children >= 0", name="eligible_children_not_negative"),)

    region: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    eligible_children: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[dt.date] = mapped_column(Date)


# --- people and the audit trail -------------------------------------------------

ROLES = ("admin", "officer", "partner_manager", "auditor", "institution")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'officer', 'partner_manager', 'auditor', 'institution')", name="user_role"),
        CheckConstraint("(role = 'partner_manager') = (partner_id IS NOT NULL)", name="user_partner_for_managers"),
        CheckConstraint("(role = 'institution') = (institution_id IS NOT NULL)", name="user_institution_for_accounts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # Argon2id, with its parameters
    role: Mapped[str] = mapped_column(String(16))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))  # a school's or clinic's account
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class SignInSession(Base):
    """A session opened by a sign-in, until its person signs out, is disabled or gets a new password.

    ``id`` is the SHA-256 of the random token the session cookie carries: the
    database never holds what a cookie would need.
    """

    __tablename__ = "sign_in_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class SignInFailure(Base):
    """A wrong password (or unknown username), counted to throttle guessing per account and per address."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_username", "username", "at"),
        Index("ix_sign_in_failures_address", "remote_addr", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[int] = mapped_column(BigInteger, index=True)
    username: Mapped[str] = mapped_column(String(64))
    remote_addr: Mapped[str] = mapped_column(String(64))


class AuditEvent(Base):
    """Every change: who, what, when, from where."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[int] = mapped_column(BigInteger, index=True)
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(100))
    remote_addr: Mapped[str | None] = mapped_column(String(64))


class LogEntry(Base):
    """One fact the office accepted, as leaf ``idx`` of its transparency log (issuer/transparency.py).

    ``data`` is the entry exactly as hashed and served; ``hash`` its RFC 6962
    leaf hash; ``kind`` and ``ref`` (a terminal's ``id#seq``, a serial, a kid)
    find the entry of a fact.  Rows are only ever added.
    """

    __tablename__ = "log_entries"
    __table_args__ = (Index("ix_log_entries_ref", "kind", "ref"),)

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(24))
    ref: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    at: Mapped[int] = mapped_column(BigInteger)


class LogPending(Base):
    """A fact recorded with its change, waiting for ``transparency.integrate`` to place it in the tree."""

    __tablename__ = "log_pending"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    ref: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    at: Mapped[int] = mapped_column(BigInteger)


class LogHash(Base):
    """The head of the complete subtree of leaves ``idx * 2**level`` to ``(idx + 1) * 2**level - 1`` (level >= 1)."""

    __tablename__ = "log_hashes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogState(Base):
    """The log's size, origin and checkpoint key: one row, locked by each integration so that they take turns."""

    __tablename__ = "log_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    origin: Mapped[str | None] = mapped_column(String(200))  # None until ``kia issuer log init``
    verifier_key: Mapped[str | None] = mapped_column(String(400))
    key_file: Mapped[str | None] = mapped_column(String(200))


class LogCheckpoint(Base):
    """A checkpoint the office signed, with the cosignatures its witnesses added."""

    __tablename__ = "log_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[int] = mapped_column(BigInteger)
    cosignatures: Mapped[int] = mapped_column(Integer, default=0)


class LogWitness(Base):
    """A witness the office asks to cosign its checkpoints, and the size it last cosigned."""

    __tablename__ = "log_witnesses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(String(300))
    verifier_key: Mapped[str] = mapped_column(String(400))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    added_at: Mapped[int] = mapped_column(BigInteger)

"""Ingest: a terminal's batch of redemption records, stored in one transaction.

Idempotent on (terminal, seq); the chain must continue the office's last
acknowledged record and end at the terminal's signed checkpoint
(docs/sync-protocol.md).  Each record gets its partner's local day and
month for the reports, and is counted into the reports' daily summaries
(issuer.summaries) in the same transaction.  Every new record is stored exactly as signed and
checked against what the office knows (issuer.redemption_checks): one that
fails a check is held out of revenue with its findings, and each check that
failed raises one alarm for the batch.

With ``KIA_SYNC_INTAKE=journal`` the service acknowledges a batch once its
token, chain and checkpoint hold and its body is kept in the journal
(``intake``); ``fold`` (``kia issuer intake fold``) does the rest later, in
arrival order, exactly as ``ingest`` would have on arrival (ADR 0005).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import BindParameter, Executable, String, any_, bindparam, delete, func, insert, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from keys import load_public_jwk
from keys.chain import (
    Checkpoint,
    InvalidCheckpoint,
    Redemption,
    chain_hashes,
    verify_checkpoint,
)
from keys.eligibility import region_timezone
from keys.times import local_date

from . import federation, summaries, transparency
from .errors import JournalDamaged, SyncRefused, TerminalSuspended
from .partners import partner_regions
from .redemption_checks import (
    CHECKS,
    DAY,
    HOUR,
    CardFacts,
    Finding,
    HomeOffice,
    Known,
    RuleVersion,
    Use,
    alarm_summary,
    check_batch,
)
from .reports import bucket
from .storage.models import (
    Alarm,
    CardRow,
    IssuingKeyRow,
    Partner,
    RedemptionRow,
    ServiceRuleVersion,
    SyncIntake,
    Terminal,
    TerminalCheckpoint,
    TerminalStateChange,
)
from .storage.models import (
    Finding as FindingRow,
)
from .storage.store import IssuerHome
from .terminals import authenticate_terminal

MAX_BATCH = 500


@dataclasses.dataclass(frozen=True)
class Ack:
    acknowledged: int
    stored: int
    duplicates: int


def ingest(home: IssuerHome, token: str, records: Sequence[object], checkpoint: str, now: int) -> Ack:
    """Store a terminal's batch, or refuse it whole (docs/sync-protocol.md).

    Raises InvalidSyncToken (401), TerminalSuspended (403), SyncRefused (409
    gap/fork, 422 chain_mismatch) and InvalidRecord (400).  A fork or a
    chain mismatch is also recorded as an alarm, which outlives the refusal.
    """
    terminal_id = authenticate_terminal(home, token, now)
    with _alarms_kept(home), home.transaction() as session:
        terminal = _active(session, terminal_id)
        if session.scalar(select(SyncIntake.id).where(SyncIntake.terminal_id == terminal.id).limit(1)):
            _fold_terminal(session, terminal)  # what a journal kept of this terminal goes first (ADR 0005)
        batch = _verified(session, terminal, _parsed(records, terminal.acknowledged_seq), checkpoint, now)
        if batch.new:
            _apply(session, terminal, batch.new, checkpoint, batch.signed, now)
        return _acknowledged(terminal, batch, checkpoint, now)


def intake(home: IssuerHome, token: str, records: Sequence[object], checkpoint: str, body: bytes, now: int) -> Ack:
    """Check a terminal's batch as ``ingest`` does, keep its body in the journal and acknowledge it (ADR 0005).

    The same refusals as ``ingest``, before anything is kept: the token, the
    records' form, the chain and the checkpoint.  ``fold`` later stores,
    checks and counts the records exactly as ``ingest`` would have at ``now``.
    ``body`` is the request's body as received, holding ``records`` and ``checkpoint``.
    """
    terminal_id = authenticate_terminal(home, token, now)
    with _alarms_kept(home), home.transaction() as session:
        terminal = _active(session, terminal_id)
        parsed = _parsed(records, terminal.acknowledged_seq)
        if parsed[0].seq <= terminal.acknowledged_seq:
            _fold_terminal(session, terminal)  # a batch sent again is compared with the records stored
        batch = _verified(session, terminal, parsed, checkpoint, now)
        if batch.new:
            session.add(SyncIntake(terminal_id=terminal.id, first_seq=batch.new[0][0].seq,
                                   last_seq=batch.new[-1][0].seq, body=body, received_at=now))
        return _acknowledged(terminal, batch, checkpoint, now)


def fold(home: IssuerHome, limit: int) -> int:
    """Fold up to ``limit`` batches of the journal into the records, oldest first; how many were folded.

    Each batch in a transaction of its own, as ``ingest`` would have stored
    it when it arrived.  A fold never waits for the service, nor the service
    for a fold (the terminal's row is not locked), except a batch sent again
    of a terminal being folded.  Folds running at once never fold a batch
    twice and keep each terminal's batches in order; on PostgreSQL they fold
    different terminals' batches side by side (a fold passes over a terminal
    another holds), on SQLite they take turns.
    """
    folded = 0
    while folded < limit:
        with home.transaction() as session:
            oldest = session.execute(select(SyncIntake.id, SyncIntake.terminal_id)
                                     .order_by(SyncIntake.id).limit(_FOLD_LOOKAHEAD)).all()
            # Each terminal's oldest batch, oldest first: the first whose terminal no other fold holds.
            heads = {row.terminal_id: row.id for row in reversed(oldest)}
            free = next((terminal_id for terminal_id in sorted(heads, key=heads.__getitem__)
                         if _fold_lock(session, terminal_id, wait=False)), None)
            if free is None:
                break  # empty, or every waiting terminal is another fold's
            terminal = session.get_one(Terminal, free)
            folded += _fold_terminal(session, terminal, through=heads[free], locked=True)
    return folded


@dataclasses.dataclass(frozen=True)
class Backlog:
    batches: int
    records: int
    oldest_received_at: int | None

    def at(self, now: int) -> dict[str, object]:
        """As operators read it (``kia issuer intake status``, ``/healthz``): how long the oldest has waited."""
        waited = None if self.oldest_received_at is None else max(0, now - self.oldest_received_at)
        return {"batches": self.batches, "records": self.records, "oldest_waiting_seconds": waited}


def backlog(home: IssuerHome) -> Backlog:
    """What the journal holds: acknowledged batches not yet folded, and since when."""
    with home.transaction() as session:
        batches, records, oldest = session.execute(select(
            func.count(), func.coalesce(func.sum(SyncIntake.last_seq - SyncIntake.first_seq + 1), 0),
            func.min(SyncIntake.received_at))).one()
    return Backlog(batches, int(records), oldest)


@contextlib.contextmanager
def _alarms_kept(home: IssuerHome) -> Iterator[None]:
    """A refusal that raises an alarm: the batch's transaction is rolled back, the alarm is kept."""
    try:
        yield
    except _Alarming as alarm:
        with home.transaction() as session:
            session.add(Alarm(at=alarm.at, kind=alarm.kind, terminal_id=alarm.terminal, partner_id=alarm.partner,
                              detail=alarm.detail))
        raise alarm.refusal from None


class _Alarming(Exception):
    def __init__(self, refusal: SyncRefused, kind: str, terminal: Terminal, detail: str, at: int) -> None:
        super().__init__(detail)
        self.refusal, self.kind, self.detail, self.at = refusal, kind, detail, at
        self.terminal, self.partner = terminal.id, terminal.partner_id


def _active(session: Session, terminal_id: str) -> Terminal:
    # FOR NO KEY UPDATE: one batch of a terminal at a time, while a fold's rows that refer to the
    # terminal (their foreign keys' KEY SHARE) neither wait for it nor keep it waiting.
    terminal = session.get_one(Terminal, terminal_id, with_for_update={"key_share": True})
    if terminal.state != "active":  # suspended or retired since the token was checked
        raise TerminalSuspended("the office has suspended this terminal; call the office")
    return terminal


def _parsed(records: Sequence[object], acknowledged: int) -> list[Redemption]:
    if not 1 <= len(records) <= MAX_BATCH:
        raise SyncRefused("bad_batch", f"a batch holds 1 to {MAX_BATCH} records", acknowledged)
    parsed = [Redemption.from_json(record) for record in records]
    if any(b.seq != a.seq + 1 for a, b in zip(parsed, parsed[1:], strict=False)):
        raise SyncRefused("bad_batch", "records must be in ascending, contiguous sequence", acknowledged)
    return parsed


@dataclasses.dataclass(frozen=True)
class _Batch:
    records: list[Redemption]
    new: list[tuple[Redemption, bytes]]  # the records after the acknowledged one, with their chain hashes
    signed: Checkpoint


def _verified(session: Session, terminal: Terminal, records: list[Redemption], checkpoint: str, now: int) -> _Batch:
    """The batch, if it continues what the office holds of the terminal's chain and ends at its checkpoint."""
    acknowledged = terminal.acknowledged_seq
    first, last = records[0].seq, records[-1].seq
    if first > acknowledged + 1:
        raise SyncRefused("gap", f"the office holds up to sequence {acknowledged}; send from {acknowledged + 1}",
                          acknowledged)
    previous = _stored_hash(session, terminal, first - 1)
    hashes = chain_hashes(previous, records)
    stored = dict(session.execute(
        select(RedemptionRow.seq, RedemptionRow.hash).where(
            RedemptionRow.terminal_id == terminal.id, RedemptionRow.seq.between(first, min(last, acknowledged))
        )
    ).all()) if first <= acknowledged else {}
    for record, digest in zip(records, hashes, strict=True):
        if record.seq in stored and stored[record.seq] != digest.hex():
            refusal = SyncRefused("fork", f"record {record.seq} differs from the one the office holds", acknowledged)
            raise _Alarming(refusal, "fork", terminal, f"terminal {terminal.id} sent a different record {record.seq}",
                            now)
    try:
        signed = verify_checkpoint(checkpoint, load_public_jwk(terminal.public_jwk), terminal.id)
    except InvalidCheckpoint as exc:
        raise _Alarming(SyncRefused("chain_mismatch", str(exc), acknowledged), "chain_mismatch", terminal,
                        f"terminal {terminal.id} sent a checkpoint it did not sign", now) from None
    if signed.seq != last or signed.hash != hashes[-1]:
        refusal = SyncRefused("chain_mismatch", "the checkpoint does not match the records' chain", acknowledged)
        raise _Alarming(refusal, "chain_mismatch", terminal,
                        f"terminal {terminal.id} sent records {first}-{last} that do not match its checkpoint", now)
    new = [(record, digest) for record, digest in zip(records, hashes, strict=True) if record.seq > acknowledged]
    return _Batch(records, new, signed)


def _acknowledged(terminal: Terminal, batch: _Batch, checkpoint: str, now: int) -> Ack:
    """Move the terminal's acknowledged sequence and chain head past the batch's new records."""
    if batch.new:
        terminal.acknowledged_seq, terminal.chain_hash = batch.new[-1][0].seq, batch.new[-1][1].hex()
        terminal.checkpoint = checkpoint
    terminal.last_sync_at = now
    return Ack(terminal.acknowledged_seq, len(batch.new), len(batch.records) - len(batch.new))


# PostgreSQL advisory locks of this class (the key: the terminal) keep one fold a terminal at a time.
_FOLD_LOCKS = 0x4B4941
_FOLD_LOOKAHEAD = 64  # journalled batches a fold looks through for a terminal no other fold holds


def _fold_lock(session: Session, terminal_id: str, *, wait: bool) -> bool:
    """Hold the terminal's fold lock to the transaction's end (wait for it, or give up at once)."""
    if session.connection().dialect.name != "postgresql":
        return True  # SQLite has one writer: the journal's DELETE below claims the batches
    key = zlib.crc32(terminal_id.encode("ascii")) - 2**31  # another terminal's now and then: a wait, never a fault
    if wait:
        session.execute(select(func.pg_advisory_xact_lock(_FOLD_LOCKS, key)))
        return True
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(_FOLD_LOCKS, key))))


def _fold_terminal(session: Session, terminal: Terminal, *, through: int | None = None, locked: bool = False) -> int:
    """Fold the terminal's journalled batches (up to id ``through``) into the records, in order; how many."""
    if not locked:
        _fold_lock(session, terminal.id, wait=True)
    # Taken by deleting them, the transaction's first write: a fold that comes second, on either
    # database, waits for the first to commit and finds nothing left to take.
    taking = delete(SyncIntake).where(SyncIntake.terminal_id == terminal.id)
    if through is not None:
        taking = taking.where(SyncIntake.id <= through)
    taken = session.execute(taking.returning(SyncIntake.id, SyncIntake.first_seq, SyncIntake.last_seq,
                                             SyncIntake.body, SyncIntake.received_at)).all()
    for kept in sorted(taken):
        body = json.loads(kept.body)
        records = [Redemption.from_json(record) for record in body["records"]]
        records = [record for record in records if kept.first_seq <= record.seq <= kept.last_seq]
        hashes = chain_hashes(_stored_hash(session, terminal, kept.first_seq - 1), records)
        signed = verify_checkpoint(body["checkpoint"], load_public_jwk(terminal.public_jwk), terminal.id)
        if len(records) != kept.last_seq - kept.first_seq + 1 or (signed.seq, signed.hash) != (kept.last_seq,
                                                                                               hashes[-1]):
            # Checked on arrival: only a journal changed since can fail here.  The fold stops, the batch stays.
            raise JournalDamaged(f"journalled batch {kept.id} of terminal {terminal.id} no longer matches its "
                                 "checkpoint; the fold stops here")
        _apply(session, terminal, list(zip(records, hashes, strict=True)), body["checkpoint"], signed,
               kept.received_at)
    return len(taken)


def _apply(session: Session, terminal: Terminal, new: Sequence[tuple[Redemption, bytes]], checkpoint: str,
           signed: Checkpoint, now: int) -> None:
    """Store, check and count the batch's new records as of ``now``, the batch's arrival."""
    partner = session.get_one(Partner, terminal.partner_id)
    zone = region_timezone(partner.region)
    findings = check_batch([record for record, _ in new], _known(session, terminal, partner, new, zone, now))
    held = {finding.seq for finding in findings}
    rows = [
        {"terminal_id": terminal.id, "partner_id": terminal.partner_id, "seq": r.seq, "at": r.at,
         "serial": r.serial, "accepted": r.accepted, "reason": r.reason, "service": r.service,
         "category": r.category, "price": r.price, "discount": r.discount, "paid": r.paid,
         "flags": list(r.flags), "hash": digest.hex(), "received_at": now, "held": r.seq in held,
         "flagged": bool(r.flags), "home": r.home,
         **_buckets(r.at, zone)}
        for r, digest in new
    ]
    _store(session, rows)
    summaries.add_records(session, rows)
    _hold(session, terminal, findings, now)
    transparency.record_redemptions(session, terminal.id, new[0][0].seq, new[-1][0].seq, now)
    session.add(TerminalCheckpoint(terminal_id=terminal.id, seq=signed.seq, hash=signed.hash.hex(), jws=checkpoint,
                                   received_at=now))
    # A clock gone wild (no date at all) is outside any agreement.
    outside = [r for r, _ in new if not partner.mou_start <= (local_date(r.at, zone) or dt.date.max)
               <= partner.mou_end]
    if outside:
        # Stored exactly as signed (the chain covers every field); the alarm,
        # and the MoU dates, tell which scans fell outside the agreement.
        session.add(Alarm(at=now, kind="mou_expired", terminal_id=terminal.id, partner_id=partner.id,
                          detail=f"{len(outside)} records made outside the partner's MoU"))


def _known(session: Session, terminal: Terminal, partner: Partner, new: Sequence[tuple[Redemption, bytes]],
           zone: dt.tzinfo, now: int) -> Known:
    """What the checks need to know, read with indexed lookups on the batch's serials and times."""
    accepted = [record for record, _ in new if record.accepted and record.serial]
    serials = sorted({record.serial for record in accepted if record.serial})
    cards = {}
    uses: dict[str, list[Use]] = {}
    places: dict[int, tuple[float, float]] = {}
    if serials:
        on_postgresql = session.connection().dialect.name == "postgresql"
        facts = select(CardRow.serial, CardRow.kid, CardRow.region, CardRow.birth_month, CardRow.issued_at,
                       CardRow.expires_at, CardRow.revoked_at, CardRow.state)
        # On PostgreSQL the serials go as one array parameter: 500 placeholders cost the driver
        # more to parse than the index probes cost the server.
        facts = facts.where(CardRow.serial == any_(_text_array(serials)) if on_postgresql
                             else CardRow.serial.in_(serials))
        cards = {row.serial: CardFacts(*row[1:]) for row in session.execute(facts)}
        start, end = min(r.at for r in accepted) - DAY - HOUR, max(r.at for r in accepted) + DAY + HOUR
        for row in session.execute(_uses(serials, start, end, on_postgresql)):
            uses.setdefault(row.serial, []).append(Use(row.at, row.partner_id, row.service, row.terminal_id, row.seq,
                                                       row.day))
        nearby = {use.partner_id for found in uses.values() for use in found} | {partner.id}
        places = {row.id: (row.latitude, row.longitude) for row in session.execute(
            select(Partner.id, Partner.latitude, Partner.longitude).where(
                Partner.id.in_(nearby), Partner.latitude.is_not(None), Partner.longitude.is_not(None)))}
    revoked_keys = {kid: at for kid, at in session.execute(
        select(IssuingKeyRow.kid, IssuingKeyRow.revoked_at).where(IssuingKeyRow.revoked_at.is_not(None))) if at}
    rules = [RuleVersion(row.code, row.valid_from, row.valid_until, row.prices, row.discount_kind, row.discount_value,
                         row.daily_limit)
             for row in session.scalars(select(ServiceRuleVersion).where(ServiceRuleVersion.partner_id == partner.id))]
    changes = select(TerminalStateChange.at, TerminalStateChange.state).where(
        TerminalStateChange.terminal_id == terminal.id)
    states = [(row.at, row.state) for row in session.execute(
        changes.order_by(TerminalStateChange.at, TerminalStateChange.id))]
    # Other regions' cards only: the directory the office holds, and the regions the partner honours.
    foreign = any(r.home is not None for r, _ in new)
    home_offices, own_region = _home_offices(session) if foreign else ({}, None)
    return Known(now, terminal.id, partner.id, zone, terminal.enrolled_at or 0, states, cards, revoked_keys, rules,
                 uses, places, home_offices, own_region, partner_regions(partner) if foreign else None)


def _home_offices(session: Session) -> tuple[dict[int, HomeOffice], int | None]:
    """The offices the held national directory lists, for records of other regions' cards."""
    held = federation.held_directory(session)
    if held is None:
        return {}, None
    return ({office.region: HomeOffice(office.state.value, office.valid_from, office.valid_until)
             for office in held.directory.offices}, held.own_region)


def _uses(serials: Sequence[str], start: int, end: int, on_postgresql: bool) -> Executable:
    """The accepted uses of the serials between start and end, oldest first.

    On PostgreSQL, one probe of the (serial, at) index per serial, in a LATERAL subquery that
    OFFSET 0 keeps the planner from flattening.  Left to choose, it may scan the whole window
    of time instead, as it did with statistics older than the day's records (measured: 20 ms
    for a batch against 2 ms, in a table of 70,000 records, growing with the table).
    """
    columns = (RedemptionRow.serial, RedemptionRow.at, RedemptionRow.partner_id, RedemptionRow.service,
               RedemptionRow.terminal_id, RedemptionRow.seq, RedemptionRow.day)
    window = (RedemptionRow.at.between(start, end), RedemptionRow.accepted.is_(True))
    if not on_postgresql:
        return select(*columns).where(RedemptionRow.serial.in_(serials), *window).order_by(RedemptionRow.at)
    wanted = func.unnest(_text_array(serials)).table_valued("serial").render_derived()
    per_card = select(*columns).where(RedemptionRow.serial == wanted.c.serial, *window).offset(0).lateral()
    return select(per_card).select_from(wanted).join(per_card, true()).order_by(per_card.c.at)


def _text_array(values: Sequence[str]) -> BindParameter[Sequence[str]]:
    return bindparam(None, values, type_=ARRAY(String))


def _hold(session: Session, terminal: Terminal, findings: Sequence[Finding], now: int) -> None:
    """Record each finding, and one alarm per check that held records of this batch."""
    if not findings:
        return
    session.execute(insert(FindingRow), [
        {"terminal_id": terminal.id, "seq": finding.seq, "partner_id": terminal.partner_id, "check": finding.check,
         "evidence": finding.evidence[:300], "found_at": now, "state": "open"}
        for finding in findings
    ])
    for check, count in sorted(alarm_summary(findings).items()):
        session.add(Alarm(at=now, kind=check, terminal_id=terminal.id, partner_id=terminal.partner_id,
                          detail=f"{count} records from terminal {terminal.id} held: {CHECKS[check]}"))


_COPY_COLUMNS = ("terminal_id", "partner_id", "seq", "at", "serial", "accepted", "reason", "service", "category",
                 "price", "discount", "paid", "flags", "hash", "received_at", "held", "flagged", "day", "month",
                 "home")


def _store(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert redemption rows in the session's transaction.

    On PostgreSQL they go through COPY, which takes a 500-row batch in about
    a third of the time of row inserts (docs/benchmarks.md); elsewhere, one
    executemany.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(RedemptionRow), rows)
        return
    driver = connection.connection.driver_connection  # psycopg, in this same transaction
    columns = ", ".join(f'"{name}"' for name in _COPY_COLUMNS)
    with driver.cursor() as cursor, cursor.copy(f"COPY redemptions ({columns}) FROM STDIN") as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row([json.dumps(row[name]) if name == "flags" else row[name] for name in _COPY_COLUMNS])


def _buckets(at: int, zone: dt.tzinfo) -> dict[str, int]:
    """The report buckets of a decision: its local day (YYYYMMDD) and month (YYYYMM).

    A terminal whose clock ran far off still syncs: its record is stored as
    signed, outside every bucket (0), instead of blocking its log for ever.
    """
    day = local_date(at, zone)
    if day is None:
        return {"day": 0, "month": 0}
    return {"day": bucket(day, "day"), "month": bucket(day, "month")}


def _stored_hash(session: Session, terminal: Terminal, seq: int) -> bytes:
    if seq == 0:
        return bytes(32)
    if seq == terminal.acknowledged_seq:
        return bytes.fromhex(terminal.chain_hash)
    digest = session.scalar(
        select(RedemptionRow.hash).where(RedemptionRow.terminal_id == terminal.id, RedemptionRow.seq == seq)
    )
    if digest is None:  # only before the acknowledged sequence, which is contiguous
        raise SyncRefused("gap", f"the office does not hold record {seq}", terminal.acknowledged_seq)
    return bytes.fromhex(digest)


@dataclasses.dataclass(frozen=True)
class AlarmRecord:
    at: int
    kind: str
    terminal_id: str | None
    partner_id: int | None
    detail: str


def latest_alarms(home: IssuerHome, partner_id: int | None = None, limit: int = 10) -> list[AlarmRecord]:
    """The newest alarms, of one partner's terminals or of all."""
    with home.transaction() as session:
        query = select(Alarm).order_by(Alarm.at.desc(), Alarm.id.desc()).limit(limit)
        if partner_id is not None:
            query = query.where(Alarm.partner_id == partner_id)
        return [AlarmRecord(row.at, row.kind, row.terminal_id, row.partner_id, row.detail)
                for row in session.scalars(query)]

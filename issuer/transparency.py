"""The office's transparency log: every fact it accepts, in a Merkle tree anyone can check.

Each fact (a terminal's record with its chain hash, a card issued, revoked or
replaced, a key created, retired or revoked, a trust list published, a
partner's, rule's or terminal's change, an auditor's decision on a held
record) becomes one entry: a JSON object with sorted keys and no spaces,
recorded in the transaction that makes the fact, so a fact and its entry
commit together or not at all.  The tree is RFC 6962's (keys/tlog.py); the
office stores each entry's leaf hash and the heads of complete subtrees above
them, so heads, proofs and C2SP tiles are reads, not recomputation.

The log is public, so an entry holds no child's data and nothing that follows
a child from place to place: a redemption's entry is its terminal, partner,
sequence and chain hash (which commits to the record: auditors get the
records in the export and check them against it), a card's entry its serial,
key and token hash, never its expiry (which follows the child's birthday).

A recorded entry waits in ``log_pending`` until ``integrate`` places it in
the tree, as Trillian's sequencer and C2SP logs' batching do: the changes
that record facts (terminals' batches above all) take no lock for the log
and never wait on each other, and the log's one sequence is built by one
integration at a time, in large batches.  ``sign`` integrates everything
pending, then signs the checkpoint, a C2SP signed note by the log's own key
(``init_log``), which witnesses cosign (issuer/witnessing.py).  The office
runs ``kia issuer log publish`` every minute: that is how long a fact waits
to be in a checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from keys.tiles import Tile, bundle, fits, join_hashes
from keys.tlog import (
    EMPTY_ROOT,
    NoteKey,
    TreeHead,
    appended_hashes,
    frontier,
    leaf_hash,
    prove_consistency,
    prove_inclusion,
    sign_checkpoint,
    stored_range_hash,
)

from .audit import Actor
from .audit import record as audit
from .errors import Invalid, NotFound, Refused
from .storage.models import LogCheckpoint, LogEntry, LogHash, LogPending, LogState, RedemptionRow
from .storage.store import IssuerHome

if TYPE_CHECKING:  # issuing_keys appends to the log
    from .issuing_keys import KeyUnlock

LOG_KEY_FILE = "log.key"
MAX_ENTRY = 0xFFFF  # a C2SP entry bundle's uint16 length prefix
INTEGRATE_BATCH = 50_000  # entries placed per transaction (a batch of records is never split)
BATCH_OF_RECORDS = "records"  # a pending row that stands for a terminal's batch of stored records
KINDS = (
    "redemption", "record_decision",
    "card_issued", "card_revoked", "card_replaced",
    "key_created", "key_retired", "key_revoked", "log_key",
    "trust_list",
    "partner", "service_rules", "agreement", "partner_regions",
    "terminal_registered", "terminal_enrolled", "terminal_state",
)


@dataclasses.dataclass(frozen=True)
class Fact:
    """One entry to append: its kind, the reference that finds it again, and its bytes."""

    kind: str
    ref: str
    data: bytes


def fact(kind: str, ref: str, at: int, **fields: Any) -> Fact:
    """The entry of a fact: ``{"at": at, "kind": kind, ...fields}`` as compact, sorted JSON."""
    if kind not in KINDS:
        raise ValueError(f"unknown log entry kind {kind!r}")
    data = json.dumps({"kind": kind, "at": at, **fields}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()
    if len(data) > MAX_ENTRY:
        raise ValueError("a log entry is at most 65,535 bytes")
    return Fact(kind, ref, data)


def append(session: Session, facts: Sequence[Fact], now: int) -> None:
    """Record ``facts`` for the log in ``session``'s transaction: they commit with the change that makes them.

    They wait in ``log_pending`` until ``integrate`` gives them their place in
    the tree: an append takes no lock, so terminals' batches never wait on
    each other for the log.
    """
    if facts:
        session.execute(insert(LogPending), [
            {"kind": item.kind, "ref": item.ref[:100], "data": item.data, "hash": leaf_hash(item.data), "at": now}
            for item in facts
        ])


def record_fact(session: Session, kind: str, ref: str, now: int, **fields: Any) -> None:
    """Record one fact made at ``now``."""
    append(session, [fact(kind, ref, now, **fields)], now)


def record_redemptions(session: Session, terminal_id: str, first: int, last: int, now: int) -> None:
    """Record the facts of a terminal's records ``first`` to ``last``, stored in this transaction.

    One pending row for the batch: integration reads the records themselves
    and makes one ``redemption`` entry of each, so ingest writes 1 row for the
    log, not 500.
    """
    data = json.dumps({"terminal": terminal_id, "first": first, "last": last}, sort_keys=True).encode()
    session.execute(insert(LogPending), [{"kind": BATCH_OF_RECORDS, "ref": terminal_id, "data": data,
                                          "hash": b"", "at": now}])


def _redemption_entries(session: Session, pending: _Pending) -> list[tuple[str, bytes]]:
    """The entries of a batch of records, in sequence: terminal, partner, sequence, chain hash, receipt time."""
    batch = json.loads(pending.data)
    rows = session.execute(
        select(RedemptionRow.seq, RedemptionRow.partner_id, RedemptionRow.hash, RedemptionRow.received_at)
        .where(RedemptionRow.terminal_id == batch["terminal"],
               RedemptionRow.seq.between(batch["first"], batch["last"]))
        .order_by(RedemptionRow.seq)).all()
    if len(rows) != batch["last"] - batch["first"] + 1:
        raise RuntimeError("a terminal's records the log awaits are missing")  # a damaged database
    terminal = batch["terminal"]
    return [(f"{terminal}#{seq}", fact("redemption", "", received_at, terminal=terminal, partner=partner_id, seq=seq,
                                       hash=digest).data) for seq, partner_id, digest, received_at in rows]


@dataclasses.dataclass(frozen=True)
class _Pending:
    id: int
    kind: str
    ref: str
    data: bytes
    hash: bytes
    at: int


def integrate(session: Session, limit: int | None = None) -> int:
    """Place pending facts, oldest first, in the tree: about ``limit`` entries (INTEGRATE_BATCH); how many.

    Locks the log's state: one integration at a time.  Facts of transactions
    still running are not visible yet and wait for the next integration.
    """
    limit = INTEGRATE_BATCH if limit is None else limit
    state = session.get_one(LogState, 1, with_for_update=True)
    columns = (LogPending.id, LogPending.kind, LogPending.ref, LogPending.data, LogPending.hash, LogPending.at)
    taken: list[int] = []
    entries: list[tuple[str, str, bytes, bytes, int]] = []  # kind, ref, data, leaf hash, at
    after = 0
    while len(entries) < limit:
        chunk = [_Pending(*row) for row in session.execute(
            select(*columns).where(LogPending.id > after).order_by(LogPending.id).limit(1000))]
        for pending in chunk:
            if len(entries) >= limit:
                break
            taken.append(pending.id)
            if pending.kind != BATCH_OF_RECORDS:
                entries.append((pending.kind, pending.ref, bytes(pending.data), bytes(pending.hash), pending.at))
                continue
            entries += [("redemption", ref, data, leaf_hash(data), pending.at)
                        for ref, data in _redemption_entries(session, pending)]
        if len(chunk) < 1000:
            break
        after = chunk[-1].id
    if not taken:
        return 0
    size = state.size
    known = _read(session, frontier(size))
    made = appended_hashes(size, [entry[3] for entry in entries], lambda level, index: known[level, index])
    _insert(session, "log_entries", ("idx", "kind", "ref", "data", "hash", "at"),
            [(size + n, *entry) for n, entry in enumerate(entries)])
    _insert(session, "log_hashes", ("level", "idx", "hash"), [row for row in made if row[0]])
    for start in range(0, len(taken), 1000):  # by id: a fact committed meanwhile is never removed unplaced
        session.execute(delete(LogPending).where(LogPending.id.in_(taken[start:start + 1000])),
                        execution_options={"synchronize_session": False})
    state.size = size + len(entries)
    return len(entries)


def _insert(session: Session, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Rows into one of the log's tables: COPY on PostgreSQL (a third of the time of inserts), else executemany."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        model = {"log_entries": LogEntry, "log_hashes": LogHash}[table]
        session.execute(insert(model), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    driver = connection.connection.driver_connection  # psycopg, in this same transaction
    names = ", ".join(columns)
    with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row(row)


def integrate_all(home: IssuerHome) -> int:
    """Integrate every pending fact, about INTEGRATE_BATCH entries per transaction; how many were placed."""
    placed = 0
    while True:
        with home.transaction() as session:
            count = integrate(session)
        placed += count
        if count == 0:
            return placed


def _read(session: Session, wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored hashes at (level, index) ``wanted``, in one query per kind of row."""
    wanted = set(wanted)
    leaves = sorted(index for level, index in wanted if level == 0)
    upper = [(level, index) for level, index in wanted if level]
    found: dict[tuple[int, int], bytes] = {}
    for start in range(0, len(leaves), 1000):
        chunk = leaves[start:start + 1000]
        found |= {(0, idx): value for idx, value in session.execute(
            select(LogEntry.idx, LogEntry.hash).where(LogEntry.idx.in_(chunk)))}
    by_level: dict[int, list[int]] = {}
    for level, index in upper:
        by_level.setdefault(level, []).append(index)
    for level, indexes in by_level.items():
        for start in range(0, len(indexes), 1000):
            chunk = indexes[start:start + 1000]
            found |= {(level, idx): value for idx, value in session.execute(
                select(LogHash.idx, LogHash.hash).where(LogHash.level == level, LogHash.idx.in_(chunk)))}
    if len(found) != len(wanted):
        raise RuntimeError("the log's stored hashes are incomplete")  # a damaged database, never bad input
    return found


def _prefetched(session: Session, compute: Any) -> Any:
    """Run ``compute(range_hash)`` twice: once to learn which stored hashes it reads, then on them."""
    asked: set[tuple[int, int]] = set()

    def recording(level: int, index: int) -> bytes:
        asked.add((level, index))
        return EMPTY_ROOT

    compute(stored_range_hash(recording))
    known = _read(session, asked)
    return compute(stored_range_hash(lambda level, index: known[level, index]))


# --- reading the tree -----------------------------------------------------------------------


def size_of(session: Session) -> int:
    return session.get_one(LogState, 1).size


def root(session: Session, size: int) -> bytes:
    """The tree head of the log's first ``size`` entries."""
    _within(session, size)
    if size == 0:
        return EMPTY_ROOT
    result: bytes = _prefetched(session, lambda hash_range: hash_range(0, size))
    return result


def inclusion(session: Session, index: int, size: int) -> list[bytes]:
    """The inclusion proof of entry ``index`` in the tree of ``size`` (RFC 6962 PATH)."""
    _within(session, size)
    if not 0 <= index < size:
        raise Invalid(f"entry {index} is not in a tree of {size} entries")
    result: list[bytes] = _prefetched(session, lambda hash_range: prove_inclusion(hash_range, index, size))
    return result


def consistency(session: Session, old_size: int, size: int) -> list[bytes]:
    """The consistency proof from the tree of ``old_size`` to the tree of ``size`` (RFC 6962 PROOF)."""
    _within(session, size)
    if not 0 <= old_size <= size:
        raise Invalid(f"a tree of {old_size} entries is not a prefix of one of {size}")
    result: list[bytes] = _prefetched(session, lambda hash_range: prove_consistency(hash_range, old_size, size))
    return result


def _within(session: Session, size: int) -> None:
    current = size_of(session)
    if not 0 <= size <= current:
        raise NotFound(f"the log holds {current} entries, not {size}")


def entry_index(session: Session, kind: str, ref: str) -> int:
    """The index of the entry of fact ``kind`` ``ref`` (the latest, if a fact was logged again)."""
    index = session.scalar(select(LogEntry.idx).where(LogEntry.kind == kind, LogEntry.ref == ref)
                           .order_by(LogEntry.idx.desc()).limit(1))
    if index is None:
        raise NotFound(f"the log holds no {kind} entry for {ref}")
    return index


def entry(session: Session, index: int) -> bytes:
    data = session.scalar(select(LogEntry.data).where(LogEntry.idx == index))
    if data is None:
        raise NotFound(f"the log holds no entry {index}")
    return data


def tile(session: Session, wanted: Tile) -> bytes:
    """A C2SP tile or entry bundle of the current tree (partial tiles of exactly the current width only)."""
    fits(wanted, size_of(session))
    first = wanted.start
    if wanted.level is None:
        rows = session.scalars(select(LogEntry.data).where(LogEntry.idx.between(first, first + wanted.width - 1))
                               .order_by(LogEntry.idx)).all()
        return bundle(rows)
    if wanted.level == 0:
        query = (select(LogEntry.hash).where(LogEntry.idx.between(first, first + wanted.width - 1))
                 .order_by(LogEntry.idx))
    else:
        query = (select(LogHash.hash).where(LogHash.level == wanted.height,
                                            LogHash.idx.between(first, first + wanted.width - 1))
                 .order_by(LogHash.idx))
    return join_hashes(session.scalars(query).all())


# --- the log's key and checkpoints ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LogKey:
    origin: str
    verifier_key: str


def init_log(home: IssuerHome, unlock: KeyUnlock, origin: str, now: int, *, by: Actor) -> LogKey:
    """Create the log's checkpoint key, named after ``origin`` (e.g. ``kia.surakarta.go.id/log``)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not origin or len(origin) > 200 or any(c.isspace() or c == "+" for c in origin):
        raise Invalid("the log's origin is one word of at most 200 characters without '+', "
                      "e.g. kia.surakarta.go.id/log")
    with home.transaction() as session:
        state = session.get_one(LogState, 1, with_for_update=True)
        if state.origin is not None:
            raise Refused(f"the log is already set up as {state.origin}; its key never changes")
        private = Ed25519PrivateKey.generate()
        state.key_file = unlock.write(home, LOG_KEY_FILE, private)
        state.origin = origin
        verifier_key = NoteKey(origin, private.public_key()).verifier_key()
        state.verifier_key = verifier_key
        record_fact(session, "log_key", origin, now, origin=origin, verifier_key=verifier_key)
        audit(session, by, "log_init", origin, now)
        return LogKey(origin, verifier_key)


def log_key(home: IssuerHome) -> LogKey:
    with home.transaction() as session:
        state = session.get_one(LogState, 1)
        if state.origin is None or state.verifier_key is None:
            raise NotFound("the log has no key yet: run 'kia issuer log init --origin NAME'")
        return LogKey(state.origin, state.verifier_key)


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    size: int
    root: bytes
    note: str
    signed_at: int
    cosignatures: int


def sign(home: IssuerHome, unlock: KeyUnlock, now: int) -> Checkpoint:
    """Place the pending facts in the tree and sign a checkpoint of it (the latest again, if nothing was new)."""
    integrate_all(home)
    with home.transaction() as session:
        state = session.get_one(LogState, 1, with_for_update=True)  # two signers: the second finds the first's
        if state.origin is None or state.key_file is None:
            raise Refused("the log has no key yet: run 'kia issuer log init --origin NAME'")
        latest = session.scalar(select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1))
        if latest is not None and latest.size == state.size:
            return _checkpoint(latest)
        head = TreeHead(state.origin, state.size, root(session, state.size))
        note = sign_checkpoint(head, state.origin, unlock.read(home, state.key_file))
        row = LogCheckpoint(size=head.size, root=head.root, note=note, signed_at=now, cosignatures=0)
        session.add(row)
        return _checkpoint(row)


def latest_checkpoint(home: IssuerHome) -> Checkpoint | None:
    with home.transaction() as session:
        row = session.scalar(select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1))
        return None if row is None else _checkpoint(row)


def _checkpoint(row: LogCheckpoint) -> Checkpoint:
    return Checkpoint(row.size, row.root, row.note, row.signed_at, row.cosignatures)

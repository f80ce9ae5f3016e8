"""The office's transparency log: every fact it accepts, in a Merkle tree anyone can check.

Each fact (a terminal's record with its chain hash, a card issued, revoked or
replaced, a key created, retired or revoked, a trust list published, a
partner's, rule's or terminal's change, an auditor's decision on a held
record) becomes one entry: a JSON object with sorted keys and no spaces,
appended in the transaction that makes the fact, so a fact and its entry
commit together or not at all.  The tree is RFC 6962's (keys/tlog.py); the
office stores each entry's leaf hash and the heads of complete subtrees above
them, so heads, proofs and C2SP tiles are reads, not recomputation.

The log is public, so an entry holds no child's data and nothing that follows
a child from place to place: a redemption's entry is its terminal, partner,
sequence and chain hash (which commits to the record: auditors get the
records in the export and check them against it), a card's entry its serial,
key and token hash, never its expiry (which follows the child's birthday).

Appends lock ``log_state`` and take turns: the log is one sequence.  The
checkpoint (``sign``) is a C2SP signed note by the log's own key, which
``init_log`` creates; witnesses cosign it (issuer/witnessing.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from keys.tiles import WIDTH, Tile, bundle, fits, join_hashes
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
from .storage.models import LogCheckpoint, LogEntry, LogHash, LogState
from .storage.store import IssuerHome

if TYPE_CHECKING:  # issuing_keys appends to the log
    from .issuing_keys import KeyUnlock

LOG_KEY_FILE = "log.key"
MAX_ENTRY = 0xFFFF  # a C2SP entry bundle's uint16 length prefix
KINDS = (
    "redemption", "record_decision",
    "card_issued", "card_revoked", "card_replaced",
    "key_created", "key_retired", "key_revoked", "log_key",
    "trust_list",
    "partner", "service_rules",
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


def append(session: Session, facts: Sequence[Fact], now: int) -> int:
    """Append ``facts`` to the log in ``session``'s transaction; the index of the first.

    Locks the log's state row until the transaction ends: appends take turns.
    """
    state = session.get_one(LogState, 1, with_for_update=True)
    size = state.size
    if not facts:
        return size
    leaves = [leaf_hash(item.data) for item in facts]
    needed = frontier(size)
    known = _read(session, needed)
    made = appended_hashes(size, leaves, lambda level, index: known[level, index])
    session.execute(insert(LogEntry), [
        {"idx": size + n, "kind": item.kind, "ref": item.ref[:100], "data": item.data, "hash": leaf, "at": now}
        for n, (item, leaf) in enumerate(zip(facts, leaves, strict=True))
    ])
    upper = [{"level": level, "idx": index, "hash": value} for level, index, value in made if level]
    if upper:
        session.execute(insert(LogHash), upper)
    state.size = size + len(facts)
    return size


def record_fact(session: Session, kind: str, ref: str, now: int, **fields: Any) -> None:
    """Append one fact made at ``now``."""
    append(session, [fact(kind, ref, now, **fields)], now)


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
    """Sign a checkpoint of the log as it is now (or return the latest, if the log has not grown)."""
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


def tiles_needed(size: int) -> int:
    """How many level-0 tiles a tree of ``size`` spans (for progress bars)."""
    return -(-size // WIDTH)


def sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()

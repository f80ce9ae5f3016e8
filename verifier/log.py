"""The terminal's durable redemption log (DESIGN section 7).

One SQLite file in WAL mode with ``synchronous=FULL``: every decision is one
record, committed in its own transaction before ``append`` returns, so a
decision shown to staff survives a power cut.  Records carry the terminal's
sequence number and the hash chain of keys.chain; the log keeps every record
the office has not acknowledged, and prunes acknowledged ones after a
retention period while keeping the *base* (the sequence and hash just before
the first kept record), so the kept records still verify.

At open the file is checked (``PRAGMA integrity_check``: unlike
quick_check it also proves the indexes match the records, and the daily
limit reads an index) and the chain is recomputed from the base, on a
read-only connection.  A damaged file is never repaired or deleted: it
is renamed aside with its ``-wal`` and ``-shm`` and ``LogCorrupt`` says
where.  A commit that fails (disk full, I/O error, read-only) raises
``LogUnavailable`` and leaves the log as it was: the scan must be refused.
A log of an earlier schema is checked as it is, then upgraded in place in
one transaction (version 1 to 2: the records' ``home``); a log of a newer
schema is refused and left as it is.

One connection serves every thread, behind a lock: a terminal makes a few
scans a second, and a single connection keeps the head, the chain and the
acknowledged sequence consistent without cross-connection locking.
``decide_and_append`` holds the lock from the history lookup to the commit,
so two scans of one card at once cannot both pass a daily limit.

Records hold no child's data: the serial, the age category and money.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from hashlib import sha256
from json.encoder import encode_basestring_ascii as _json_string
from pathlib import Path
from typing import Any

from keys import durable
from keys.chain import Redemption, chain_hash

from .decision import Decision, History, HistoryLookup
from .errors import SetupError

SCHEMA_VERSION = 2
# Daily limits and anti-passback read the log: never prune what they may need.
MIN_RETENTION_SECONDS = 2 * 86400
# A scan waits this long for another process's brief write lock, then is refused.
BUSY_TIMEOUT_MS = 2000
_PAGE_SIZE = 4096

_SCHEMA = """
CREATE TABLE records (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    serial TEXT,
    accepted INTEGER NOT NULL CHECK (accepted IN (0, 1)),
    reason TEXT NOT NULL,
    service TEXT NOT NULL,
    category TEXT,
    price INTEGER NOT NULL,
    discount INTEGER NOT NULL,
    paid INTEGER NOT NULL,
    flags TEXT NOT NULL,
    home INTEGER,
    hash BLOB NOT NULL CHECK (length(hash) = 32)
);
-- History of a card at a service: daily limit and anti-passback, on every scan.
CREATE INDEX records_card ON records (serial, service, at) WHERE accepted = 1;
-- Today's totals on the staff screen.
CREATE INDEX records_at ON records (at);
-- The chain's base and the office's acknowledgement: exactly one row.
CREATE TABLE chain_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    base_seq INTEGER NOT NULL,
    base_hash BLOB NOT NULL CHECK (length(base_hash) = 32),
    acknowledged INTEGER NOT NULL
);
INSERT INTO chain_state VALUES (1, 0, zeroblob(32), 0);
CREATE TABLE checkpoints (seq INTEGER PRIMARY KEY, token TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_V1_COLUMNS = "seq, at, serial, accepted, reason, service, category, price, discount, paid, flags"
# A record's columns, in keys.chain.Redemption's order.
_COLUMNS = f"{_V1_COLUMNS}, home"
_INSERT = f"INSERT INTO records ({_COLUMNS}, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
# What a log of each schema version known is read by, before it is upgraded: version 1 had no home.
_COLUMNS_AT = {1: f"{_V1_COLUMNS}, NULL", SCHEMA_VERSION: _COLUMNS}
# Version 1 to 2, in the transaction that sets user_version: nullable, so every record kept reads as before.
_UPGRADE_FROM_1 = "ALTER TABLE records ADD COLUMN home INTEGER"
_HISTORY = (
    "SELECT count(*) FILTER (WHERE at >= ? AND at < ?), max(at) FROM records"
    " WHERE serial = ? AND service = ? AND accepted = 1"
)
# Flags are printable words (Redemption.from_json), so this never occurs in one.
_FLAG_SEPARATOR = "\x1f"
_SCAN_ADVICE = "give no discount, free space on the terminal or fix its storage, then scan again"
_WRITE_ADVICE = "free space on the terminal or fix its storage"
_OPEN_ADVICE = "fix the terminal's storage, then start it again"
# SQLite's primary result codes (the low byte of an extended code) and what they mean.
_PRIMARY_CODES = {3: "SQLITE_PERM", 5: "SQLITE_BUSY", 8: "SQLITE_READONLY", 10: "SQLITE_IOERR",
                  11: "SQLITE_CORRUPT", 13: "SQLITE_FULL", 14: "SQLITE_CANTOPEN", 26: "SQLITE_NOTADB"}
_CORRUPTION_CODES = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})
_FAILURE_WORDS = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR": "the disk reports an I/O error",
    "SQLITE_READONLY": "the log is read-only",
    "SQLITE_BUSY": "another program holds the log",
    "SQLITE_CANTOPEN": "the log file cannot be opened",
    "SQLITE_PERM": "the log file may not be written",
    "SQLITE_CORRUPT": "the log file is damaged (restart the terminal to have it checked)",
}


class LogError(SetupError):
    """The terminal's log cannot be used as asked."""


class LogCorrupt(LogError):
    """The log file is damaged; at open it is renamed aside (``kept_aside``), never repaired or deleted."""

    def __init__(self, message: str, kept_aside: Path | None = None, details: str = "") -> None:
        self.kept_aside = kept_aside
        self.details = details  # what SQLite or the chain check found, for operators
        super().__init__(message)


class LogUnavailable(LogError):
    """A change could not be committed: refuse the scan, never show it accepted."""

    def __init__(self, message: str, cause: str | None = None) -> None:
        self.cause = cause  # SQLite's error name, for operators
        super().__init__(message)


class RecordNotKept(LogError):
    """The record was pruned (or never written): its hash is not in the log."""


class AcknowledgedBeyondHead(LogError):
    """The office acknowledges records this log never wrote: the log was replaced."""


@dataclasses.dataclass(frozen=True)
class DaySummary:
    """The staff screen's totals for one local day, in rupiah."""

    day: dt.date
    scans: int
    accepted: int
    rejected: int
    price: int
    discount: int
    paid: int


class TerminalLog:
    """The log of one terminal; thread-safe.  Open it with ``TerminalLog.open``."""

    def __init__(self, connection: sqlite3.Connection, path: Path, zone: dt.tzinfo) -> None:
        self._db = connection
        self.path = path
        self.zone = zone
        self._lock = threading.RLock()
        self._day: tuple[int, int, dt.date] = (0, 0, dt.date.min)  # the last local day computed

    # --- opening -----------------------------------------------------------

    @classmethod
    def open(cls, path: Path, zone: dt.tzinfo, *, max_bytes: int | None = None) -> TerminalLog:
        """Open the log at ``path``, creating it if missing, and check it.

        ``zone`` is the terminal's local time zone, for "today".
        ``max_bytes`` caps the file (a small flash card, or a test's full
        disk): past it, appends raise LogUnavailable like a full disk.
        A log of an earlier schema version is upgraded once it has been
        checked.  Raises LogCorrupt (the file was renamed aside) when the file
        is not a log, fails SQLite's check or breaks the chain;
        LogUnavailable when it cannot be opened (or upgraded) at all;
        LogError when a newer program wrote it.
        """
        path = Path(path)
        if not path.exists():
            _create(path)
        elif path.stat().st_size == 0:
            # A log is created whole (see _create): an empty file was truncated.
            raise _set_aside(path, "is empty (truncated)")
        cls._check_file(path, zone)
        try:
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise _unavailable("cannot be opened", error, _OPEN_ADVICE) from None
        try:
            log = cls(connection, path, zone)
            log._configure(max_bytes)
            log._upgrade()
        except sqlite3.Error as error:
            connection.close()
            raise _unavailable("cannot be opened", error, _OPEN_ADVICE) from None
        return log

    @classmethod
    def _check_file(cls, path: Path, zone: dt.tzinfo) -> None:
        """Check the file on a read-only connection; set it aside if damaged.

        Read-only, because closing a writable connection checkpoints the
        -wal into the file and deletes it: a damaged file must be kept
        exactly as it was found.
        """
        try:
            connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        except sqlite3.Error as error:
            raise _unavailable("cannot be opened", error, _OPEN_ADVICE) from None
        try:
            try:
                cls(connection, path, zone)._check()
            finally:
                connection.close()  # before the file is renamed aside
        except LogCorrupt as corrupt:
            raise _set_aside(path, str(corrupt), corrupt.details) from None
        except sqlite3.DatabaseError as error:
            if _error_name(error) in _CORRUPTION_CODES:
                raise _set_aside(path, "is not a readable SQLite database", str(error)) from None
            raise _unavailable("cannot be opened", error, _OPEN_ADVICE) from None

    def _configure(self, max_bytes: int | None) -> None:
        db = self._db
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            raise sqlite3.OperationalError("the log cannot use write-ahead logging")
        db.execute("PRAGMA synchronous = FULL")
        if max_bytes is not None:
            db.execute(f"PRAGMA max_page_count = {max(1, int(max_bytes) // _PAGE_SIZE)}")

    def _upgrade(self) -> None:
        """Bring a log of an earlier schema version (already checked) to SCHEMA_VERSION, in one transaction."""
        db = self._db
        if db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        with db:  # commits, or rolls back on an error
            db.execute("BEGIN IMMEDIATE")
            # Read again under the write lock: another process may have upgraded it meanwhile.
            if db.execute("PRAGMA user_version").fetchone()[0] == 1:
                db.execute(_UPGRADE_FROM_1)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check(self) -> None:
        """SQLite's own check, the schema, then the chain; raises LogCorrupt or LogError."""
        problems = [row[0] for row in self._db.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise LogCorrupt("fails SQLite's integrity check", details=" / ".join(" ".join(problems).split()))
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise LogError(
                f"the log {self.path.name} was written by a newer version of this software; update the terminal"
            )
        if version not in _COLUMNS_AT:
            raise LogCorrupt("is not a terminal log")
        self._verify_chain_unlocked(_COLUMNS_AT[version])

    # --- writing -----------------------------------------------------------

    def append(self, decision: Decision, at: int) -> Redemption:
        """Record ``decision`` made at ``at`` as the next record; durable on return.

        Raises LogUnavailable when the commit fails (nothing is written), and
        keys.chain.InvalidRecord when the decision cannot make a record the
        office would accept (it would block every later record's sync).
        """
        with self._lock:
            return self._append(decision, at)

    def decide_and_append(self, make: Callable[[HistoryLookup], Decision], at: int) -> tuple[Decision, Redemption]:
        """Decide with this log's history and record the decision, as one step.

        ``make`` is usually ``lambda history: decide(payload, trust, service,
        history, now, clock)``.  The lock is held from the lookup to the
        commit, so two readers scanning one card together cannot both pass
        its daily limit.  Raises as ``append``.
        """
        with self._lock:
            decision = make(self.history)
            return decision, self._append(decision, at)

    def _append(self, decision: Decision, at: int) -> Redemption:
        with self._write(scan=True) as db:
            seq, previous = self._head(db)
            record = decision.record(seq + 1, at)
            Redemption.from_json(record.to_json())  # raises InvalidRecord before anything is written
            db.execute(_INSERT, _row(record) + (chain_hash(previous, record),))
        return record

    def acknowledge(self, seq: int) -> None:
        """The office holds every record up to ``seq``; never goes backwards.

        Raises AcknowledgedBeyondHead when ``seq`` is past the last record:
        the office has records this log never wrote (a restored or replaced
        log), which the office must look into before anything is pruned.
        """
        with self._lock, self._write() as db:
            head, _ = self._head(db)
            if seq > head:
                raise AcknowledgedBeyondHead(
                    f"the office acknowledges sequence {seq} but this log ends at {head}; contact the office"
                )
            db.execute("UPDATE chain_state SET acknowledged = max(acknowledged, ?)", (seq,))

    def store_checkpoint(self, seq: int, token: str, at: int) -> None:
        """Keep a signed checkpoint token (keys.chain.sign_checkpoint) for auditors."""
        with self._lock, self._write() as db:
            db.execute("INSERT OR REPLACE INTO checkpoints (seq, token, at) VALUES (?, ?, ?)", (seq, token, at))

    def set_meta(self, name: str, value: str) -> None:
        """Keep a small value (last_server_time, clock_offset, ...) durably."""
        with self._lock, self._write() as db:
            db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    def prune(self, now: int, retention_seconds: int) -> int:
        """Delete acknowledged records older than the retention; returns how many.

        Only a prefix of the kept records goes (records' times need not
        increase when a clock is corrected), and never the head record: the
        base moves to the last record deleted, so the rest still verifies.
        Raises ValueError for a retention shorter than MIN_RETENTION_SECONDS.
        """
        if retention_seconds < MIN_RETENTION_SECONDS:
            raise ValueError(f"keep records at least {MIN_RETENTION_SECONDS} seconds: daily limits read them")
        with self._lock, self._write() as db:
            base, _, acknowledged = self._state(db)
            head, _ = self._head(db)
            (blocker,) = db.execute(
                "SELECT min(seq) FROM records WHERE seq > ? AND (at >= ? OR seq > ?)",
                (base, now - retention_seconds, acknowledged),
            ).fetchone()
            last = min(head - 1, acknowledged, head if blocker is None else blocker - 1)
            if last <= base:
                return 0
            (new_base_hash,) = db.execute("SELECT hash FROM records WHERE seq = ?", (last,)).fetchone()
            db.execute("DELETE FROM records WHERE seq <= ?", (last,))
            db.execute("UPDATE chain_state SET base_seq = ?, base_hash = ?", (last, new_base_hash))
            db.execute("DELETE FROM checkpoints WHERE seq < ?", (last,))
            return last - base

    @contextlib.contextmanager
    def _write(self, *, scan: bool = False) -> Iterator[sqlite3.Connection]:
        """One immediate transaction, committed durably, or rolled back and LogUnavailable."""
        what, advice = ("cannot record the scan", _SCAN_ADVICE) if scan else ("cannot save a change", _WRITE_ADVICE)
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException as error:
            with contextlib.suppress(sqlite3.Error):
                if db.in_transaction:
                    db.execute("ROLLBACK")
            if isinstance(error, sqlite3.Error):
                raise _unavailable(what, error, advice) from None
            raise

    # --- reading -----------------------------------------------------------

    def history(self, serial: str, service: str, now: int) -> History:
        """Accepted scans of ``serial`` at ``service`` on the local day of ``now``, and the last one."""
        start, end, _ = self._day_bounds(now)
        with self._read():
            count, last = self._db.execute(_HISTORY, (start, end, serial, service)).fetchone()
        return History(count, last)

    def head(self) -> tuple[int, bytes]:
        """(seq, hash) of the last record; (0, GENESIS) when nothing was ever logged."""
        with self._read():
            return self._head(self._db)

    def hash_at(self, seq: int) -> bytes:
        """The chain hash after record ``seq``: a kept record's, or the base's.

        Raises RecordNotKept for a pruned or unwritten sequence.
        """
        with self._read():
            base, base_hash, _ = self._state(self._db)
            if seq == base:
                return base_hash
            row = self._db.execute("SELECT hash FROM records WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            raise RecordNotKept(f"record {seq} is not in the log (kept: after {base})")
        return bytes(row[0])

    def pending(self, limit: int = 500) -> list[Redemption]:
        """Up to ``limit`` records after the acknowledged sequence, ascending."""
        with self._read():
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM records WHERE seq > (SELECT acknowledged FROM chain_state)"  # noqa: S608
                " ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [_record(row) for row in rows]

    def acknowledged(self) -> int:
        with self._read():
            return self._state(self._db)[2]

    def recent(self, limit: int = 20) -> list[Redemption]:
        """The last ``limit`` records, newest first."""
        with self._read():
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM records ORDER BY seq DESC LIMIT ?", (limit,)  # noqa: S608
            ).fetchall()
        return [_record(row) for row in rows]

    def today(self, now: int) -> DaySummary:
        """Scans and money of the terminal's local day of ``now``."""
        start, end, day = self._day_bounds(now)
        with self._read():
            scans, accepted, price, discount, paid = self._db.execute(
                "SELECT count(*), coalesce(sum(accepted), 0), coalesce(sum(price), 0),"
                " coalesce(sum(discount), 0), coalesce(sum(paid), 0) FROM records WHERE at >= ? AND at < ?",
                (start, end),
            ).fetchone()
        return DaySummary(day, scans, accepted, scans - accepted, price, discount, paid)

    def checkpoints(self) -> list[tuple[int, str, int]]:
        """The kept checkpoints as (seq, token, at), ascending."""
        with self._read():
            return [tuple(row) for row in self._db.execute("SELECT seq, token, at FROM checkpoints ORDER BY seq")]

    def get_meta(self, name: str) -> str | None:
        with self._read():
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def verify_chain(self) -> None:
        """Recompute the chain from the base; raises LogCorrupt at the first broken record."""
        try:
            with self._read():
                self._verify_chain_unlocked()
        except LogCorrupt as corrupt:
            raise LogCorrupt(f"the terminal's log {self.path.name} {corrupt}; contact the office",
                             details=corrupt.details) from None

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; a failing read is LogUnavailable, like a failing write."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as error:
                raise _unavailable("cannot be read", error, _WRITE_ADVICE) from None

    def _verify_chain_unlocked(self, columns: str = _COLUMNS) -> None:
        base, previous, acknowledged = self._state(self._db)
        expected = base + 1
        rows = self._db.execute(f"SELECT {columns}, hash FROM records ORDER BY seq")  # noqa: S608
        for row in rows:
            if row[0] != expected:
                raise LogCorrupt(f"has a gap in its records at sequence {expected}")
            previous = sha256(previous + _canonical(row)).digest()
            if previous != row[-1]:
                raise LogCorrupt(f"breaks its hash chain at sequence {expected}")
            expected += 1
        if acknowledged > expected - 1:
            raise LogCorrupt(f"says the office acknowledged {acknowledged} but ends at {expected - 1}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> TerminalLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- helpers -----------------------------------------------------------

    @staticmethod
    def _state(db: sqlite3.Connection) -> tuple[int, bytes, int]:
        base, base_hash, acknowledged = db.execute(
            "SELECT base_seq, base_hash, acknowledged FROM chain_state"
        ).fetchone()
        return base, bytes(base_hash), acknowledged

    def _head(self, db: sqlite3.Connection) -> tuple[int, bytes]:
        # Read inside the caller's transaction: right even if another process appended.
        row = db.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        if row is not None:
            return row[0], bytes(row[1])
        base, base_hash, _ = self._state(db)
        return base, base_hash

    def _day_bounds(self, now: int) -> tuple[int, int, dt.date]:
        """[start, end) of the local day of ``now``, and the day; cached, as scans come in the same day."""
        bounds = self._day
        if not bounds[0] <= now < bounds[1]:
            day = dt.datetime.fromtimestamp(now, self.zone).date()
            start = int(dt.datetime.combine(day, dt.time(0), self.zone).timestamp())
            end = int(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), self.zone).timestamp())
            bounds = self._day = (start, end, day)
        return bounds


def _row(record: Redemption) -> tuple[Any, ...]:
    return (
        record.seq, record.at, record.serial, int(record.accepted), record.reason, record.service,
        record.category, record.price, record.discount, record.paid, _FLAG_SEPARATOR.join(record.flags), record.home,
    )


# Redemption.canonical() for a row of the log, without building the record:
# the chain of 100,000 kept records is checked at every start, and json.dumps
# of a dict took 60% of it.  The same bytes: sorted keys, no spaces, strings
# by json's own ASCII encoder; a value of any unexpected type (a tampered
# file) goes through the reference, so the chain decides, never this shortcut.
# A record with ``home`` (another office's card, a few a day) goes through the reference too.
_CANONICAL_FORM = (
    '{"accepted":%s,"at":%d,"category":%s,"discount":%d,"flags":[%s],"paid":%d,"price":%d,'
    '"reason":%s,"seq":%d,"serial":%s,"service":%s}'
)


def _canonical(row: tuple[Any, ...]) -> bytes:
    seq, at, serial, accepted, reason, service, category, price, discount, paid, flags, home = row[:12]
    if home is not None:
        return _reference_canonical(row)
    try:
        if not (type(seq) is type(at) is type(price) is type(discount) is type(paid) is type(accepted) is int
                and accepted in (0, 1) and type(reason) is type(service) is type(flags) is str):
            raise TypeError
        text = _CANONICAL_FORM % (
            "true" if accepted else "false", at, _json_text(category), discount,
            ",".join(map(_json_string, flags.split(_FLAG_SEPARATOR))) if flags else "", paid, price,
            _json_string(reason), seq, _json_text(serial), _json_string(service),
        )
    except TypeError:
        return _reference_canonical(row)
    return text.encode("ascii")


def _reference_canonical(row: tuple[Any, ...]) -> bytes:
    try:
        return _record(row[:12]).canonical()
    except (TypeError, ValueError):  # bytes or NaN where no record has them
        return b""  # hashes to nothing a genuine record does


def _json_text(value: object) -> str:
    if value is None:
        return "null"
    if type(value) is not str:
        raise TypeError
    return _json_string(value)


def _record(row: tuple[Any, ...]) -> Redemption:
    seq, at, serial, accepted, reason, service, category, price, discount, paid, flags, home = row
    if type(accepted) is int and accepted in (0, 1):  # anything else is left as found, for the chain to refuse
        accepted = bool(accepted)
    if type(flags) is str:
        flags = tuple(flags.split(_FLAG_SEPARATOR)) if flags else ()
    return Redemption(seq, at, serial, accepted, reason, service, category, price, discount, paid, flags, home)


def _create(path: Path) -> None:
    """Create an empty log whole: built beside ``path``, then linked into place.

    So a file at ``path`` is always a complete log, and an empty one can only
    be a truncated log.  Losing a race with another process is fine.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(f"{path.name}.new-{os.getpid()}")
    building.unlink(missing_ok=True)
    # Serials and visit times: owner-only.  SQLite gives its -wal and -shm the file's mode.
    os.close(os.open(building, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    connection = sqlite3.connect(building, isolation_level=None)
    try:
        connection.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
    finally:
        connection.close()  # the last connection checkpoints and removes the -wal
    _fsync(building)
    with contextlib.suppress(FileExistsError):
        os.link(building, path)
    building.unlink()
    durable.sync_folder(path.parent)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _set_aside(path: Path, problem: str, details: str = "") -> LogCorrupt:
    """Rename the damaged log and its -wal and -shm aside; the error names where."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")  # an I/O edge: a name for people, not a decision
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    number = 1
    while aside.exists():
        number += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{number}")
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            source.rename(aside.with_name(aside.name + suffix))
    return LogCorrupt(
        f"the terminal's log {path.name} {problem}; it was moved aside to {aside.name} (with any -wal and -shm): "
        "keep those files for the office and contact it before scanning again",
        aside,
        details or problem,
    )


def _error_name(error: sqlite3.Error) -> str:
    """SQLite's primary result code name (SQLITE_FULL, SQLITE_IOERR, ...)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return "SQLITE_ERROR"
    return _PRIMARY_CODES.get(code & 0xFF, getattr(error, "sqlite_errorname", "SQLITE_ERROR"))


def _unavailable(what: str, error: sqlite3.Error, advice: str) -> LogUnavailable:
    cause = _error_name(error)
    why = _FAILURE_WORDS.get(cause, f"SQLite refused it ({cause})")
    return LogUnavailable(f"the terminal's log {what}: {why}; {advice}", cause)

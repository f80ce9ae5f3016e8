"""A log written before records had ``home`` (schema version 1) opens upgraded in place, its chain unchanged."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from keys.chain import GENESIS, Redemption, chain_hash, chain_hashes
from tests.factories import BALANGAN, NOW, SERIAL
from tests.integration.verifier.records import SERVICE, decision, open_log
from verifier.log import SCHEMA_VERSION, LogCorrupt

# verifier/log.py's schema at version 1, as terminals in the field wrote it.
VERSION_1_SCHEMA = """
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
    hash BLOB NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX records_card ON records (serial, service, at) WHERE accepted = 1;
CREATE INDEX records_at ON records (at);
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
KEPT = [
    Redemption(1, NOW, SERIAL, True, "accepted", SERVICE, "5-12", 35_000, 11_550, 23_450, ("stale",)),
    Redemption(2, NOW + 60, None, False, "malformed", SERVICE, None, 0, 0, 0),
]


def write_version_1_log(path: Path, records: list[Redemption]) -> list[bytes]:
    """A version-1 log holding ``records``, as the program before ``home`` wrote it; their chain hashes."""
    hashes = chain_hashes(GENESIS, records)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.executescript(f"BEGIN; {VERSION_1_SCHEMA} PRAGMA user_version = 1; COMMIT;")
        db.executemany(
            "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(r.seq, r.at, r.serial, int(r.accepted), r.reason, r.service, r.category, r.price, r.discount, r.paid,
              "\x1f".join(r.flags), digest) for r, digest in zip(records, hashes, strict=True)],
        )
    return hashes


def read(path: Path, query: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(query).fetchall()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "log.db"


def test_a_version_1_log_is_upgraded_in_place_with_its_records_and_hashes_unchanged(path: Path) -> None:
    hashes = write_version_1_log(path, KEPT)

    with open_log(path) as log:
        assert sorted(log.recent(), key=lambda record: record.seq) == KEPT
        assert [log.hash_at(1), log.hash_at(2)] == hashes and log.head() == (2, hashes[-1])
        assert log.pending() == KEPT  # sent as before: no home member

    assert read(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)] == [(2,)]
    assert read(path, "SELECT seq, home, hash FROM records ORDER BY seq") == [(1, None, hashes[0]),
                                                                              (2, None, hashes[1])]


def test_an_upgraded_log_continues_its_chain_with_a_home(path: Path) -> None:
    hashes = write_version_1_log(path, KEPT)

    with open_log(path) as log:
        record = log.append(decision(home=BALANGAN), NOW + 120)
    with open_log(path) as log:  # opened again: checked from the file, not upgraded twice
        assert log.head() == (3, chain_hash(hashes[-1], record))
        assert log.pending()[-1].to_json()["home"] == BALANGAN

    assert read(path, "SELECT home FROM records ORDER BY seq") == [(None,), (None,), (BALANGAN,)]


def test_a_damaged_version_1_log_is_set_aside_as_found_not_upgraded(path: Path) -> None:
    write_version_1_log(path, KEPT)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE records SET paid = 0, discount = price WHERE seq = 1")

    with pytest.raises(LogCorrupt, match="breaks its hash chain at sequence 1") as raised:
        open_log(path)

    kept = raised.value.kept_aside
    assert kept is not None and read(kept, "PRAGMA user_version") == [(1,)]
    assert "home" not in [column for _, column, *_ in read(kept, "PRAGMA table_info(records)")]

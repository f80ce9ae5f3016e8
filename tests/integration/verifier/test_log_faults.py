"""verifier.log when storage fails: a full disk refuses scans, a damaged file is set aside."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.factories import NOW
from tests.integration.verifier.records import ACCEPTED, REJECTED, fill, open_log
from verifier.log import LogCorrupt, LogError, LogUnavailable, TerminalLog

SMALL = 64 * 1024  # bytes: room for a couple of hundred records


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "log.db"


def count_rows(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT count(*) FROM records").fetchone()[0])


def fill_until_full(log: TerminalLog) -> LogUnavailable:
    for index in range(100_000):
        try:
            log.append(ACCEPTED if index % 2 else REJECTED, NOW + index)
        except LogUnavailable as full:
            return full
    raise AssertionError("the log never filled up")


def aside_files(path: Path) -> list[str]:
    return sorted(item.name for item in path.parent.iterdir() if ".corrupt-" in item.name)


# --- a full disk ------------------------------------------------------------------------------


def test_a_full_disk_refuses_the_scan_with_a_clear_message_and_writes_nothing(path: Path) -> None:
    log = open_log(path, max_bytes=SMALL)
    full = fill_until_full(log)
    head = log.head()

    assert full.cause == "SQLITE_FULL"
    assert str(full).startswith("the terminal's log cannot record the scan: the disk is full; give no discount")
    assert "\n" not in str(full)
    with pytest.raises(LogUnavailable):
        log.append(ACCEPTED, NOW)  # still full: still refused, never half-written
    assert log.head() == head
    log.verify_chain()
    log.close()
    assert count_rows(path) == head[0]


def test_once_space_is_back_appends_continue_the_same_chain(path: Path) -> None:
    log = open_log(path, max_bytes=SMALL)
    fill_until_full(log)
    seq, _ = log.head()
    log.close()

    with open_log(path, max_bytes=4 * SMALL) as log:
        record = log.append(ACCEPTED, NOW)

        assert record.seq == seq + 1
        log.verify_chain()


def test_space_coming_back_while_open_is_used_at_once(path: Path) -> None:
    log = open_log(path, max_bytes=SMALL)
    fill_until_full(log)
    seq, _ = log.head()

    log._db.execute(f"PRAGMA max_page_count = {4 * SMALL // 4096}")  # an operator freed space

    assert log.append(ACCEPTED, NOW).seq == seq + 1
    log.verify_chain()
    log.close()


def test_other_writes_on_a_full_disk_raise_unavailable_and_change_nothing(path: Path) -> None:
    log = open_log(path, max_bytes=SMALL)
    fill_until_full(log)

    with pytest.raises(LogUnavailable, match="cannot save a change: the disk is full"):
        for index in range(10_000):
            log.set_meta(f"name-{index}", "x" * 200)
    log.acknowledge(1)  # an update in place needs no new page
    assert log.acknowledged() == 1
    log.close()


# --- a damaged file at start --------------------------------------------------------------------


def test_garbage_is_set_aside_whole_and_named(path: Path) -> None:
    garbage = b"\x00\xffnot a database at all" * 500
    path.write_bytes(garbage)

    with pytest.raises(LogCorrupt) as raised:
        open_log(path)

    kept = raised.value.kept_aside
    assert kept is not None and kept.read_bytes() == garbage
    assert not path.exists()
    assert kept.name.startswith("log.db.corrupt-") and kept.name in str(raised.value)
    assert "contact" in str(raised.value) and "\n" not in str(raised.value)


@pytest.fixture(scope="module")
def log_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A closed log of 2,000 records, as bytes."""
    path = tmp_path_factory.mktemp("whole") / "log.db"
    with open_log(path) as log:
        fill(log, 2000)
    return path.read_bytes()


@pytest.mark.parametrize("kept", [0.5, 0.9, 0.99])
def test_a_truncated_file_is_set_aside(path: Path, log_bytes: bytes, kept: float) -> None:
    original = log_bytes
    path.write_bytes(original[: int(len(original) * kept)])

    with pytest.raises(LogCorrupt) as raised:
        open_log(path)

    assert raised.value.kept_aside is not None
    assert raised.value.kept_aside.read_bytes() == original[: int(len(original) * kept)]
    assert raised.value.details and "\n" not in str(raised.value)


def test_an_empty_file_where_a_log_was_is_a_truncated_log(path: Path) -> None:
    path.write_bytes(b"")

    with pytest.raises(LogCorrupt, match="is empty"):
        open_log(path)
    assert len(aside_files(path)) == 1


def test_an_altered_record_breaks_the_chain_and_the_log_is_set_aside(path: Path) -> None:
    with open_log(path) as log:
        fill(log, 20)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE records SET paid = 0, discount = price WHERE seq = 13")

    with pytest.raises(LogCorrupt, match="breaks its hash chain at sequence 13") as raised:
        open_log(path)
    assert raised.value.kept_aside is not None and count_rows(raised.value.kept_aside) == 20


def test_a_deleted_record_is_a_gap(path: Path) -> None:
    with open_log(path) as log:
        fill(log, 10)
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM records WHERE seq = 4")

    with pytest.raises(LogCorrupt, match="gap in its records at sequence 4"):
        open_log(path)


def test_a_dropped_last_record_with_its_acknowledgement_kept_is_caught(path: Path) -> None:
    with open_log(path) as log:
        fill(log, 5)
        log.acknowledge(5)
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM records WHERE seq = 5")

    with pytest.raises(LogCorrupt, match="acknowledged 5 but ends at 4"):
        open_log(path)


def test_the_write_ahead_log_and_shared_memory_go_aside_with_the_file(path: Path, tmp_path: Path) -> None:
    live = open_log(path)
    fill(live, 50)  # committed to the -wal, not yet to the file
    crashed = tmp_path / "crashed" / "log.db"
    crashed.parent.mkdir()
    for suffix in ("", "-wal", "-shm"):
        shutil.copyfile(f"{path}{suffix}", f"{crashed}{suffix}")
    live.close()
    # Pages in the -wal mask the same pages of the file, so damage the whole file.
    crashed.write_bytes(b"this is no longer SQLite" * (crashed.stat().st_size // 24))
    found = {suffix: Path(f"{crashed}{suffix}").read_bytes() for suffix in ("", "-wal")}

    with pytest.raises(LogCorrupt) as raised:
        open_log(crashed)

    kept = raised.value.kept_aside
    assert kept is not None
    assert aside_files(crashed) == sorted([kept.name, f"{kept.name}-wal", f"{kept.name}-shm"])
    # Exactly as found: no checkpoint wrote the -wal's pages into the damaged file.
    assert {suffix: Path(f"{kept}{suffix}").read_bytes() for suffix in ("", "-wal")} == found
    assert sorted(item.name for item in crashed.parent.iterdir()) == aside_files(crashed)


def test_a_crash_image_with_its_write_ahead_log_opens_whole(path: Path, tmp_path: Path) -> None:
    live = open_log(path)
    fill(live, 50)
    crashed = tmp_path / "crashed.db"
    for suffix in ("", "-wal", "-shm"):
        shutil.copyfile(f"{path}{suffix}", f"{crashed}{suffix}")
    head = live.head()
    live.close()

    with open_log(crashed) as log:
        assert log.head() == head


def test_an_sqlite_database_that_is_not_a_log_is_set_aside(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE holiday_photos (name TEXT)")

    with pytest.raises(LogCorrupt, match="is not a terminal log"):
        open_log(path)
    assert len(aside_files(path)) == 1


def test_a_log_from_a_newer_program_is_left_in_place(path: Path) -> None:
    with open_log(path) as log:
        fill(log, 3)
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 99")

    with pytest.raises(LogError, match="newer version") as raised:
        open_log(path)

    assert not isinstance(raised.value, LogCorrupt)
    assert path.exists() and aside_files(path) == []


def test_two_damaged_files_in_one_second_are_both_kept(path: Path) -> None:
    for text in (b"first damaged file" * 300, b"second damaged file" * 300):
        path.write_bytes(text)
        with pytest.raises(LogCorrupt):
            open_log(path)

    kept = aside_files(path)
    assert len(kept) == 2
    assert {(path.parent / name).read_bytes()[:6] for name in kept} == {b"first ", b"second"}


def test_after_setting_aside_a_new_log_starts_empty_and_the_old_one_is_untouched(path: Path) -> None:
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(LogCorrupt):
        open_log(path)

    with open_log(path) as log:
        assert log.head()[0] == 0
    assert len(aside_files(path)) == 1


def test_verify_chain_on_an_open_log_raises_without_moving_anything(path: Path) -> None:
    log = open_log(path)
    fill(log, 5)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE records SET reason = 'accepted', accepted = 1 WHERE seq = 2")

    with pytest.raises(LogCorrupt, match="^the terminal's log log.db breaks its hash chain at sequence 2; contact"):
        log.verify_chain()
    assert path.exists() and aside_files(path) == []
    log.close()


def test_a_file_damaged_while_open_makes_reads_unavailable_not_a_crash(path: Path, log_bytes: bytes) -> None:
    path.write_bytes(log_bytes)
    log = open_log(path)  # checked whole; this connection has read no record yet
    with path.open("r+b") as handle:
        handle.seek(len(log_bytes) // 2)
        handle.write(b"\xff" * 8192)

    with pytest.raises(LogUnavailable, match="cannot be read") as raised:
        log.pending(10**6)

    assert raised.value.cause == "SQLITE_CORRUPT"
    log.close()

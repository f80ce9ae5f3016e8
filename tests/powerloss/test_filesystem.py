"""The power-cut filesystem bites: what was not synced is really gone after a cut.

Without these, a power-loss test that passes could mean a filesystem that
never loses anything.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.powerloss.mount import PowerLossMount, power_loss_mount

PAGE = 4096


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[PowerLossMount]:
    with power_loss_mount(tmp_path) as mount:
        yield mount


def sync_folder(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write(path: Path, data: bytes, *, sync: bool, mode: str = "wb") -> None:
    with path.open(mode) as handle:
        handle.write(data)
        handle.flush()
        if sync:
            os.fsync(handle.fileno())


def test_a_writer_that_never_syncs_loses_everything_and_one_that_syncs_loses_nothing(mount: PowerLossMount) -> None:
    careful, careless = mount.path / "careful", mount.path / "careless"
    write(careful, b"synced", sync=True)
    sync_folder(mount.path)
    write(careless, b"never synced", sync=False)
    write(careful, b", appended later", sync=False, mode="ab")
    assert careless.read_bytes() == b"never synced"  # the programs on the mount saw it

    cut = mount.cut("drop")
    mount.remount()

    assert cut.kept == 0 and cut.unsynced >= 3
    assert careful.read_bytes() == b"synced"
    assert not careless.exists()


def test_a_synced_file_whose_folder_was_not_synced_has_no_name_after_the_cut(mount: PowerLossMount) -> None:
    (mount.path / "folder").mkdir()
    sync_folder(mount.path)
    write(mount.path / "folder" / "file", b"data", sync=True)
    os.rename(mount.path / "folder" / "file", mount.path / "folder" / "renamed")

    mount.cut("drop")
    mount.remount()

    assert list((mount.path / "folder").iterdir()) == []


def test_a_rename_is_durable_once_its_folder_is_synced(mount: PowerLossMount) -> None:
    write(mount.path / "new", b"version 2", sync=True)
    os.replace(mount.path / "new", mount.path / "current")
    sync_folder(mount.path)

    mount.cut("drop")
    mount.remount()

    assert sorted(item.name for item in mount.path.iterdir()) == ["current"]
    assert (mount.path / "current").read_bytes() == b"version 2"


@pytest.mark.parametrize("synchronous", ["OFF", "FULL"])
def test_sqlite_commits_survive_the_cut_only_when_sqlite_syncs(mount: PowerLossMount, synchronous: str) -> None:
    path = mount.path / "test.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute(f"PRAGMA synchronous = {synchronous}")
    db.execute("CREATE TABLE t (n INTEGER)")
    for n in range(50):
        db.execute("INSERT INTO t VALUES (?)", (n,))

    mount.cut("drop")
    db.close()  # after the cut: its last checkpoint fails, as the disk is gone
    mount.remount()

    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
        rows = db.execute("SELECT count(*) FROM t").fetchone()[0] if tables else 0
    assert rows == (50 if synchronous == "FULL" else 0)
    assert tables == (["t"] if synchronous == "FULL" else [])


def unsynced_pages(mount: PowerLossMount, count: int) -> Path:
    path = mount.path / "pages"
    write(path, b"", sync=True)
    sync_folder(mount.path)
    with path.open("r+b") as handle:
        for page in range(count):
            handle.write(bytes([page + 1]) * PAGE)
            handle.flush()
    return path


def kept_pages(path: Path, count: int) -> list[int]:
    data = path.read_bytes().ljust(count * PAGE, b"\0")
    return [page for page in range(count) if data[page * PAGE] == page + 1]


def test_the_prefix_mode_keeps_the_first_unsynced_writes_in_order(mount: PowerLossMount) -> None:
    path = unsynced_pages(mount, 64)

    cut = mount.cut("prefix", seed=3)
    mount.remount()

    kept = kept_pages(path, 64)
    assert 0 < len(kept) < 64 and cut.kept == len(kept)
    assert kept == list(range(len(kept)))


def test_the_reorder_mode_keeps_later_writes_where_earlier_ones_were_lost(mount: PowerLossMount) -> None:
    path = unsynced_pages(mount, 64)

    mount.cut("reorder", seed=3)
    mount.remount()

    kept = kept_pages(path, 64)
    assert 0 < len(kept) < 64
    assert kept != list(range(len(kept)))  # not a prefix: the disk wrote out of order

"""Files that outlive a power cut, not only a crash.

A write reaches the disk when its file is synced, and a new name (a file
created, renamed into place, or a folder made) only when the folder holding
it is synced: POSIX leaves both to the program.  Without the second, a cut
soon after `kia issuer init` or `kia verifier enroll` leaves empty or
missing files although every one of them was synced (tests/powerloss cuts
power under a filesystem that drops what was not synced, and showed it).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def sync_folder(path: Path) -> None:
    """Make the names in folder ``path`` durable."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def make_folders(path: Path, mode: int) -> None:
    """``mkdir -p path``, each folder it makes synced into its parent."""
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it first
            folder.mkdir(mode=mode)
        sync_folder(folder.parent)


def write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` holding ``data``; FileExistsError if it exists.  Synced, with its name."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    sync_folder(path.parent)


def replace(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` with ``data``, so that a power cut leaves the old file or the new, never a part."""
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(descriptor, mode)  # a temporary file left by an earlier cut keeps its own mode otherwise
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    sync_folder(path.parent)

"""A FUSE filesystem that loses what was not synced when the power is cut.

Run as ``python -m tests.powerloss.lazyfs LIVE MOUNTPOINT``: it mounts
MOUNTPOINT and passes every operation through to the folder LIVE, which is
what programs on the mount see.  Beside it the filesystem keeps, in memory,
the *disk*: what a power cut would leave.  Data reaches the disk only when
its file is synced (``fsync``/``fdatasync``); a name created, removed or
renamed in a folder reaches it only when that folder is synced.  Until then
each write, truncation and change of a folder's names waits in a list of
unsynced operations.

A power cut freezes the filesystem (every later operation fails with EIO,
as a disk that lost power), then decides what of the unsynced operations
the disk got, by mode:

``drop``
    nothing: only what was synced survives;
``prefix``
    the first *k* unsynced operations, *k* drawn at random (LazyFS's
    default: the disk wrote in order and stopped);
``reorder``
    each unsynced operation, writes cut at 4 KiB page boundaries, is kept or
    not at random, in the order issued (the disk's cache wrote pages out of
    order; later writes may survive where earlier ones did not).

On ``remount`` the mount is taken down, LIVE is rebuilt from the disk and
mounted again: the kernel's caches are gone with the old mount.

The test drives it through stdin, one command a line, and reads one event
a line on stdout::

    arm K MODE SEED   cut the power when the K-th change (write, truncate,
                      sync, create, link, unlink, rename, mkdir, rmdir) of
                      the mount comes, counted from now   -> armed
    cut MODE SEED     cut the power now                    -> cut ...
    persist           everything unsynced reaches the disk (a clean
                      shutdown)                             -> persisted
    remount           after a cut: rebuild and mount again -> mounted
    quit              unmount and exit
    (on a cut)        cut CHANGES KEPT UNSYNCED SYNCS       (CHANGES: counted
                      since arming; SYNCS: fsync and fsyncdir calls)

The first event is ``mounted``.  Locks (fcntl, flock) are left to the kernel,
which keeps them locally when the filesystem does not handle them; SQLite's
-shm is mapped through the kernel's page cache as on any FUSE mount.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import random
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import mfusepy

ROOT = 1  # the inode number of the mount's root folder
PAGE = 4096
MODES = ("drop", "prefix", "reorder")


@dataclasses.dataclass(frozen=True)
class Write:
    order: int
    inode: int
    offset: int
    data: bytes


@dataclasses.dataclass(frozen=True)
class Truncate:
    order: int
    inode: int
    size: int


@dataclasses.dataclass(frozen=True)
class Names:
    """Names of one folder set (to an inode) or removed (None), at once (a rename within the folder)."""

    order: int
    folder: int
    changes: tuple[tuple[str, int | None], ...]


Change = Write | Truncate | Names


class PowerLossFS(mfusepy.Operations):  # type: ignore[misc]
    """Pass-through to ``live``, with the disk's state and the unsynced changes kept apart."""

    use_ns = True

    def __init__(self, live: Path, emit: Any) -> None:
        self.live = live
        self.emit = emit
        self.mutex = threading.RLock()
        self.next_inode = ROOT + 1
        self.order = 0  # issue order of changes, across files and folders
        self.inodes: dict[str, int] = {"/": ROOT}  # live path -> inode
        self.folders: set[int] = {ROOT}
        self.handles: dict[int, tuple[int, int]] = {}  # handle -> (descriptor, inode)
        self.modes: dict[int, int] = {ROOT: 0o755}
        # What the disk holds.
        self.disk_data: dict[int, bytearray] = {}
        self.disk_names: dict[int, dict[str, int]] = {ROOT: {}}
        # What it does not hold yet.
        self.unsynced_data: dict[int, list[Write | Truncate]] = {}
        self.unsynced_names: dict[int, list[Names]] = {}
        self.powered = True
        self.armed_at: int | None = None
        self.arm_mode, self.arm_seed = "drop", 0
        self.changes = 0  # changes since arming
        self.syncs = 0

    # --- the power -------------------------------------------------------------------

    def arm(self, changes: int, mode: str, seed: int) -> None:
        with self.mutex:
            self.armed_at, self.arm_mode, self.arm_seed = changes, mode, seed
            self.changes = self.syncs = 0

    def cut(self, mode: str, seed: int) -> None:
        """Freeze, and let the disk keep what ``mode`` says of the unsynced changes."""
        with self.mutex:
            if not self.powered:
                return
            self.powered, self.armed_at = False, None
            unsynced: list[Change] = sorted(
                [*(c for cs in self.unsynced_data.values() for c in cs),
                 *(c for cs in self.unsynced_names.values() for c in cs)], key=lambda change: change.order)
            rng = random.Random(seed)
            if mode == "drop":
                kept: list[Change] = []
            elif mode == "prefix":
                kept = unsynced[: rng.randint(0, len(unsynced))]
            elif mode == "reorder":
                kept = [piece for change in unsynced for piece in _pages(change) if rng.random() < 0.5]
            else:
                raise ValueError(f"unknown mode {mode}")
            for change in kept:
                self._to_disk(change)
            self.unsynced_data.clear()
            self.unsynced_names.clear()
            self.emit(f"cut {self.changes} {len(kept)} {len(unsynced)} {self.syncs}")

    def persist(self) -> None:
        """Everything reaches the disk: a clean shutdown."""
        with self.mutex:
            changes = sorted([*(c for cs in self.unsynced_data.values() for c in cs),
                              *(c for cs in self.unsynced_names.values() for c in cs)], key=lambda c: c.order)
            for change in changes:
                self._to_disk(change)
            self.unsynced_data.clear()
            self.unsynced_names.clear()

    def rebuild(self) -> None:
        """Make the live folder what the disk holds, and power on."""
        with self.mutex:
            for entry in list(self.live.iterdir()):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            self.inodes = {"/": ROOT}
            self.handles.clear()
            placed: dict[int, str] = {}
            self._materialize(ROOT, "/", placed, {ROOT})
            os.chmod(self.live, self.modes.get(ROOT, 0o755))
            self.powered = True

    def _materialize(self, folder: int, path: str, placed: dict[int, str], seen: set[int]) -> None:
        for name, inode in sorted(self.disk_names.get(folder, {}).items()):
            child = _join(path, name)
            real = self._real(child)
            if inode in self.folders:
                if inode in seen:  # a folder linked twice: no disk does that
                    continue
                os.mkdir(real)
                self.inodes[child] = inode
                self._materialize(inode, child, placed, seen | {inode})
                os.chmod(real, self.modes.get(inode, 0o755))
            elif inode in placed:
                os.link(self._real(placed[inode]), real)
                self.inodes[child] = inode
            else:
                with open(real, "wb") as handle:
                    handle.write(self.disk_data.get(inode, b""))
                os.chmod(real, self.modes.get(inode, 0o644))
                placed[inode] = child
                self.inodes[child] = inode

    def _to_disk(self, change: Change) -> None:
        if isinstance(change, Write):
            data = self.disk_data.setdefault(change.inode, bytearray())
            end = change.offset + len(change.data)
            if len(data) < change.offset:
                data.extend(bytes(change.offset - len(data)))
            data[change.offset:end] = change.data
        elif isinstance(change, Truncate):
            data = self.disk_data.setdefault(change.inode, bytearray())
            if len(data) > change.size:
                del data[change.size:]
            else:
                data.extend(bytes(change.size - len(data)))
        else:
            names = self.disk_names.setdefault(change.folder, {})
            for name, inode in change.changes:
                if inode is None:
                    names.pop(name, None)
                    continue
                names[name] = inode
                if inode in self.folders:
                    self.disk_names.setdefault(inode, {})
                else:
                    self.disk_data.setdefault(inode, bytearray())

    def _change(self) -> int:
        """Count a change; cut the power when armed for this one.  Its issue order."""
        self._powered()
        self.changes += 1
        if self.armed_at is not None and self.changes >= self.armed_at:
            self.cut(self.arm_mode, self.arm_seed)
            raise mfusepy.FuseOSError(errno.EIO)
        self.order += 1
        return self.order

    def _powered(self) -> None:
        if not self.powered:
            raise mfusepy.FuseOSError(errno.EIO)

    # --- bookkeeping -------------------------------------------------------------------

    def _real(self, path: str) -> str:
        return str(self.live) + path if path != "/" else str(self.live)

    def _inode(self, path: str | None, handle: int | None = None) -> int:
        if handle is not None and handle in self.handles:
            return self.handles[handle][1]
        if path is None or path not in self.inodes:
            raise mfusepy.FuseOSError(errno.EIO)
        return self.inodes[path]

    def _new_inode(self, path: str, mode: int, folder: bool = False) -> int:
        inode = self.next_inode
        self.next_inode += 1
        self.inodes[path] = inode
        self.modes[inode] = stat.S_IMODE(mode)
        if folder:
            self.folders.add(inode)
        return inode

    def _names(self, folder_path: str, *changes: tuple[str, int | None]) -> None:
        folder = self.inodes[folder_path]
        self.unsynced_names.setdefault(folder, []).append(Names(self._change(), folder, changes))

    def _data(self, change: Write | Truncate) -> None:
        self.unsynced_data.setdefault(change.inode, []).append(change)

    # --- operations: reading -----------------------------------------------------------

    def init(self, path: str) -> None:
        self.emit("mounted")

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        with self.mutex:
            self._powered()
            result = os.fstat(self.handles[fh][0]) if fh is not None and fh in self.handles else os.lstat(
                self._real(path))
        keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime_ns", "st_mtime_ns", "st_ctime_ns")
        return {key.replace("_ns", ""): getattr(result, key) for key in keys}

    def access(self, path: str, amode: int) -> int:
        with self.mutex:
            self._powered()
            if not os.access(self._real(path), amode):
                raise mfusepy.FuseOSError(errno.EACCES)
        return 0

    def readdir(self, path: str, fh: int) -> list[str]:
        with self.mutex:
            self._powered()
            return [".", "..", *os.listdir(self._real(path))]

    def statfs(self, path: str) -> dict[str, int]:
        result = os.statvfs(self._real(path))
        return {key: getattr(result, key) for key in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail",
                                                      "f_files", "f_ffree", "f_favail", "f_flag", "f_namemax")}

    def open(self, path: str, flags: int) -> int:
        with self.mutex:
            self._powered()
            inode = self._inode(path)
            if flags & os.O_TRUNC:
                self._data(Truncate(self._change(), inode, 0))
            descriptor = os.open(self._real(path), flags & ~os.O_CREAT)
            self.handles[descriptor] = (descriptor, inode)
            return descriptor

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        with self.mutex:
            self._powered()
            return os.pread(self.handles[fh][0], size, offset)

    def flush(self, path: str, fh: int) -> int:
        return 0  # close(2) writes nothing to the disk

    def release(self, path: str, fh: int) -> int:
        with self.mutex:
            descriptor, _ = self.handles.pop(fh, (None, 0))
            if descriptor is not None:
                os.close(descriptor)
        return 0

    # --- operations: changing data ------------------------------------------------------------

    def create(self, path: str, mode: int, flags: int) -> int:
        with self.mutex:
            self._powered()
            parent, name = _split(path)
            existed = path in self.inodes
            order = self._change()
            descriptor = os.open(self._real(path), flags | os.O_CREAT, mode)
            if existed:
                inode = self.inodes[path]
                if flags & os.O_TRUNC:
                    self._data(Truncate(order, inode, 0))
            else:
                inode = self._new_inode(path, mode)
                folder = self.inodes[parent]
                self.unsynced_names.setdefault(folder, []).append(Names(order, folder, ((name, inode),)))
            self.handles[descriptor] = (descriptor, inode)
            return descriptor

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        with self.mutex:
            descriptor, inode = self.handles.get(fh, (None, 0))
            order = self._change()
            if descriptor is None:
                raise mfusepy.FuseOSError(errno.EBADF)
            written = os.pwrite(descriptor, data, offset)
            self._data(Write(order, inode, offset, bytes(data[:written])))
            return written

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        with self.mutex:
            inode = self._inode(path, fh)
            self._data(Truncate(self._change(), inode, length))
            if fh is not None and fh in self.handles:
                os.ftruncate(self.handles[fh][0], length)
            else:
                os.truncate(self._real(path), length)
        return 0

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        with self.mutex:
            inode = self._inode(path, fh)
            self._change()
            self.syncs += 1
            self.disk_data.setdefault(inode, bytearray())
            for change in self.unsynced_data.pop(inode, []):
                self._to_disk(change)
        return 0

    def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
        with self.mutex:
            folder = self._inode(path)
            self._change()
            self.syncs += 1
            self.disk_names.setdefault(folder, {})
            for change in self.unsynced_names.pop(folder, []):
                self._to_disk(change)
        return 0

    # --- operations: changing names ---------------------------------------------------------------

    def mkdir(self, path: str, mode: int) -> int:
        with self.mutex:
            self._powered()
            parent, name = _split(path)
            order = self._change()
            os.mkdir(self._real(path), mode)
            inode = self._new_inode(path, mode, folder=True)
            folder = self.inodes[parent]
            self.unsynced_names.setdefault(folder, []).append(Names(order, folder, ((name, inode),)))
        return 0

    def unlink(self, path: str) -> int:
        with self.mutex:
            self._powered()
            parent, name = _split(path)
            self._names(parent, (name, None))
            os.unlink(self._real(path))
            del self.inodes[path]
        return 0

    def rmdir(self, path: str) -> int:
        with self.mutex:
            self._powered()
            parent, name = _split(path)
            self._names(parent, (name, None))
            os.rmdir(self._real(path))
            del self.inodes[path]
        return 0

    def link(self, target: str, source: str) -> int:
        """``target`` becomes another name of ``source``."""
        with self.mutex:
            self._powered()
            inode = self._inode(source)
            parent, name = _split(target)
            self._names(parent, (name, inode))
            os.link(self._real(source), self._real(target))
            self.inodes[target] = inode
        return 0

    def rename(self, old: str, new: str) -> int:
        with self.mutex:
            self._powered()
            inode = self._inode(old)
            (old_parent, old_name), (new_parent, new_name) = _split(old), _split(new)
            if old_parent == new_parent:
                self._names(old_parent, (old_name, None), (new_name, inode))
            else:  # two folders, each synced on its own
                self._names(new_parent, (new_name, inode))
                self._names(old_parent, (old_name, None))
            os.rename(self._real(old), self._real(new))
            for path in [p for p in self.inodes if p == new or p.startswith(new + "/")]:
                del self.inodes[path]
            for path in [p for p in self.inodes if p == old or p.startswith(old + "/")]:
                self.inodes[new + path[len(old):]] = self.inodes.pop(path)
        return 0

    def symlink(self, target: str, source: str) -> int:
        raise mfusepy.FuseOSError(errno.EPERM)  # nothing under test makes one

    def chmod(self, path: str, mode: int) -> int:
        with self.mutex:
            self._powered()
            os.chmod(self._real(path), mode)
            self.modes[self._inode(path)] = stat.S_IMODE(mode)  # metadata is not under test: kept at once
        return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        with self.mutex:
            self._powered()
            os.chown(self._real(path), uid, gid)
        return 0

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        with self.mutex:
            self._powered()
            if times is None:
                os.utime(self._real(path))
            else:
                os.utime(self._real(path), ns=times)
        return 0


def _split(path: str) -> tuple[str, str]:
    parent, _, name = path.rpartition("/")
    return parent or "/", name


def _join(folder: str, name: str) -> str:
    return f"/{name}" if folder == "/" else f"{folder}/{name}"


def _pages(change: Change) -> list[Change]:
    """A write cut at page boundaries, as a cache writes it back; other changes whole."""
    if not isinstance(change, Write):
        return [change]
    pieces: list[Change] = []
    start = change.offset
    end = change.offset + len(change.data)
    while start < end:
        stop = min(end, (start // PAGE + 1) * PAGE)
        pieces.append(Write(change.order, change.inode, start, change.data[start - change.offset:stop - change.offset]))
        start = stop
    return pieces


# --- the server -------------------------------------------------------------------------------


class Server:
    """The filesystem mounted again after each cut, and the test's commands."""

    def __init__(self, live: Path, mountpoint: Path) -> None:
        self.mountpoint = mountpoint
        self.output = threading.Lock()
        self.fs = PowerLossFS(live, self.emit)
        self.quitting = False

    def emit(self, line: str) -> None:
        with self.output:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def serve(self) -> None:
        threading.Thread(target=self.commands, name="commands", daemon=True).start()
        while True:
            # One thread: every operation in turn, and a cut falls between two of them.
            mfusepy.FUSE(self.fs, str(self.mountpoint), foreground=True, nothreads=True, hard_remove=True,
                         fsname="powerloss", subtype="powerloss", attr_timeout=0, entry_timeout=0,
                         negative_timeout=0)
            if self.quitting:
                return
            self.fs.rebuild()

    def commands(self) -> None:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "arm":
                self.fs.arm(int(words[1]), words[2], int(words[3]))
                self.emit("armed")
            elif words[0] == "cut":
                self.fs.cut(words[1], int(words[2]))
            elif words[0] == "persist":
                self.fs.persist()
                self.emit("persisted")
            elif words[0] == "remount":
                if self.fs.powered:
                    self.emit("error remount without a cut")
                elif not self.unmount():
                    self.emit("error the mount is busy: a process still holds a file or folder on it")
            elif words[0] == "quit":
                break
        self.quitting = True
        self.fs.cut("drop", 0)  # nothing more reaches the disk: the mount only goes away
        if not self.unmount():
            self.unmount("-z")

    def unmount(self, *options: str) -> bool:
        return subprocess.run(["fusermount3", "-u", *options, str(self.mountpoint)], check=False).returncode == 0


def main() -> None:
    live, mountpoint = Path(sys.argv[1]), Path(sys.argv[2])
    Server(live, mountpoint).serve()


if __name__ == "__main__":
    main()

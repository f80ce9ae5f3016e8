"""The bridge's board keys: one 32-byte key per gate board, provisioned at installation.

The key file is text, one board a line, ``KEY BOARD_ID`` (the key as 64 hex
digits, a space, the board id as the board says it in HELLO); lines starting
with ``#`` and blank lines are skipped.  It is created mode 0600 by
``kia bridge board-key add`` and refused if anyone but its owner may read
it, like an SSH key.  It is never committed and never logged.

``BoardKeyFile`` reads the file again whenever it changes, so a board added
(or a key removed after a board was stolen) takes effect at the next HELLO
without restarting the bridge.  A file that cannot be read refuses every
board until it is fixed: the bridge fails closed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
from collections.abc import Mapping
from pathlib import Path

from ..errors import BridgeError
from .auth import KEY_SIZE, new_board_key
from .protocol import MAX_BOARD_ID

log = logging.getLogger(__name__)


class BoardKeyError(BridgeError):
    """The board key file cannot be used, or a board key is malformed; the message says what to do."""


def parse_board_key(text: str) -> bytes:
    """A board key from its 64 hex digits.  Raises BoardKeyError."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != KEY_SIZE:
        raise BoardKeyError(f"a board key is {2 * KEY_SIZE} hex digits ({KEY_SIZE} bytes)")
    return key


def check_board_id(board_id: str) -> str:
    if not 1 <= len(board_id) <= MAX_BOARD_ID or not all(0x20 <= ord(char) <= 0x7E for char in board_id):
        raise BoardKeyError(f"a board id is 1 to {MAX_BOARD_ID} printable ASCII characters: {board_id!r}")
    return board_id


def read_board_keys(path: Path) -> dict[str, bytes]:
    """Every board's key in ``path``.  Raises BoardKeyError (missing, readable by others, malformed)."""
    try:
        with path.open("r", encoding="ascii") as file:
            mode = os.fstat(file.fileno()).st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise BoardKeyError(f"{path} may be read by others (mode {stat.S_IMODE(mode):04o}): chmod 600 it")
            text = file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise BoardKeyError(f"cannot read the board key file {path}: {exc}") from None
    keys: dict[str, bytes] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        key, _, board_id = line.partition(" ")
        try:
            keys[check_board_id(board_id)] = parse_board_key(key)
        except BoardKeyError as exc:
            raise BoardKeyError(f"{path} line {number}: {exc}") from None
    return keys


def write_board_keys(path: Path, keys: Mapping[str, bytes]) -> None:
    """Replace ``path`` with ``keys``, atomically, mode 0600 from the first byte."""
    lines = ["# Gate board keys (docs/gate-protocol.md): KEY BOARD_ID. Secret: mode 0600, never commit it."]
    lines += [f"{key.hex()} {board_id}" for board_id, key in sorted(keys.items())]
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write("\n".join(lines) + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def add_board_key(path: Path, board_id: str, *, replace: bool = False) -> bytes:
    """Create a key for ``board_id`` in ``path`` (creating the file) and return it, to be flashed into the board.

    Raises BoardKeyError if the board already has a key and ``replace`` is not set.
    """
    keys = read_board_keys(path) if path.exists() else {}
    if check_board_id(board_id) in keys and not replace:
        raise BoardKeyError(f"board {board_id} already has a key; give --replace to issue a new one")
    keys[board_id] = key = new_board_key()
    write_board_keys(path, keys)
    return key


def remove_board_key(path: Path, board_id: str) -> None:
    """Remove ``board_id``'s key: the board is refused from its next HELLO.  Raises BoardKeyError."""
    keys = read_board_keys(path)
    if keys.pop(board_id, None) is None:
        raise BoardKeyError(f"board {board_id} has no key in {path}")
    write_board_keys(path, keys)


class BoardKeys:
    """Board keys held in memory (tests, the benchmark); thread-safe to read."""

    def __init__(self, keys: Mapping[str, bytes] | None = None) -> None:
        self._keys = dict(keys or {})

    def key_for(self, board_id: str) -> bytes | None:
        return self._keys.get(board_id)

    def __len__(self) -> int:
        return len(self._keys)


class BoardKeyFile(BoardKeys):
    """The bridge's key file, read again when it changes; every board refused while it cannot be read."""

    def __init__(self, path: Path) -> None:
        super().__init__(read_board_keys(path))  # a bad file stops the bridge at start, with its reason
        self.path = path
        self._stamp = self._stat()
        self._lock = threading.Lock()

    def key_for(self, board_id: str) -> bytes | None:
        with self._lock:
            stamp = self._stat()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._keys = read_board_keys(self.path)
                    log.info("board key file %s read again: %d board(s)", self.path, len(self._keys))
                except BoardKeyError as exc:
                    self._keys = {}
                    log.error("%s; every gate board is refused until it is fixed", exc)
            return self._keys.get(board_id)

    def _stat(self) -> tuple[int, int, int, int] | None:
        try:
            status = self.path.stat()
        except OSError:
            return None
        return status.st_ino, status.st_mtime_ns, status.st_size, status.st_mode

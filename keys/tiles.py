"""A transparency log served as static files: C2SP tlog-tiles paths, tiles and entry bundles.

A tile at level ``L`` and index ``N`` holds up to 256 consecutive hashes at the
Merkle tree's height ``8 * L``: level 0 holds leaf hashes, level 1 the heads of
256-leaf subtrees, and so on.  An entry bundle holds the same leaves' data, each
prefixed with its length as a big-endian uint16.  The rightmost tiles of a tree
are partial (``.p/W``, 1 to 255 hashes wide).  Paths spell ``N`` in 3-digit
groups, every group but the last prefixed with ``x``: 1234067 is ``x001/x234/067``.

Pure functions for both sides: the office serves tiles with them and an auditor
parses what it fetched.  Parsing raises ``TileInvalid``.
"""

from __future__ import annotations

import dataclasses
import re
import struct
from collections.abc import Sequence

from .errors import KiaError
from .tlog import HASH_SIZE

HEIGHT = 8
WIDTH = 1 << HEIGHT
MAX_ENTRY_SIZE = 0xFFFF
_PATH = re.compile(r"tile/(?:(0|[1-9][0-9]?)|(entries))/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?")


class TileInvalid(KiaError):
    """A tile path, tile or entry bundle that is malformed or does not fit the tree it claims."""


@dataclasses.dataclass(frozen=True)
class Tile:
    """A tile: ``level`` (None for an entry bundle), ``index`` within the level, ``width`` hashes or entries."""

    level: int | None
    index: int
    width: int = WIDTH

    @property
    def path(self) -> str:
        groups = f"{self.index:03d}"
        groups = "0" * (-len(groups) % 3) + groups
        parts = [groups[i:i + 3] for i in range(0, len(groups), 3)]
        name = "/".join([*("x" + part for part in parts[:-1]), parts[-1]])
        kind = "entries" if self.level is None else str(self.level)
        return f"tile/{kind}/{name}" + ("" if self.width == WIDTH else f".p/{self.width}")

    @property
    def start(self) -> int:
        """The index at tree height ``8 * level`` of the tile's first hash (of the first leaf, for a bundle)."""
        return self.index * WIDTH

    @property
    def height(self) -> int:
        return 0 if self.level is None else HEIGHT * self.level


def parse_path(path: str) -> Tile:
    """The tile that ``path`` (``tile/L/N[.p/W]`` or ``tile/entries/N[.p/W]``) names."""
    match = _PATH.fullmatch(path)
    if match is None:
        raise TileInvalid("not a tile path: tile/<level>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]")
    level, entries, name, width = match.groups()
    index = int(name.replace("x", "").replace("/", "")) if len(name) <= 4 * 7 else 1 << 63
    if index >= 1 << 63:  # 2**63 has 19 digits, 7 groups: no log is larger
        raise TileInvalid("the tile index is too large")
    if (level and int(level) > 63) or (width and int(width) >= WIDTH):
        raise TileInvalid("a tile's level is 0 to 63 and a partial tile 1 to 255 wide")
    return Tile(None if entries else int(level), index, int(width) if width else WIDTH)


def tiles_for(size: int) -> list[Tile]:
    """Every tile, full and partial, of a tree of ``size`` leaves (the bundles too), in order of level."""
    out = [Tile(None, n) for n in range(size // WIDTH)]
    if size % WIDTH:
        out.append(Tile(None, size // WIDTH, size % WIDTH))
    level, count = 0, size
    while count:
        out += [Tile(level, n) for n in range(count // WIDTH)]
        if count % WIDTH:
            out.append(Tile(level, count // WIDTH, count % WIDTH))
        level, count = level + 1, count // WIDTH
    return out


def fits(tile: Tile, size: int) -> None:
    """Raise TileInvalid unless the tree of ``size`` leaves holds all of ``tile``.

    A partial tile of any width the tree has reached fits: it is the tile a
    checkpoint of that smaller size needed, and its hashes never change.
    """
    count = size >> tile.height
    if tile.index * WIDTH + tile.width > count:
        raise TileInvalid(f"the tree of size {size} has no {tile.path}")


def join_hashes(hashes: Sequence[bytes]) -> bytes:
    if any(len(value) != HASH_SIZE for value in hashes):
        raise ValueError("tile hashes are 32 bytes")
    return b"".join(hashes)


def split_hashes(tile: Tile, data: bytes) -> list[bytes]:
    """The hashes of a fetched tile; TileInvalid if it is truncated or of another width."""
    if len(data) != tile.width * HASH_SIZE:
        raise TileInvalid(f"{tile.path} holds {len(data)} bytes, not {tile.width} hashes of {HASH_SIZE}")
    return [data[i:i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry prefixed with its length as a big-endian uint16."""
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise ValueError("a log entry is at most 65,535 bytes")
        out += struct.pack(">H", len(entry)) + entry
    return bytes(out)


def unbundle(tile: Tile, data: bytes) -> list[bytes]:
    """The entries of a fetched bundle; TileInvalid if truncated or not ``tile.width`` entries."""
    entries: list[bytes] = []
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise TileInvalid(f"{tile.path} is truncated inside an entry's length")
        (length,) = struct.unpack_from(">H", data, at)
        if at + 2 + length > len(data):
            raise TileInvalid(f"{tile.path} is truncated inside entry {tile.start + len(entries)}")
        entries.append(data[at + 2:at + 2 + length])
        at += 2 + length
    if len(entries) != tile.width:
        raise TileInvalid(f"{tile.path} holds {len(entries)} entries, not {tile.width}")
    return entries

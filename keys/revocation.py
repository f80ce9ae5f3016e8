"""The compact set of revoked card serials carried in trust lists.

Serials are stored as their numeric values (keys.serial) in a sorted
``array('Q')``: 8 bytes a serial in memory and a binary search to look one
up.  On the wire the set is ``{"n": count, "z": base64url(zlib(gaps))}``,
the gaps between sorted values as big-endian unsigned 64-bit integers:
zlib squeezes the many zero bytes of small gaps, and decoding is
decompress, ``frombytes`` and ``accumulate``, all running in C.

The trust list's second form (docs/adr/0002) carries the set as
``{"n": count, "k": Rice parameter, "g": base64url(code)}``, the code of
keys.golomb: within a few tenths of a bit a serial of the information bound.
Both forms of one set have the same ``digest``.
"""

from __future__ import annotations

import binascii
import bisect
import hashlib
import itertools
import re
import sys
import zlib
from array import array
from collections.abc import Iterable, Iterator
from typing import Any

from . import golomb
from .jwk import b64url_decode, b64url_encode
from .serial import SERIAL_BITS, serial_value, value_if_serial

_ITEM = 8  # bytes per gap on the wire
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_CANONICAL_LAST = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}
_URL_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


class RevokedSerials:
    """An immutable, sorted set of serial values."""

    __slots__ = ("_values",)

    def __init__(self, values: Iterable[int] = ()) -> None:
        self._values = array("Q", sorted(set(values)))

    @classmethod
    def from_serials(cls, serials: Iterable[str]) -> RevokedSerials:
        return cls(serial_value(serial) for serial in serials)

    @classmethod
    def _from_sorted(cls, values: array[int]) -> RevokedSerials:
        revoked = cls.__new__(cls)
        revoked._values = values
        return revoked

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[int]:
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RevokedSerials) and self._values == other._values

    def __hash__(self) -> int:
        return hash(self._values.tobytes())

    def __repr__(self) -> str:
        return f"RevokedSerials(<{len(self)} serials>)"

    def contains_value(self, value: int) -> bool:
        index = bisect.bisect_left(self._values, value)
        return index < len(self._values) and self._values[index] == value

    def __contains__(self, serial: object) -> bool:
        value = value_if_serial(serial)
        return value is not None and self.contains_value(value)

    # union and difference copy runs of the sorted array between the changed
    # values (memcpy in C): applying a delta of 1,000 serials to a list of
    # 1,000,000 takes milliseconds, where re-sorting everything took a second.

    def union(self, values: Iterable[int]) -> RevokedSerials:
        merged, start = array("Q"), 0
        for value in sorted(set(values)):
            index = bisect.bisect_left(self._values, value, start)
            merged.extend(self._values[start:index])
            start = index
            if index == len(self._values) or self._values[index] != value:
                merged.append(value)
        merged.extend(self._values[start:])
        return RevokedSerials._from_sorted(merged)

    def difference(self, values: Iterable[int]) -> RevokedSerials:
        kept, start = array("Q"), 0
        for value in sorted(set(values)):
            index = bisect.bisect_left(self._values, value, start)
            if index < len(self._values) and self._values[index] == value:
                kept.extend(self._values[start:index])
                start = index + 1
        kept.extend(self._values[start:])
        return RevokedSerials._from_sorted(kept)

    def changes_to(self, other: RevokedSerials) -> tuple[RevokedSerials, RevokedSerials]:
        """(added, removed): the values ``other`` has and this set has not, and the reverse.

        Runs the two sorted arrays side by side, skipping each run they share
        by galloping over equal slices (compared in C): the time follows the
        number of changes, with a pass over the shared values at memcmp
        speed, not a Python loop over millions of serials.
        """
        old, new = self._values, other._values
        added, removed = array("Q"), array("Q")
        i = j = 0
        while i < len(old) and j < len(new):
            if old[i] == new[j]:
                shared = _shared_run(old, i, new, j)
                i, j = i + shared, j + shared
            elif old[i] < new[j]:  # every value of new before j is below old[i]: old[i] is gone
                removed.append(old[i])
                i += 1
            else:
                added.append(new[j])
                j += 1
        removed.extend(old[i:])
        added.extend(new[j:])
        return RevokedSerials._from_sorted(added), RevokedSerials._from_sorted(removed)

    def digest(self) -> str:
        """SHA-256 of the sorted values, independent of how they were compressed."""
        return b64url_encode(hashlib.sha256(_big_endian(self._values)).digest())

    def encode(self) -> dict[str, Any]:
        gaps = array("Q", (b - a for a, b in zip(itertools.chain((0,), self._values), self._values, strict=False)))
        # Level 6: a tenth of level 9's time for 1% more bytes (1,000,000 serials: 0.86 s against 8.3 s).
        return {"n": len(gaps), "z": b64url_encode(zlib.compress(_big_endian(gaps), 6))}

    @classmethod
    def decode(cls, encoded: object) -> RevokedSerials:
        """Inverse of ``encode``; raises ValueError on anything malformed.

        Decompression stops at the announced size, so a small hostile input
        cannot expand into a large allocation.
        """
        if not isinstance(encoded, dict) or set(encoded) != {"n", "z"}:
            raise ValueError("revoked serials must be an object with n and z")
        count, text = encoded["n"], encoded["z"]
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 2**28:
            raise ValueError("bad revoked count")
        if not isinstance(text, str):
            raise ValueError("bad revoked data")
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(b64url_decode(text), count * _ITEM + 1)
        except zlib.error:
            raise ValueError("revoked data is not zlib") from None
        if len(raw) != count * _ITEM or not inflater.eof or inflater.unused_data:
            raise ValueError("revoked data does not hold exactly n serials")
        # A terminal's peak memory is set by loading its list: the raw bytes go as
        # soon as the gaps hold them, and no 8 MB slice is copied to check them.
        gaps = array("Q")
        gaps.frombytes(raw)
        del raw
        if sys.byteorder == "little":
            gaps.byteswap()
        # Gaps of zero (duplicates) or values beyond the serial space are forged.
        if count > 1 and _holds_zero(gaps, 1):
            raise ValueError("revoked serials are not strictly increasing serial values")
        try:
            values = array("Q", itertools.accumulate(gaps))
        except OverflowError:
            raise ValueError("revoked serials overflow") from None
        if count and values[-1] >= 2**SERIAL_BITS:
            raise ValueError("revoked serials are not strictly increasing serial values")
        return cls._from_sorted(values)

    def encode_compact(self) -> dict[str, Any]:
        """The second form: ``{"n", "k", "g"}``, g the keys.golomb code in base64url (once)."""
        code = golomb.encode(self._values)
        return {"n": len(self._values), "k": code[4], "g": b64url_encode(code)}

    @classmethod
    def decode_compact(cls, encoded: object, *, consume: bool = False) -> RevokedSerials:
        """Inverse of ``encode_compact``; raises ValueError on anything malformed.

        ``n`` and ``k`` must be those the code's own header says, and the code
        is decoded with keys.golomb's caps: at most ``n`` values (at most
        2**28), refused before allocating if the code is too short for them.
        With ``consume``, ``g`` is removed from ``encoded`` once turned into
        bytes: a terminal loading 5,000,000 serials then does not hold 12 MB
        of text beside the 40 MB result (docs/benchmarks.md, issue 14).
        """
        if not isinstance(encoded, dict) or set(encoded) != {"n", "k", "g"}:
            raise ValueError("revoked serials must be an object with n, k and g")
        count, k = encoded["n"], encoded["k"]
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= golomb.MAX_COUNT:
            raise ValueError("bad revoked count")
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= SERIAL_BITS:
            raise ValueError("bad Rice parameter")
        if not isinstance(encoded["g"], str):
            raise ValueError("bad revoked data")
        code = _b64url_decode_lean(encoded.pop("g") if consume else encoded["g"])
        if len(code) < golomb.HEADER.size or code[4] != k or int.from_bytes(code[6:10], "big") != count:
            raise ValueError("the revoked code's header differs from n and k")
        values = golomb.decode(code, SERIAL_BITS, max_count=count)
        return cls._from_sorted(values)


_DECODE_CHUNK = 1 << 20  # characters of base64url decoded at a time (a multiple of 4)


def _b64url_decode_lean(text: str) -> bytearray:
    """Canonical unpadded base64url, as jwk.b64url_decode, without copies of the whole text.

    A terminal loading 5,000,000 revoked serials decodes 12 MB of text here:
    the alphabet is checked in place, and the text decoded a megabyte at a time.
    """
    unused = len(text) % 4
    if not _B64URL.fullmatch(text) or unused == 1 or (unused and text[-1] not in _CANONICAL_LAST[unused]):
        raise ValueError("not canonical base64url")
    decoded = bytearray()
    for start in range(0, len(text), _DECODE_CHUNK):
        chunk = text[start : start + _DECODE_CHUNK].encode("ascii").translate(_URL_TO_STANDARD)
        decoded += binascii.a2b_base64(chunk + b"=" * (-len(chunk) % 4), strict_mode=True)
    return decoded


def _shared_run(old: array[int], i: int, new: array[int], j: int) -> int:
    """How many values ``old[i:]`` and ``new[j:]`` share before they first differ (at least one)."""
    limit = min(len(old) - i, len(new) - j)
    same, step = 1, 1
    while same < limit and old[i + same:i + min(same + step, limit)] == new[j + same:j + min(same + step, limit)]:
        same = min(same + step, limit)
        step *= 2
    # The first difference is within the next ``step`` values: halve down to it.
    while step > 1 and same < limit:
        step //= 2
        end = min(same + step, limit)
        if old[i + same:i + end] == new[j + same:j + end]:
            same = end
    return same


def _holds_zero(values: array[int], start: int) -> bool:
    """Whether ``values[start:]`` holds a 0, without copying the slice."""
    try:
        values.index(0, start)
    except ValueError:
        return False
    return True


def _big_endian(values: array[int]) -> bytes:
    if sys.byteorder == "little":
        values = array("Q", values)
        values.byteswap()
    return values.tobytes()

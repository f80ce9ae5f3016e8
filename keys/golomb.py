"""A compact binary code for a set of revoked serial values: Golomb-Rice coded gaps.

n random values in a space of 2**B hold about n * (B - log2(n) + 1.44) bits
of information; this code comes within a few tenths of a bit a value of that
(1,000,000 serials of 35 bits: 2.08 MB against 2.06 MB, where today's
zlib of 8-byte gaps takes 2.96 MB, 3.9 MB as base64 in JSON).  Layout, all of it fixed by the values
and ``k``, so one set has one code for a given ``k``::

    header   b"KRG", version, k, serial bits (a byte each), count (4 bytes, big-endian)
    low      k // 8 byte planes of n bytes: byte j of every remainder
    high     k % 8 bit planes of ceil(n / 8) bytes: the next bit of every remainder
    unary    the quotients: q zeros then a one for each value, bits least significant first

Value i is coded by ``d = v[i] - v[i-1] - 1`` (``v[-1] = -1``), its Rice
code being the quotient ``d >> k`` in unary and the remainder, the low ``k``
bits of ``d``.  Storing gaps less one makes a duplicate impossible to write
rather than a thing to refuse.  The two halves of each code are stored
apart, and the remainders transposed into planes, so that both encoding and
decoding run as byte slicing, ``bytes.translate`` and arithmetic on big
integers holding many 64-bit lanes, all in C: a Python loop over millions
of values would take seconds.  Decoding works in chunks of ``_CHUNK``
values, so its peak memory is the result (8 bytes a value) and the input.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import struct
import sys
from array import array
from collections.abc import Iterable, Iterator

from .serial import SERIAL_BITS

MAGIC = b"KRG"
VERSION = 1
HEADER = struct.Struct(">3sBBBI")  # magic, version, k, serial bits, count
MAX_COUNT = 2**28  # as RevokedSerials.decode: far beyond any region, far below a memory bomb
_MAX_SERIAL_BITS = 56  # every remainder byte lies inside its 64-bit lane, and no lane sum overflows
_CHUNK = 1 << 16  # values decoded at a time: 512 KB lanes, cache-sized
_WINDOW = 1 << 13  # unary bytes unpacked at a time
_ORDER = sys.byteorder
# _BIT[j] maps a byte to its bit j (0 or 1); _LOW[b] keeps a byte's b low bits.
_BIT = [bytes((x >> j) & 1 for x in range(256)) for j in range(8)]
_LOW = [bytes(x & ((1 << b) - 1) for x in range(256)) for b in range(9)]


def information_bound_bits(count: int, serial_bits: int = SERIAL_BITS) -> float:
    """log2 of the number of sets of ``count`` values below ``2**serial_bits``: no code does better on average."""
    space = 2**serial_bits
    if not 0 <= count <= space:
        raise ValueError("count out of range")
    return (math.lgamma(space + 1) - math.lgamma(count + 1) - math.lgamma(space - count + 1)) / math.log(2)


def rice_parameter(count: int, serial_bits: int = SERIAL_BITS) -> int:
    """The Rice parameter for ``count`` random values: floor(log2(mean gap * ln 2)), within 0..serial_bits."""
    if count == 0:
        return 0
    mean_gap = 2**serial_bits / count
    return min(serial_bits, max(0, math.floor(math.log2(mean_gap * math.log(2)))))


def encode(values: Iterable[int], serial_bits: int = SERIAL_BITS, *, k: int | None = None) -> bytes:
    """The code of strictly increasing ``values``, each below ``2**serial_bits``.

    ``k`` defaults to whichever of ``rice_parameter`` and its two neighbours
    gives the shortest code; a much smaller ``k`` is valid but writes up
    to ``2**(serial_bits - k)`` unary bits.  Raises ValueError if the values
    are not strictly increasing serial values.
    """
    _check_serial_bits(serial_bits)
    try:
        sorted_values = values if isinstance(values, array) and values.typecode == "Q" else array("Q", values)
        # d[i] = u[i] - u[i-1] with u[i] = v[i] - i: both raise OverflowError below zero.
        lifted = array("Q", map(operator.sub, sorted_values, range(len(sorted_values))))
        gaps = array("Q", map(operator.sub, lifted, itertools.chain((0,), lifted)))
    except (OverflowError, TypeError):
        raise ValueError("values are not strictly increasing serial values") from None
    count = len(gaps)
    if count > MAX_COUNT or (count and sorted_values[-1] >= 2**serial_bits):
        raise ValueError("values are not strictly increasing serial values")
    raw = _little_endian(gaps)
    if k is None:
        best = rice_parameter(count, serial_bits)
        total = lifted[-1] if count else 0  # the gaps telescope
        candidates = [c for c in (best - 1, best, best + 1) if 0 <= c <= serial_bits]
        k = min(candidates, key=lambda c: count * (c + 1) + ((total - _remainder_sum(raw, c)) >> c))
    elif not 0 <= k <= serial_bits:
        raise ValueError("Rice parameter out of range")
    return HEADER.pack(MAGIC, VERSION, k, serial_bits, count) + _remainders(raw, k) + _unary(gaps, k)


def decode(data: bytes | bytearray, serial_bits: int = SERIAL_BITS, *, max_count: int = MAX_COUNT) -> array[int]:
    """The sorted values that ``data`` codes, as an ``array('Q')``; raises ValueError on anything malformed.

    Refuses a wrong magic, version or serial space, a count above
    ``max_count``, a stream too short or too long for its count, non-zero
    padding and values beyond the serial space.  Before allocating the result
    it checks that ``data`` is long enough to hold the announced count, so
    the result is at most 64 times the input.
    """
    _check_serial_bits(serial_bits)
    view = memoryview(data).cast("B")
    if len(view) < HEADER.size:
        raise ValueError("revocation code shorter than its header")
    magic, version, k, bits, count = HEADER.unpack(view[: HEADER.size])
    if magic != MAGIC or version != VERSION:
        raise ValueError("not a revocation code of a known version")
    if bits != serial_bits or k > serial_bits:
        raise ValueError("revocation code for another serial space")
    if count > min(max_count, 2**serial_bits):
        raise ValueError("revocation code announces too many serials")
    whole, part = divmod(k, 8)
    plane = -(-count // 8)
    low_end = HEADER.size + whole * count
    high_end = low_end + part * plane
    unary = view[high_end:]
    # The quotients sum to at most (largest value - (count - 1)) >> k: bounds the unary section.
    most = -(-(count + ((2**serial_bits - count) >> k)) // 8)
    if len(view) < high_end or len(unary) < plane or len(unary) > most:
        raise ValueError("revocation code too short or too long for its count")
    lows = [view[HEADER.size + j * count : HEADER.size + (j + 1) * count] for j in range(whole)]
    highs = [view[low_end + t * plane : low_end + (t + 1) * plane] for t in range(part)]
    if count % 8 and any(high[-1] >> (count % 8) for high in highs):
        raise ValueError("revocation code has non-zero padding")

    ones = itertools.compress(itertools.count(), itertools.chain.from_iterable(_unpacked_windows(unary)))
    # Allocated once: grown by appending, the 40 MB of 5,000,000 values were copied on the way (peak +18 MB).
    values: array[int] = array("Q", [0]) * count
    carry, last = 0, -1
    for start in range(0, count, _CHUNK):
        stop = min(start + _CHUNK, count)
        positions = array("Q", itertools.islice(ones, stop - start))
        if len(positions) < stop - start:
            raise ValueError("revocation code ends early")
        sums = _remainders_of(lows, highs, start, stop)
        sums[0] += carry
        sums = array("Q", itertools.accumulate(sums))
        carry, last = sums[-1], positions[-1]
        # Value i is ((position of one i) - i) << k + (remainders up to i) + i; all three grow with i,
        # so a chunk whose last value is in the space has every lane below 2**64 and the lanes never carry.
        if ((last - (stop - 1)) << k) + carry + stop - 1 >= 2**serial_bits:
            raise ValueError("revocation code holds values beyond the serial space")
        index = _index_lanes(stop - start) + start * _one_lanes(stop - start)
        lanes = ((_lanes(positions) - index) << k) + _lanes(sums) + index
        chunk = array("Q")
        chunk.frombytes(lanes.to_bytes(8 * (stop - start), _ORDER))
        values[start:stop] = chunk
    if len(unary) != (last // 8 + 1 if count else 0) or (count and unary[-1] >> (last % 8 + 1)):
        raise ValueError("revocation code has bits after its last serial")
    return values


def _check_serial_bits(serial_bits: int) -> None:
    if not 1 <= serial_bits <= _MAX_SERIAL_BITS:
        raise ValueError("serial space out of range")


def _remainder_sum(raw: bytes, k: int) -> int:
    """The sum of the low ``k`` bits of the gaps whose little-endian bytes are ``raw``, a byte plane at a time."""
    whole, part = divmod(k, 8)
    total = sum(sum(raw[j::8]) << 8 * j for j in range(whole))
    return total + (sum(raw[whole::8].translate(_LOW[part])) << 8 * whole if part else 0)


def _little_endian(values: array[int]) -> bytes:
    if _ORDER == "little":
        return values.tobytes()
    swapped = array("Q", values)
    swapped.byteswap()
    return swapped.tobytes()


def _lanes(values: array[int]) -> int:
    """``values`` as one integer of 64-bit lanes, to add and shift them all at once."""
    return int.from_bytes(values.tobytes(), _ORDER)


def _remainders(raw: bytes, k: int) -> bytes:
    """The low ``k`` bits of the gaps whose little-endian bytes are ``raw``: byte planes, then bit planes."""
    whole, part = divmod(k, 8)
    planes = [raw[j::8] for j in range(whole)]
    if part:
        high = raw[whole::8].translate(_LOW[part])
        planes += [_pack_bits(high.translate(_BIT[t])) for t in range(part)]
    return b"".join(planes)


def _unary(gaps: array[int], k: int) -> bytes:
    """q zeros and a one for each quotient q, as one byte a bit, then packed."""
    bits = bytearray()
    for start in range(0, len(gaps), _CHUNK):
        quotients = map(operator.rshift, gaps[start : start + _CHUNK], itertools.repeat(k))
        bits += b"\x01".join(map(operator.mul, itertools.repeat(b"\x00"), quotients))
        bits += b"\x01"
    return _pack_bits(bits)


def _pack_bits(bits: bytes | bytearray) -> bytes:
    """Bytes of 0 and 1 as a bit string, least significant bit first, zero-padded to a whole byte."""
    size = -(-len(bits) // 8)
    padded = bytes(bits) + bytes(8 * size - len(bits))
    # Each byte of padded[j::8] is 0 or 1: shifting the whole integer by j < 8 stays inside every byte.
    packed = sum(int.from_bytes(padded[j::8], "little") << j for j in range(8))
    return packed.to_bytes(size, "little")


def _unpack_bits(packed: memoryview | bytes) -> bytearray:
    """The inverse of ``_pack_bits``: one byte, 0 or 1, a bit (padding included)."""
    packed = bytes(packed)
    bits = bytearray(8 * len(packed))
    for j in range(8):
        bits[j::8] = packed.translate(_BIT[j])
    return bits


def _unpacked_windows(packed: memoryview) -> Iterator[bytearray]:
    for start in range(0, len(packed), _WINDOW):
        yield _unpack_bits(packed[start : start + _WINDOW])


@functools.lru_cache(maxsize=2)
def _index_lanes(size: int) -> int:
    return _lanes(array("Q", range(size)))


@functools.lru_cache(maxsize=2)
def _one_lanes(size: int) -> int:
    return _lanes(array("Q", [1]) * size)


def _remainders_of(lows: list[memoryview], highs: list[memoryview], start: int, stop: int) -> array[int]:
    """The remainders of values ``start`` to ``stop`` (``start`` a multiple of 8), from their planes."""
    size = stop - start
    raw = bytearray(8 * size)
    for j, low in enumerate(lows):
        raw[j::8] = low[start:stop]
    if highs:
        span = slice(start // 8, -(-stop // 8))
        high = sum(int.from_bytes(_unpack_bits(plane[span])[:size], "little") << t for t, plane in enumerate(highs))
        raw[len(lows) :: 8] = high.to_bytes(size, "little")
    remainders = array("Q")
    remainders.frombytes(raw)
    if _ORDER == "big":
        remainders.byteswap()
    return remainders

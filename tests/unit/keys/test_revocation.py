"""The compact set of revoked serials carried in trust lists."""

from __future__ import annotations

import struct
import time
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys import RevokedSerials
from keys.serial import SERIAL_BITS, serial_from_value
from tests.factories import b64url

MAX_VALUE = 2**SERIAL_BITS - 1


def encoded_gaps(gaps, n=None, *, trailer=b""):
    """The wire form of ``gaps`` built by hand, with an optional lie about n."""
    raw = b"".join(struct.pack(">Q", gap) for gap in gaps)
    return {"n": len(gaps) if n is None else n, "z": b64url(zlib.compress(raw) + trailer)}


@pytest.mark.parametrize(
    "values",
    [[], [0], [MAX_VALUE], [0, MAX_VALUE], [0, 1, 2, 3], list(range(5, 50_000, 7)), [2**34, 17, 123456789]],
    ids=["empty", "zero", "max", "zero-and-max", "consecutive", "many", "unsorted"],
)
def test_encode_decode_round_trip(values):
    revoked = RevokedSerials(values)

    decoded = RevokedSerials.decode(revoked.encode())

    assert decoded == revoked
    assert list(decoded) == sorted(values)
    assert len(decoded) == len(values)
    assert decoded.digest() == revoked.digest()


def test_duplicates_are_stored_once():
    assert list(RevokedSerials([5, 5, 1, 5])) == [1, 5]


def test_wire_form_matches_the_documented_layout():
    # {"n": count, "z": base64url(zlib(big-endian u64 gaps))}
    assert RevokedSerials([3, 10, 11]).encode()["n"] == 3
    assert RevokedSerials.decode(encoded_gaps([3, 7, 1])) == RevokedSerials([3, 10, 11])


def test_many_serials_compress_well():
    revoked = RevokedSerials(range(0, 100_000 * 97, 97))
    assert len(revoked.encode()["z"]) < 100_000  # under 1 byte a serial for small gaps


def test_membership_by_serial_and_value():
    revoked = RevokedSerials.from_serials([serial_from_value(0), serial_from_value(MAX_VALUE), serial_from_value(42)])

    assert serial_from_value(42) in revoked
    assert serial_from_value(0) in revoked
    assert serial_from_value(MAX_VALUE) in revoked
    assert serial_from_value(43) not in revoked
    assert revoked.contains_value(42) and not revoked.contains_value(41)
    assert RevokedSerials().contains_value(0) is False


@pytest.mark.parametrize("not_a_serial", ["", "0000001A", "0000001", 42, None, b"00000019"])
def test_membership_of_something_that_is_not_a_serial_is_false(not_a_serial):
    assert not_a_serial not in RevokedSerials(range(100))


def test_union_and_difference():
    revoked = RevokedSerials([1, 2, 3])
    assert revoked.union([4, 2]) == RevokedSerials([1, 2, 3, 4])
    assert revoked.difference([2, 9]) == RevokedSerials([1, 3])
    assert revoked == RevokedSerials([3, 2, 1])  # unchanged: the set is immutable


small_values = st.lists(st.integers(0, 40), max_size=40) | st.lists(st.integers(0, MAX_VALUE), max_size=20)


@given(old=small_values, new=small_values)
def test_changes_to_are_the_set_differences(old, new):
    added, removed = RevokedSerials(old).changes_to(RevokedSerials(new))
    assert list(added) == sorted(set(new) - set(old))
    assert list(removed) == sorted(set(old) - set(new))


@pytest.mark.parametrize("shared", [1, 2, 3, 7, 8, 9, 1000, 4097])
def test_changes_to_across_long_shared_runs(shared):
    base = list(range(0, 10 * shared, 10))
    new = [*base[: shared // 2], 3, *base[shared // 2:], 10 * shared + 5]
    del new[-3]  # one shared value near the end goes
    added, removed = RevokedSerials(base).changes_to(RevokedSerials(new))
    assert list(added) == sorted(set(new) - set(base))
    assert list(removed) == sorted(set(base) - set(new))


def test_digest_depends_only_on_the_values():
    assert RevokedSerials([1, 2]).digest() == RevokedSerials([2, 1, 2]).digest()
    assert RevokedSerials([1, 2]).digest() != RevokedSerials([1, 3]).digest()
    assert RevokedSerials().digest() != RevokedSerials([0]).digest()


def test_from_serials_refuses_an_invalid_serial():
    with pytest.raises(ValueError):
        RevokedSerials.from_serials(["NOTASERIAL"])


@pytest.mark.parametrize(
    "encoded",
    [
        None,
        [],
        "n=1",
        {"n": 0},
        {"z": ""},
        {"n": 0, "z": b64url(zlib.compress(b"")), "extra": 1},
        {"n": -1, "z": b64url(zlib.compress(b""))},
        {"n": True, "z": b64url(zlib.compress(b"\0" * 8))},
        {"n": 1.0, "z": b64url(zlib.compress(b"\0" * 8))},
        {"n": "1", "z": b64url(zlib.compress(b"\0" * 8))},
        {"n": 2**28 + 1, "z": b64url(zlib.compress(b""))},
        {"n": 0, "z": None},
        {"n": 0, "z": b"eJwDAAAAAAE"},
        {"n": 0, "z": "not base64!"},
        {"n": 0, "z": b64url(zlib.compress(b"")) + "="},
        {"n": 1, "z": b64url(b"\0" * 8)},  # not zlib
        {"n": 1, "z": b64url(zlib.compress(b"\0" * 8))[:-3]},  # truncated stream
    ],
    ids=lambda value: repr(value)[:40],
)
def test_decode_refuses_malformed_input(encoded):
    with pytest.raises(ValueError):
        RevokedSerials.decode(encoded)


@pytest.mark.parametrize("n", [0, 1, 3, 100])
def test_decode_refuses_a_count_that_does_not_match_the_data(n):
    with pytest.raises(ValueError):
        RevokedSerials.decode(encoded_gaps([1, 2], n=n))


def test_decode_refuses_bytes_after_the_zlib_stream():
    with pytest.raises(ValueError):
        RevokedSerials.decode(encoded_gaps([1, 2], trailer=b"\0"))
    with pytest.raises(ValueError):
        RevokedSerials.decode(encoded_gaps([1, 2], trailer=zlib.compress(b"\0" * 8)))


def test_decode_refuses_data_that_is_not_whole_gaps():
    raw = struct.pack(">Q", 1) + b"\0\0\0"
    with pytest.raises(ValueError):
        RevokedSerials.decode({"n": 1, "z": b64url(zlib.compress(raw))})


def test_zlib_bomb_claiming_a_small_count_is_refused_quickly():
    bomb = {"n": 2, "z": b64url(zlib.compress(b"\0" * 20_000_000, 9))}  # ~20 kB inflating to 20 MB
    assert len(bomb["z"]) < 40_000
    started = time.perf_counter()
    with pytest.raises(ValueError):
        RevokedSerials.decode(bomb)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("gaps", [[5, 0], [1, 2, 0, 3], [0, 0]], ids=["dup-last", "dup-middle", "zero-twice"])
def test_decode_refuses_gaps_that_do_not_increase(gaps):
    with pytest.raises(ValueError):
        RevokedSerials.decode(encoded_gaps(gaps))


def test_a_first_gap_of_zero_is_serial_value_zero():
    assert list(RevokedSerials.decode(encoded_gaps([0, 1]))) == [0, 1]


@pytest.mark.parametrize(
    "gaps",
    [[2**64 - 1, 1], [2**63, 2**63], [MAX_VALUE + 1], [MAX_VALUE, 1], [2**40]],
    ids=["u64-overflow", "sum-overflow", "one-past-max", "max-then-one", "2**40"],
)
def test_decode_refuses_values_beyond_the_serial_space(gaps):
    with pytest.raises(ValueError):
        RevokedSerials.decode(encoded_gaps(gaps))

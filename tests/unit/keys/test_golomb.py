"""The Golomb-Rice code of a set of revoked serial values: round trips, size, and every refusal."""

from __future__ import annotations

import random
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import golomb
from keys.serial import SERIAL_BITS

TOP = 2**SERIAL_BITS - 1
PROPERTY = settings(derandomize=True, max_examples=200, deadline=None, database=None)
value_sets = st.sets(st.integers(0, TOP) | st.sampled_from([0, 1, TOP - 1, TOP]), max_size=300)


def random_values(count: int, seed: int = 14, serial_bits: int = SERIAL_BITS) -> array[int]:
    return array("Q", sorted(random.Random(seed).sample(range(2**serial_bits), count)))


def with_header(code: bytes, *, magic=golomb.MAGIC, version=golomb.VERSION, k=None, bits=SERIAL_BITS, count=None):
    """``code`` with some of its header fields replaced."""
    old_magic, old_version, old_k, old_bits, old_count = golomb.HEADER.unpack_from(code)
    header = golomb.HEADER.pack(magic, version, old_k if k is None else k, bits, old_count if count is None else count)
    return header + code[golomb.HEADER.size :]


@PROPERTY
@given(value_sets)
def test_round_trip(values):
    ordered = array("Q", sorted(values))

    assert golomb.decode(golomb.encode(ordered)) == ordered


@PROPERTY
@given(value_sets, st.integers(SERIAL_BITS - 12, SERIAL_BITS))
def test_round_trip_with_any_rice_parameter(values, k):
    # Smaller k are as valid but code values near the top with 2**(35 - k) unary bits.
    ordered = array("Q", sorted(values))

    assert golomb.decode(golomb.encode(ordered, k=k)) == ordered


@pytest.mark.parametrize(
    "values",
    [[], [0], [TOP], [0, TOP], [0, 1, 2, 3], list(range(TOP - 20, TOP + 1)), list(range(0, 10**6, 3))],
    ids=["empty", "zero", "top", "zero-and-top", "consecutive", "consecutive-at-top", "many-small-gaps"],
)
def test_round_trip_at_the_edges(values):
    assert list(golomb.decode(golomb.encode(values))) == values


def test_round_trip_across_decoding_chunks():
    values = random_values(3 * 65536 + 13)

    assert golomb.decode(golomb.encode(values)) == values


def test_round_trip_in_another_serial_space():
    values = random_values(1000, serial_bits=48)

    assert golomb.decode(golomb.encode(values, serial_bits=48), serial_bits=48) == values


def test_size_within_five_percent_of_the_information_bound():
    bound = golomb.information_bound_bits(100_000) / 8

    size = len(golomb.encode(random_values(100_000)))

    assert bound <= size <= 1.05 * bound


def test_chosen_rice_parameter_is_near_log2_of_the_mean_gap():
    code = golomb.encode(random_values(100_000))

    assert abs(golomb.HEADER.unpack_from(code)[2] - golomb.rice_parameter(100_000)) <= 1
    assert golomb.rice_parameter(100_000) == 17  # floor(log2(2**35 / 100,000 * ln 2))


def test_header_layout():
    code = golomb.encode([5, 9])

    assert golomb.HEADER.unpack_from(code)[:2] == (b"KRG", 1)
    assert golomb.HEADER.unpack_from(code)[3:] == (SERIAL_BITS, 2)


# --- the encoder refuses what is not a set of serial values -------------------


@pytest.mark.parametrize(
    "values",
    [[3, 3], [5, 4], [1, 2, 2], [TOP + 1], [-1], [0, 2**64 - 1]],
    ids=["duplicate", "descending", "duplicate-later", "beyond-space", "negative", "far-beyond-space"],
)
def test_encoder_refuses_values_that_are_not_strictly_increasing_serials(values):
    with pytest.raises(ValueError, match="strictly increasing"):
        golomb.encode(values)


def test_encoder_refuses_a_rice_parameter_beyond_the_space():
    with pytest.raises(ValueError, match="Rice parameter"):
        golomb.encode([1, 2], k=SERIAL_BITS + 1)


# --- the decoder refuses hostile input -------------------------------------------


@pytest.fixture(scope="module")
def code():
    return golomb.encode(random_values(1001))


def test_wrong_magic(code):
    with pytest.raises(ValueError, match="known version"):
        golomb.decode(with_header(code, magic=b"KRX"))


def test_wrong_version(code):
    with pytest.raises(ValueError, match="known version"):
        golomb.decode(with_header(code, version=2))


def test_code_for_another_serial_space(code):
    with pytest.raises(ValueError, match="another serial space"):
        golomb.decode(with_header(code, bits=SERIAL_BITS + 1))


def test_rice_parameter_beyond_the_space(code):
    with pytest.raises(ValueError, match="another serial space"):
        golomb.decode(with_header(code, k=SERIAL_BITS + 1))


def test_count_above_the_cap_is_refused_before_allocating(code):
    with pytest.raises(ValueError, match="too many"):
        golomb.decode(with_header(code, count=2**32 - 1))
    with pytest.raises(ValueError, match="too many"):
        golomb.decode(code, max_count=1000)


def test_huge_count_in_a_small_input_is_refused_before_allocating(code):
    # 2**28 serials need at least 2**28 / 8 bytes of unary bits: refused from the lengths alone.
    with pytest.raises(ValueError, match="too short"):
        golomb.decode(with_header(code, count=golomb.MAX_COUNT))


def test_header_cut_short(code):
    with pytest.raises(ValueError, match="header"):
        golomb.decode(code[: golomb.HEADER.size - 1])


@pytest.mark.parametrize("cut", [1, 2, 40, 300, 1000])
def test_stream_that_ends_early(code, cut):
    with pytest.raises(ValueError, match="too short|ends early"):
        golomb.decode(code[:-cut])


def test_count_larger_than_the_stream_holds():
    # Eight values with k = 8 announced as nine, a ninth remainder byte added: the two unary bytes hold eight ones.
    code = golomb.encode(range(0, 800, 100), k=8)
    low = golomb.HEADER.size + 8

    with pytest.raises(ValueError, match="ends early"):
        golomb.decode(with_header(code[:low], count=9) + b"\x00" + code[low:] + b"\x00")


def test_trailing_byte_after_the_last_serial(code):
    with pytest.raises(ValueError, match="after its last serial"):
        golomb.decode(code + b"\x00")


def test_trailing_non_zero_bits_after_the_last_serial():
    code = golomb.encode([7], k=3)  # quotient 0: a single one bit, then seven bits of padding
    assert code[-1] == 0b1

    with pytest.raises(ValueError, match="after its last serial"):
        golomb.decode(code[:-1] + b"\x81")


def test_non_zero_padding_in_a_bit_plane():
    code = golomb.encode([1, 2, 3], k=1)  # one bit plane of one byte, three bits used
    plane = golomb.HEADER.size

    with pytest.raises(ValueError, match="padding"):
        golomb.decode(code[:plane] + bytes([code[plane] | 0x80]) + code[plane + 1 :])


def test_unary_bits_for_an_empty_set():
    with pytest.raises(ValueError, match="after its last serial"):
        golomb.decode(golomb.encode([]) + b"\x01")


def test_value_beyond_the_serial_space():
    # One value with k = 35: four byte planes and three bit planes of one byte each, then the unary quotient.
    header = golomb.HEADER.pack(golomb.MAGIC, golomb.VERSION, SERIAL_BITS, SERIAL_BITS, 1)
    largest_remainder = b"\xff" * 4 + b"\x01" * 3
    assert golomb.decode(header + largest_remainder + b"\x01") == array("Q", [TOP])

    with pytest.raises(ValueError, match="beyond the serial space"):
        golomb.decode(header + largest_remainder + b"\x02")  # quotient 1: 2**35 + TOP


def test_duplicates_cannot_be_written():
    # Gaps are stored less one: the smallest code for two values, both quotients and remainders zero, is 0 and 1.
    header = golomb.HEADER.pack(golomb.MAGIC, golomb.VERSION, 0, SERIAL_BITS, 2)

    assert golomb.decode(header + b"\x03") == array("Q", [0, 1])


@PROPERTY
@given(st.binary(max_size=200), st.integers(0, SERIAL_BITS), st.integers(0, 40))
def test_any_input_decodes_to_strictly_increasing_serials_or_is_refused(body, k, count):
    data = golomb.HEADER.pack(golomb.MAGIC, golomb.VERSION, k, SERIAL_BITS, count) + body
    try:
        values = golomb.decode(data)
    except ValueError:
        return
    assert len(values) == count
    assert all(a < b for a, b in zip(values, values[1:], strict=False))
    assert all(0 <= value <= TOP for value in values)
    assert golomb.encode(values, k=k) == data  # one code per set and k: nothing else decodes


@PROPERTY
@given(value_sets.filter(bool), st.data())
def test_flipping_any_bit_never_yields_an_invalid_set(values, data):
    code = bytearray(golomb.encode(sorted(values)))
    index = data.draw(st.integers(golomb.HEADER.size, len(code) - 1))
    code[index] ^= 1 << data.draw(st.integers(0, 7))
    try:
        decoded = golomb.decode(bytes(code))
    except ValueError:
        return
    assert decoded != array("Q", sorted(values))
    assert all(a < b for a, b in zip(decoded, decoded[1:], strict=False))
    assert all(value <= TOP for value in decoded)


def test_information_bound():
    assert golomb.information_bound_bits(0) == 0
    assert golomb.information_bound_bits(1) == pytest.approx(SERIAL_BITS, abs=1e-3)
    # n * (B - log2 n + 1.44) for n much smaller than the space
    assert golomb.information_bound_bits(10**6) == pytest.approx(10**6 * (SERIAL_BITS - 19.93 + 1.44), rel=1e-3)


"""Card serials: Crockford base32 with a Luhn mod 32 check character."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys.serial import (
    ALPHABET,
    SERIAL_BITS,
    SERIAL_LENGTH,
    check_character,
    is_valid_serial,
    new_serial,
    normalize_serial,
    serial_from_value,
    serial_value,
    value_if_serial,
)

# A deterministic spread over the 35-bit space, plus its edges.
SAMPLE_VALUES = [0, 1, 31, 32, 2**SERIAL_BITS - 1] + [(v * 0x9E3779B1) % 2**SERIAL_BITS for v in range(1, 60)]


@pytest.mark.parametrize("value", SAMPLE_VALUES)
def test_serial_value_round_trip(value):
    serial = serial_from_value(value)
    assert len(serial) == SERIAL_LENGTH
    assert is_valid_serial(serial)
    assert serial_value(serial) == value


@given(st.integers(0, 2**SERIAL_BITS - 1))
def test_the_value_is_the_body_read_digit_by_digit_in_crockfords_alphabet(value):
    serial = serial_from_value(value)
    by_digits = 0
    for char in serial[:-1]:
        by_digits = by_digits * 32 + ALPHABET.index(char)
    assert value_if_serial(serial) == serial_value(serial) == by_digits == value


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz _+-", max_size=10))
def test_value_if_serial_is_none_exactly_for_what_is_not_a_serial(text):
    valid = len(text) == SERIAL_LENGTH and all(char in ALPHABET for char in text) and (
        check_character(text[:-1]) == text[-1])
    assert (value_if_serial(text) is not None) == valid == is_valid_serial(text)


def test_serials_of_edge_values():
    assert serial_from_value(0)[:-1] == "0000000"
    assert serial_from_value(2**SERIAL_BITS - 1)[:-1] == "ZZZZZZZ"


@pytest.mark.parametrize("value", [-1, 2**SERIAL_BITS, 2**64])
def test_serial_from_value_refuses_out_of_range(value):
    with pytest.raises(ValueError):
        serial_from_value(value)


@pytest.mark.parametrize("text", ["", "0000000", "000000000", "0000000I", "abcdefgh", "0000-0000", 12345678, None])
def test_serial_value_refuses_what_is_not_a_serial(text):
    with pytest.raises(ValueError):
        serial_value(text)  # type: ignore[arg-type]


def test_check_character_catches_every_single_character_substitution():
    missed = [
        (serial, position, replacement)
        for serial in map(serial_from_value, SAMPLE_VALUES)
        for position in range(SERIAL_LENGTH)
        for replacement in ALPHABET
        if replacement != serial[position] and is_valid_serial(serial[:position] + replacement + serial[position + 1 :])
    ]
    assert missed == []


def _serial_with_pair(first: str, second: str, position: int) -> str:
    """A valid serial holding ``first`` at ``position`` and, unless that is the check, ``second`` next."""
    body = list("3K7P1X9")
    body[position] = first
    if position + 1 < len(body):
        body[position + 1] = second
    return "".join(body) + check_character("".join(body))


def test_check_character_catches_every_adjacent_transposition():
    # Exhaustive: every ordered pair of distinct characters at every pair of
    # neighbouring positions, including the last body character and the check.
    missed = []
    for first in ALPHABET:
        for second in ALPHABET:
            for position in range(SERIAL_LENGTH - 1):
                serial = _serial_with_pair(first, second, position)
                a, b = serial[position], serial[position + 1]
                if a == b:
                    continue
                swapped = serial[:position] + b + a + serial[position + 2 :]
                if is_valid_serial(swapped):
                    missed.append(f"{serial}->{swapped}")
    assert missed == []


def test_new_serials_are_valid_and_differ():
    serials = {new_serial() for _ in range(50)}
    assert all(is_valid_serial(serial) for serial in serials)
    assert len(serials) == 50


@pytest.mark.parametrize("not_a_serial", [None, 12345678, b"00000000", "", "0000000I", "0000000O", "0000000U"])
def test_is_valid_serial_refuses_non_serials(not_a_serial):
    assert not is_valid_serial(not_a_serial)


def test_normalize_serial_forgives_case_dashes_spaces_and_look_alikes():
    serial = serial_from_value(0x1234567)
    typed = f" {serial[:4].lower()}-{serial[4:]} "

    assert normalize_serial(typed) == serial
    assert normalize_serial("o1il-OIL0") == "0111" + "0110"
    assert normalize_serial("abcd efgh") == "ABCDEFGH"


def test_normalize_serial_does_not_make_an_invalid_serial_valid():
    assert not is_valid_serial(normalize_serial("hello-world"))

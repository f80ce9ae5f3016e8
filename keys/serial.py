"""Card serials: random, in Crockford's base32, with a check character.

A serial is ``SERIAL_RANDOM_CHARS`` random characters (35 bits) followed by a
check character chosen so that the weighted sum of all eight characters over
GF(32) (weights the powers of a root of x^5 + x^2 + 1) is zero.  That catches
every single mistyped character and every swap of two neighbours, the check
character included; Luhn mod 32 misses the swap of 0 and Z.  Serials carry no personal data; their
numeric value is what the trust list's compact revocation set stores.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
SERIAL_RANDOM_CHARS = 7
SERIAL_BITS = 5 * SERIAL_RANDOM_CHARS
SERIAL_LENGTH = SERIAL_RANDOM_CHARS + 1
SERIAL_PATTERN = re.compile(f"[{ALPHABET}]{{{SERIAL_LENGTH}}}")
_LOOK_ALIKES = str.maketrans("OIL", "011")
_VALUE = {char: index for index, char in enumerate(ALPHABET)}
_AS_BASE32 = str.maketrans(ALPHABET, "0123456789ABCDEFGHIJKLMNOPQRSTUV")


def _times_alpha(value: int) -> int:
    """``value`` times the primitive element in GF(32) = GF(2)[x] / (x^5 + x^2 + 1)."""
    value <<= 1
    return value ^ 0b100101 if value & 0b100000 else value


def check_character(body: str) -> str:
    """The check character that makes the weighted sum of ``body`` + it zero."""
    total = 0
    for char in body:
        total = _times_alpha(total) ^ _VALUE[char]
    return ALPHABET[_times_alpha(total)]


def serial_from_value(value: int) -> str:
    if not 0 <= value < 2**SERIAL_BITS:
        raise ValueError("serial value out of range")
    body = "".join(ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(SERIAL_RANDOM_CHARS)))
    return body + check_character(body)


def serial_value(serial: str) -> int:
    """The number a valid serial stands for; raises ValueError otherwise."""
    value = value_if_serial(serial)
    if value is None:
        raise ValueError("not a card serial")
    return value


def value_if_serial(serial: object) -> int | None:
    """The number ``serial`` stands for if it is a valid serial, else None: one check for a lookup."""
    if not isinstance(serial, str) or SERIAL_PATTERN.fullmatch(serial) is None:
        return None
    if check_character(serial[:-1]) != serial[-1]:
        return None
    # Crockford's digits in the order of int()'s base 32 digits: the body's value is read in C.
    return int(serial[:SERIAL_RANDOM_CHARS].translate(_AS_BASE32), 32)


def is_valid_serial(serial: object) -> bool:
    return value_if_serial(serial) is not None


def normalize_serial(text: str) -> str:
    """A serial as typed by a person: case, dashes and look-alikes forgiven."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    return cleaned.translate(_LOOK_ALIKES)


def new_serial() -> str:
    return serial_from_value(secrets.randbits(SERIAL_BITS))

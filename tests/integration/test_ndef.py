"""The NFC side of a card: the NDEF file issuer.artifacts writes, read with ndeflib.

An NTAG215 (ISO 14443 Type 2) has 504 bytes of user memory, which holds the
NDEF message inside a TLV: 0x03, the length (one byte, or 0xFF and two bytes
from 255 on), the message, and the terminator 0xFE.
"""

from __future__ import annotations

from pathlib import Path

import ndef
import pytest

from issuer.artifacts import CardFiles, ndef_message, write_card_files
from keys import MAX_TOKEN_LENGTH, NDEF_RECORD_TYPE
from verifier.ndef_payload import token_from_ndef

NTAG215_USER_BYTES = 504
NDEF_MESSAGE_TLV, TERMINATOR_TLV = 0x03, 0xFE


def type2_tlv(message: bytes) -> bytes:
    """The bytes written to a Type 2 tag's user memory for ``message``."""
    length = bytes([len(message)]) if len(message) < 255 else bytes([255]) + len(message).to_bytes(2, "big")
    return bytes([NDEF_MESSAGE_TLV]) + length + message + bytes([TERMINATOR_TLV])


@pytest.fixture(scope="module")
def written(card_tokens: list[str], tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, CardFiles]]:
    out = tmp_path_factory.mktemp("cards")
    return [(token, write_card_files(f"card{index}", token, out)) for index, token in enumerate(card_tokens)]


def test_each_ndef_file_holds_exactly_one_kia_record_carrying_the_token(
    written: list[tuple[str, CardFiles]],
) -> None:
    for token, files in written:
        records = list(ndef.message_decoder(files.ndef.read_bytes(), errors="strict"))

        assert len(records) == 1
        (record,) = records
        assert record.type == NDEF_RECORD_TYPE
        assert record.name == ""
        assert bytes(record.data) == token.encode("ascii")
        assert token_from_ndef(files.ndef.read_bytes()) == token.encode("ascii")


def test_the_ndef_file_is_the_message_and_nothing_else(written: list[tuple[str, CardFiles]]) -> None:
    for token, files in written:
        data = files.ndef.read_bytes()

        assert data == ndef_message(token)
        assert data[0] & 0xC0 == 0xC0  # MB and ME: one record is the whole message
        assert data[0] & 0x07 == 0x04  # TNF 4: NFC Forum external type


def test_the_tlv_fits_the_user_memory_of_an_ntag215(written: list[tuple[str, CardFiles]]) -> None:
    for _token, files in written:
        message = files.ndef.read_bytes()
        tlv = type2_tlv(message)

        assert len(message) >= 0xFF  # a card token needs the three-byte length form
        assert tlv[:4] == bytes([0x03, 0xFF]) + len(message).to_bytes(2, "big")
        assert tlv[-1] == TERMINATOR_TLV
        assert len(tlv) <= NTAG215_USER_BYTES


def test_even_the_largest_token_a_verifier_accepts_fits_an_ntag215() -> None:
    message = ndef_message("A" * MAX_TOKEN_LENGTH)

    assert len(type2_tlv(message)) <= NTAG215_USER_BYTES


def test_a_short_message_uses_the_one_byte_tlv_length() -> None:
    assert type2_tlv(b"\xd0\x00\x00") == b"\x03\x03\xd0\x00\x00\xfe"


def test_card_files_are_named_by_serial(written: list[tuple[str, CardFiles]], tmp_path: Path) -> None:
    token = written[0][0]
    files = write_card_files("00J6HB7S", token, tmp_path)

    assert (files.qr_png.name, files.qr_svg.name, files.ndef.name) == ("00J6HB7S.png", "00J6HB7S.svg", "00J6HB7S.ndef")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["00J6HB7S.ndef", "00J6HB7S.png", "00J6HB7S.svg"]

"""Finding the card in what a reader saw: an NDEF message, or a line a scanner typed."""

from __future__ import annotations

import ndef
import pytest

from firmware_bridge.errors import NotACard
from firmware_bridge.payload import (
    KIA_RECORD_TYPE,
    LOGGED_PREFIX,
    MAX_LINE_CHARS,
    describe,
    payload_from_line,
    payload_from_ndef,
)
from issuer.artifacts import ndef_message
from keys import NDEF_RECORD_TYPE, qr_text


def message(*records: tuple[str, bytes]) -> bytes:
    return b"".join(ndef.message_encoder([ndef.Record(kind, "", data) for kind, data in records]))


def test_the_record_type_is_the_one_the_office_writes() -> None:
    assert KIA_RECORD_TYPE == NDEF_RECORD_TYPE


# --- NDEF ------------------------------------------------------------------------------


def test_the_token_comes_out_of_the_message_the_office_writes(tokens: list[str]) -> None:
    assert payload_from_ndef(ndef_message(tokens[0])) == tokens[0]


def test_other_records_beside_the_card_are_ignored(tokens: list[str]) -> None:
    data = message(("urn:nfc:wkt:U", b"\x04kia.example"), (KIA_RECORD_TYPE, tokens[0].encode()))

    assert payload_from_ndef(data) == tokens[0]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x01\x02 not ndef",
        message(("urn:nfc:wkt:T", b"\x02enhello")),  # a tag with something else on it
        message(("urn:nfc:ext:dukcapil.go.id:kia2", b"eyJ")),  # a lookalike type
        message((KIA_RECORD_TYPE, b"eyJa"), (KIA_RECORD_TYPE, b"eyJb")),  # two cards: which one?
        message((KIA_RECORD_TYPE, b"A" * 900)),  # larger than any tag a card uses
    ],
    ids=["empty", "not-ndef", "text-record", "lookalike-type", "two-cards", "oversized"],
)
def test_a_message_without_exactly_one_card_is_not_a_card(data: bytes) -> None:
    with pytest.raises(NotACard):
        payload_from_ndef(data)


def test_a_damaged_card_record_is_still_passed_on_for_the_verifier_to_refuse() -> None:
    assert payload_from_ndef(message((KIA_RECORD_TYPE, b"eyJ\xff\xfe"))) == "eyJ\ufffd\ufffd"


# --- typed lines -------------------------------------------------------------------------


def test_a_clean_line_is_the_payload(tokens: list[str]) -> None:
    assert payload_from_line(tokens[0]) == tokens[0]
    assert payload_from_line(qr_text(tokens[0])) == qr_text(tokens[0])


@pytest.mark.parametrize("prefix", ["]Q1", "]Q3 ", "\x1b[A", "x", "\x02", "noise 1234 "])
def test_garbage_before_the_card_is_dropped(tokens: list[str], prefix: str) -> None:
    assert payload_from_line(prefix + tokens[0]) == tokens[0]
    assert payload_from_line(prefix + qr_text(tokens[0])) == qr_text(tokens[0])


def test_trailing_spaces_and_control_characters_are_dropped(tokens: list[str]) -> None:
    assert payload_from_line(tokens[0] + "  \x03") == tokens[0]
    assert payload_from_line(tokens[0][:50] + "\x00" + tokens[0][50:]) == tokens[0]


def test_a_doubled_keystroke_is_passed_on_as_typed_never_repaired(tokens: list[str]) -> None:
    doubled = tokens[0][:100] + tokens[0][99] + tokens[0][100:]

    assert payload_from_line(doubled) == doubled


def test_a_line_that_is_not_a_card_is_passed_on_so_staff_see_why(tokens: list[str]) -> None:
    assert payload_from_line("8991234567890") == "8991234567890"  # a product's barcode


@pytest.mark.parametrize("line", ["", "   ", "a", "1234567", "\x1b\x1b\x1b", "x" * (MAX_LINE_CHARS + 1)])
def test_stray_keystrokes_and_overlong_lines_are_noise(line: str) -> None:
    assert payload_from_line(line) is None


def test_a_payload_in_the_log_is_its_first_characters_and_length(tokens: list[str]) -> None:
    text = describe(tokens[0])

    assert tokens[0][:LOGGED_PREFIX] in text and tokens[0][: LOGGED_PREFIX + 1] not in text
    assert str(len(tokens[0])) in text

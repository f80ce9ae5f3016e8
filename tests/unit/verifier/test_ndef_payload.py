"""verifier.ndef_payload: the card token inside what an NFC tag returned."""

from __future__ import annotations

import ndef
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issuer.artifacts import ndef_message
from keys import NDEF_RECORD_TYPE, InvalidCardError
from keys.errors import CardMalformed, CardTooLarge
from tests.factories import make_trust
from verifier.ndef_payload import MAX_NDEF_MESSAGE, token_from_ndef

TOKEN = make_trust().issue()


def encode(*records: ndef.Record) -> bytes:
    return b"".join(ndef.message_encoder(list(records)))


def kia_record(payload: bytes = TOKEN.encode("ascii")) -> ndef.Record:
    return ndef.Record(NDEF_RECORD_TYPE, "", payload)


def test_the_message_the_office_writes_gives_back_the_token() -> None:
    assert token_from_ndef(ndef_message(TOKEN)) == TOKEN.encode("ascii")


def test_other_records_beside_the_one_kia_record_are_ignored() -> None:
    message = encode(ndef.UriRecord("https://dukcapil.surakarta.go.id/kia"), kia_record(), ndef.TextRecord("KIA"))

    assert token_from_ndef(message) == TOKEN.encode("ascii")


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"hello, not a tag",
        TOKEN.encode("ascii"),  # the bare token is not an NDEF message
        ndef_message(TOKEN)[:-10],  # a read cut short
        b"\x03\x10" + ndef_message(TOKEN),  # still wrapped in its Type 2 TLV
    ],
    ids=["empty", "text", "bare-token", "truncated", "tlv-wrapped"],
)
def test_anything_but_an_ndef_message_is_malformed(message: bytes) -> None:
    with pytest.raises(CardMalformed) as caught:
        token_from_ndef(message)
    assert caught.value.reason == "malformed"


@pytest.mark.parametrize(
    "records",
    [
        [ndef.TextRecord("KIA 00J6HB7S")],
        [ndef.Record("urn:nfc:ext:dukcapil.go.id:kia-v2", "", TOKEN.encode("ascii"))],
        [ndef.Record("urn:nfc:ext:example.com:kia", "", TOKEN.encode("ascii"))],
        [ndef.Record("text/plain", "", TOKEN.encode("ascii"))],
    ],
    ids=["text-record", "other-version", "other-domain", "mime"],
)
def test_a_message_without_a_kia_record_is_malformed(records: list[ndef.Record]) -> None:
    with pytest.raises(CardMalformed, match="exactly one KIA card record"):
        token_from_ndef(encode(*records))


def test_two_kia_records_are_refused_rather_than_guessing_which_is_the_card() -> None:
    other = make_trust().issue()

    with pytest.raises(CardMalformed, match="exactly one KIA card record"):
        token_from_ndef(encode(kia_record(), kia_record(other.encode("ascii"))))
    with pytest.raises(CardMalformed):
        token_from_ndef(encode(kia_record(), kia_record()))


def test_a_message_larger_than_any_tag_is_too_large_before_it_is_parsed() -> None:
    overhead = len(encode(kia_record(b"A" * 300))) - 300  # header, lengths and type of a long record
    fits = encode(kia_record(b"A" * (MAX_NDEF_MESSAGE - overhead)))
    assert len(fits) == MAX_NDEF_MESSAGE
    assert token_from_ndef(fits) == b"A" * (MAX_NDEF_MESSAGE - overhead)

    for message in (encode(kia_record(b"A" * MAX_NDEF_MESSAGE)), b"\xff" * (MAX_NDEF_MESSAGE + 1)):
        with pytest.raises(CardTooLarge) as caught:
            token_from_ndef(message)
        assert caught.value.reason == "too_large"


@pytest.mark.parametrize(
    "message",
    [
        b"\xd1\x01\x00\xe0",  # one short record whose type is a non-ASCII byte
        b"\xd1\x01\x04T\x02e\xc2x",  # a Text record whose language is not ASCII
        b"\xd4\x04\x00\xff\xfe\xfd\xfc",  # an external type of non-ASCII bytes
    ],
    ids=["non-ascii-type", "text-record-bad-language", "non-ascii-external-type"],
)
def test_a_damaged_tag_is_malformed_not_a_crash(message: bytes) -> None:
    with pytest.raises(CardMalformed):
        token_from_ndef(message)


@settings(derandomize=True, max_examples=300, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_a_corrupted_tag_only_ever_raises_an_invalid_card_error(flips: list[tuple[int, int]]) -> None:
    message = bytearray(encode(ndef.TextRecord("Kartu Identitas Anak"), kia_record()))
    for position, value in flips:
        message[position % len(message)] = value

    try:
        token = token_from_ndef(bytes(message))
    except InvalidCardError:
        return
    assert isinstance(token, bytes)

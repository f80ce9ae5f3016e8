"""NFC cards end to end without hardware: nfcpy's UDP driver and simulated tags.

The bridge's reader is the real nfcpy stack (ContactlessFrontend, the tag
type's commands, the NDEF parsing); only the radio is a UDP socket, and the
card a simulator in another thread answering NTAG215 (Type 2), Type 4 and
FeliCa (Type 3) commands (firmware_bridge.tagsim).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

import ndef
import pytest

from firmware_bridge import events
from firmware_bridge.dispatch import Dispatcher
from firmware_bridge.errors import (
    NotACard,
    NoTag,
    TagError,
    TagNotNdef,
    TagNotWritable,
    TagTooSmall,
    TagWriteFailed,
)
from firmware_bridge.nfc_reader import NfcReader
from firmware_bridge.nfc_write import write_card
from firmware_bridge.payload import payload_from_ndef
from firmware_bridge.tagsim import FelicaSimulator, NtagSimulator, Type4Simulator, UdpTag
from issuer.artifacts import ndef_message
from tests.unit.firmware_bridge.doubles import CardVerifier

from .conftest import TIMEOUT

TYPE_A, FELICA = ("106A",), ("212F",)
Tag = TypeVar("Tag", bound=UdpTag)


class StartTag(Protocol):
    def __call__(self, tag: Tag) -> Tag: ...


@pytest.fixture()
def tags() -> Iterator[StartTag]:
    started: list[UdpTag] = []

    def start(tag: Tag) -> Tag:
        started.append(tag.start())
        return tag

    yield start
    for tag in started:
        tag.stop()


class Reading:
    """An NfcReader running on a simulated tag until the test ends."""

    def __init__(self, tag: UdpTag, dispatcher: Dispatcher, targets: tuple[str, ...], repeat_window: float) -> None:
        self.tag = tag
        self.reader = NfcReader(tag.path, dispatcher, targets, repeat_window, name="nfc")
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.reader.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.tag.kick()  # a reader waiting for an absent card's answer stops at once
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()


ReadTag = Callable[..., "Reading"]


@pytest.fixture()
def reading(dispatcher: Dispatcher) -> Iterator[ReadTag]:
    readers: list[Reading] = []

    def read(tag: UdpTag, targets: tuple[str, ...] = TYPE_A, repeat_window: float = 1.0) -> Reading:
        readers.append(Reading(tag, dispatcher, targets, repeat_window))
        return readers[-1]

    yield read
    for reader in readers:
        reader.close()


def message(*records: tuple[str, bytes]) -> bytes:
    return b"".join(ndef.message_encoder([ndef.Record(kind, "", data) for kind, data in records]))


def ignored(dispatcher: Dispatcher) -> list[str]:
    return [event.detail for event in dispatcher.events.recent(events.IGNORED)]


# --- reading cards ------------------------------------------------------------------------


def test_a_card_on_an_ntag215_is_read_and_passed_on(
    tags: StartTag, reading: ReadTag, dispatcher: Dispatcher, verifier: CardVerifier, card_tokens: list[str]
) -> None:
    tag = tags(NtagSimulator("NTAG215", ndef_message(card_tokens[0])))
    reading(tag)

    assert dispatcher.events.wait_for(events.DECIDED, 1, "nfc", TIMEOUT, detail="accepted")
    assert [(call.payload, call.source) for call in verifier.calls] == [(card_tokens[0], "nfc")]


def test_a_card_left_on_the_reader_is_read_once_and_again_after_it_is_taken_off_and_back(
    tags: StartTag, reading: ReadTag, dispatcher: Dispatcher, verifier: CardVerifier, card_tokens: list[str]
) -> None:
    tag = tags(NtagSimulator("NTAG216", ndef_message(card_tokens[1])))
    reading(tag, repeat_window=0.0)
    assert dispatcher.events.wait_for(events.DECIDED, 1, "nfc", TIMEOUT)

    assert tag.wait_answered(tag.commands + 5)  # presence checks while it lies there
    assert len(verifier.calls) == 1
    tag.remove()
    assert dispatcher.events.wait_for(events.LEFT, 1, "nfc", TIMEOUT)
    tag.present()

    assert dispatcher.events.wait_for(events.DECIDED, 2, "nfc", TIMEOUT)
    assert verifier.payloads == [card_tokens[1]] * 2


def test_a_card_flickering_at_the_edge_of_the_field_is_one_scan(
    tags: StartTag, reading: ReadTag, dispatcher: Dispatcher, verifier: CardVerifier, card_tokens: list[str]
) -> None:
    tag = tags(NtagSimulator("NTAG215", ndef_message(card_tokens[0])))
    reading(tag, repeat_window=60.0)
    assert dispatcher.events.wait_for(events.DECIDED, 1, "nfc", TIMEOUT)

    tag.remove()
    assert dispatcher.events.wait_for(events.LEFT, 1, "nfc", TIMEOUT)
    tag.present()

    assert dispatcher.events.wait_for(events.REPEATED, 1, "nfc", TIMEOUT)
    assert len(verifier.calls) == 1


def test_a_card_taken_away_in_the_middle_of_a_read_is_not_passed_on(
    tags: StartTag, reading: ReadTag, dispatcher: Dispatcher, verifier: CardVerifier, card_tokens: list[str]
) -> None:
    tag = tags(NtagSimulator("NTAG215", ndef_message(card_tokens[0]), vanish_after_reads=4))
    reading(tag)

    assert dispatcher.events.wait_for(events.IGNORED, 1, "nfc", TIMEOUT)
    assert "taken away" in ignored(dispatcher)[0]
    assert verifier.calls == []

    tag.vanish_after_reads = None  # the child taps again and holds it still
    tag.present()
    assert dispatcher.events.wait_for(events.DECIDED, 1, "nfc", TIMEOUT, detail="accepted")


@pytest.mark.parametrize(
    ("simulator", "why"),
    [
        (lambda: NtagSimulator("NTAG215"), "empty NDEF message"),
        (lambda: NtagSimulator("NTAG215", formatted=False), "no NDEF message"),
        (lambda: NtagSimulator("NTAG213", message(("urn:nfc:wkt:U", b"\x04kia.example.id"))), "without a KIA"),
        (lambda: Type4Simulator(message(("urn:nfc:wkt:T", b"\x02idHalo"))), "without a KIA"),
    ],
    ids=["empty-tag", "unformatted-tag", "ntag213-with-a-link", "type4-with-text"],
)
def test_a_tag_that_holds_no_card_is_ignored(
    tags: StartTag, reading: ReadTag, dispatcher: Dispatcher, verifier: CardVerifier,
    simulator: Callable[[], UdpTag], why: str,
) -> None:
    reading(tags(simulator()))

    assert dispatcher.events.wait_for(events.IGNORED, 1, "nfc", TIMEOUT)
    assert why in ignored(dispatcher)[0]
    assert verifier.calls == []


def test_a_card_on_a_type_4_tag_is_read(
    tags: StartTag, reading: ReadTag, dispatcher: Dispatcher, verifier: CardVerifier, card_tokens: list[str]
) -> None:
    reading(tags(Type4Simulator(ndef_message(card_tokens[2]))))

    assert dispatcher.events.wait_for(events.DECIDED, 1, "nfc", TIMEOUT, detail="accepted")
    assert verifier.payloads == [card_tokens[2]]


def test_a_card_on_a_felica_tag_is_read(
    tags: StartTag, reading: ReadTag, dispatcher: Dispatcher, verifier: CardVerifier, card_tokens: list[str]
) -> None:
    reading(tags(FelicaSimulator(ndef_message(card_tokens[1]))), targets=FELICA)

    assert dispatcher.events.wait_for(events.DECIDED, 1, "nfc", TIMEOUT, detail="accepted")
    assert verifier.payloads == [card_tokens[1]]


def test_a_reader_that_is_not_there_is_waited_for_without_stopping_the_bridge(dispatcher: Dispatcher) -> None:
    reader = NfcReader("usb:ffff:fffe", dispatcher, name="nfc")
    stop = threading.Event()
    thread = threading.Thread(target=reader.run, args=(stop,), daemon=True)
    thread.start()

    assert not dispatcher.events.wait_for(events.CONNECTED, 1, "nfc", timeout=0.3)
    assert thread.is_alive()
    stop.set()
    thread.join(TIMEOUT)
    assert dispatcher.events.count(events.STOPPED, "nfc") == 1


# --- writing cards at issuance ----------------------------------------------------------------


def test_a_card_is_written_to_an_empty_ntag215_and_reads_back(tags: StartTag, card_tokens: list[str]) -> None:
    tag = tags(NtagSimulator("NTAG215"))
    card = ndef_message(card_tokens[0])

    written = write_card(tag.path, card, targets=TYPE_A, timeout=TIMEOUT)

    assert (written.tag, written.bytes, written.capacity, written.locked) == ("NXP NTAG215", len(card), 492, False)
    assert written.identifier == tag.uid.hex().upper()
    assert tag.page(4)[:4] == bytes([0x03, 0xFF]) + len(card).to_bytes(2, "big")  # the NDEF message TLV
    assert payload_from_ndef(bytes(tag.memory[20 : 20 + len(card)])) == card_tokens[0]


def test_a_locked_card_tag_reads_back_and_cannot_be_written_again(tags: StartTag, card_tokens: list[str]) -> None:
    tag = tags(NtagSimulator("NTAG215"))

    written = write_card(tag.path, ndef_message(card_tokens[0]), lock=True, targets=TYPE_A, timeout=TIMEOUT)

    assert written.locked
    assert tag.page(2)[2:] == b"\xff\xff" and tag.page(3)[3] == 0x0F  # static lock bits, CC read-only
    with pytest.raises(TagNotWritable):
        write_card(tag.path, ndef_message(card_tokens[1]), targets=TYPE_A, timeout=TIMEOUT)
    assert payload_from_ndef(bytes(tag.memory[20 : 20 + len(ndef_message(card_tokens[0]))])) == card_tokens[0]


@pytest.mark.parametrize(
    ("simulator", "refusal"),
    [
        (lambda: NtagSimulator("NTAG213"), TagTooSmall),
        (lambda: NtagSimulator("NTAG215", read_only=True), TagNotWritable),
        (lambda: NtagSimulator("NTAG215", formatted=False), TagNotNdef),
        (lambda: NtagSimulator("NTAG215", ignore_writes=True), TagWriteFailed),
        (lambda: Type4Simulator(file_size=128), TagTooSmall),
    ],
    ids=["ntag213-too-small", "read-only", "not-formatted", "does-not-keep-writes", "small-type4"],
)
def test_a_tag_that_cannot_carry_the_card_is_refused(
    tags: StartTag, card_tokens: list[str], simulator: Callable[[], UdpTag], refusal: type[TagError]
) -> None:
    tag = tags(simulator())

    with pytest.raises(refusal):
        write_card(tag.path, ndef_message(card_tokens[0]), targets=TYPE_A, timeout=TIMEOUT)


def test_a_card_is_written_to_type_4_and_felica_tags(tags: StartTag, card_tokens: list[str]) -> None:
    card = ndef_message(card_tokens[2])
    type4 = tags(Type4Simulator())
    felica = tags(FelicaSimulator())

    assert write_card(type4.path, card, targets=TYPE_A, timeout=TIMEOUT).bytes == len(card)
    assert write_card(felica.path, card, targets=FELICA, timeout=TIMEOUT).bytes == len(card)
    assert type4.ndef == card
    assert felica.ndef == card


def test_writing_waits_for_a_tag_and_gives_up(tags: StartTag, card_tokens: list[str]) -> None:
    tag = tags(NtagSimulator("NTAG215"))
    tag.remove()

    with pytest.raises(NoTag):
        write_card(tag.path, ndef_message(card_tokens[0]), targets=TYPE_A, timeout=0.2)


def test_only_a_card_s_ndef_message_is_written(tags: StartTag) -> None:
    tag = tags(NtagSimulator("NTAG215"))

    with pytest.raises(TagError, match="not a card"):
        write_card(tag.path, message(("urn:nfc:wkt:U", b"\x04example.com")), targets=TYPE_A, timeout=TIMEOUT)
    assert tag.commands == 0  # refused before the reader was touched
    with pytest.raises(NotACard):
        payload_from_ndef(bytes(tag.memory[16:40]))

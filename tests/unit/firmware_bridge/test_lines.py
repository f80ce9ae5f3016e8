"""Scanners that type: terminators, doubled and dropped keystrokes, garbage, repeats.

The verifier double checks signatures with the real crypto core, so a
damaged token fails here exactly as it would at a counter; the point of each
test is that the damage stays in its own line and the next scan reads well.
"""

from __future__ import annotations

import pytest

from firmware_bridge import events
from firmware_bridge.dispatch import Dispatcher, RepeatFilter
from firmware_bridge.lines import LineAssembler, LineScanner
from keys import qr_text

from .doubles import CardVerifier


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def scanner(dispatcher: Dispatcher, clock: Clock) -> LineScanner:
    return LineScanner("wedge:test", "wedge", dispatcher, RepeatFilter(1.5, clock))


def decisions(dispatcher: Dispatcher) -> list[str]:
    return [event.detail for event in dispatcher.events.recent(events.DECIDED)]


# --- line terminators ------------------------------------------------------------------


@pytest.mark.parametrize("terminator", ["\r", "\n", "\r\n", "\n\r", "\r\r", "\r\n\r\n"])
def test_any_terminator_ends_a_line_and_empty_lines_vanish(terminator: str) -> None:
    lines = LineAssembler()

    assert lines.feed(f"one{terminator}two{terminator}") == ["one", "two"]


def test_a_crlf_split_between_two_reads_is_one_terminator() -> None:
    lines = LineAssembler()

    assert lines.feed("one\r") == ["one"]
    assert lines.feed("\ntwo\r") == ["two"]


def test_a_line_typed_one_key_at_a_time_comes_out_whole(scanner: LineScanner, verifier: CardVerifier,
                                                        tokens: list[str]) -> None:
    for key in qr_text(tokens[0]) + "\r\n":
        scanner.feed_text(key)

    assert verifier.payloads == [qr_text(tokens[0])]


def test_the_last_line_counts_when_the_input_ends_without_a_terminator(scanner: LineScanner,
                                                                       verifier: CardVerifier,
                                                                       tokens: list[str]) -> None:
    scanner.feed_text(tokens[0])
    assert verifier.calls == []

    scanner.finish()

    assert verifier.payloads == [tokens[0]]


def test_utf8_split_across_reads_does_not_break_the_line(scanner: LineScanner, dispatcher: Dispatcher,
                                                         tokens: list[str]) -> None:
    data = ("é" + tokens[0] + "\n").encode()
    scanner.feed_bytes(data[:1])
    scanner.feed_bytes(data[1:])

    assert decisions(dispatcher) == ["accepted"]


# --- damaged keystrokes ------------------------------------------------------------------


def test_a_doubled_keystroke_is_refused_and_the_next_scan_reads_well(scanner: LineScanner,
                                                                     dispatcher: Dispatcher,
                                                                     tokens: list[str]) -> None:
    text = qr_text(tokens[0])
    doubled = text[:200] + text[199] + text[200:]

    scanner.feed_text(doubled + "\r\n" + qr_text(tokens[1]) + "\r\n")

    first, second = decisions(dispatcher)
    assert first != "accepted"  # an odd number of digits: not a card
    assert second == "accepted"


def test_a_doubled_character_in_a_plain_token_breaks_its_signature(scanner: LineScanner,
                                                                   dispatcher: Dispatcher,
                                                                   tokens: list[str]) -> None:
    signature_at = tokens[0].rindex(".") + 10
    doubled = tokens[0][:signature_at] + tokens[0][signature_at] + tokens[0][signature_at:]

    scanner.feed_text(doubled + "\n" + tokens[1] + "\n")

    assert decisions(dispatcher)[0] in ("bad_signature", "malformed")
    assert decisions(dispatcher)[1] == "accepted"


def test_a_dropped_keystroke_is_refused_and_the_next_scan_reads_well(scanner: LineScanner,
                                                                     dispatcher: Dispatcher,
                                                                     tokens: list[str]) -> None:
    text = qr_text(tokens[0])

    scanner.feed_text(text[:100] + text[102:] + "\n" + qr_text(tokens[1]) + "\n")

    assert decisions(dispatcher)[0] != "accepted"
    assert decisions(dispatcher)[1] == "accepted"


def test_a_dropped_terminator_costs_those_two_scans_only(scanner: LineScanner, dispatcher: Dispatcher,
                                                         verifier: CardVerifier, tokens: list[str]) -> None:
    scanner.feed_text(tokens[0] + tokens[1] + "\n" + tokens[2] + "\n")

    assert len(verifier.calls) == 2
    assert decisions(dispatcher)[0] != "accepted"
    assert decisions(dispatcher)[1] == "accepted"


def test_garbage_before_a_card_is_dropped(scanner: LineScanner, verifier: CardVerifier, tokens: list[str]) -> None:
    scanner.feed_text("]Q1" + qr_text(tokens[0]) + "\r")
    scanner.feed_text("\x1b[2~" + tokens[1] + "\r")

    assert verifier.payloads == [qr_text(tokens[0]), tokens[1]]


# --- repeats and noise ---------------------------------------------------------------------


def test_the_same_line_again_within_the_window_is_passed_on_once(scanner: LineScanner, verifier: CardVerifier,
                                                                 dispatcher: Dispatcher, clock: Clock,
                                                                 tokens: list[str]) -> None:
    scanner.feed_text(tokens[0] + "\r\n" + tokens[0] + "\r\n")
    clock.now += 1.0
    scanner.feed_text(tokens[0] + "\r\n")
    clock.now += 1.6
    scanner.feed_text(tokens[0] + "\r\n")

    assert verifier.payloads == [tokens[0], tokens[0]]
    assert dispatcher.events.count(events.REPEATED) == 2


def test_stray_keystrokes_are_ignored_without_asking_the_verifier(scanner: LineScanner, verifier: CardVerifier,
                                                                  dispatcher: Dispatcher) -> None:
    scanner.feed_text("a\r\n\x1b\r\n  \r\nok\n")

    assert verifier.calls == []
    assert dispatcher.events.count(events.IGNORED) == 4


def test_a_line_longer_than_any_card_is_dropped_whole_and_reading_recovers(verifier: CardVerifier,
                                                                           dispatcher: Dispatcher,
                                                                           tokens: list[str]) -> None:
    scanner = LineScanner("serial:test", "serial", dispatcher)
    noise = "7" * 10_000

    scanner.feed_text(noise)
    scanner.feed_text(noise + "\r\n" + tokens[0] + "\r\n")

    assert verifier.payloads == [tokens[0]]
    assert dispatcher.events.count(events.IGNORED) == 1

"""The dispatcher: a decision from the verifier, or a refusal that says why; never an accept by default."""

from __future__ import annotations

import logging

import pytest

from firmware_bridge import events
from firmware_bridge.dispatch import (
    NOT_A_CARD,
    UNAVAILABLE,
    Dispatcher,
    RepeatFilter,
    screen_line,
    verdict_for,
)
from verifier.local import DISPLAY_WIDTH, ScanOutcome

from .doubles import BrokenVerifier, CardVerifier, UnavailableVerifier


def test_a_genuine_card_is_accepted_with_the_verifier_s_lines(dispatcher: Dispatcher, verifier: CardVerifier,
                                                              tokens: list[str]) -> None:
    verdict = dispatcher.submit(tokens[0], "wedge", "wedge:stdin")

    assert verdict.accepted and verdict.reason == "accepted"
    assert verdict.display == ("DITERIMA", "Bayar Rp20.000")
    assert verdict.outcome is not None and verdict.outcome.seq == 1
    assert [(call.payload, call.source) for call in verifier.calls] == [(tokens[0], "wedge")]
    assert dispatcher.events.count(events.DECIDED, "wedge:stdin") == 1


def test_a_refused_card_carries_the_reason(dispatcher: Dispatcher) -> None:
    verdict = dispatcher.submit("eyJnot.a.card", "nfc", "nfc:test")

    assert not verdict.accepted
    assert verdict.reason == "malformed"


@pytest.mark.parametrize("broken", [UnavailableVerifier, BrokenVerifier])
def test_no_decision_is_a_refusal_that_says_verification_failed(broken: type, tokens: list[str]) -> None:
    dispatcher = Dispatcher(broken())

    verdict = dispatcher.submit(tokens[0], "gate", "gate:test")

    assert verdict == UNAVAILABLE
    assert not verdict.accepted and verdict.display == ("VERIFIKASI GAGAL", "HUBUNGI PETUGAS")
    assert dispatcher.events.count(events.UNAVAILABLE) == 1


def test_the_log_never_holds_a_whole_payload(dispatcher: Dispatcher, tokens: list[str],
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    unavailable = Dispatcher(UnavailableVerifier())

    dispatcher.submit(tokens[0], "wedge", "wedge:stdin")
    unavailable.submit(tokens[1], "wedge", "wedge:stdin")

    assert caplog.records
    for token in tokens[:2]:
        assert token[:20] not in caplog.text


def test_fixed_verdicts_fit_a_gate_screen() -> None:
    for verdict in (UNAVAILABLE, NOT_A_CARD):
        assert all(len(line) <= DISPLAY_WIDTH and line.isascii() for line in verdict.display)
        assert not verdict.accepted


# --- screen lines ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("Bayar Rp20.000", "Bayar Rp20.000"),
        ("Kartu kedaluwarsa sejak kemarin", "Kartu kedaluwarsa se"),
        ("Diterima ✓", "Diterima"),
        ("Café", "Cafe"),
        ("tab\there", "tab here"),
    ],
)
def test_a_screen_line_is_20_printable_ascii_characters(text: str, line: str) -> None:
    assert screen_line(text) == line


def test_an_outcome_without_display_lines_still_says_yes_or_no() -> None:
    assert verdict_for(ScanOutcome(True, "accepted", "", ("", ""))).display == ("DITERIMA", "")
    assert verdict_for(ScanOutcome(False, "expired", "", ("", ""))).display == ("DITOLAK", "")


# --- the same card again ---------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_card_is_fresh_again_only_after_it_has_been_away_for_the_window() -> None:
    clock = Clock()
    repeats = RepeatFilter(1.0, clock)

    assert repeats.fresh("card")
    for _ in range(5):  # still in view: every sighting refreshes it
        clock.now += 0.9
        assert not repeats.fresh("card")
    assert repeats.fresh("other")
    clock.now += 1.0
    assert repeats.fresh("card")


def test_recent_does_not_record_a_sighting() -> None:
    clock = Clock()
    repeats = RepeatFilter(1.0, clock)

    assert not repeats.recent("card")
    assert not repeats.recent("card")
    repeats.saw("card")
    assert repeats.recent("card")


def test_the_filter_forgets_keys_older_than_its_window() -> None:
    clock = Clock()
    repeats = RepeatFilter(1.0, clock, keep=10)
    for index in range(10):
        repeats.saw(f"card{index}")
    clock.now += 2
    repeats.saw("new")

    assert len(repeats) == 1

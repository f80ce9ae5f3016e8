"""The bridge's way to the terminal: HOME/serve.json and POST /api/v1/scan, over real HTTP on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_bridge.dispatch import UNAVAILABLE, Dispatcher, ServedVerifier
from tests.unit.firmware_bridge.doubles import CardVerifier, UnavailableVerifier
from verifier.local import VerifierUnavailable

from .loopback import LoopbackVerifier


def test_no_serve_json_means_no_decision(tmp_path: Path, card_tokens: list[str]) -> None:
    with pytest.raises(VerifierUnavailable, match="kia verifier serve"):
        ServedVerifier(tmp_path).scan(card_tokens[0], "nfc")


def test_the_verifier_is_found_again_after_it_moved_to_another_port(tmp_path: Path, verifier: CardVerifier,
                                                                    card_tokens: list[str]) -> None:
    served = ServedVerifier(tmp_path, timeout=2.0)
    with LoopbackVerifier(verifier, tmp_path):
        assert served.scan(card_tokens[0], "nfc").accepted
    with pytest.raises(VerifierUnavailable):  # stopped; serve.json still names the old port
        served.scan(card_tokens[0], "nfc")
    with LoopbackVerifier(verifier, tmp_path) as restarted:
        outcome = served.scan(card_tokens[1], "gate")
        assert outcome.accepted and outcome.display == ("DITERIMA", "Bayar Rp20.000")
        assert restarted.sources == ["gate"]
    served.close()


def test_a_terminal_that_cannot_log_answers_503_and_the_gate_is_denied(tmp_path: Path,
                                                                       card_tokens: list[str]) -> None:
    dispatcher = Dispatcher(ServedVerifier(tmp_path, timeout=2.0))
    with LoopbackVerifier(UnavailableVerifier(), tmp_path) as server:
        verdict = dispatcher.submit(card_tokens[0], "gate", "gate:test")

    assert verdict == UNAVAILABLE
    assert server.sources == ["gate"]

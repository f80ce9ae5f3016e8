"""Fixtures for the bridge's unit tests: a trust list, card tokens, a verifier double."""

from __future__ import annotations

import datetime as dt

import pytest

from firmware_bridge.dispatch import Dispatcher
from keys.serial import serial_from_value
from tests.factories import Trust, make_card, make_trust

from .doubles import CardVerifier


@pytest.fixture(scope="session")
def trust() -> Trust:
    return make_trust()


@pytest.fixture(scope="session")
def tokens(trust: Trust) -> list[str]:
    """Three genuine card tokens signed by ``trust``'s issuing key."""
    return [
        trust.issue(make_card(serial=serial_from_value(value), birth_date=dt.date(2015, 1 + value, 1)))
        for value in range(3)
    ]


@pytest.fixture()
def verifier(trust: Trust) -> CardVerifier:
    return CardVerifier(trust)


@pytest.fixture()
def dispatcher(verifier: CardVerifier) -> Dispatcher:
    return Dispatcher(verifier)

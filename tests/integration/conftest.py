"""Fixtures for integration tests: deterministic cards, and the real ``kia`` command.

Ed25519 signatures are deterministic, so keys made from fixed bytes and the
fixed ``NOW`` of tests.factories give the same tokens, QR symbols and NDEF
files on every run.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import IssuingKey
from keys.serial import serial_from_value
from tests.factories import (
    BALANGAN,
    DAY,
    JAYAPURA,
    NOW,
    SURAKARTA,
    UNDER_FIVE_BIRTH_DATE,
    Trust,
    make_card,
    make_trust,
)
from tests.factories.offices import PASSPHRASE

RunKia = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def fixed_trust() -> Trust:
    """A trust list whose root and issuing keys come from fixed bytes."""
    issuing = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    root = Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))
    return make_trust(signers=[(issuing, IssuingKey.new(issuing.public_key(), NOW - 30 * DAY))], root=root)


@pytest.fixture(scope="session")
def card_tokens(fixed_trust: Trust) -> list[str]:
    """Three deterministic cards: the usual one, an under-5 in WITA and a teenager in WIT."""
    cards = [
        make_card(),
        make_card(serial=serial_from_value(0), birth_date=UNDER_FIVE_BIRTH_DATE, region=BALANGAN),
        make_card(serial=serial_from_value(2**35 - 1), birth_date=dt.date(2010, 1, 1), region=JAYAPURA),
    ]
    assert cards[0].region == SURAKARTA
    return [fixed_trust.issue(card) for card in cards]


@pytest.fixture(scope="session")
def kia_command() -> str:
    """The installed console script (``python -m kia.cli`` is not how operators run it)."""
    found = shutil.which("kia") or str(Path(sys.executable).parent / "kia")
    assert Path(found).is_file(), "the kia console script is not installed (pip install -e .)"
    return found


@pytest.fixture(scope="session")
def kia_env() -> dict[str, str]:
    """The environment of an office shell: a passphrase, nothing else of ours."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("KIA_")}
    env["KIA_KEY_PASSPHRASE"] = PASSPHRASE
    return env


@pytest.fixture(scope="session")
def run_kia(kia_command: str, kia_env: dict[str, str]) -> RunKia:
    """Run ``kia ARGS...`` and return the finished process (text mode)."""

    def run(
        *args: str | Path,
        cwd: Path | None = None,
        input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [kia_command, *map(str, args)],
            cwd=cwd,
            input=input,
            env=kia_env if env is None else env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run

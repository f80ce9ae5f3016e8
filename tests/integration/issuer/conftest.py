"""Fixtures shared by the service's integration tests.

``office`` is a fresh office on each database, made at ``founded_at`` (a day
before NOW) and opened with ``unlock`` (tests.factories.offices.UNLOCK).  A
test file that needs another moment or other passphrases overrides
``founded_at`` or ``unlock``; one that needs people or partners in the office
overrides ``office`` itself, asking for the office made here.  ``keys_env``
gives the office's service and commands the passphrase as an operator does.
The app and its client are always made alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from issuer import create_app, issuing_keys, people
from issuer.storage.store import IssuerHome
from tests.factories import DAY, NOW
from tests.factories.offices import PASSPHRASE, UNLOCK, open_office


@pytest.fixture
def unlock() -> issuing_keys.KeyUnlock:
    return UNLOCK


@pytest.fixture
def founded_at() -> int:
    return NOW - DAY


@pytest.fixture
def office(
    tmp_path: Path, issuer_db_url: str | None, founded_at: int, unlock: issuing_keys.KeyUnlock
) -> Iterator[IssuerHome]:
    home = open_office(tmp_path / "office", issuer_db_url, founded_at, unlock=unlock)
    yield home
    home.close()


@pytest.fixture
def keys_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """KIA_KEY_PASSPHRASE set to the passphrase of ``UNLOCK``, for the API and the commands that sign."""
    monkeypatch.setenv("KIA_KEY_PASSPHRASE", PASSPHRASE)


@pytest.fixture
def app(office: IssuerHome) -> Iterator[Flask]:
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True})
    yield app
    app.extensions["kia_home"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# Argon2 at a test cost: production parameters spend ~0.1 s of CPU on every
# password hashed or checked, which the tests of roles and pages do hundreds of
# times.  Sign-in logic is the same whatever the cost; tests/unit/issuer checks
# that the service itself keeps argon2-cffi's production parameters.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(people, "_HASHER", CHEAP_HASHER)

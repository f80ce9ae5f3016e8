"""Fixtures shared by the service's integration tests.

Each test file provides its own ``office`` fixture (how the office is set up
is part of what it tests); the app and its client are always made alike.
``home`` is a fresh office made a day before NOW, opened with ``unlock``
(a test file overrides ``unlock`` to use other passphrases).
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
from tests.factories.offices import open_office


@pytest.fixture
def unlock() -> issuing_keys.KeyUnlock:
    return issuing_keys.KeyUnlock(b"integration-test passphrase, not a secret")


@pytest.fixture
def home(tmp_path: Path, issuer_db_url: str | None, unlock: issuing_keys.KeyUnlock) -> Iterator[IssuerHome]:
    office = open_office(tmp_path / "office", issuer_db_url, NOW - DAY, unlock=unlock)
    yield office
    office.close()


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

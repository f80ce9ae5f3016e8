"""Fixtures shared by the service's integration tests.

Each test file provides its own ``office`` fixture (how the office is set up
is part of what it tests); the app and its client are always made alike.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer import create_app
from issuer.store import IssuerHome


@pytest.fixture
def app(office: IssuerHome) -> Iterator[Flask]:
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True})
    yield app
    app.extensions["kia_home"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()

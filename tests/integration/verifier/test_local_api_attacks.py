"""Attacks on the terminal's local API from a web page in the terminal's browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.factories import NOW, make_card, make_trust
from tests.terminal_home import open_terminal
from verifier.app import create_app, served_hosts
from verifier.terminal import Terminal

TRUST = make_trust(NOW)
PORT = 8470


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    opened = open_terminal(tmp_path / "home", TRUST, NOW)
    yield opened
    opened.close()


@pytest.fixture
def app(terminal: Terminal) -> Flask:
    """The app as ``kia verifier serve --port 8470`` serves it."""
    return create_app(terminal, now=lambda: NOW, hosts=served_hosts(PORT, "127.0.0.1"))


def test_dns_rebinding_host_is_refused_before_a_scan_is_logged(app: Flask, terminal: Terminal) -> None:
    client = app.test_client()
    rebound = f"evil.example:{PORT}"
    headers = {"Origin": f"http://{rebound}"}  # the page's own origin: the Origin check alone lets it through

    scan = client.post("/api/v1/scan", json={"payload": TRUST.issue(make_card())}, headers=headers,
                       base_url=f"http://{rebound}")
    status = client.get("/api/v1/status", base_url=f"http://{rebound}")
    sync = client.post("/api/v1/sync", headers=headers, base_url=f"http://{rebound}")
    screen = client.get("/", base_url=f"http://{rebound}")

    assert [scan.status_code, status.status_code, sync.status_code, screen.status_code] == [421] * 4
    assert scan.get_json()["error"] == "misdirected_request"
    assert terminal.log.head()[0] == 0  # nothing logged, nothing to sync


@pytest.mark.parametrize("host", ["localhost:8471", "127.0.0.2:8470", "127.0.0.1", "kia.local:8470",
                                  "127.0.0.1.evil.example:8470", "localhost.:8470"])
def test_a_host_that_is_not_the_terminals_own_address_and_port_is_refused(app: Flask, terminal: Terminal,
                                                                          host: str) -> None:
    response = app.test_client().post("/api/v1/scan", json={"payload": "x"}, base_url=f"http://{host}")

    assert response.status_code == 421
    assert terminal.log.head()[0] == 0


@pytest.mark.parametrize("host", ["127.0.0.1:8470", "localhost:8470", "LOCALHOST:8470", "[::1]:8470"])
def test_the_terminals_own_names_with_its_port_are_served(app: Flask, terminal: Terminal, host: str) -> None:
    client = app.test_client()

    response = client.post("/api/v1/scan", json={"payload": "not a card"}, base_url=f"http://{host}",
                           headers={"Origin": f"http://{host.lower()}"})

    assert response.status_code == 200
    assert client.get("/api/v1/status", base_url=f"http://{host}").status_code == 200
    assert terminal.log.head()[0] == 1


def test_the_address_the_terminal_is_configured_to_listen_on_is_served(terminal: Terminal) -> None:
    app = create_app(terminal, now=lambda: NOW, hosts=served_hosts(PORT, "192.168.1.20"))

    response = app.test_client().get("/api/v1/status", base_url=f"http://192.168.1.20:{PORT}")

    assert response.status_code == 200


def test_ten_thousand_nested_arrays_are_400_not_500(app: Flask, terminal: Terminal) -> None:
    body = b"[" * 10_000 + b"]" * 10_000
    assert len(body) < app.config["MAX_CONTENT_LENGTH"]

    response = app.test_client().post("/api/v1/scan", data=body, content_type="application/json",
                                      base_url=f"http://127.0.0.1:{PORT}")

    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_request"
    assert terminal.log.head()[0] == 0

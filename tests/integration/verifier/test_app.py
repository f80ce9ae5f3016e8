"""The terminal's local app: the scan API's answers and refusals, with a real home and log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.factories import NOW, make_card, make_trust
from tests.terminal_home import open_terminal
from verifier.app import create_app
from verifier.log import LogUnavailable
from verifier.terminal import Terminal

TRUST = make_trust(NOW)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    opened = open_terminal(tmp_path / "home", TRUST, NOW)
    yield opened
    opened.close()


@pytest.fixture
def client(terminal: Terminal) -> FlaskClient:
    return create_app(terminal, now=lambda: NOW).test_client()


def scan(client: FlaskClient, payload: object, **extra: object) -> tuple[int, dict]:
    response = client.post("/api/v1/scan", json={"payload": payload, "source": "wedge", **extra})
    return response.status_code, response.get_json()


def test_a_valid_card_is_answered_with_the_committed_decision_and_what_to_charge(
    client: FlaskClient, terminal: Terminal
) -> None:
    status, answer = scan(client, TRUST.issue(make_card()))

    assert status == 200
    assert answer["accepted"] is True and answer["reason"] == "accepted"
    assert (answer["price"], answer["discount"], answer["paid"]) == (40_000, 20_000, 20_000)
    assert answer["display"] == ["DITERIMA", "Bayar Rp20.000"]
    assert answer["seq"] == 1 == terminal.log.head()[0]  # committed before the answer


def test_the_same_card_again_inside_the_passback_window_is_refused(client: FlaskClient) -> None:
    token = TRUST.issue(make_card())
    scan(client, token)

    status, answer = scan(client, token)

    assert status == 200 and answer["reason"] == "passback" and answer["accepted"] is False
    assert answer["seq"] == 2


@pytest.mark.parametrize("payload", ["\x00\x01\xff binary from a reader", "A" * 10_240, "", "eyJ.x.y"])
def test_garbage_and_10_kb_payloads_are_refused_and_logged(client: FlaskClient, terminal: Terminal,
                                                           payload: str) -> None:
    status, answer = scan(client, payload)

    assert status == 200 and answer["accepted"] is False
    assert answer["reason"] in ("malformed", "too_large")
    assert terminal.log.recent(1)[0].reason == answer["reason"]


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    (b"{not json", "application/json", 400),
    (b'{"payload": 42}', "application/json", 400),
    (b'{"payload": "x", "source": "telepathy"}', "application/json", 400),
    (b"payload=abc", "application/x-www-form-urlencoded", 400),
    (b'{"payload": "' + b"A" * 70_000 + b'"}', "application/json", 413),
])
def test_malformed_requests_get_a_clear_4xx(client: FlaskClient, body: bytes, content_type: str,
                                            expected: int) -> None:
    response = client.post("/api/v1/scan", data=body, content_type=content_type)

    assert response.status_code == expected
    assert response.get_json()["message"]


def test_a_page_from_another_origin_cannot_post_scans(client: FlaskClient, terminal: Terminal) -> None:
    response = client.post("/api/v1/scan", json={"payload": "x"}, headers={"Origin": "https://evil.example"})

    assert response.status_code == 403
    assert terminal.log.head()[0] == 0


def test_a_scan_the_log_cannot_take_is_refused_never_shown_green(client: FlaskClient, terminal: Terminal,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*_: object) -> None:
        raise LogUnavailable("database or disk is full")

    monkeypatch.setattr(terminal.log, "decide_and_append", full)

    status, answer = scan(client, TRUST.issue(make_card()))

    assert status == 503 and answer["error"] == "log_unavailable"
    assert "accepted" not in answer


def test_the_status_shows_todays_totals_and_the_latest_scans(client: FlaskClient) -> None:
    scan(client, TRUST.issue(make_card()))
    scan(client, "garbage")

    status = client.get("/api/v1/status").get_json()

    assert status["today"] == {"scans": 2, "accepted": 1, "rejected": 1, "paid": "Rp20.000", "discount": "Rp20.000"}
    assert [row["seq"] for row in status["recent"]] == [2, 1]
    assert status["pending"] == 2
    assert status["banners"] == []


def test_the_screen_is_served_in_indonesian_and_english(client: FlaskClient) -> None:
    assert "Pindai kartu" in client.get("/").get_data(as_text=True)
    english = client.get("/?lang=en")
    assert "Scan the card" in english.get_data(as_text=True)
    assert "lang=en" in english.headers["Set-Cookie"]

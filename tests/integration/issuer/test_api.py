"""The office's service through Flask's test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from issuer import create_app
from issuer.api.openapi import DOCUMENT
from issuer.cards import issue_cards, revoke_card
from issuer.children import ChildRequest
from issuer.storage.store import IssuerHome
from issuer.trust_lists import DELTA_WINDOW, TrustListExport, export_trust_list
from keys import apply_delta, load_public_jwk, verify_trust_list
from tests.factories import ACTOR, NOW
from tests.factories.offices import UNLOCK


@pytest.fixture
def founded_at() -> int:
    return NOW


def publish(office: IssuerHome, tmp_path: Path, now: int = NOW) -> TrustListExport:
    return export_trust_list(office, UNLOCK, now, tmp_path / "published", by=ACTOR)


def test_health_reports_the_database_and_latest_sequence(client: FlaskClient, office: IssuerHome, tmp_path: Path):
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok", "trust_list_seq": 0}
    publish(office, tmp_path)
    assert client.get("/healthz").get_json()["trust_list_seq"] == 1


def test_health_is_503_when_the_database_is_gone(tmp_path: Path):
    app = create_app({"HOME": str(tmp_path / "nothing-here"), "TESTING": True})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["status"] == "unavailable"


def test_trust_list_before_anything_is_published_is_404(client: FlaskClient):
    response = client.get("/api/v1/trustlist")
    assert response.status_code == 404 and response.get_json()["error"] == "no_trust_list"


def test_a_terminal_gets_the_full_list_then_a_delta(client: FlaskClient, office: IssuerHome, tmp_path: Path):
    first = publish(office, tmp_path)
    root = load_public_jwk(json.loads(first.root_jwk.read_text()))
    response = client.get("/api/v1/trustlist")
    assert response.status_code == 200 and response.mimetype == "application/jose"
    held = verify_trust_list(response.get_data(as_text=True), root, NOW)
    assert held.seq == 1 and response.headers["X-KIA-Trust-List-Seq"] == "1"

    child = ChildRequest(1, dt.date(2016, 8, 17), 3372)
    (card,) = issue_cards(office, UNLOCK, [child], NOW, by=ACTOR).cards
    revoke_card(office, card.record.serial, "hilang", NOW + 60, by=ACTOR)
    publish(office, tmp_path, NOW + 120)
    delta = client.get("/api/v1/trustlist?since=1")
    assert delta.headers["X-KIA-Delta-From"] == "1"
    updated = apply_delta(held, delta.get_data(as_text=True), root, NOW + 120)
    full = verify_trust_list(client.get("/api/v1/trustlist").get_data(as_text=True), root, NOW + 120)
    assert updated == full and card.record.serial in updated.revoked


def test_a_terminal_that_is_up_to_date_gets_204(client: FlaskClient, office: IssuerHome, tmp_path: Path):
    publish(office, tmp_path)
    response = client.get("/api/v1/trustlist?since=1")
    assert response.status_code == 204 and response.headers["X-KIA-Trust-List-Seq"] == "1"


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("since=x", 400, "bad_query"),
        ("since=-1", 400, "bad_query"),
        ("since=99999999999", 400, "bad_query"),
        ("since=1&bogus=2", 400, "bad_query"),
        ("since=%00", 400, "bad_query"),
        ("since=5", 409, "ahead_of_office"),
    ],
)
def test_bad_trust_list_queries_are_4xx_with_a_message(client, office, tmp_path, query, status, code):
    publish(office, tmp_path)
    response = client.get(f"/api/v1/trustlist?{query}")
    assert response.status_code == status
    assert response.get_json()["error"] == code and response.get_json()["message"]


def test_a_delta_older_than_the_window_is_404_so_the_terminal_fetches_the_full_list(client, office, tmp_path):
    for step in range(DELTA_WINDOW + 2):
        publish(office, tmp_path, NOW + step)
    response = client.get("/api/v1/trustlist?since=1")
    assert response.status_code == 404 and response.get_json()["error"] == "no_delta"
    assert client.get(f"/api/v1/trustlist?since={DELTA_WINDOW + 1}").status_code == 200


def test_unknown_paths_and_methods_are_json_4xx(client: FlaskClient):
    assert client.get("/api/v1/nothing").get_json()["error"] == "not_found"
    response = client.post("/api/v1/trustlist", data=b"x")
    assert response.status_code == 405 and response.get_json()["error"] == "method_not_allowed"


def test_the_openapi_document_is_valid_and_names_exactly_the_routes(app: Flask, client: FlaskClient):
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    # The API, health and metrics; the web pages are not part of the API.
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)  # Flask's <path:rest> is OpenAPI's {rest}
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in ("api", "health") or rule.rule == "/metrics"
    }
    assert set(document["paths"]) == routes == set(DOCUMENT["paths"])


def test_metrics_count_requests_by_endpoint_and_status(client: FlaskClient):
    client.get("/api/v1/trustlist")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'kia_http_requests_total{endpoint="/api/v1/trustlist",method="GET",status="404"} 1.0' in text


def test_the_service_never_holds_the_key_passphrase(office: IssuerHome, monkeypatch):
    monkeypatch.setenv("KIA_KEY_PASSPHRASE", "never-in-the-service-config")
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url})
    assert "KEY_PASSPHRASE" not in app.config
    assert "never-in-the-service-config" not in repr(dict(app.config))


def test_the_factory_refuses_to_start_without_a_home(monkeypatch):
    monkeypatch.delenv("KIA_HOME", raising=False)
    with pytest.raises(RuntimeError, match="KIA_HOME"):
        create_app()


@settings(max_examples=60, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=12), max_size=3))
def test_no_query_produces_a_5xx(client: FlaskClient, query: dict[str, str]):
    response = client.get("/api/v1/trustlist", query_string=query)
    assert response.status_code < 500


"""Issue 12, the office's web service: each attack that worked, and what it gets now.

A third-party script in the dashboard's charts, pages without a
Content-Security-Policy, session cookies over plain HTTP, one-time codes left
in a cache, an auditor taking a card's working QR unaudited, 500s from
numbers beyond the database's integers and from reports of year 9999, and
/metrics growing with invented methods and readable by anyone.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from issuer import create_app, partners, reports
from issuer.cards import issue_cards
from issuer.children import ChildRequest
from issuer.storage.models import AuditEvent, RedemptionRow
from issuer.storage.store import IssuerHome
from issuer.terminals import register_terminal
from tests.factories import ACTOR, NOW, aged
from tests.factories.offices import PASSWORD, UNLOCK, add_people
from tests.factories.report_reference import summarise_stored

HUGE = "99999999999999999999"  # beyond BIGINT, as the attack sent it
BEYOND_INTEGER = str(2**31)  # beyond the INTEGER ids are kept in on PostgreSQL


@pytest.fixture
def founded_at() -> int:
    return NOW


@pytest.fixture
def office(office: IssuerHome, keys_env: None) -> IssuerHome:
    """A partner with a scan this month, a card, and one person in each role."""
    partners.create_partner(office, "Bioskop", "cinema", "education_culture", 3372, dt.date(2026, 1, 1),
                            dt.date(2027, 12, 31), NOW, by=ACTOR)
    add_people(office, NOW, ("admin", "admin", None), ("officer", "officer", None), ("auditor", "auditor", None),
               ("manager", "partner_manager", 1))
    terminal = register_terminal(office, 1, "Kasir", NOW, by=ACTOR).terminal_id
    with office.transaction() as session:  # one accepted scan on 2026-11-21
        session.add(RedemptionRow(terminal_id=terminal, partner_id=1, seq=1, at=NOW, serial="8H635DT4",
                                  accepted=True, reason="accepted", service="tiket", category="5-12",
                                  price=40_000, discount=20_000, paid=20_000, flags=[], hash="0" * 64,
                                  received_at=NOW, day=20261121, month=202611))
        summarise_stored(session)  # as ingest would
    issue_cards(office, UNLOCK, [ChildRequest(1, aged(10, dt.date(2026, 11, 22)), 3372)], NOW, by=ACTOR)
    reports.set_eligible_children(office, 3372, 4, dt.date(2026, 11, 1))  # the coverage chart has a figure
    return office


def make_app(office: IssuerHome, **config: object) -> Flask:
    return create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True,
                       "WTF_CSRF_ENABLED": False, **config}, now=lambda: NOW)


def signed_in(office: IssuerHome, role: str, **config: object) -> FlaskClient:
    client = make_app(office, **config).test_client()
    assert client.post("/login", data={"username": role, "password": PASSWORD}).status_code == 302
    return client


def a_serial(office: IssuerHome) -> str:
    from issuer.storage.models import CardRow

    with office.transaction() as session:
        return session.scalars(select(CardRow.serial)).first() or ""


def audit_actions(office: IssuerHome) -> list[tuple[str, str, str | None]]:
    with office.transaction() as session:
        return [(row.username, row.action, row.target) for row in session.scalars(select(AuditEvent))]


# --- the dashboard's charts and the pages' headers ----------------------------------


def test_dashboard_embeds_no_third_party_script(office: IssuerHome) -> None:
    page = signed_in(office, "admin").get("/").get_data(as_text=True)
    assert page.count("<svg") == 3  # revenue per partner, over time, coverage: all drawn
    assert "kozea.github.io" not in page and "pygal-tooltips" not in page
    loaded = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", page)
    assert loaded and all(url.startswith("/") or url.startswith("?") for url in loaded), loaded
    assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", page)  # no inline script, in a chart or not
    assert "<title>Bioskop · Rp 20.000</title>" in page  # the value shows on hover, without a script


def test_every_page_sends_a_strict_content_security_policy(office: IssuerHome) -> None:
    admin = signed_in(office, "admin")
    serial = a_serial(office)
    pages = ["/", "/cards/", f"/cards/{serial}", "/partners/", "/partners/1", "/keys/", "/users/", "/audit/",
             "/audit/trail", "/audit/alarms", "/audit/redemptions", "/audit/quarantine", "/partners/424242",
             "/api/v1/reports/figures", "/healthz", "/metrics", "/static/style.css"]
    for path in pages:
        response = admin.get(path)
        assert response.status_code in (200, 404), path
        policy = response.headers["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'", path
        assert re.fullmatch(r"'self'( 'nonce-[A-Za-z0-9_-]+')?", directives["style-src"]), path
        assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'", path
        assert "unsafe" not in policy and "*" not in policy and "http" not in policy, path
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        if response.mimetype == "text/html":
            html = response.get_data(as_text=True)
            assert not re.search(r"\son[a-z]+\s*=", html), path  # no inline handler
            assert not re.search(r"<script(?![^>]*\bsrc=)", html), path  # no inline script
            # Styles only from the stylesheet, but for a chart's own, with this answer's nonce.
            nonce = re.search(r"'nonce-([^']+)'", directives["style-src"])
            styles = re.findall(r"<style([^>]*)>", html)
            assert all(nonce and f'nonce="{nonce[1]}"' in style for style in styles), path
            assert not re.search(r"""\sstyle\s*=\s*["']""", html), path
    anonymous = make_app(office).test_client().get("/login")
    assert "frame-ancestors 'none'" in anonymous.headers["Content-Security-Policy"]


def test_a_stolen_session_cookie_is_not_sent_over_plain_http(office: IssuerHome) -> None:
    client = make_app(office).test_client()
    response = client.post("/login", data={"username": "admin", "password": PASSWORD})
    session_cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("session="))
    assert "; Secure" in session_cookie and "; HttpOnly" in session_cookie
    loopback = make_app(office, DEV_INSECURE_COOKIES=True).test_client()  # the demo's and the tests' setting
    response = loopback.post("/login", data={"username": "admin", "password": PASSWORD})
    assert "Secure" not in next(value for value in response.headers.getlist("Set-Cookie")
                                if value.startswith("session="))


def test_a_terminals_enrolment_code_is_never_cached(office: IssuerHome) -> None:
    officer = signed_in(office, "officer")
    response = officer.post("/partners/1/terminals", data={"name": "Kasir 2"})
    assert response.status_code == 200 and 'id="enrolment-code"' in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert signed_in(office, "admin").get("/users/").headers["Cache-Control"] == "no-store"  # password forms
    assert "no-store" not in officer.get("/partners/1").headers.get("Cache-Control", "")


# --- a card's working QR ---------------------------------------------------------------


def test_an_auditor_cannot_download_a_cards_qr(office: IssuerHome) -> None:
    serial = a_serial(office)
    auditor = signed_in(office, "auditor")
    assert auditor.get(f"/cards/{serial}/qr.png").status_code == 403
    assert f"/cards/{serial}/qr.png" not in auditor.get(f"/cards/{serial}").get_data(as_text=True)
    assert not [event for event in audit_actions(office) if event[1] == "card_qr"]


def test_each_download_of_a_cards_qr_is_audited(office: IssuerHome) -> None:
    serial = a_serial(office)
    for role in ("officer", "admin"):
        response = signed_in(office, role).get(f"/cards/{serial}/qr.png")
        assert response.status_code == 200 and response.mimetype == "image/png"
        assert response.headers["Cache-Control"] == "no-store"
    assert [event for event in audit_actions(office) if event[1] == "card_qr"] == [
        ("officer", "card_qr", serial), ("admin", "card_qr", serial)]
    assert signed_in(office, "officer").get("/cards/XXXXXXXX/qr.png").status_code == 404


# --- numbers beyond the database's integers --------------------------------------------


def heading(page: str) -> str:
    found = re.search(r"<h1>(.*?) <small", page)
    assert found, page
    return found.group(1)


@pytest.mark.parametrize(("path", "status", "words"), [
    ("/partners/999", 404, "Tidak ditemukan"),
    ("/partners/999?lang=en", 404, "Not found"),
    ("/audit/", 403, "Akses ditolak"),
])
def test_an_error_page_is_headed_by_words_not_a_status_number(office: IssuerHome, path: str, status: int,
                                                               words: str) -> None:
    response = signed_in(office, "officer").get(path)
    assert response.status_code == status
    assert heading(response.get_data(True)) == words


def test_an_unexpected_failure_on_a_page_is_a_page_that_says_it_is_logged(office: IssuerHome,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    client = signed_in(office, "officer")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a fault the test put in")

    monkeypatch.setattr(reports, "figures", broken)
    response = client.get("/reports/")
    page = response.get_data(True)
    assert response.status_code == 500 and response.mimetype == "text/html"
    assert heading(page) == "Terjadi kesalahan di layanan" and "sudah dicatat" in page
    assert "a fault the test put in" not in page


def test_a_partner_id_beyond_bigint_is_404_not_500(office: IssuerHome) -> None:
    admin = signed_in(office, "admin")
    for number in (HUGE, BEYOND_INTEGER, "9" * 5000):
        assert admin.get(f"/partners/{number}").status_code == 404
        assert admin.post(f"/partners/{number}/services", data={}).status_code == 404
        assert admin.post(f"/partners/{number}/regions", data={"choice": "all"}).status_code == 404
        assert admin.post(f"/partners/{number}/terminals", data={"name": "Kasir"}).status_code == 404
    assert admin.get("/partners/1").status_code == 200


@pytest.mark.parametrize("action", ["disable", "enable", "role", "password"])
def test_a_user_id_beyond_bigint_is_404_not_500(office: IssuerHome, action: str) -> None:
    admin = signed_in(office, "admin")
    for number in (HUGE, BEYOND_INTEGER):
        assert admin.post(f"/users/{number}/{action}", data={}).status_code == 404


def test_a_batch_id_beyond_bigint_is_404_not_500(office: IssuerHome) -> None:
    officer = signed_in(office, "officer")
    assert officer.post(f"/cards/batches/{HUGE}/verified", data={}).status_code == 404


def test_a_quarantined_records_sequence_beyond_bigint_is_404_not_500(office: IssuerHome) -> None:
    admin = signed_in(office, "admin")
    assert admin.post(f"/audit/quarantine/T1/{HUGE}", data={}).status_code == 404


# --- reports' periods ---------------------------------------------------------------


@pytest.mark.parametrize("query", [
    "/api/v1/reports/partners?to=9999-12-31",
    "/api/v1/reports/partners?to=9999-11-30",
    "/api/v1/reports/figures?to=9999-12-31",
    "/api/v1/reports/figures?period=day&from=9999-12-01&to=9999-12-31",
])
def test_a_report_to_year_9999_is_400(office: IssuerHome, query: str) -> None:
    response = signed_in(office, "officer").get(query)
    assert response.status_code == 400
    assert "at most 366 days after today" in response.get_json()["message"]


@pytest.mark.parametrize(("query", "message"), [
    ("/api/v1/reports/figures?period=day&from=2025-11-01&to=2026-11-21", "at most 366 days"),
    ("/api/v1/reports/figures?period=month&from=2021-11-01&to=2026-11-21", "at most 60 months"),
    ("/api/v1/reports/partners?from=0001-01-01&to=2026-11-30", "at most 60 months"),
])
def test_a_report_over_decades_is_400_before_any_work(office: IssuerHome, query: str, message: str) -> None:
    response = signed_in(office, "officer").get(query)
    assert response.status_code == 400 and message in response.get_json()["message"]


def test_reports_within_their_span_still_answer(office: IssuerHome) -> None:
    officer = signed_in(office, "officer")
    day = officer.get("/api/v1/reports/figures?period=day&from=2025-11-22&to=2026-11-22").get_json()["rows"]
    assert [(row["period"], row["net"]) for row in day] == [(20261121, 20000)]
    months = officer.get("/api/v1/reports/partners?from=2021-12-01&to=2026-11-30").get_json()["rows"]
    assert len(months) == 60 and months[-1]["month"] == 202611
    ahead = officer.get("/api/v1/reports/partners?from=2026-12-01&to=2027-10-31")  # later, within a year of today
    assert ahead.status_code == 200


# --- /metrics ---------------------------------------------------------------------------


def request_series(client: FlaskClient) -> list[dict[str, str]]:
    text = client.get("/metrics").get_data(as_text=True)
    return [sample.labels for family in text_string_to_metric_families(text) if family.name == "kia_http_requests"
            for sample in family.samples if sample.name == "kia_http_requests_total"]


def test_invented_http_methods_do_not_grow_metrics(client: FlaskClient) -> None:
    before = len(request_series(client))
    for number in range(300):
        client.open("/healthz", method=f"X{number:03d}")
    series = request_series(client)
    invented = [labels for labels in series if labels["method"] not in ("GET", "HEAD", "POST")]
    assert {labels["method"] for labels in invented} == {"other"}
    assert len(series) - before <= 2  # /healthz's 405, as "other"; and the first /metrics read itself


def test_metrics_are_refused_to_a_remote_or_relayed_client(office: IssuerHome) -> None:
    client = make_app(office).test_client()
    assert client.get("/metrics").status_code == 200  # from loopback, directly
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 403
    assert client.get("/metrics", headers={"X-Forwarded-For": "192.0.2.7"}).status_code == 403
    with_token = make_app(office, METRICS_TOKEN="a-long-random-scrape-token").test_client()
    remote = {"REMOTE_ADDR": "192.0.2.7"}
    assert with_token.get("/metrics", environ_base=remote).status_code == 403
    assert with_token.get("/metrics", environ_base=remote,
                          headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert with_token.get("/metrics", environ_base=remote,
                          headers={"Authorization": "Bearer a-long-random-scrape-token"}).status_code == 200


# --- a form sent after its session ended, and a request too large (issue 13) ------------------

PUPIL = aged(10, dt.date(2026, 11, 22)).isoformat()
SAME_SITE = {"Origin": "http://localhost", "Referer": "http://localhost/cards/"}


def with_csrf(office: IssuerHome) -> tuple[Flask, FlaskClient]:
    app = make_app(office, WTF_CSRF_ENABLED=True)
    return app, app.test_client()


def page_token(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]


def kept_fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="kept-([^"]+)" value="([^"]*)">', page))


def cards_issued(office: IssuerHome) -> int:
    from issuer.storage.models import CardRow

    with office.transaction() as session:
        return len(session.scalars(select(CardRow.serial)).all())


def test_a_form_sent_after_the_session_ended_is_kept_through_sign_in_and_sent_again(office: IssuerHome) -> None:
    app, client = with_csrf(office)
    form = {"birth_date": PUPIL, "region": "3372", "name": "Budi Santoso", "csrf_token": "from-the-ended-session"}
    response = client.post("/cards/issue", data=form, headers=SAME_SITE)  # the cookie (and its token) expired
    page = response.get_data(True)
    assert response.status_code == 401 and "CSRF" not in page and 'id="sign-in-form"' in page
    assert "Sesi Anda sudah berakhir" in page and response.headers["Cache-Control"] == "no-store"
    assert kept_fields(page) == {"birth_date": PUPIL, "region": "3372", "name": "Budi Santoso"}  # never the token
    assert 'name="kept_action" value="/cards/issue"' in page and 'action="/login?next=/cards/"' in page
    # The child's name rides in the page's body only: not in the session cookie, not in a URL.
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert "Budi" not in str(app.session_interface.get_signing_serializer(app).loads(cookie.value))  # type: ignore[attr-defined]
    assert "Budi" not in response.headers.get("Location", "")

    sign_in = {"username": "officer", "password": PASSWORD, "csrf_token": page_token(page),
               "kept_action": "/cards/issue", **{f"kept-{name}": value for name, value in kept_fields(page).items()}}
    resend = client.post("/login?next=/cards/", data=sign_in)
    again = resend.get_data(True)
    assert resend.status_code == 200 and 'action="/cards/issue"' in again and "Kirim ulang" in again
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', again))
    assert fields["name"] == "Budi Santoso" and fields["region"] == "3372" and fields["birth_date"] == PUPIL
    before = cards_issued(office)
    sent = client.post("/cards/issue", data=fields)
    assert sent.status_code == 302 and "/cards/" in sent.location and cards_issued(office) == before + 1


def test_a_form_from_another_site_is_not_kept_for_a_sign_in(office: IssuerHome) -> None:
    _, client = with_csrf(office)
    response = client.post("/cards/issue", data={"name": "Budi", "region": "3372"},
                           headers={"Origin": "https://evil.example", "Referer": "https://evil.example/"})
    assert response.status_code == 302 and response.location.startswith("/login")
    page = client.get(response.location).get_data(True)
    assert kept_fields(page) == {} and "Budi" not in page and "Silakan masuk" in page


def test_passwords_are_never_kept(office: IssuerHome) -> None:
    _, client = with_csrf(office)
    form = {"username": "baru", "role": "auditor", "password": "rahasia-sekali-2026", "confirm": "rahasia-sekali-2026"}
    page = client.post("/users/", data=form, headers=SAME_SITE).get_data(True)
    assert kept_fields(page) == {"username": "baru", "role": "auditor"}
    assert "rahasia-sekali-2026" not in page


def test_a_session_the_office_ended_keeps_the_form_as_well(office: IssuerHome) -> None:
    from issuer import people

    _, client = with_csrf(office)
    token = page_token(client.get("/login").get_data(True))
    assert client.post("/login", data={"username": "officer", "password": PASSWORD, "csrf_token": token}
                       ).status_code == 302
    token = page_token(client.get("/cards/").get_data(True))
    officer = next(account.id for account in people.accounts(office) if account.username == "officer")
    people.reset_password(office, officer, "kata-sandi-baru-2026", NOW, by=ACTOR)  # ends their sessions
    response = client.post("/cards/issue", data={"region": "3372", "name": "Siti", "csrf_token": token},
                           headers=SAME_SITE)
    assert response.status_code == 401 and kept_fields(response.get_data(True)) == {"region": "3372", "name": "Siti"}


def test_a_live_session_with_a_token_that_does_not_match_is_400_in_words(office: IssuerHome) -> None:
    _, client = with_csrf(office)
    token = page_token(client.get("/login").get_data(True))
    client.post("/login", data={"username": "officer", "password": PASSWORD, "csrf_token": token})
    response = client.post("/cards/issue", data={"region": "3372", "csrf_token": "forged"}, headers=SAME_SITE)
    page = response.get_data(True)
    assert response.status_code == 400 and "tanda keamanannya tidak cocok" in page and "CSRF" not in page


@pytest.mark.parametrize(("path", "size", "words"), [
    ("/cards/issue", 2 * 1024 * 1024, "paling banyak 1 MB"),
    ("/cards/batch", 9 * 1024 * 1024, "paling banyak 8 MB"),
    ("/cards/batch?lang=en", 9 * 1024 * 1024, "at most 8 MB"),
])
def test_a_request_too_large_says_the_limit_in_megabytes(office: IssuerHome, path: str, size: int,
                                                         words: str) -> None:
    response = signed_in(office, "officer").post(path, data={"file": (io.BytesIO(b"x" * size), "anak.csv")})
    assert response.status_code == 413 and words in response.get_data(True)


def test_even_the_sign_in_page_says_the_limit(office: IssuerHome) -> None:
    response = make_app(office).test_client().post("/login", data={"username": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413 and "paling banyak 1 MB" in response.get_data(True)

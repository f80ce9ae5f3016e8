"""Every role against every page and action of the office's web (both databases).

CSRF is switched off here so that the matrix tests roles alone; CSRF itself
is tested below and in the browser tests.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import secrets
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from issuer import create_app, offline_signing, partners
from issuer.cards import find_card, issue_cards
from issuer.children import ChildRequest
from issuer.issuing_keys import list_issuing_keys, rotate_issuing_key
from issuer.people import accounts, create_user
from issuer.storage.models import AuditEvent, Partner, PartnerService, RedemptionRow
from issuer.storage.store import IssuerHome
from issuer.terminals import register_terminal
from issuer.trust_lists import latest_published
from tests.factories import ACTOR, NOW, aged
from tests.factories.offices import PASSWORD, UNLOCK, add_people
from tests.factories.report_reference import summarise_stored

ROLES = ("anonymous", "admin", "officer", "auditor", "manager")
# The pages issue cards on the real clock: a pupil ten years old on the day the test runs.
PUPIL = aged(10, dt.date.today()).isoformat()


@pytest.fixture
def founded_at() -> int:
    return NOW


@pytest.fixture
def office(office: IssuerHome, keys_env: None) -> IssuerHome:
    """Two partners, and one person in each role (the manager is partner 1's)."""
    for name in ("Bioskop", "Kolam"):
        partners.create_partner(office, name, "cinema", "education_culture", 3372, dt.date(2026, 1, 1),
                                dt.date(2027, 12, 31), NOW, by=ACTOR)
    add_people(office, NOW, ("admin", "admin", None), ("officer", "officer", None), ("auditor", "auditor", None),
               ("manager", "partner_manager", 1))
    return office


def csrf_token(client: FlaskClient, page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get(page).get_data(True))[1]


def client_for(office: IssuerHome, role: str, csrf: bool = False) -> tuple[Flask, FlaskClient]:
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True,
                      "WTF_CSRF_ENABLED": csrf})
    client = app.test_client()
    if role != "anonymous":
        form = {"username": role, "password": PASSWORD} | ({"csrf_token": csrf_token(client, "/login")} if csrf else {})
        response = client.post("/login", data=form)
        assert response.status_code == 302
    return app, client


def fresh_card(office: IssuerHome) -> str:
    """A pupil's card issued now on the real clock, which the pages that revoke or replace it read."""
    unlock = UNLOCK
    child = ChildRequest(1, dt.date.fromisoformat(PUPIL), 3372)
    issuance = issue_cards(office, unlock, [child], int(time.time()), by=ACTOR)
    return issuance.cards[0].record.serial


def fresh_user(office: IssuerHome) -> int:
    return create_user(office, f"pengguna-{secrets.token_hex(4)}", PASSWORD, "auditor", None, NOW, by=ACTOR).id


def fresh_terminal(office: IssuerHome) -> str:
    return register_terminal(office, 2, "Kasir", NOW, by=ACTOR).terminal_id


# (method, path, body, expected status per role: anonymous, admin, officer, auditor, manager of partner 1)
MATRIX = [
    ("GET", "/", None, (302, 200, 200, 200, 200)),
    ("GET", "/reports/", None, (302, 200, 200, 200, 200)),
    ("GET", "/reports/figures.csv?range=last_month", None, (302, 200, 200, 200, 200)),
    ("GET", "/reports/coverage.csv", None, (302, 200, 200, 200, 403)),
    ("GET", "/search/", None, (302, 200, 200, 403, 403)),
    ("POST", "/search/", {"by": "nik", "text": "3372051405180001"}, (302, 200, 200, 403, 403)),
    ("GET", "/cards/", None, (302, 200, 200, 200, 403)),
    ("POST", "/cards/issue", {"birth_date": PUPIL, "region": "3372"}, (302, 302, 302, 403, 403)),
    ("POST", "/cards/batch", "csv", (302, 303, 303, 403, 403)),  # submitted: on to the batch's page
    ("GET", "/institutions/", None, (302, 200, 200, 200, 403)),  # schools' and clinics' accounts: test_institutions
    ("POST", "/institutions/", {"name": "SD Negeri 1", "kind": "school", "region": "6311"},
     (302, 302, 403, 403, 403)),
    ("GET", "/cards/{card}", None, (302, 200, 200, 200, 403)),
    ("GET", "/cards/{card}/qr.png", None, (302, 200, 200, 403, 403)),  # the working card: those who issue
    ("POST", "/cards/{card}/revoke", {"reason": "hilang"}, (302, 302, 302, 403, 403)),
    ("POST", "/cards/{card}/replace", {}, (302, 302, 302, 403, 403)),
    ("GET", "/partners/", None, (302, 200, 200, 200, 302)),
    ("GET", "/partners/1", None, (302, 200, 200, 200, 200)),
    ("GET", "/partners/2", None, (302, 200, 200, 200, 403)),
    ("POST", "/partners/2/terminals/{terminal}/suspend", {}, (302, 302, 302, 403, 403)),
    # Agreements (MoU): officers renew and amend; a refused renewal (it overlaps) comes back with a message.
    ("POST", "/agreements/partner/2/renew", {"starts_on": "2028-01-01"}, (302, 302, 302, 403, 403)),
    ("POST", "/agreements/partner/1/amend", {"note": "adendum"}, (302, 302, 302, 403, 403)),
    ("POST", "/agreements/partner/99/amend", {"number": "1"}, (302, 404, 404, 403, 403)),
    ("GET", "/agreements/1/versions/1/document", None, (302, 404, 404, 404, 404)),  # no document was uploaded
    ("POST", "/api/v1/sync", {}, (401, 401, 401, 401, 401)),  # a session is no terminal token
    ("GET", "/keys/", None, (302, 200, 200, 200, 403)),
    ("POST", "/keys/rotate", {}, (302, 302, 302, 403, 403)),
    ("POST", "/keys/{kid}/retire", {}, (302, 302, 302, 403, 403)),
    ("POST", "/keys/{kid}/revoke", {}, (302, 302, 302, 403, 403)),
    ("POST", "/keys/trustlist/prepare", {}, (302, 200, 200, 403, 403)),
    ("POST", "/keys/trustlist/import", "not-a-bundle", (302, 400, 400, 403, 403)),  # refused with a message
    ("GET", "/users/", None, (302, 200, 403, 200, 403)),
    ("POST", "/users/", {"username": "baru", "role": "auditor", "partner": "", "password": PASSWORD,
                         "confirm": PASSWORD}, (302, 302, 403, 403, 403)),
    ("POST", "/users/{user}/role", {"role": "officer", "partner": ""}, (302, 302, 403, 403, 403)),
    ("POST", "/users/{user}/disable", {}, (302, 302, 403, 403, 403)),
    ("POST", "/users/{user}/enable", {}, (302, 302, 403, 403, 403)),
    ("POST", "/users/{user}/password", {"password": "x" * 12, "confirm": "x" * 12}, (302, 302, 403, 403, 403)),
    ("POST", "/users/999/disable", {}, (302, 404, 403, 403, 403)),
]


@pytest.mark.parametrize("role", ROLES)
def test_every_page_and_action_for_each_role(office: IssuerHome, role: str) -> None:
    _, client = client_for(office, role)
    for method, path, body, expected in MATRIX:
        status = expected[ROLES.index(role)]
        if "{kid}" in path:  # retire and revoke a key of its own each time, leaving one active
            rotate_issuing_key(office, UNLOCK, NOW, by=ACTOR)
            kid = list_issuing_keys(office)[-2].kid
        else:
            kid = ""
        user = fresh_user(office) if "{user}" in path else 0
        url = path.format(card=fresh_card(office), terminal=fresh_terminal(office), kid=kid, user=user)
        if method == "GET":
            response = client.get(url)
        elif body == "csv":
            data = {"file": (io.BytesIO(f"birth_date,region\n{PUPIL},3372\n".encode()), "sekolah.csv")}
            response = client.post(url, data=data, content_type="multipart/form-data")
        elif body == "not-a-bundle":
            data = {"bundle": (io.BytesIO(b'{"kind": "something else"}'), "bundle.json")}
            response = client.post(url, data=data, content_type="multipart/form-data")
        elif url.startswith("/api/"):
            response = client.post(url, json=body)
        else:
            response = client.post(url, data=body)
        assert response.status_code == status, f"{role} {method} {url}: {response.status_code}"
        if status == 302 and role == "anonymous":
            assert response.headers["Location"].startswith("/login")


def test_forms_without_a_csrf_token_are_refused(office: IssuerHome) -> None:
    _, client = client_for(office, "officer", csrf=True)
    response = client.post("/cards/issue", data={"birth_date": PUPIL, "region": "3372"})
    assert response.status_code == 400


def test_sign_in_with_csrf_and_a_wrong_password_is_401_and_audited(office: IssuerHome) -> None:
    _, client = client_for(office, "anonymous", csrf=True)
    form = {"csrf_token": csrf_token(client, "/login"), "username": "officer", "password": "wrong-one-here"}
    response = client.post("/login", data=form)
    assert response.status_code == 401
    with office.transaction() as session:
        actions = [(e.username, e.action) for e in session.scalars(select(AuditEvent))]
    assert ("officer", "sign_in_failed") in actions


def test_every_change_is_in_the_audit_trail_with_who_and_where(office: IssuerHome) -> None:
    _, client = client_for(office, "officer")
    card = fresh_card(office)
    client.post(f"/cards/{card}/revoke", data={"reason": "hilang"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    with office.transaction() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "card_revoke")).one()
    assert (event.username, event.target, event.remote_addr) == ("officer", card, "10.1.2.3")
    assert event.at > NOW


def test_a_refusal_is_said_in_the_pages_language(office: IssuerHome) -> None:
    _, client = client_for(office, "officer")
    card = fresh_card(office)
    client.post(f"/cards/{card}/revoke", data={"reason": "hilang"})
    again = client.post(f"/cards/{card}/revoke", data={"reason": "hilang"}, follow_redirects=True)
    assert "Kartu ini sudah dicabut." in again.get_data(True)
    assert "already revoked" not in again.get_data(True)


def test_a_session_expires_after_thirty_minutes_of_disuse(office: IssuerHome) -> None:
    _, client = client_for(office, "officer")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.expires is not None
    lifetime = cookie.expires - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=29) < lifetime <= dt.timedelta(minutes=30)


def test_a_replaced_card_points_to_its_replacement_for_the_same_child(office: IssuerHome) -> None:
    _, client = client_for(office, "officer")
    card = fresh_card(office)
    response = client.post(f"/cards/{card}/replace", data={})
    new_serial = response.headers["Location"].rsplit("/", 1)[-1]
    old = find_card(office, card)
    assert (old.state, old.replaced_by) == ("replaced", new_serial)
    assert find_card(office, new_serial).state == "active"


# --- reports over HTTP -----------------------------------------------------------

REPORTS = [
    # (url, expected status per role: anonymous, admin, officer, auditor, manager of partner 1)
    ("/api/v1/reports/figures", (401, 200, 200, 200, 200)),
    ("/api/v1/reports/figures?partner=1&format=csv", (401, 200, 200, 200, 200)),
    ("/api/v1/reports/figures?partner=2", (401, 200, 200, 200, 403)),
    ("/api/v1/reports/figures?by=programme", (401, 200, 200, 200, 403)),
    ("/api/v1/reports/figures?by=cluster&period=day", (401, 200, 200, 200, 403)),
    ("/api/v1/reports/partners?from=2026-01-01", (401, 200, 200, 200, 403)),
    ("/api/v1/reports/coverage?format=csv", (401, 200, 200, 200, 403)),
    ("/api/v1/reports/figures?by=nothing", (401, 400, 400, 400, 400)),
    ("/api/v1/reports/figures?from=2026-12-01&to=2026-01-01", (401, 400, 400, 400, 400)),
    ("/api/v1/reports/figures?bogus=1", (401, 400, 400, 400, 400)),
    ("/api/v1/reports/partners?from=2026-12-01&to=2026-11-01", (401, 400, 400, 400, 403)),
]


@pytest.mark.parametrize("role", ROLES)
def test_every_report_for_each_role(office: IssuerHome, role: str) -> None:
    _, client = client_for(office, role)
    for url, expected in REPORTS:
        response = client.get(url)
        status = expected[ROLES.index(role)]
        assert response.status_code == status, f"{role} {url}: {response.status_code}"
        if status >= 400:
            assert response.get_json()["error"]
        elif "format=csv" in url:
            assert response.mimetype == "text/csv" and response.get_data(True).splitlines()[0].count(",") >= 3
        else:
            assert isinstance(response.get_json()["rows"], list)


def test_a_partner_manager_without_a_partner_filter_gets_only_their_own(office: IssuerHome) -> None:
    terminals = {pid: register_terminal(office, pid, "Kasir", NOW, by=ACTOR).terminal_id for pid in (1, 2)}
    with office.transaction() as session:  # one accepted scan at each partner, on 2026-11-21
        for partner_id, terminal in terminals.items():
            session.add(RedemptionRow(terminal_id=terminal, partner_id=partner_id, seq=1, at=NOW, serial="8H635DT4",
                                      accepted=True, reason="accepted", service="tiket", category="5-12",
                                      price=40_000, discount=20_000, paid=20_000, flags=[], hash="0" * 64,
                                      received_at=NOW, day=20261121, month=202611))
        summarise_stored(session)  # as ingest would
    url = "/api/v1/reports/figures?from=2026-11-01&to=2026-11-30"
    _, manager = client_for(office, "manager")
    assert [row["group"] for row in manager.get(url).get_json()["rows"]] == ["1"]
    _, officer = client_for(office, "officer")
    assert [row["group"] for row in officer.get(url).get_json()["rows"]] == ["1", "2"]


def test_key_changes_from_the_web_take_effect_and_are_audited(office: IssuerHome) -> None:
    _, client = client_for(office, "officer")
    first = list_issuing_keys(office)[0].kid
    client.post("/keys/rotate", data={})
    states = [key.state.value for key in list_issuing_keys(office)]
    assert states == ["retired", "active"]
    client.post(f"/keys/{first}/revoke", data={})
    assert list_issuing_keys(office)[0].state.value == "revoked"
    with office.transaction() as session:
        officer = select(AuditEvent).where(AuditEvent.username == "officer")
        actions = [(e.action, e.target) for e in session.scalars(officer)]
    assert ("key_revoke", first) in actions and any(action == "key_rotate" for action, _ in actions)


PARTNER = {"name": "Museum Radya Pustaka", "kind": "museum", "cluster": "education_culture", "region": "3372",
           "mou_start": "2026-02-01"}
SERVICE = {"code": "tiket-masuk", "name": "Tiket masuk", "price_5_12": "10000", "price_13_16": "15000",
           "discount_kind": "fixed", "discount_value": "5000", "daily_limit": "1", "passback_seconds": "0"}


def test_an_officer_adds_a_partner_and_its_rules_from_the_web(office: IssuerHome) -> None:
    _, client = client_for(office, "officer")
    response = client.post("/partners/", data=PARTNER)
    assert response.status_code == 302
    partner_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    assert client.post(f"/partners/{partner_id}/services", data=SERVICE).status_code == 302
    with office.transaction() as session:
        partner = session.get(Partner, partner_id)
        rules = session.scalars(select(PartnerService).where(PartnerService.partner_id == partner_id)).one()
    assert (partner.mou_start, partner.mou_end) == (dt.date(2026, 2, 1), dt.date(2028, 1, 31))  # two years
    assert (rules.prices, rules.discount_kind, rules.discount_value) == ({"5-12": 10000, "13-16": 15000}, "fixed", 5000)
    page = client.get(f"/partners/{partner_id}").get_data(True)
    assert "tiket-masuk" in page and "Museum Radya Pustaka" in page


@pytest.mark.parametrize("role", ["auditor", "manager"])
def test_only_officers_add_partners_and_rules(office: IssuerHome, role: str) -> None:
    _, client = client_for(office, role)
    assert client.post("/partners/", data=PARTNER).status_code == 403
    assert client.post("/partners/1/services", data=SERVICE).status_code == 403


def test_bad_partner_and_rules_input_is_refused_with_a_message(office: IssuerHome) -> None:
    _, client = client_for(office, "officer")
    assert client.post("/partners/", data=PARTNER | {"region": "12"}).status_code == 400
    response = client.post("/partners/1/services", data=SERVICE | {"discount_kind": "percent", "discount_value": "150"})
    assert response.status_code == 400
    with office.transaction() as session:
        assert session.scalars(select(PartnerService)).first() is None
    page = response.get_data(True)
    assert "Potongan persen dari 0 sampai 100." in page
    assert 'value="tiket-masuk"' in page and 'value="150"' in page, "what the officer typed is kept"
    assert 'value="Tiket masuk"' not in page.split('id="terminals"')[-1], "the service's name is no terminal's"
    ended_first = client.post("/partners/", data=PARTNER | {"name": "Kolam Renang Tirtomoyo", "mou_end": "2026-01-01"})
    assert ended_first.status_code == 400
    assert "Tanggal berakhir harus setelah tanggal mulai." in ended_first.get_data(True)
    no_price = client.post("/partners/1/services?lang=en", data=SERVICE | {"price_5_12": "", "price_13_16": ""})
    assert "Give a price for at least one age category" in no_price.get_data(True)


def test_an_officer_chooses_which_other_regions_cards_a_partner_honours(office: IssuerHome) -> None:
    _, client = client_for(office, "officer")
    page = client.get("/partners/1").get_data(True)
    assert 'id="other-regions">Hanya KIA daerah ini<' in page and re.search(r'<input checked [^>]*value="none"', page)
    assert client.post("/partners/1/regions", data={"choice": "listed", "codes": "9171, 6311"}).status_code == 302
    with office.transaction() as session:
        partner = session.get(Partner, 1)
        assert (partner.other_regions, partner.other_region_codes) == ("listed", [6311, 9171])
    page = client.get("/partners/1").get_data(True)
    assert "KIA daerah berikut: Kabupaten Balangan (6311), Kota Jayapura (9171)" in page
    assert 'value="6311 9171"' in page  # the form starts from the choice held
    for data, words in (({"choice": "listed", "codes": ""}, "Tulis 1 sampai 100 kode wilayah."),
                        ({"choice": "listed", "codes": "3372"}, "Kartu daerah mitra sendiri selalu diterima"),
                        ({"choice": "listed", "codes": "63-11"}, "Setiap kode wilayah 4 angka"),
                        ({"choice": "listed", "codes": "12"}, "Setiap kode wilayah 4 angka"),
                        ({"choice": "some"}, "Pilih salah satu")):
        refused = client.post("/partners/1/regions", data=data)
        assert refused.status_code == 400 and words in refused.get_data(True), data
    assert client.post("/partners/1/regions", data={"choice": "all", "codes": "6311"}).status_code == 302
    with office.transaction() as session:
        partner = session.get(Partner, 1)
        assert (partner.other_regions, partner.other_region_codes) == ("all", None)
    _, auditor = client_for(office, "auditor")
    assert auditor.post("/partners/1/regions", data={"choice": "none"}).status_code == 403
    assert "KIA semua daerah yang dipercaya direktori nasional" in auditor.get("/partners/1").get_data(True)


def test_an_officer_registers_a_terminal_and_sees_its_code_once(office: IssuerHome) -> None:
    _, client = client_for(office, "officer")
    page = client.post("/partners/1/terminals", data={"name": "Kasir 2"}).get_data(True)
    code = re.search(r'id="enrolment-code"[^>]*>([0-9A-Z-]+)<', page)[1]
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code)
    assert code not in client.get("/partners/1").get_data(True)  # shown once, only its hash is kept
    _, auditor = client_for(office, "auditor")
    assert auditor.post("/partners/1/terminals", data={"name": "Kasir 3"}).status_code == 403


def test_the_card_page_says_which_kind_of_kia_it_is(office: IssuerHome) -> None:
    _, client = client_for(office, "officer")
    unlock = UNLOCK
    toddler, pupil = (
        issue_cards(office, unlock, [ChildRequest(1, born, 3372)], NOW, by=ACTOR).cards[0].record.serial
        for born in (dt.date(2024, 3, 1), dt.date(2016, 8, 17))
    )
    assert "tanpa foto" in client.get(f"/cards/{toddler}").get_data(True)
    assert "dengan foto" in client.get(f"/cards/{pupil}").get_data(True)


# --- trust lists signed offline, from the keys page ------------------------------------------


def test_an_officer_prepares_a_request_and_uploads_the_bundle_signed_offline(office: IssuerHome) -> None:
    _, client = client_for(office, "officer", csrf=True)
    token = csrf_token(client, "/keys/")
    download = client.post("/keys/trustlist/prepare", data={"csrf_token": token})
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == 'attachment; filename="kia-trustlist-request-1.json"'
    request = download.get_data()
    fingerprint = offline_signing.fingerprint(request)
    page = client.get("/keys/").get_data(True)
    assert fingerprint[:32] in page and fingerprint[32:] in page  # compared with what sign asks for

    root = UNLOCK.read_file(office.key_path("root.key"), root=True)
    offline_signing.check_fingerprint(request, fingerprint[:20])
    _, bundle = offline_signing.sign_request(request, root, int(dt.datetime.now(dt.UTC).timestamp()))
    upload = {"csrf_token": token, "bundle": (io.BytesIO(bundle.to_bytes()), "bundle.json")}
    response = client.post("/keys/trustlist/import", data=upload, content_type="multipart/form-data",
                           environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 302
    assert "Daftar kepercayaan urutan 1 diterbitkan" in client.get("/keys/").get_data(True)
    assert latest_published(office) == (1, bundle.trust_list)
    again = {"csrf_token": token, "bundle": (io.BytesIO(bundle.to_bytes()), "bundle.json")}
    refused = client.post("/keys/trustlist/import", data=again, content_type="multipart/form-data")
    assert refused.status_code == 409 and "tidak lebih baru dari daftar kepercayaan terakhir" in refused.get_data(True)
    with office.transaction() as session:
        events = [(e.username, e.action, e.target, e.remote_addr)
                  for e in session.scalars(select(AuditEvent).where(AuditEvent.action.like("trust_list_%")))]
    assert events == [("officer", "trust_list_prepare", f"seq 1 {fingerprint}", "127.0.0.1"),
                      ("officer", "trust_list_import", "seq 1", "10.1.2.3")]


def test_a_bundle_upload_without_a_csrf_token_is_refused(office: IssuerHome) -> None:
    _, client = client_for(office, "admin", csrf=True)
    data = {"bundle": (io.BytesIO(b"{}"), "bundle.json")}
    assert client.post("/keys/trustlist/import", data=data, content_type="multipart/form-data").status_code == 400
    assert client.post("/keys/trustlist/prepare", data={}).status_code == 400


# --- people: admins manage who signs in ------------------------------------------------------


def new_person(role: str = "officer", partner: str = "", username: str = "sri", password: str = PASSWORD) -> dict:
    return {"username": username, "role": role, "partner": partner, "password": password, "confirm": password}


def sign_in_as(office: IssuerHome, username: str, password: str = PASSWORD) -> tuple[FlaskClient, int]:
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True,
                      "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    return client, client.post("/login", data={"username": username, "password": password}).status_code


def user_id(office: IssuerHome, username: str) -> int:
    return next(account.id for account in accounts(office) if account.username == username)


def audit_trail(office: IssuerHome) -> list[tuple[str, str, str | None]]:
    with office.transaction() as session:
        return [(e.username, e.action, e.target) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_an_admin_adds_a_partner_manager_who_sees_only_their_partner(office: IssuerHome) -> None:
    _, admin = client_for(office, "admin")
    response = admin.post("/users/", data=new_person("partner_manager", "2", "dewi"))
    assert response.status_code == 302
    page = admin.get("/users/").get_data(True)
    assert "Pengguna dewi ditambahkan." in page and "Pengelola mitra" in page and "Kolam" in page
    assert PASSWORD not in page
    dewi, status = sign_in_as(office, "dewi")
    assert status == 302
    assert dewi.get("/partners/2").status_code == 200 and dewi.get("/partners/1").status_code == 403
    assert ("admin", "user_add", "dewi: partner_manager") in audit_trail(office)
    assert all(PASSWORD not in (target or "") for _, _, target in audit_trail(office))


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (new_person("partner_manager", ""), "partner manager needs a partner"),
        (new_person("officer", "1"), "only a partner manager has one"),
        (new_person(password="pendek"), "Kata sandi"),
        (new_person() | {"confirm": PASSWORD + "x"}, "Kedua kata sandi tidak sama."),
        (new_person(username="admin"), "Nama pengguna itu sudah dipakai"),
        (new_person(username="no spaces"), "Nama pengguna"),
        (new_person(partner="99"), "Mitra"),
    ],
)
def test_bad_new_people_are_refused_with_a_message(office: IssuerHome, form: dict, message: str) -> None:
    _, admin = client_for(office, "admin")
    response = admin.post("/users/", data=form)
    assert response.status_code in (400, 409)
    assert message in response.get_data(True)
    assert form["password"] not in response.get_data(True)
    assert [account.username for account in accounts(office)] == ["admin", "auditor", "manager", "officer"]


def test_a_role_change_takes_effect_at_the_next_request(office: IssuerHome) -> None:
    officer, _ = sign_in_as(office, "officer")
    assert officer.get("/cards/").status_code == 200
    _, admin = client_for(office, "admin")
    admin.post(f"/users/{user_id(office, 'officer')}/role", data={"role": "partner_manager", "partner": "1"})
    assert officer.get("/cards/").status_code == 403
    assert officer.get("/partners/1").status_code == 200
    assert ("admin", "user_role", "officer: partner_manager of partner 1") in audit_trail(office)


def test_disabling_ends_the_sessions_and_enabling_lets_them_back(office: IssuerHome) -> None:
    officer, _ = sign_in_as(office, "officer")
    _, admin = client_for(office, "admin")
    target = user_id(office, "officer")
    admin.post(f"/users/{target}/disable", data={})
    assert officer.get("/cards/").status_code == 302  # back to the sign-in page
    assert sign_in_as(office, "officer")[1] == 401
    admin.post(f"/users/{target}/enable", data={})
    assert sign_in_as(office, "officer")[1] == 302
    officer_actions = [action for _, action, name in audit_trail(office) if name == "officer"]
    assert officer_actions[-2:] == ["user_disable", "user_enable"]


def test_a_password_reset_ends_the_sessions_and_only_the_new_password_works(office: IssuerHome) -> None:
    officer, _ = sign_in_as(office, "officer")
    _, admin = client_for(office, "admin")
    fresh = "kata-sandi-baru-sekali-2"
    response = admin.post(f"/users/{user_id(office, 'officer')}/password", data={"password": fresh, "confirm": fresh})
    assert response.status_code == 302
    assert fresh not in admin.get("/users/").get_data(True)
    assert officer.get("/cards/").status_code == 302
    assert sign_in_as(office, "officer")[1] == 401
    assert sign_in_as(office, "officer", fresh)[1] == 302
    assert ("admin", "user_password_reset", "officer") in audit_trail(office)
    assert all(fresh not in (target or "") for _, _, target in audit_trail(office))


def test_the_last_admin_cannot_be_disabled_or_demoted_and_nobody_changes_themselves(office: IssuerHome) -> None:
    _, admin = client_for(office, "admin")
    me = user_id(office, "admin")
    admin.post(f"/users/{me}/disable", data={})
    admin.post(f"/users/{me}/role", data={"role": "officer", "partner": ""})
    assert "Anda tidak dapat menonaktifkan akun sendiri" in admin.get("/users/").get_data(True)
    create_user(office, "kedua", PASSWORD, "admin", None, NOW, by=ACTOR)
    second, _ = sign_in_as(office, "kedua")
    second.post(f"/users/{me}/disable", data={})  # another admin may, while one stays
    assert not next(account for account in accounts(office) if account.username == "admin").active
    admin_again, _ = sign_in_as(office, "kedua")
    response = admin_again.post(f"/users/{user_id(office, 'kedua')}/role", data={"role": "officer", "partner": ""})
    assert response.status_code == 302
    assert [a.role for a in accounts(office) if a.username == "kedua"] == ["admin"]


def test_the_user_pages_are_in_english_too(office: IssuerHome) -> None:
    _, admin = client_for(office, "admin")
    page = admin.get("/users/?lang=en").get_data(True)
    assert "Add a user" in page and "Partner manager" in page and "Reset password" in page


def test_user_forms_without_a_csrf_token_are_refused(office: IssuerHome) -> None:
    _, admin = client_for(office, "admin", csrf=True)
    target = user_id(office, "officer")
    assert admin.post("/users/", data=new_person()).status_code == 400
    assert admin.post(f"/users/{target}/disable", data={}).status_code == 400
    assert admin.post(f"/users/{target}/role", data={"role": "admin", "partner": ""}).status_code == 400
    assert admin.post(f"/users/{target}/password", data={"password": "x" * 12, "confirm": "x" * 12}).status_code == 400
    assert [a.role for a in accounts(office) if a.username == "officer"] == ["officer"]

"""Issue 13, finding a card from a parent's NIK or the child's name, at the office's counter.

The search is for admins and officers, by a POST form (the NIK or name never
in a URL), audited without the NIK or name, answering the minimum: serial,
state, region, issue day, and for a name the matches partly masked.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from issuer import card_search, create_app
from issuer.cards import issue_cards, revoke_card
from issuer.children import ChildRequest
from issuer.errors import Invalid
from issuer.storage.models import AuditEvent
from issuer.storage.store import IssuerHome
from tests.factories import ACTOR, BALANGAN, NOW, SURAKARTA
from tests.factories.offices import PASSWORD, UNLOCK, add_people

BUDI_NIK = "3372051405180001"  # born 14 May 2018 (a boy's NIK: day as born)
SITI_NIK = "3372055405180002"  # born 14 May 2018 (a girl's NIK: day plus 40)
BORN = dt.date(2018, 5, 14)


@pytest.fixture
def founded_at() -> int:
    return NOW


@pytest.fixture
def office(office: IssuerHome) -> IssuerHome:
    add_people(office, NOW, ("admin", "admin", None), ("officer", "officer", None), ("auditor", "auditor", None))
    issue_cards(office, UNLOCK, [
        ChildRequest(1, BORN, SURAKARTA, name="Budi Santoso", nik=BUDI_NIK),
        ChildRequest(2, BORN, SURAKARTA, name="Siti Santosa", nik=SITI_NIK),
        ChildRequest(3, BORN, BALANGAN, name="Rina Wijaya"),
    ], NOW, by=ACTOR)
    return office


def client_for(office: IssuerHome, username: str | None, csrf: bool = False) -> FlaskClient:
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True,
                      "WTF_CSRF_ENABLED": csrf}, now=lambda: NOW)
    client = app.test_client()
    if username:
        assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    return client


def results(page: str) -> list[list[str]]:
    body = re.search(r'<table id="search-results">.*?<tbody>(.*?)</tbody>', page, re.S)
    if body is None:
        return []
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body[1], re.S)]


def searches(office: IssuerHome) -> list[tuple[str, str | None]]:
    with office.transaction() as session:
        return [(row.username, row.target) for row in
                session.scalars(select(AuditEvent).where(AuditEvent.action == "card_search").order_by(AuditEvent.id))]


def everything_audited(office: IssuerHome) -> str:
    with office.transaction() as session:
        return " ".join(f"{row.action} {row.target}" for row in session.scalars(select(AuditEvent)))


def test_an_officer_finds_a_card_by_nik_and_sees_the_minimum(office: IssuerHome) -> None:
    response = client_for(office, "officer").post("/search/", data={"by": "nik", "text": BUDI_NIK})
    page = response.get_data(True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    [row] = results(page)
    serial = card_search.search_cards(office, "nik", BUDI_NIK, NOW, by_whom=ACTOR).cards[0].serial
    assert row == [serial, "Berlaku", "Kota Surakarta", "22 Nov 2026", "Buka"]
    assert f'href="/cards/{serial}"' in page
    assert "Budi" not in page and "Santoso" not in page  # a NIK search shows no name
    assert searches(office)[0] == ("officer", "card search by nik: 1 result")


def test_a_name_search_is_case_insensitive_and_masks_the_names(office: IssuerHome) -> None:
    page = client_for(office, "officer").post("/search/", data={"by": "name", "text": "SANTOS"}).get_data(True)
    found = results(page)
    assert sorted(row[1] for row in found) == ["Bu•• Sa•••••", "Si•• Sa•••••"]
    assert "Budi Santoso" not in page and "Siti Santosa" not in page
    assert searches(office) == [("officer", "card search by name: 2 results")]


def test_the_audit_trail_holds_no_nik_and_no_name(office: IssuerHome) -> None:
    officer = client_for(office, "officer")
    officer.post("/search/", data={"by": "nik", "text": SITI_NIK})
    officer.post("/search/", data={"by": "name", "text": "wijaya"})
    officer.post("/search/", data={"by": "name", "text": "tidak ada"})
    assert [target for _, target in searches(office)] == [
        "card search by nik: 1 result", "card search by name: 1 result", "card search by name: 0 results"]
    trail = everything_audited(office).lower()
    assert SITI_NIK not in trail and "wijaya" not in trail and "tidak ada" not in trail


def test_a_revoked_card_shows_its_state_in_words(office: IssuerHome) -> None:
    serial = card_search.search_cards(office, "nik", BUDI_NIK, NOW, by_whom=ACTOR).cards[0].serial
    revoke_card(office, serial, "hilang", NOW + 60, by=ACTOR)
    page = client_for(office, "admin").post("/search/", data={"by": "nik", "text": BUDI_NIK}).get_data(True)
    assert results(page)[0][1] == "Dicabut"


@pytest.mark.parametrize(("form", "message"), [
    ({"by": "nik", "text": "337205140518000"}, "NIK terdiri dari 16 angka."),
    ({"by": "nik", "text": "33720514051800AB"}, "NIK terdiri dari 16 angka."),
    ({"by": "name", "text": "Bu"}, "Tulis paling sedikit 3 huruf dari nama."),
    ({"by": "name", "text": "  B  "}, "Tulis paling sedikit 3 huruf dari nama."),
    ({"by": "name", "text": "x" * 101}, "Teks pencarian terlalu panjang."),
])
def test_a_search_that_cannot_be_made_says_what_to_fix_and_is_not_run(office: IssuerHome, form: dict[str, str],
                                                                      message: str) -> None:
    response = client_for(office, "officer").post("/search/", data=form)
    page = response.get_data(True)
    assert response.status_code == 400 and message in page
    if len(form["text"].strip()) >= 10:  # a NIK or a long text: not repeated outside its own field
        assert form["text"].strip() not in re.sub(r'<input[^>]*name="text"[^>]*>', "", page)
    assert searches(office) == []


def test_wildcards_in_a_name_match_only_themselves(office: IssuerHome) -> None:
    page = client_for(office, "officer").post("/search/", data={"by": "name", "text": "%_%"}).get_data(True)
    assert results(page) == [] and "Tidak ada kartu yang cocok." in page


def test_a_search_answers_at_most_the_limit_and_says_there_are_more(office: IssuerHome) -> None:
    many = [ChildRequest(line, BORN, SURAKARTA, name=f"Anak Kembar {line}") for line in range(1, 26)]
    issue_cards(office, UNLOCK, many, NOW, by=ACTOR)
    page = client_for(office, "officer").post("/search/", data={"by": "name", "text": "kembar"}).get_data(True)
    assert len(results(page)) == card_search.MAX_RESULTS == 20
    assert "Hanya 20 hasil pertama yang ditampilkan" in page
    assert searches(office) == [("officer", "card search by name: 20+ results")]


@pytest.mark.parametrize(("username", "status"), [("admin", 200), ("officer", 200), ("auditor", 403)])
def test_admins_and_officers_search_auditors_read_the_trail(office: IssuerHome, username: str, status: int) -> None:
    client = client_for(office, username)
    assert client.get("/search/").status_code == status
    assert client.post("/search/", data={"by": "nik", "text": BUDI_NIK}).status_code == status


def test_a_partner_manager_and_the_signed_out_cannot_search(office: IssuerHome) -> None:
    from issuer import partners

    partners.create_partner(office, "Bioskop", "cinema", "education_culture", SURAKARTA, dt.date(2026, 1, 1),
                            dt.date(2027, 12, 31), NOW, by=ACTOR)
    add_people(office, NOW, ("manager", "partner_manager", 1))
    assert client_for(office, "manager").post("/search/", data={"by": "nik", "text": BUDI_NIK}).status_code == 403
    assert client_for(office, None).get("/search/").status_code == 302
    assert searches(office) == []


def test_a_nik_in_the_query_string_is_never_searched(office: IssuerHome) -> None:
    page = client_for(office, "officer").get(f"/search/?by=nik&text={BUDI_NIK}").get_data(True)
    assert results(page) == [] and searches(office) == []


def test_the_search_form_needs_its_csrf_token(office: IssuerHome) -> None:
    client = client_for(office, None, csrf=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").get_data(True))[1]
    assert client.post("/login", data={"username": "officer", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    refused = client.post("/search/", data={"by": "nik", "text": BUDI_NIK})
    assert refused.status_code == 400 and searches(office) == []
    form = client.get("/search/").get_data(True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)[1]
    assert client.post("/search/", data={"by": "nik", "text": BUDI_NIK, "csrf_token": token}).status_code == 200


def test_the_domain_refuses_a_bad_search_before_reading(office: IssuerHome) -> None:
    with pytest.raises(Invalid):
        card_search.search_cards(office, "birth_date", "2018-05-14", NOW, by_whom=ACTOR)
    assert card_search.mask_name("Ni Luh  Putu") == "Ni Lu• Pu••"

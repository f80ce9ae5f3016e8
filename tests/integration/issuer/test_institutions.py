"""Schools and clinics on the web: their accounts, their batches, and the office's queue (both databases).

A school's account is held to its own institution as a partner manager is to
its partner; the office verifies, prints and hands over.  The app's clock is
the test's NOW.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator

import pypdfium2 as pdfium
import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from issuer import batches, create_app
from issuer.current import CLOCK_EXTENSION
from issuer.institutions import create_institution, list_institutions
from issuer.people import accounts
from issuer.storage.models import AuditEvent, CardRow
from issuer.storage.store import IssuerHome
from keys import token_from_payload
from kia.cli import main
from tests.factories import ACTOR, BALANGAN, NOW
from tests.factories.offices import PASSWORD, add_people

SCHOOL_ID, CLINIC_ID = 1, 2
# What Excel in an Indonesian locale saves: semicolons, Windows-1252, dates day first; line 4 is a bad date.
SCHOOL_CSV = (
    "no_induk;nama;tanggal_lahir;wilayah;nik\r\n"
    "NIS-001;Siti Nurhaliza;14/05/2018;6311;6311015405180001\r\n"
    "NIS-002;André Saputra;01-02-2017;6311;\r\n"
    "NIS-003;Budi Santoso;31/02/2018;6311;\r\n"
).encode("cp1252")


@pytest.fixture
def founded_at() -> int:
    return NOW


@pytest.fixture
def office(office: IssuerHome, keys_env: None) -> IssuerHome:
    """A school and a clinic in Balangan, an account for each, and the office's people."""
    assert create_institution(office, "SD Negeri 1 Paringin", "school", BALANGAN, NOW, by=ACTOR) == SCHOOL_ID
    assert create_institution(office, "Klinik Bersalin Sehat", "clinic", BALANGAN, NOW, by=ACTOR) == CLINIC_ID
    add_people(office, NOW, ("admin", "admin", None), ("officer", "officer", None), ("auditor", "auditor", None))
    from issuer.people import create_user

    for username, institution_id in (("sekolah", SCHOOL_ID), ("klinik", CLINIC_ID)):
        create_user(office, username, PASSWORD, "institution", None, NOW, by=ACTOR, institution_id=institution_id)
    return office


@pytest.fixture
def apps(office: IssuerHome) -> Iterator[list[Flask]]:
    made: list[Flask] = []
    yield made
    for app in made:
        app.extensions["kia_home"].close()


SignIn = Callable[[str], FlaskClient]


@pytest.fixture
def sign_in(office: IssuerHome, apps: list[Flask]) -> SignIn:
    def signed_in(username: str) -> FlaskClient:
        app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True,
                          "WTF_CSRF_ENABLED": False})
        app.extensions[CLOCK_EXTENSION] = lambda: NOW
        apps.append(app)
        client = app.test_client()
        assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
        return client

    return signed_in


def upload(client: FlaskClient, data: bytes = SCHOOL_CSV, institution: int = SCHOOL_ID) -> TestResponse:
    return client.post(f"/institutions/{institution}/batches", data={"file": (io.BytesIO(data), "kelas-1.csv")},
                       content_type="multipart/form-data")


def tokens_in(pdf: bytes) -> list[str]:
    """The tokens of every QR in the PDF, rasterised at 300 dpi as a card printer prints it."""
    document = pdfium.PdfDocument(pdf)
    pages = [document[index].render(scale=300 / 72).to_pil().convert("RGB") for index in range(len(document))]
    qr = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    return [token_from_payload(code.text) for page in pages for code in zxingcpp.read_barcodes(page, formats=qr)]


def audit_trail(office: IssuerHome) -> list[tuple[str, str, str | None]]:
    with office.transaction() as session:
        return [(e.username, e.action, e.target) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_a_school_account_lands_on_its_own_page_and_sees_nothing_else(office: IssuerHome, sign_in: SignIn) -> None:
    client = sign_in("sekolah")

    assert client.get("/").headers["Location"] == "/institutions/"
    assert client.get("/institutions/").headers["Location"] == f"/institutions/{SCHOOL_ID}"
    page = client.get(f"/institutions/{SCHOOL_ID}").get_data(True)
    assert "SD Negeri 1 Paringin" in page and "Ajukan berkas anak (CSV)" in page
    for path in (f"/institutions/{CLINIC_ID}", "/cards/", "/partners/", "/keys/", "/users/", "/audit/"):
        assert client.get(path).status_code == 403, path
    assert upload(client, institution=CLINIC_ID).status_code == 403  # not on another's behalf


def test_a_school_submits_a_semicolon_windows_file_and_sees_each_child_and_refused_row(
        office: IssuerHome, sign_in: SignIn) -> None:
    client = sign_in("sekolah")

    response = upload(client)

    assert response.status_code == 303
    batch_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    page = client.get(response.headers["Location"]).get_data(True)
    assert "Berkas #1 diajukan: 2 anak menunggu verifikasi, 1 baris ditolak." in page
    assert page.count("menunggu verifikasi</td>") == 2 and "André Saputra" in page
    table = re.search(r'<table class="errors" id="refused-rows">(.*?)</table>', page, re.S)
    assert table is not None
    refused = table[1]
    assert "<td>4</td><td>NIS-003</td>" in refused and "tanggal lahir harus berupa tanggal" in refused
    assert "31/02/2018" not in refused and "Budi" not in refused  # the line and field, never the content
    assert "Verifikasi" not in page.split("batch-steps")[1].split("refused-rows")[0]  # no office buttons for a school

    again = upload(client)
    assert again.status_code == 409 and "sudah diajukan sebagai berkas #1" in again.get_data(True)
    assert client.post(f"/institutions/batches/{batch_id}/verified").status_code == 403
    assert client.post(f"/institutions/batches/{batch_id}/print/sheet").status_code == 403
    assert sign_in("klinik").get(f"/institutions/batches/{batch_id}").status_code == 403
    english = client.get(f"/institutions/batches/{batch_id}?lang=en").get_data(True)
    assert "birth_date must be a date as YYYY-MM-DD, DD/MM/YYYY or DD-MM-YYYY" in english


def test_a_file_that_cannot_be_used_is_explained_in_bahasa_indonesia(office: IssuerHome, sign_in: SignIn) -> None:
    client = sign_in("sekolah")

    response = upload(client, b"nama;kelas\r\nSiti;1A\r\n")

    assert response.status_code == 400
    assert "Baris judul tidak memuat kolom birth_date, region" in response.get_data(True)
    assert batches.list_batches(office) == []


def test_one_child_from_the_form_is_a_batch_of_one(office: IssuerHome, sign_in: SignIn) -> None:
    client = sign_in("klinik")
    form = {"name": "Bayi Ny. Rahma", "birth_date": "20/11/2026", "region": "6311", "nik": "", "external_id": "RM-9"}

    response = client.post(f"/institutions/{CLINIC_ID}/children", data=form)

    assert response.status_code == 303
    (batch,) = batches.list_batches(office, institution_id=CLINIC_ID)
    assert (batch.channel, batch.state, batch.rows_accepted) == ("clinic", "submitted", 1)
    bad = client.post(f"/institutions/{CLINIC_ID}/children", data=form | {"birth_date": "20/11/2030"})
    assert bad.status_code == 400 and "tanggal lahir ada di masa depan" in bad.get_data(True)


def test_the_office_verifies_prints_and_hands_over_and_the_school_downloads_its_list(
        office: IssuerHome, sign_in: SignIn) -> None:
    school = sign_in("sekolah")
    batch_id = int(upload(school).headers["Location"].rsplit("/", 1)[-1])
    officer = sign_in("officer")
    assert school.get(f"/institutions/batches/{batch_id}/handover.csv").status_code == 302  # nothing signed yet
    queue = officer.get("/institutions/").get_data(True)
    assert re.search(r'id="institution-1">.*?<td class="waiting">1</td>', queue, re.S)

    assert officer.post(f"/institutions/batches/{batch_id}/verified").status_code == 302
    page = officer.get(f"/institutions/batches/{batch_id}").get_data(True)
    assert "Berkas #1 diverifikasi; 2 kartu ditandatangani." in page and page.count("kartu dibuat</td>") == 2

    sheet = officer.post(f"/institutions/batches/{batch_id}/print/sheet")
    cards = officer.post(f"/institutions/batches/{batch_id}/print/cards")
    for pdf in (sheet, cards):
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
        assert "attachment" in pdf.headers["Content-Disposition"] and pdf.headers["Cache-Control"] == "no-store"
    assert batches.batch_view(office, batch_id).batch.state == "printed"
    with office.transaction() as session:
        issued = sorted(session.scalars(select(CardRow.token).where(CardRow.batch_id == batch_id)))
    assert len(issued) == 2 and sorted(tokens_in(sheet.data)) == issued and sorted(tokens_in(cards.data)) == issued
    assert officer.post(f"/institutions/batches/{batch_id}/handed_over").status_code == 302

    listed = school.get(f"/institutions/batches/{batch_id}/handover.csv")
    assert listed.status_code == 200 and listed.data.startswith("\ufeff".encode())
    rows = listed.data.decode("utf-8-sig").splitlines()
    serials = [child.serial for child in batches.batch_view(office, batch_id).children]
    assert rows == ["no;external_id;name;serial", f"1;NIS-001;Siti Nurhaliza;{serials[0]}",
                    f"2;NIS-002;André Saputra;{serials[1]}"]
    receipt = school.get(f"/institutions/batches/{batch_id}/handover.pdf")
    assert receipt.status_code == 200 and receipt.data.startswith(b"%PDF")
    assert school.get(f"/institutions/batches/{batch_id}").get_data(True).count("diserahkan</td>") == 2
    trail = [(who, action) for who, action, target in audit_trail(office) if target == f"batch {batch_id}"]
    assert trail == [("officer", "batch_verified"), ("officer", "batch_printed"), ("officer", "batch_print_again"),
                     ("officer", "batch_handed_over")]


def test_admins_add_institutions_and_their_accounts_on_the_pages(office: IssuerHome, sign_in: SignIn) -> None:
    admin = sign_in("admin")
    created = admin.post("/institutions/", data={"name": "SMP Negeri 2 Juai", "kind": "school", "region": "6311"})
    assert created.status_code == 302
    institution_id = int(created.headers["Location"].rsplit("/", 1)[-1])
    assert admin.post("/institutions/", data={"name": "", "kind": "kantor", "region": "1"}).status_code == 400
    account = {"username": "smp2", "role": "institution", "partner": "", "institution": str(institution_id),
               "password": PASSWORD, "confirm": PASSWORD}
    assert admin.post("/users/", data=account).status_code == 302
    assert admin.post("/users/", data=account | {"username": "tanpa", "institution": ""}).status_code == 409
    (added,) = [a for a in accounts(office) if a.username == "smp2"]
    assert (added.role, added.institution_name) == ("institution", "SMP Negeri 2 Juai")
    assert ("admin", "user_add", f"smp2: institution of institution {institution_id}") in audit_trail(office)
    assert sign_in("officer").post("/institutions/", data={"name": "X", "kind": "school",
                                                           "region": "6311"}).status_code == 403


def test_the_institution_commands(office: IssuerHome, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if office.database_url.startswith("postgresql"):
        monkeypatch.setenv("KIA_DATABASE_URL", office.database_url)
    monkeypatch.setenv("KIA_NEW_USER_PASSWORD", PASSWORD)
    home = str(office.path)

    def kia(*args: str) -> str:
        with pytest.raises(SystemExit) as done:
            main(["issuer", *args, "--home", home])
        out, err = capsys.readouterr()
        assert done.value.code == 0, err
        return out

    assert '"id": 3' in kia("institution", "add", "--name", "Klinik Pratama Halong", "--kind", "clinic",
                            "--region", "6311")
    assert '"institution_id": 3' in kia("institution", "account", "3", "--username", "halong")
    assert "Klinik Pratama Halong" in [row.name for row in list_institutions(office)]
    assert kia("batch", "list", "--institution", "3").strip() == "[]"


def test_an_institution_page_shows_its_agreement_and_an_officer_renews_it_there(
        office: IssuerHome, sign_in: SignIn) -> None:
    officer = sign_in("officer")
    page = f"/institutions/{CLINIC_ID}"
    assert 'id="agreements"' in officer.get(page).get_data(True)
    renewed = officer.post(f"/agreements/institution/{CLINIC_ID}/renew",
                           data={"starts_on": "2026-12-01", "ends_on": "2028-11-30", "number": "12/PKS/KLINIK/2026",
                                 "back": page})
    assert renewed.status_code == 302 and renewed.location == page
    assert "12/PKS/KLINIK/2026" in officer.get(page).get_data(True)
    assert len(list_institutions(office)) == 2  # renewed under the same clinic, never a second one
    clinic = sign_in("klinik").get(page).get_data(True)
    assert "12/PKS/KLINIK/2026" in clinic and 'id="renew-form"' not in clinic  # the clinic reads; the office renews

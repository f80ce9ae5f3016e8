"""Cooperation agreements (MoU) of partners and institutions (issuer/agreements.py), their pages and commands.

Renewing adds a period under the same partner, amending changes the current
one, and every version stays with who made it and when; a partner is never
added twice; a partner without an agreement in force gets a terminal only
with an override and its reason; the daily report lists what ends soon.
Service functions run on SQLite and PostgreSQL at the fixed NOW of
tests.factories (10:00 WIB on 22 November 2026).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from issuer import agreements, create_app, institutions, partners
from issuer.agreements import Details, Document, Owner
from issuer.errors import AgreementNotFound, Invalid, MouNotInForce, PartnerExists, Refused
from issuer.storage import migrate
from issuer.storage.models import Agreement, AgreementVersion, AuditEvent, LogPending, Partner, Terminal
from issuer.storage.store import IssuerHome
from issuer.terminals import register_terminal
from kia.cli import main
from tests.factories import ACTOR, DAY, NOW, SURAKARTA, WIB
from tests.factories.offices import PASSWORD, add_people

TODAY = dt.datetime.fromtimestamp(NOW, WIB).date()  # 22 November 2026 in Surakarta
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
AMENDED_PDF = PDF.replace(b"1.4", b"1.7")
CONTACT = {"contact_name": "Ibu Sri Wahyuni", "contact_phone": "0271 123456", "contact_email": "sri@klinik.example"}


def clinic(office: IssuerHome, start: dt.date = TODAY - dt.timedelta(days=700), end: dt.date | None = None,
           name: str = "Klinik Bersalin Sehat", **details: Any) -> int:
    """A maternity clinic in Surakarta whose two-year agreement began ``start``."""
    return partners.create_partner(office, name, "health", "health_welfare", SURAKARTA, start,
                                   end or partners.default_mou_end(start), NOW - 30 * DAY,
                                   details=Details(**details), by=ACTOR)


def partner_row(office: IssuerHome, partner_id: int) -> tuple[dt.date, dt.date]:
    with office.transaction() as session:
        row = session.get_one(Partner, partner_id)
        return row.mou_start, row.mou_end


def count(office: IssuerHome, model: type) -> int:
    with office.transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


def audit_actions(office: IssuerHome) -> list[tuple[str, str | None]]:
    with office.transaction() as session:
        return [(row.action, row.target) for row in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def logged(office: IssuerHome, kind: str) -> list[dict[str, Any]]:
    with office.transaction() as session:
        rows = session.scalars(select(LogPending.data).where(LogPending.kind == kind).order_by(LogPending.id))
        return [json.loads(data) for data in rows]


# --- the first agreement ----------------------------------------------------------------


def test_a_new_partner_has_its_agreement_with_number_contact_and_document_as_version_one(office: IssuerHome):
    partner_id = clinic(office, number="027/PKS/DISDUKCAPIL/2025", document=Document("pks.pdf", PDF), **CONTACT)
    (agreement,) = agreements.agreements_of(office, Owner("partner", partner_id), NOW)
    assert (agreement.number, agreement.contact_name, agreement.contact_phone, agreement.contact_email) == (
        "027/PKS/DISDUKCAPIL/2025", *CONTACT.values())
    assert (agreement.starts_on, agreement.ends_on) == partner_row(office, partner_id)
    assert (agreement.state, agreement.days_left) == ("ending_soon", 29)  # two years from 700 days ago
    (version,) = agreement.versions
    assert (version.version, version.action, version.by, version.at) == (1, "create", ACTOR.username, NOW - 30 * DAY)
    stored = agreements.document(office, agreement.id, 1)
    assert (stored.owner, stored.filename, stored.content) == (Owner("partner", partner_id), "pks.pdf", PDF)
    # One event and one public fact for the partner and its agreement; the contact stays out of the log.
    assert [action for action, _ in audit_actions(office) if action.startswith(("partner", "agreement"))] == [
        "partner_create"]
    (fact,) = logged(office, "partner")
    assert (fact["mou_number"], fact["document_sha256"]) == ("027/PKS/DISDUKCAPIL/2025", Document("", PDF).sha256)
    assert "Sri" not in json.dumps(fact)


def test_re_adding_a_partner_of_the_same_name_and_region_is_refused_with_a_pointer_to_renew(office: IssuerHome):
    partner_id = clinic(office)
    with pytest.raises(PartnerExists, match="renew its agreement") as refused:
        clinic(office, name="  klinik bersalin   SEHAT ", start=TODAY)
    assert refused.value.partner_id == partner_id
    assert count(office, Partner) == 1 and count(office, Agreement) == 1
    other_region = partners.create_partner(office, "Klinik Bersalin Sehat", "health", "health_welfare", 6311,
                                           TODAY, partners.default_mou_end(TODAY), NOW, by=ACTOR)
    assert other_region != partner_id  # the same name elsewhere is another clinic


# --- renewal ----------------------------------------------------------------------------


def test_a_renewal_is_a_new_period_under_the_same_partner_and_its_terminals_keep_working(office: IssuerHome):
    partner_id = clinic(office)
    owner = Owner("partner", partner_id)
    first_start, first_end = partner_row(office, partner_id)
    (current,) = agreements.agreements_of(office, owner, NOW)
    start = current.next_start
    renewed = agreements.renew(office, owner, start, partners.default_mou_end(start),
                               Details("045/PKS/2026", document=Document("perpanjangan.pdf", PDF)), NOW, by=ACTOR)

    assert count(office, Partner) == 1
    # The cover runs unbroken from the first start to the renewal's end: the terminals' rules never lapse.
    assert partner_row(office, partner_id) == (first_start, dt.date(2028, 12, 21))
    newest, oldest = agreements.agreements_of(office, owner, NOW)
    assert (newest.id, newest.number, newest.state, newest.starts_on) == (renewed, "045/PKS/2026", "upcoming",
                                                                          first_end + dt.timedelta(days=1))
    assert [v.action for v in newest.versions] == ["renew"] and oldest.id == current.id
    assert audit_actions(office)[-1] == ("agreement_renew", f"partner {partner_id}: agreement {renewed} v1")
    fact = logged(office, "agreement")[-1]
    assert (fact["action"], fact["owner_kind"], fact["owner"], fact["starts_on"], fact["number"]) == (
        "renew", "partner", partner_id, start.isoformat(), "045/PKS/2026")


def test_a_renewal_after_the_agreement_lapsed_leaves_the_gap_outside_the_cover(office: IssuerHome):
    partner_id = clinic(office, start=TODAY - dt.timedelta(days=900))  # ended 170 days ago
    assert partners.find_partner(office, partner_id, NOW).mou_state == "expired"
    agreements.renew(office, Owner("partner", partner_id), TODAY, partners.default_mou_end(TODAY), Details(), NOW,
                     by=ACTOR)
    assert partner_row(office, partner_id) == (TODAY, dt.date(2028, 11, 21))
    assert partners.find_partner(office, partner_id, NOW).mou_state == "in_force"


def test_a_renewal_that_overlaps_the_current_agreement_is_refused_and_changes_nothing(office: IssuerHome):
    partner_id = clinic(office)
    before = partner_row(office, partner_id)
    with pytest.raises(Refused, match="must start after the current one ends") as refused:
        agreements.renew(office, Owner("partner", partner_id), TODAY, partners.default_mou_end(TODAY), Details(),
                         NOW, by=ACTOR)
    assert isinstance(refused.value, agreements.RenewalOverlaps) and refused.value.current_end == before[1]
    with pytest.raises(agreements.PeriodInvalid):
        agreements.renew(office, Owner("partner", partner_id), dt.date(2027, 1, 1), dt.date(2026, 12, 31), Details(),
                         NOW, by=ACTOR)
    assert partner_row(office, partner_id) == before and count(office, Agreement) == 1


# --- amendments and the history ----------------------------------------------------------


def test_amendments_change_the_current_agreement_and_every_version_is_kept(office: IssuerHome):
    partner_id = clinic(office, document=Document("asli.pdf", PDF))
    owner = Owner("partner", partner_id)
    assert agreements.amend(office, owner, Details(number="027/PKS/2025", document=Document("revisi.pdf", AMENDED_PDF)),
                            NOW, by=ACTOR) == 2
    later = dt.date(2027, 6, 30)
    assert agreements.amend(office, owner, Details(contact_name="Bapak Joko"), NOW + DAY, ends_on=later,
                            note="adendum nomor 1", by=ACTOR) == 3

    (agreement,) = agreements.agreements_of(office, owner, NOW + DAY)
    assert (agreement.number, agreement.ends_on, agreement.contact_name, agreement.document_name) == (
        "027/PKS/2025", later, "Bapak Joko", "revisi.pdf")
    assert partner_row(office, partner_id)[1] == later  # terminals and reports read the amended end
    assert [(v.version, v.action, v.changed, v.note) for v in agreement.versions] == [
        (3, "amend", ("ends_on", "contact_name"), "adendum nomor 1"),
        (2, "amend", ("number", "document_sha256", "document_name"), None),
        (1, "create", ("starts_on", "ends_on", "document_sha256", "document_name"), None),
    ]
    assert [v.number for v in agreement.versions] == ["027/PKS/2025", "027/PKS/2025", None]
    # Each version's document stays downloadable: the original beside the amended one.
    assert agreements.document(office, agreement.id, 1).content == PDF
    assert agreements.document(office, agreement.id, 3).content == AMENDED_PDF
    assert [action for action, _ in audit_actions(office)][-2:] == ["agreement_amend", "agreement_amend"]
    assert [fact["version"] for fact in logged(office, "agreement")] == [2, 3]


def test_an_amendment_must_change_something_valid(office: IssuerHome):
    partner_id = clinic(office, number="027/PKS/2025")
    owner = Owner("partner", partner_id)
    cases: list[tuple[Details, dict[str, Any], type[Exception]]] = [
        (Details(number=" 027/PKS/2025 "), {}, agreements.NothingChanged),  # the same number again
        (Details(), {}, agreements.NothingChanged),
        (Details(document=Document("foto.jpg", b"\xff\xd8\xff\xe0 not a pdf")), {}, agreements.DocumentRefused),
        (Details(document=Document("besar.pdf", PDF + b"0" * agreements.MAX_DOCUMENT_BYTES)), {},
         agreements.DocumentRefused),
        (Details(contact_email="bukan surel"), {}, Invalid),
        (Details(contact_phone="telepon saya"), {}, Invalid),
        (Details(), {"ends_on": dt.date(2020, 1, 1)}, agreements.PeriodInvalid),
    ]
    for details, extra, error in cases:
        with pytest.raises(error):
            agreements.amend(office, owner, details, NOW, by=ACTOR, **extra)
    assert count(office, AgreementVersion) == 1
    with pytest.raises(AgreementNotFound):
        agreements.document(office, 1, 1)  # version 1 has no document


def test_an_institution_has_agreements_of_its_own(office: IssuerHome):
    school = institutions.create_institution(office, "SD Negeri Mangkubumen", "school", SURAKARTA, NOW, by=ACTOR)
    owner = Owner("institution", school)
    assert agreements.agreements_of(office, owner, NOW) == []
    with pytest.raises(AgreementNotFound):
        agreements.amend(office, owner, Details(number="1"), NOW, by=ACTOR)
    agreements.renew(office, owner, TODAY, partners.default_mou_end(TODAY), Details("12/SMART-KIDS/2026"), NOW,
                     by=ACTOR)
    (agreement,) = agreements.agreements_of(office, owner, NOW)
    assert (agreement.owner, agreement.versions[0].action, agreement.number) == (owner, "create", "12/SMART-KIDS/2026")
    assert logged(office, "agreement")[-1]["owner_kind"] == "institution"
    with pytest.raises(institutions.InstitutionNotFound):
        agreements.renew(office, Owner("institution", 99), TODAY, dt.date(2028, 1, 1), Details(), NOW, by=ACTOR)


# --- terminals ----------------------------------------------------------------------------


def test_no_terminal_for_a_partner_whose_mou_ended_or_has_not_started_without_an_override(office: IssuerHome):
    ended = clinic(office, start=TODAY - dt.timedelta(days=900))
    upcoming = clinic(office, name="Rumah Bersalin Bunda", start=TODAY + dt.timedelta(days=10))
    for partner_id in (ended, upcoming):
        with pytest.raises(MouNotInForce, match="renew it first"):
            register_terminal(office, partner_id, "Kasir", NOW, by=ACTOR)
        with pytest.raises(Invalid, match="reason"):
            register_terminal(office, partner_id, "Kasir", NOW, by=ACTOR, mou_override="   ")
    assert count(office, Terminal) == 0

    registration = register_terminal(office, ended, "Kasir", NOW, by=ACTOR,
                                     mou_override="perpanjangan sedang ditandatangani")
    assert audit_actions(office)[-2:] == [
        ("terminal_register", registration.terminal_id),
        ("terminal_register_mou_override", f"{registration.terminal_id}: perpanjangan sedang ditandatangani")]
    in_force = clinic(office, name="Klinik Anak Ceria", start=TODAY - dt.timedelta(days=10))
    register_terminal(office, in_force, "Kasir", NOW, by=ACTOR, mou_override="tidak perlu")
    assert audit_actions(office)[-1][0] == "terminal_register"  # an override where none is needed is not one


# --- the daily report -------------------------------------------------------------------


def test_the_report_lists_partners_and_institutions_whose_agreement_ends_within_the_days_or_ended(
    office: IssuerHome,
):
    soon = clinic(office, name="Klinik Segera", start=TODAY - dt.timedelta(days=700), number="A/1")  # 29 days left
    clinic(office, name="Klinik Lama", start=TODAY - dt.timedelta(days=100))  # in force for 630 days more
    ended = clinic(office, name="Klinik Usai", start=TODAY - dt.timedelta(days=800))  # ended 71 days ago
    renewed = clinic(office, name="Klinik Diperpanjang", start=TODAY - dt.timedelta(days=720))
    agreements.renew(office, Owner("partner", renewed), TODAY + dt.timedelta(days=10), dt.date(2028, 12, 1),
                     Details(), NOW, by=ACTOR)  # its latest agreement is in force: not listed
    school = institutions.create_institution(office, "SD Negeri 1", "school", SURAKARTA, NOW, by=ACTOR)
    agreements.renew(office, Owner("institution", school), TODAY - dt.timedelta(days=355), TODAY + dt.timedelta(days=5),
                     Details(), NOW, by=ACTOR)

    listed = agreements.ending(office, NOW, 90)
    assert [(item.owner, item.days_left, item.state) for item in listed] == [
        (Owner("partner", ended), -71, "expired"),
        (Owner("institution", school), 5, "ending_soon"),
        (Owner("partner", soon), 29, "ending_soon"),
    ]
    assert (listed[2].name, listed[2].number, listed[2].region) == ("Klinik Segera", "A/1", SURAKARTA)
    assert [item.owner for item in agreements.ending(office, NOW, 10)] == [Owner("partner", ended),
                                                                           Owner("institution", school)]
    with pytest.raises(Invalid):
        agreements.ending(office, NOW, -1)


# --- the migration ------------------------------------------------------------------------


def test_the_migration_makes_each_partners_dates_its_first_agreement(office: IssuerHome):
    first, second = clinic(office), clinic(office, name="Kolam Renang Manahan", start=TODAY)
    migrate.downgrade(office.database, "0011")
    migrate.upgrade(office.database)
    for partner_id in (first, second):
        (agreement,) = agreements.agreements_of(office, Owner("partner", partner_id), NOW)
        assert (agreement.starts_on, agreement.ends_on) == partner_row(office, partner_id)
        assert (agreement.number, agreement.document_sha256) == (None, None)
        (version,) = agreement.versions
        assert (version.action, version.by, version.at) == ("migrate", "migration 0012", NOW - 30 * DAY)


# --- the officer's commands ----------------------------------------------------------------


def kia(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["issuer", *map(str, args)])
    out, err = capsys.readouterr()
    return exited.value.code, out, err


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, issuer_db_url: str | None) -> None:
    for name in ("KIA_DATABASE_URL", "KIA_KEY_PASSPHRASE", "KIA_KEY_PASSPHRASE_FILE", "KIA_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    if issuer_db_url:
        monkeypatch.setenv("KIA_DATABASE_URL", issuer_db_url)


def test_the_officer_renews_amends_and_reports_agreements_with_kia(
    capsys: pytest.CaptureFixture[str], office: IssuerHome, cli_env: None, tmp_path: Path
):
    # The commands read the real clock: dates here are relative to the real today.
    today = dt.date.today()
    at = ("--home", str(office.path))

    def ok(*args: str | Path) -> Any:
        status, out, err = kia(capsys, *args, *at)
        assert (status, err) == (0, ""), err
        return json.loads(out) if out.strip().startswith(("{", "[")) else out

    pdf = tmp_path / "pks.pdf"
    pdf.write_bytes(PDF)
    start = today - dt.timedelta(days=700)
    added = ok("partner", "add", "--name", "Klinik Bersalin Sehat", "--kind", "health", "--cluster", "health_welfare",
               "--region", "3372", "--mou-start", start.isoformat(), "--mou-number", "027/PKS/2024",
               "--contact-name", "Ibu Sri", "--document", pdf)
    partner_id = added["partner_id"]
    status, _, err = kia(capsys, "partner", "add", *at, "--name", "klinik bersalin sehat", "--kind", "health",
                         "--cluster", "health_welfare", "--region", "3372", "--mou-start", today.isoformat())
    assert status == 1 and "renew its agreement" in err and err.count("\n") == 1

    report = ok("partner", "mou-report", "--days", "60")
    assert [(row["owner_kind"], row["owner_id"], row["number"], row["state"]) for row in report] == [
        ("partner", partner_id, "027/PKS/2024", "ending_soon")]
    as_csv = list(csv.DictReader(io.StringIO(ok("partner", "mou-report", "--format", "csv"))))
    assert [(row["name"], row["days_left"], row["contact_name"]) for row in as_csv] == [
        ("Klinik Bersalin Sehat", str(report[0]["days_left"]), "Ibu Sri")]

    renewed = ok("partner", "mou-renew", "--partner", str(partner_id), "--mou-number", "045/PKS/2026")
    old_end = dt.date.fromisoformat(report[0]["ends_on"])
    assert renewed["starts_on"] == (old_end + dt.timedelta(days=1)).isoformat()
    assert renewed["ends_on"] == partners.default_mou_end(old_end + dt.timedelta(days=1)).isoformat()
    assert ok("partner", "mou-report", "--days", "60") == []
    amended = ok("partner", "mou-amend", "--partner", str(partner_id), "--contact-email", "tu@klinik.example",
                 "--note", "surel baru")
    assert amended == {"owner": {"kind": "partner", "id": partner_id}, "version": 2}
    history = ok("partner", "mou-history", "--partner", str(partner_id))
    assert [(item["number"], [v["action"] for v in item["versions"]]) for item in history] == [
        ("045/PKS/2026", ["amend", "renew"]), ("027/PKS/2024", ["create"])]
    assert history[0]["versions"][0]["changed"] == ["contact_email"]

    refused = {
        "both_owners": (("partner", "mou-history", "--partner", "1", "--institution", "1"), 2, "exactly one"),
        "nothing_to_amend": (("partner", "mou-amend", "--partner", str(partner_id)), 1, "changes nothing"),
        "not_a_pdf": (("partner", "mou-amend", "--partner", str(partner_id), "--document", __file__), 1, "PDF"),
        "overlap": (("partner", "mou-renew", "--partner", str(partner_id), "--start", today.isoformat()), 1,
                    "must start after"),
        "unknown_partner": (("partner", "mou-renew", "--partner", "99"), 1, "no partner 99"),
    }
    for name, (args, expected, words) in refused.items():
        status, out, err = kia(capsys, *args, *at)
        assert (name, status, out, words in err, err.count("\n")) == (name, expected, "", True, 1)


def test_a_terminal_for_a_lapsed_partner_needs_the_override_flag_on_the_command_line(
    capsys: pytest.CaptureFixture[str], office: IssuerHome, cli_env: None
):
    lapsed = partners.create_partner(office, "Klinik Usai", "health", "health_welfare", SURAKARTA,
                                     dt.date(2020, 1, 1), dt.date(2021, 12, 31), NOW, by=ACTOR)
    at = ("--home", str(office.path))
    status, out, err = kia(capsys, "terminal", "register", *at, "--partner", str(lapsed), "--name", "Kasir")
    assert (status, out) == (1, "") and "renew it first" in err
    status, out, err = kia(capsys, "terminal", "register", *at, "--partner", str(lapsed), "--name", "Kasir",
                           "--mou-override", "uji coba alat sebelum perpanjangan")
    assert (status, err) == (0, "") and json.loads(out)["terminal_id"].startswith("T-")
    assert audit_actions(office)[-1][0] == "terminal_register_mou_override"


# --- the pages ----------------------------------------------------------------------------


@pytest.fixture
def people(office: IssuerHome) -> dict[str, int]:
    """A lapsed clinic (partner 1, its manager ``manajer``) and an in-force cinema (partner 2, ``manajer2``)."""
    ids = {"clinic": clinic(office, start=TODAY - dt.timedelta(days=700), number="027/PKS/2024",
                            document=Document("pks.pdf", PDF), **CONTACT),
           "cinema": partners.create_partner(office, "Bioskop Solo Paragon", "cinema", "education_culture", SURAKARTA,
                                             TODAY - dt.timedelta(days=10), TODAY + dt.timedelta(days=700), NOW,
                                             by=ACTOR)}
    add_people(office, NOW, ("petugas", "officer", None), ("auditor", "auditor", None),
               ("manajer", "partner_manager", ids["clinic"]), ("manajer2", "partner_manager", ids["cinema"]))
    return ids


def signed_in(office: IssuerHome, username: str) -> FlaskClient:
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True,
                      "WTF_CSRF_ENABLED": False}, now=lambda: NOW)
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    return client


def test_an_officer_renews_and_amends_on_the_partner_page_and_the_history_shows_it(office: IssuerHome,
                                                                                  people: dict[str, int]):
    client = signed_in(office, "petugas")
    page = client.get(f"/partners/{people['clinic']}").get_data(True)
    assert "027/PKS/2024" in page and "Perpanjang MoU" in page and "29 hari lagi" in page
    renewed = client.post(f"/agreements/partner/{people['clinic']}/renew", data={
        "starts_on": "2026-12-22", "number": "045/PKS/2026", "back": f"/partners/{people['clinic']}",
        "document": (io.BytesIO(AMENDED_PDF), "perpanjangan.pdf")}, content_type="multipart/form-data")
    assert renewed.status_code == 302 and renewed.location == f"/partners/{people['clinic']}"
    assert partner_row(office, people["clinic"])[1] == dt.date(2028, 12, 21)
    amended = client.post(f"/agreements/partner/{people['clinic']}/amend",
                          data={"contact_phone": "0812 3456 7890", "note": "nomor baru"})
    assert amended.status_code == 302
    page = client.get(f"/partners/{people['clinic']}").get_data(True)
    assert "MoU diubah (versi 2)." in page
    history = page[page.index('id="mou-history"'):]
    assert history.count('class="mou-version"') == 3
    assert all(words in history for words in ("diperpanjang", "diubah", "dicatat", "telepon", "petugas",
                                              "nomor baru", "22 Des 2026 s.d. 21 Des 2028"))
    refused = client.post(f"/agreements/partner/{people['clinic']}/renew", data={"starts_on": "2026-12-01"})
    assert refused.status_code == 302
    assert "MoU baru harus mulai setelah MoU sekarang berakhir (21 Des 2028)" in client.get(
        f"/partners/{people['clinic']}").get_data(True)
    client.post(f"/agreements/partner/{people['clinic']}/amend", data={"contact_phone": "telepon kantor"})
    assert "Periksa isian: Telepon narahubung." in client.get(f"/partners/{people['clinic']}").get_data(True)
    assert client.post("/agreements/partner/99/renew", data={"starts_on": "2030-01-01"}).status_code == 404


def test_adding_the_same_partner_again_on_the_page_points_to_its_page(office: IssuerHome, people: dict[str, int]):
    client = signed_in(office, "petugas")
    answer = client.post("/partners/", data={"name": "KLINIK Bersalin Sehat", "kind": "health",
                                             "cluster": "health_welfare", "region": "3372",
                                             "mou_start": "2026-12-01"})
    assert answer.status_code == 409
    page = answer.get_data(True)
    assert "sudah ada di wilayah ini" in page and f'href="/partners/{people["clinic"]}"' in page
    assert count(office, Partner) == 2


def test_the_signed_pdf_is_for_office_staff_and_the_partners_own_manager(office: IssuerHome, people: dict[str, int]):
    with office.transaction() as session:
        agreement_id = session.scalar(select(Agreement.id).where(Agreement.partner_id == people["clinic"]))
    url = f"/agreements/{agreement_id}/versions/1/document"
    for username, status in (("petugas", 200), ("auditor", 200), ("manajer", 200), ("manajer2", 403)):
        answer = signed_in(office, username).get(url)
        assert (username, answer.status_code) == (username, status)
        if status == 200:
            assert answer.data == PDF and answer.mimetype == "application/pdf"
            assert "pks.pdf" in answer.headers["Content-Disposition"]
    assert signed_in(office, "petugas").get(f"/agreements/{agreement_id}/versions/9/document").status_code == 404


def test_the_partner_page_speaks_the_offices_words_and_warns_the_manager(office: IssuerHome, people: dict[str, int]):
    partners.set_service(office, people["clinic"], partners.ServiceRules(
        "persalinan", "Persalinan normal", {"0-4": 1_500_000}, "fixed", 250_000, 1, 3600), NOW, by=ACTOR)
    synced = register_terminal(office, people["clinic"], "Loket depan", NOW, by=ACTOR).terminal_id
    with office.transaction() as session:
        row = session.get_one(Terminal, synced)
        row.state, row.last_sync_at = "active", NOW - 2 * DAY
    page = signed_in(office, "manajer").get(f"/partners/{people['clinic']}").get_data(True)
    assert "MoU berakhir pada 21 Des 2026 (29 hari lagi)" in page
    assert all(words in page for words in ("Kesehatan (klinik, rumah bersalin)", "Kesehatan dasar dan kesejahteraan",
                                           "Kota Surakarta", "Nama layanan", "Nama terminal", "Rp 1.500.000",
                                           "Rp 250.000", "1×", "3.600 detik", "20 Nov 2026 10:00 WIB",
                                           "tidak sinkron lebih dari sehari", "Aktif"))
    for raw in ("Nama anak", "health_welfare", ">health<", "limit / day", ">code<", "percent", "20261221", "UTC"):
        assert raw not in page, raw
    assert "Perpanjang MoU" not in page  # a manager reads; the office renews
    listing = signed_in(office, "petugas").get("/partners/").get_data(True)
    assert "1 mitra dengan MoU yang segera berakhir" in listing and "21 Des 2026" in listing


def test_registering_a_terminal_for_a_lapsed_partner_on_the_page_takes_the_override(office: IssuerHome,
                                                                                   people: dict[str, int]):
    lapsed = clinic(office, name="Klinik Usai", start=TODAY - dt.timedelta(days=900))
    client = signed_in(office, "petugas")
    assert "Daftarkan walau MoU tidak berlaku hari ini" in client.get(f"/partners/{lapsed}").get_data(True)
    refused = client.post(f"/partners/{lapsed}/terminals", data={"name": "Kasir"}, follow_redirects=True)
    assert "MoU mitra ini tidak berlaku hari ini" in refused.get_data(True) and count(office, Terminal) == 0
    no_reason = client.post(f"/partners/{lapsed}/terminals", data={"name": "Kasir", "mou_override": "y"},
                            follow_redirects=True)
    assert "MoU mitra ini tidak berlaku hari ini" in no_reason.get_data(True) and count(office, Terminal) == 0
    enrolment = client.post(f"/partners/{lapsed}/terminals", data={
        "name": "Kasir", "mou_override": "y", "override_reason": "perpanjangan sedang ditandatangani"})
    assert enrolment.status_code == 200
    assert re.search(r'id="enrolment-expires">29 Nov 2026 10:00 WIB<', enrolment.get_data(True))
    assert audit_actions(office)[-1][0] == "terminal_register_mou_override"


"""A school's batch from upload to handover, in a real headless browser (Debian's chromium).

The Smart Kids journey: a school's account submits the CSV its Excel saved
(semicolons, Windows-1252, dates day first) with one bad row and sees that
row refused in Bahasa Indonesia; an officer verifies the batch (the cards are
signed then) and prints it to PDFs; the school downloads its handover list.
The office is served from a thread on the test's clock; every page is
photographed into KIA_SHOTS (default /tmp/shots/batches) to be looked at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from issuer.institutions import create_institution
from issuer.people import create_user
from tests.e2e.pages import served
from tests.factories import ACTOR, BALANGAN, DAY, NOW
from tests.factories.offices import PASSPHRASE, PASSWORD, add_people, open_office

SHOTS = Path(os.environ.get("KIA_SHOTS", "/tmp/shots/batches"))
SCHOOL_CSV = (
    "no_induk;nama;tanggal_lahir;wilayah;nik\r\n"
    "NIS-001;Siti Nurhaliza;14/05/2018;6311;6311015405180001\r\n"
    "NIS-002;André Saputra;01-02-2017;6311;\r\n"
    "NIS-003;Budi Santoso;31/02/2018;6311;\r\n"
    "NIS-004;Çahya Ramadhani;2016-08-17;6311;\r\n"
).encode("cp1252")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = open_office(tmp_path_factory.mktemp("schools") / "office", None, NOW - 40 * DAY)
    create_institution(home, "SD Negeri 1 Paringin", "school", BALANGAN, NOW - DAY, by=ACTOR)
    create_user(home, "sekolah", PASSWORD, "institution", None, NOW - DAY, by=ACTOR, institution_id=1)
    add_people(home, NOW - DAY, ("petugas", "officer", None), ("kepala", "admin", None))
    SHOTS.mkdir(parents=True, exist_ok=True)
    # Verifying signs the cards with the passphrase, as the office's service does.
    with served(home, environ={"KIA_KEY_PASSPHRASE": PASSPHRASE}) as address:
        yield address


def signed_in(browser: Browser, site: str, username: str, landing: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID",
                               accept_downloads=True).new_page()
    page.goto(f"{site}/login?lang=id")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text(landing)
    return page


def download(page: Page, selector: str, folder: Path) -> bytes:
    with page.expect_download() as caught:
        page.click(selector)
    path = folder / caught.value.suggested_filename
    caught.value.save_as(path)
    return path.read_bytes()


def test_a_school_submits_the_office_verifies_and_prints_and_the_school_takes_its_list(
        browser: Browser, site: str, tmp_path: Path) -> None:
    school = signed_in(browser, site, "sekolah", "SD Negeri 1 Paringin")  # its own page is its home
    school.screenshot(path=str(SHOTS / "1-school-home.png"), full_page=True)
    csv_file = tmp_path / "kelas-1.csv"
    csv_file.write_bytes(SCHOOL_CSV)
    school.set_input_files("#batch-form input[type=file]", str(csv_file))
    school.click("#batch-form button[type=submit]")

    expect(school.locator("h1")).to_contain_text("Berkas #1")
    refused = school.locator("#refused-rows tbody tr")
    expect(refused).to_have_count(1)
    expect(refused.first).to_contain_text("4")
    expect(refused.first).to_contain_text("NIS-003")
    expect(refused.first).to_contain_text("tanggal lahir harus berupa tanggal TTTT-BB-HH, HH/BB/TTTT atau HH-BB-TTTT")
    expect(refused.first).not_to_contain_text("31/02/2018")
    expect(school.locator("#batch-children tbody tr")).to_have_count(3)
    expect(school.locator("#batch-children")).to_contain_text("André Saputra")
    expect(school.locator("td.child-waiting")).to_have_count(3)
    expect(school.locator("#verify")).to_have_count(0)  # the office verifies, not the school
    school.screenshot(path=str(SHOTS / "2-school-batch-submitted.png"), full_page=True)

    officer = signed_in(browser, site, "petugas", "Dasbor")
    officer.goto(f"{site}/institutions/")
    expect(officer.locator("#institution-1 td.waiting")).to_have_text("1")
    officer.screenshot(path=str(SHOTS / "3-office-queue.png"), full_page=True)
    officer.click("#institution-1 a")
    officer.click("#batch-1 a")
    officer.once("dialog", lambda dialog: dialog.accept())  # the confirmation before the cards are signed
    officer.click("#verify")
    expect(officer.locator("td.child-card_made")).to_have_count(3)
    sheet = download(officer, "#print-sheet", tmp_path)
    cards = download(officer, "#print-cards", tmp_path)
    assert sheet.startswith(b"%PDF") and len(sheet) > 2000
    assert cards.startswith(b"%PDF") and len(cards) > 2000
    officer.reload()
    expect(officer.locator("td.child-printed")).to_have_count(3)
    expect(officer.locator("#batch-steps li")).to_have_count(3)
    officer.screenshot(path=str(SHOTS / "4-office-batch-printed.png"), full_page=True)
    officer.click("#hand-over")
    expect(officer.locator("#batch-steps li")).to_have_count(4)
    expect(officer.locator("#batch-steps")).to_contain_text("petugas")

    school.goto(f"{site}/institutions/batches/1")
    expect(school.locator("td.child-handed_over")).to_have_count(3)
    school.screenshot(path=str(SHOTS / "5-school-batch-handed-over.png"), full_page=True)
    listed = download(school, "#handover-csv", tmp_path).decode("utf-8-sig").splitlines()
    assert listed[0] == "no;external_id;name;serial"
    assert [row.split(";")[1:3] for row in listed[1:]] == [
        ["NIS-001", "Siti Nurhaliza"], ["NIS-002", "André Saputra"], ["NIS-004", "Çahya Ramadhani"]]
    receipt = download(school, "#handover-pdf", tmp_path)
    assert receipt.startswith(b"%PDF") and len(receipt) > 2000
    school.goto(f"{site}/institutions/1")
    school.screenshot(path=str(SHOTS / "6-school-home-after.png"), full_page=True)


def test_an_admin_adds_a_clinic_and_its_account(browser: Browser, site: str) -> None:
    admin = signed_in(browser, site, "kepala", "Dasbor")
    admin.goto(f"{site}/institutions/")
    admin.fill("#institution-form input[name=name]", "Klinik Bersalin Sehat")
    admin.select_option("#institution-form select[name=kind]", "clinic")
    admin.fill("#institution-form input[name=region]", "6311")
    admin.click("#institution-form button[type=submit]")
    expect(admin.locator("h1")).to_have_text("Klinik Bersalin Sehat")
    admin.goto(f"{site}/institutions/")
    admin.screenshot(path=str(SHOTS / "7-admin-institutions.png"), full_page=True)
    admin.goto(f"{site}/users/")
    admin.fill("#user-form input[name=username]", "klinik-sehat")
    admin.select_option("#user-form select[name=role]", "institution")
    admin.select_option("#user-form select[name=institution]", label="Klinik Bersalin Sehat")
    admin.fill("#user-form input[name=password]", PASSWORD)
    admin.fill("#user-form input[name=confirm]", PASSWORD)
    admin.click("#user-form button[type=submit]")
    expect(admin.locator("#user-klinik-sehat")).to_contain_text("Klinik Bersalin Sehat")
    admin.screenshot(path=str(SHOTS / "8-admin-users.png"), full_page=True)
    clinic = signed_in(browser, site, "klinik-sehat", "Klinik Bersalin Sehat")
    clinic.goto(f"{site}/institutions/batches/1")
    expect(clinic.locator("h1")).not_to_contain_text("Berkas #1")  # another institution's batch: refused

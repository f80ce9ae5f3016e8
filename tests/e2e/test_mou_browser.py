"""A clinic's cooperation agreement (MoU) in a real headless browser: Debian's chromium driven by Playwright.

Sukamara's clinics issue KIA to newborns under two-year agreements that are
then renewed.  Here the clinic's MoU ends in 29 days: its manager sees the
warning on the clinic's page and downloads the signed PDF; an officer sees
the warning on the partners list, renews the MoU on the clinic's page with
the new number and PDF, and the list still holds one clinic, its history
both agreements.  The office's app serves over real HTTP on loopback, from
a thread, on the test's own clock (NOW).  With KIA_SHOTS=DIR the pages'
screenshots are kept in DIR (the issue's review: /tmp/shots/mou).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from issuer import partners
from issuer.agreements import Details, Document
from issuer.partners import ServiceRules
from issuer.terminals import register_terminal
from keys.chain import Redemption
from tests.e2e.pages import served, sign_in
from tests.factories import ACTOR, DAY, NOW, SURAKARTA, WIB
from tests.factories.offices import SERVICE, add_people, add_service, issued_cards, open_office
from tests.terminal_sim import enrolled_terminal, send

SHOTS = os.environ.get("KIA_SHOTS")  # where to keep the pages' pictures, if anywhere
TODAY = dt.datetime.fromtimestamp(NOW, WIB).date()
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
IMMUNISATION = ServiceRules("imunisasi-anak", "Imunisasi anak", {"0-4": 0, "5-12": 150_000}, "percent", 50, 1, 3600)


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = open_office(tmp_path_factory.mktemp("mou") / "office", None, NOW - 40 * DAY)
    start = TODAY - dt.timedelta(days=700)  # two years from then end on 21 December: 29 days left
    clinic = partners.create_partner(
        home, "Klinik Bersalin Sehat", "health", "health_welfare", SURAKARTA, start, partners.default_mou_end(start),
        NOW - 40 * DAY, by=ACTOR,
        details=Details("027/PKS/DISDUKCAPIL/2024", "Ibu Sri Wahyuni", "0271 123456", "sri@klinik.example",
                        Document("pks-2024.pdf", PDF)))
    cinema = partners.create_partner(home, "Bioskop Solo Paragon", "cinema", "education_culture", SURAKARTA,
                                     TODAY - dt.timedelta(days=200), TODAY + dt.timedelta(days=500), NOW - 40 * DAY,
                                     by=ACTOR)
    add_service(home, clinic, IMMUNISATION, NOW - 35 * DAY)
    add_service(home, cinema, SERVICE, NOW - 35 * DAY)
    cards = issued_cards(home, 4, NOW - 30 * DAY)
    quiet = enrolled_terminal(home, clinic, NOW - 20 * DAY)  # last synced two days ago: shown offline
    scans = [Redemption(0, NOW - (3 + n) * DAY, serial, True, "accepted", "imunisasi-anak", "5-12", 150_000, 75_000,
                        75_000) for n, (serial, category) in enumerate(cards) if category == "5-12"]
    send(home, quiet, scans, NOW - 2 * DAY)
    busy = enrolled_terminal(home, clinic, NOW - 20 * DAY)
    send(home, busy, [Redemption(0, NOW - 2 * 3600, cards[0][0], False, "daily_limit", "imunisasi-anak", "5-12", 0, 0,
                                 0)], NOW - 3600)
    register_terminal(home, clinic, "Loket bidan", NOW - DAY, by=ACTOR)  # never enrolled, never synced
    add_people(home, NOW - 40 * DAY, ("petugas", "officer", None), ("manajer", "partner_manager", clinic))
    with served(home) as address:
        yield address


def signed_in(browser: Browser, site: str, username: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID",
                               accept_downloads=True).new_page()
    return sign_in(page, site, username)


def test_the_clinics_manager_is_warned_and_downloads_the_signed_agreement(browser: Browser, site: str,
                                                                         tmp_path: Path) -> None:
    page = signed_in(browser, site, "manajer")
    page.goto(f"{site}/partners/")  # a manager's list is their own partner's page
    expect(page.locator("#partner-name")).to_have_text("Klinik Bersalin Sehat")
    expect(page.locator("#mou-warning")).to_contain_text("MoU berakhir pada 21 Des 2026 (29 hari lagi)")
    expect(page.locator("#mou-number")).to_have_text("027/PKS/DISDUKCAPIL/2024")
    terminals = page.locator("#terminals tbody tr")
    expect(terminals).to_have_count(3)
    expect(page.locator("#terminals")).to_contain_text("tidak sinkron lebih dari sehari")
    expect(page.locator("#terminals")).to_contain_text("belum pernah")
    expect(page.locator("#terminals")).to_contain_text("20 Nov 2026 10:00 WIB")
    expect(page.locator("#services")).to_contain_text("Rp 150.000")
    expect(page.locator("#this-month")).to_contain_text("Rp 75.000")
    assert page.locator("#renew-form").count() == 0  # the office renews; the manager reads
    body = page.locator("main").inner_text()
    for raw in ("Nama anak", "health_welfare", "limit / day", "percent", "20261221", "UTC"):
        assert raw not in body, raw
    shot(page, "partner-as-manager")
    with page.expect_download() as download:
        page.click("#mou-document")
    saved = tmp_path / "pks.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes() == PDF and download.value.suggested_filename == "pks-2024.pdf"


def test_an_officer_renews_the_clinics_mou_and_no_second_clinic_appears(browser: Browser, site: str,
                                                                       tmp_path: Path) -> None:
    page = signed_in(browser, site, "petugas")
    page.goto(f"{site}/partners/")
    expect(page.locator("#mou-warning")).to_contain_text("1 mitra dengan MoU yang segera berakhir")
    expect(page.locator("#partners")).to_contain_text("Kesehatan (klinik, rumah bersalin)")
    expect(page.locator("#partners")).to_contain_text("Kota Surakarta")
    shot(page, "partners-list")

    page.click("text=Klinik Bersalin Sehat")
    expect(page.locator("#partner-name")).to_have_text("Klinik Bersalin Sehat")
    shot(page, "partner-as-officer")
    renewal = tmp_path / "pks-2026.pdf"
    renewal.write_bytes(PDF.replace(b"1.4", b"1.7"))
    form = page.locator("#renew-form")
    expect(form.locator("input[name=starts_on]")).to_have_value("2026-12-22")  # the day after the old end
    form.locator("input[name=number]").fill("045/PKS/DISDUKCAPIL/2026")
    form.locator("input[name=document]").set_input_files(str(renewal))
    form.locator("button[type=submit]").click()

    expect(page.locator(".flash").first).to_have_text("MoU diperpanjang: 22 Des 2026 s.d. 21 Des 2028.")
    expect(page.locator("#mou-number")).to_have_text("045/PKS/DISDUKCAPIL/2026")
    history = page.locator("#mou-history tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("diperpanjang")
    expect(history.nth(0)).to_contain_text("petugas")
    expect(history.nth(1)).to_contain_text("027/PKS/DISDUKCAPIL/2024")
    expect(page.locator("#mou-warning")).to_have_count(0)  # the cover now runs to 2028
    shot(page, "partner-renewed")

    page.goto(f"{site}/partners/")
    expect(page.locator("#partners tbody tr", has_text="Klinik Bersalin Sehat")).to_have_count(1)
    expect(page.locator("#partners")).to_contain_text("045/PKS/DISDUKCAPIL/2026")
    expect(page.locator("#mou-warning")).to_have_count(0)

    # Adding the clinic again is refused with a pointer to its page, never a second clinic.
    form = page.locator("#partner-form")
    form.locator("input[name=name]").fill("Klinik Bersalin Sehat")
    form.locator("select[name=kind]").select_option("health")
    form.locator("select[name=cluster]").select_option("health_welfare")
    form.locator("input[name=region]").fill("3372")
    form.locator("input[name=mou_start]").fill("2026-12-22")
    form.locator("button[type=submit]").click()
    expect(page.locator("#partner-exists")).to_contain_text("sudah ada di wilayah ini")
    expect(page.locator("#partners tbody tr", has_text="Klinik Bersalin Sehat")).to_have_count(1)
    shot(page, "partner-exists")


def test_an_officer_sets_which_other_regions_cards_the_cinema_honours(browser: Browser, site: str) -> None:
    page = signed_in(browser, site, "petugas")
    page.goto(f"{site}/partners/")
    page.click("text=Bioskop Solo Paragon")
    expect(page.locator("#other-regions")).to_have_text("Hanya KIA daerah ini")
    form = page.locator("#other-regions-form")
    form.locator("input[value=listed]").check()
    form.locator("input[name=codes]").fill("9171 63")
    form.locator("button[type=submit]").click()
    expect(page.locator(".flash").first).to_have_text("Setiap kode wilayah 4 angka, mis. 6311.")
    expect(page.locator("#other-regions-form input[name=codes]")).to_have_value("9171 63")  # kept to mend
    page.locator("#other-regions-form input[name=codes]").fill("9171 6311")
    page.locator("#other-regions-form button[type=submit]").click()
    expect(page.locator(".flash").first).to_have_text("Pilihan KIA daerah lain disimpan.")
    expect(page.locator("#other-regions")).to_have_text(
        "KIA daerah berikut: Kabupaten Balangan (6311), Kota Jayapura (9171)")
    expect(page.locator("#other-regions-form input[value=listed]")).to_be_checked()
    shot(page, "partner-other-regions")
    page.goto(f"{site}/publik/")
    expect(page.locator("article.partner", has_text="Bioskop Solo Paragon").locator(".visitors")).to_have_text(
        "Juga menerima KIA dari: Kabupaten Balangan, Kota Jayapura")
    shot(page, "public-other-regions")

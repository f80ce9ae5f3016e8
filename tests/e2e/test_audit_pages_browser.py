"""The auditor's pages in a real headless browser: Debian's chromium driven by Playwright.

The office's app serves tests.factories.audit_data's scene over real HTTP on
a loopback port, from a thread, on the test's own clock (NOW), so what the
pages show never depends on the day the test runs.  The tests of this
module share the office: each decides a different held record.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.pages import served, sign_in
from tests.factories import DAY, NOW
from tests.factories.audit_data import Scene, audit_scene
from tests.factories.offices import open_office


@pytest.fixture(scope="module")
def scene_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Scene]]:
    home = open_office(tmp_path_factory.mktemp("audit") / "office", None, NOW - 40 * DAY)
    scene = audit_scene(home, NOW)
    with served(home) as address:
        yield address, scene


@pytest.fixture
def site(scene_site: tuple[str, Scene]) -> str:
    return scene_site[0]


@pytest.fixture
def scene(scene_site: tuple[str, Scene]) -> Scene:
    return scene_site[1]


def auditor_page(browser: Browser, site: str, username: str = "auditor") -> Page:
    page = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900}).new_page()
    return sign_in(page, site, username)


def test_an_auditor_filters_the_held_records_and_downloads_them_as_csv(browser: Browser, site: str,
                                                                      tmp_path: Path) -> None:
    page = auditor_page(browser, site)
    page.click("header nav >> text=Audit")
    expect(page.locator("#count-held strong")).to_have_text("6")
    page.click(".audit-nav >> text=Catatan pemindaian")
    expect(page.locator("#summary")).to_have_text("83 ditemukan · menampilkan 1–50")
    page.get_by_label("Tanda").select_option("held")
    page.click("#redemption-filters button[type=submit]")
    expect(page.locator("#summary")).to_have_text("6 ditemukan · menampilkan 1–6")
    expect(page.locator("#redemptions tbody tr .badge-held")).to_have_count(6)
    page.screenshot(path=str(tmp_path / "audit_redemptions_held.png"), full_page=True)

    with page.expect_download() as download:
        page.click("#export-csv")
    saved = tmp_path / "held.csv"
    download.value.save_as(saved)
    with saved.open(encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    assert len(exported) == 6 and {row["held"] for row in exported} == {"True"}


def test_an_auditor_pages_through_every_redemption(browser: Browser, site: str) -> None:
    page = auditor_page(browser, site)
    page.goto(f"{site}/audit/redemptions")
    first = page.locator("#redemptions tbody tr").first.inner_text()
    page.click("#next-page")
    expect(page.locator("#summary")).to_have_text("83 ditemukan · menampilkan 51–83")
    expect(page.locator("#redemptions tbody tr")).to_have_count(33)
    page.click("text=← Terbaru")
    expect(page.locator("#summary")).to_have_text("83 ditemukan · menampilkan 1–50")
    assert page.locator("#redemptions tbody tr").first.inner_text() == first


def test_an_auditor_releases_a_held_record_only_with_a_reason(browser: Browser, site: str, scene: Scene,
                                                              tmp_path: Path) -> None:
    page = auditor_page(browser, site)
    page.goto(f"{site}/audit/quarantine")
    record = page.locator(f"#held-{scene.museum_terminal}-3")
    expect(record.locator(".findings")).to_contain_text("Kartu tidak pernah diterbitkan")
    page.screenshot(path=str(tmp_path / "audit_quarantine.png"), full_page=True)

    record.get_by_role("button", name="Lepaskan: hitung lagi").click()  # no reason: the browser keeps the form
    expect(page.locator(".flash")).to_have_count(0)
    expect(record).to_be_visible()

    record.get_by_label("Alasan keputusan").fill("kartu diterbitkan kantor lama, diverifikasi di loket")
    record.get_by_role("button", name="Lepaskan: hitung lagi").click()
    expect(page.locator(".flash")).to_have_text(
        f"Catatan {scene.museum_terminal}#3 dilepas: dihitung lagi dalam pendapatan.")
    expect(page.locator(f"#held-{scene.museum_terminal}-3")).to_have_count(0)

    page.goto(f"{site}/audit/trail")
    page.get_by_label("Tindakan").select_option("record_release")
    page.click("#trail-filters button[type=submit]")
    expect(page.locator("#trail tbody tr").first).to_contain_text(f"{scene.museum_terminal}#3")


def test_an_admin_confirms_a_held_record(browser: Browser, site: str, scene: Scene) -> None:
    page = auditor_page(browser, site, "admin")
    page.goto(f"{site}/audit/quarantine")
    record = page.locator(f"#held-{scene.museum_terminal}-2")
    record.get_by_label("Alasan keputusan").fill("serial palsu")
    record.get_by_role("button", name="Konfirmasi: tetap ditahan").click()
    expect(page.locator(".flash")).to_contain_text("tetap di luar pendapatan")
    page.click(".tabs >> text=Dikonfirmasi")
    expect(page.locator(f"#held-{scene.museum_terminal}-2")).to_be_visible()


def test_the_alarms_speak_english_when_asked(browser: Browser, site: str, tmp_path: Path) -> None:
    page = auditor_page(browser, site)
    page.goto(f"{site}/audit/alarms?lang=en")
    expect(page.locator("h1")).to_have_text("Alarms")
    page.get_by_label("Kind of alarm").select_option("serial_unknown")
    page.click("#alarm-filters button[type=submit]")
    expect(page.locator("#alarms tbody tr")).to_have_count(1)
    expect(page.locator("#alarms tbody tr")).to_contain_text("Card never issued")
    page.screenshot(path=str(tmp_path / "audit_alarms_en.png"), full_page=True)


def test_an_officer_has_no_audit_link_and_no_audit_page(browser: Browser, site: str) -> None:
    page = auditor_page(browser, site, "officer")
    expect(page.locator("header nav >> text=Audit")).to_have_count(0)
    response = page.goto(f"{site}/audit/quarantine")
    assert response is not None and response.status == 403

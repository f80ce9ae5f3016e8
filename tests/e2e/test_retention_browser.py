"""After the office removed old months under its retention rule, in a real headless browser.

The office of tests.factories.old_months (a cinema's real batches from
August to November 2026) removes the months before October.
An officer then asks the reports page for a range inside September: the
page says, beside the choices, that those records were removed, in Bahasa
Indonesia; the same range over whole months still shows its figures; the
audit trail shows the removal.  Screenshots in /tmp/shots/retention/
(KIA_SHOTS overrides).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from issuer import quarantine, retention, transparency
from tests.factories import ACTOR, DAY, NOW
from tests.factories.audit_data import AUDITOR
from tests.factories.offices import add_people, open_office
from tests.factories.old_months import CARDS, KEPT_FROM, synced_months

from .pages import served, sign_in

SHOTS = Path(os.environ.get("KIA_SHOTS", "/tmp/shots/retention"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = open_office(tmp_path_factory.mktemp("retention") / "office", None, NOW - 130 * DAY)
    terminal, _ = synced_months(home)
    quarantine.decide(home, terminal.terminal_id, CARDS + 1, "confirm", "nomor seri tidak pernah diterbitkan", NOW,
                      by=AUDITOR)
    transparency.integrate_all(home)
    assert retention.prune(home, KEPT_FROM, NOW, by=ACTOR).done
    add_people(home, NOW - 100 * DAY, ("petugas", "officer", None), ("auditor", "auditor", None))
    SHOTS.mkdir(parents=True, exist_ok=True)
    with served(home) as address:
        yield address


def report(page: Page, site: str, start: str, end: str) -> None:
    page.goto(f"{site}/reports/?range=custom&from={start}&to={end}&period=month&by=partner")


def test_a_range_inside_a_removed_month_is_refused_in_words_and_whole_months_still_answer(
        browser: Browser, site: str) -> None:
    page = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}).new_page(), site, "petugas")

    report(page, site, "2026-09-10", "2026-09-20")
    expect(page.locator("#report-error")).to_contain_text("sudah dihapus sesuai masa simpan kantor")
    expect(page.locator("select[name=range]")).to_have_value("custom")
    page.screenshot(path=str(SHOTS / "reports_removed_month.png"), full_page=True)

    report(page, site, "2026-08-01", "2026-11-30")
    expect(page.locator("#report-error")).to_have_count(0)
    expect(page.locator("#figures tbody tr")).to_have_count(4)  # August to November, each still counted
    page.screenshot(path=str(SHOTS / "reports_after_retention.png"), full_page=True)


def test_the_audit_trail_shows_the_removal(browser: Browser, site: str) -> None:
    page = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}).new_page(), site, "auditor")
    page.goto(f"{site}/audit/trail")
    page.get_by_label("Tindakan").select_option("records_prune")
    page.click("#trail-filters button[type=submit]")
    expect(page.locator("#trail tbody tr")).to_have_count(1)
    expect(page.locator("#trail tbody tr").first).to_contain_text("Catatan lama dihapus sesuai masa simpan")
    page.screenshot(path=str(SHOTS / "audit_trail_retention.png"), full_page=True)

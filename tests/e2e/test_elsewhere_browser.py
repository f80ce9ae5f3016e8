"""A home office sees its cards' use in other regions on the reports page, in a real headless browser (ADR 0003).

Balangan's office took what Surakarta's and Jayapura's offices signed of
Balangan cards accepted at their partners in November 2026 (signed
figures, no child's record).  An officer opens the reports page: the
section "Kartu daerah ini dipakai di daerah lain" shows a bar per office
and a row per office and month, with the days under 5 scans counted apart.
Screenshot in /tmp/shots/elsewhere/ (KIA_SHOTS overrides).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.factories import NOW
from tests.factories.foreign_cards import federated_offices, fetched_visits, visits_at
from tests.factories.offices import add_people

from .pages import served, sign_in

SHOTS = Path(os.environ.get("KIA_SHOTS", "/tmp/shots/elsewhere"))
SURAKARTA, BALANGAN, JAYAPURA = 3372, 6311, 9171
NOVEMBER = 202611


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    federated = federated_offices(tmp_path_factory.mktemp("elsewhere"), (SURAKARTA, BALANGAN, JAYAPURA), NOW)
    offices = federated.offices
    visits_at(offices[SURAKARTA], SURAKARTA, "cinema", BALANGAN, [7, 6, 2], NOW)
    visits_at(offices[JAYAPURA], JAYAPURA, "museum", BALANGAN, [5, 1], NOW)
    for answering in (SURAKARTA, JAYAPURA):
        fetched_visits(offices[BALANGAN], BALANGAN, offices[answering], NOVEMBER, NOW)
    for region in (SURAKARTA, JAYAPURA):
        offices[region].close()
    add_people(offices[BALANGAN], NOW - 100 * 86400, ("petugas", "officer", None))
    SHOTS.mkdir(parents=True, exist_ok=True)
    with served(offices[BALANGAN]) as address:
        yield address


def test_the_reports_page_shows_our_cards_in_other_regions_without_small_counts(browser: Browser, site: str) -> None:
    page = sign_in(browser.new_context(viewport={"width": 1280, "height": 900}).new_page(), site, "petugas")
    page.goto(f"{site}/reports/?range=this_month&by=partner")
    section = page.locator("#elsewhere-section")
    expect(section.locator("h2")).to_have_text("Kartu daerah ini dipakai di daerah lain")
    rows = section.locator("#elsewhere tbody tr")
    expect(rows).to_have_count(2)
    # Surakarta: 7 + 6 counted, the day of 2 withheld; Jayapura: 5 counted, the day of 1 withheld.
    expect(rows.nth(0)).to_contain_text("13")
    expect(rows.nth(1)).to_contain_text("5")
    assert [cells.split("\t")[2:4] for cells in rows.evaluate_all(
        "rows => rows.map(row => [...row.cells].map(cell => cell.innerText).join('\\t'))")] == [["13", "1"], ["5", "1"]]
    expect(section.locator("figure.chart svg")).to_have_count(1)
    section.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "reports_elsewhere.png"), full_page=True)

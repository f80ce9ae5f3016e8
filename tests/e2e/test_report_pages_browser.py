"""Issue 13's reports, card search, expired sessions and size limits in a real headless browser.

The office's app serves a small programme over real HTTP on a loopback port,
from a thread, on the tests' own clock (NOW, 22 November 2026), so last month
is always October 2026 whatever the day the test runs.  Each test leaves a
screenshot in Bahasa Indonesia in /tmp/shots/reports/ (KIA_SHOTS overrides)
for a person to look at.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from issuer import partners, reports
from issuer.cards import issue_cards
from issuer.children import ChildRequest
from issuer.storage.models import RedemptionRow
from issuer.terminals import register_terminal
from tests.e2e.pages import served, sign_in
from tests.factories import ACTOR, BALANGAN, DAY, NOW, SURAKARTA, aged
from tests.factories.offices import PASSPHRASE, UNLOCK, add_people, add_service, open_office
from tests.factories.report_reference import summarise_stored

SHOTS = Path(os.environ.get("KIA_SHOTS", "/tmp/shots/reports"))
NIK = "3372051405180001"
# The cinema's scans of October and November: (local day, accepted, price, discount).
CINEMA = [(20261005, True, 40_000, 20_000), (20261020, True, 50_000, 25_000), (20261020, False, 0, 0),
          (20261103, True, 40_000, 20_000)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = open_office(tmp_path_factory.mktemp("reports") / "office", None, NOW - 60 * DAY)
    for name, kind, cluster, region in (("Bioskop Solo Square", "cinema", "education_culture", SURAKARTA),
                                        ("Kolam Renang Balangan", "pool", "health_welfare", BALANGAN)):
        partners.create_partner(home, name, kind, cluster, region, dt.date(2026, 1, 1), dt.date(2027, 12, 31),
                                NOW - 60 * DAY, by=ACTOR)
    add_service(home, 1, now=NOW - 60 * DAY)
    add_people(home, NOW - 60 * DAY, ("petugas", "officer", None), ("manajer", "partner_manager", 1))
    terminals = [register_terminal(home, partner, "Kasir", NOW - 60 * DAY, by=ACTOR).terminal_id for partner in (1, 2)]
    with home.transaction() as session:
        rows = [(1, *scan) for scan in CINEMA] + [(2, 20261010, True, 25_000, 5_000), (2, 20261110, True, 25_000, 0)]
        for seq, (partner, day, accepted, price, discount) in enumerate(rows, 1):
            session.add(RedemptionRow(
                terminal_id=terminals[partner - 1], partner_id=partner, seq=seq, at=NOW, serial="8H635DT4",
                accepted=accepted, reason="accepted" if accepted else "daily_limit", service="bioskop-reguler",
                category="5-12", price=price, discount=discount, paid=price - discount, flags=[], hash="0" * 64,
                received_at=NOW, day=day, month=day // 100))
        summarise_stored(session)  # as ingest would
    issue_cards(home, UNLOCK, [ChildRequest(1, dt.date(2018, 5, 14), SURAKARTA, name="Budi Santoso", nik=NIK)],
                NOW - 40 * DAY, by=ACTOR)
    issue_cards(home, UNLOCK, [ChildRequest(1, aged(9, dt.date(2026, 11, 1)), BALANGAN)], NOW - 10 * DAY, by=ACTOR)
    reports.set_eligible_children(home, SURAKARTA, 4, dt.date(2026, 6, 30))
    reports.set_eligible_children(home, BALANGAN, 2, dt.date(2026, 6, 30))
    SHOTS.mkdir(parents=True, exist_ok=True)
    # The counter's issuing signs with the passphrase.
    with served(home, environ={"KIA_KEY_PASSPHRASE": PASSPHRASE}) as address:
        yield address


def person(browser: Browser, site: str, username: str) -> Page:
    page = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900}).new_page()
    return sign_in(page, site, username)


def test_a_partner_manager_downloads_last_months_csv_from_the_reports_page(browser: Browser, site: str,
                                                                         tmp_path: Path) -> None:
    page = person(browser, site, "manajer")
    page.screenshot(path=str(SHOTS / "dashboard_partner_manager.png"), full_page=True)
    page.click("header nav >> text=Laporan")
    expect(page.locator("h1")).to_have_text("Laporan")
    expect(page.locator("#shown-range")).to_have_text("1 Nov 2026 sampai 22 Nov 2026")
    expect(page.locator("#figures tbody tr")).to_have_count(1)  # 3 November, their own partner only
    assert "Kolam" not in page.content()
    page.screenshot(path=str(SHOTS / "reports_partner_manager.png"), full_page=True)

    with page.expect_download() as download:
        page.click("#download-last-month")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    with saved.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    october = [scan for scan in CINEMA if scan[0] // 100 == 202610]
    by_day: dict[int, list[tuple[int, bool, int, int]]] = {}
    for scan in october:
        by_day.setdefault(scan[0], []).append(scan)
    expected = [{"group": "1", "period": str(day), "scans": str(len(scans)),
                 "accepted": str(sum(1 for scan in scans if scan[1])), "unique_cards": "1",
                 "gross": str(sum(scan[2] for scan in scans)), "discount": str(sum(scan[3] for scan in scans)),
                 "net": str(sum(scan[2] - scan[3] for scan in scans)), "held": "0", "flagged": "0"}
                for day, scans in sorted(by_day.items())]
    assert rows == expected
    assert [row["net"] for row in rows] == ["20000", "25000"]

    page.click("text=Tahun ini per bulan")
    expect(page.locator("#figures tbody tr")).to_have_count(2)  # October and November
    page.screenshot(path=str(SHOTS / "reports_partner_manager_year.png"), full_page=True)


def test_the_office_reads_its_reports_and_dashboard(browser: Browser, site: str) -> None:
    page = person(browser, site, "petugas")
    expect(page.locator("#chart-per-partner svg")).to_be_visible()
    page.screenshot(path=str(SHOTS / "dashboard_office.png"), full_page=True)
    page.click("header nav >> text=Laporan")
    page.select_option("select[name=range]", "last_12_months")
    page.select_option("select[name=by]", "cluster")
    page.click("#report-filters button[type=submit]")
    first_row = page.locator("#figures tbody tr").first
    expect(first_row).to_contain_text("Pendidikan, pemanfaatan waktu luang dan kegiatan budaya")
    expect(page.locator("#coverage-trend")).to_contain_text("Kota Surakarta")
    expect(page.locator("#coverage-trend")).to_contain_text("Kabupaten Balangan")
    page.screenshot(path=str(SHOTS / "reports_office.png"), full_page=True)
    page.select_option("select[name=range]", "custom")
    page.fill("input[name=from]", "2025-01-01")
    page.fill("input[name=to]", "2026-11-01")
    page.select_option("select[name=period]", "day")
    page.click("#report-filters button[type=submit]")
    expect(page.locator("#report-error")).to_contain_text("paling lama 366 hari")
    page.screenshot(path=str(SHOTS / "reports_range_refused.png"), full_page=True)


def test_an_officer_finds_a_card_by_nik(browser: Browser, site: str) -> None:
    page = person(browser, site, "petugas")
    page.click("header nav >> text=Cari kartu")
    page.check("input[name=by][value=nik]")
    page.fill("input[name=text]", NIK)
    page.click("#search-form button[type=submit]")
    expect(page.locator("#search-results tbody tr")).to_have_count(1)
    row = page.locator("#search-results tbody tr").first
    expect(row).to_contain_text("Berlaku")
    expect(row).to_contain_text("Kota Surakarta")
    assert NIK not in page.url and "Budi" not in page.content()
    page.screenshot(path=str(SHOTS / "search_by_nik.png"), full_page=True)
    serial = row.locator("code").inner_text()
    row.locator("text=Buka").click()
    expect(page.locator("#card-serial")).to_have_text(serial)
    page.goto(f"{site}/search/")
    page.check("input[name=by][value=name]")
    page.fill("input[name=text]", "santo")
    page.click("#search-form button[type=submit]")
    expect(page.locator("#search-results tbody tr").first).to_contain_text("Bu•• Sa•••••")
    page.screenshot(path=str(SHOTS / "search_by_name.png"), full_page=True)


def test_a_form_sent_after_the_session_ended_is_sent_again_after_sign_in(browser: Browser, site: str) -> None:
    page = person(browser, site, "petugas")
    page.goto(f"{site}/cards/")
    form = page.locator("#issue-form")
    form.locator("input[name=birth_date]").fill(aged(10, dt.date(2026, 11, 22)).isoformat())
    form.locator("input[name=region]").fill("3372")
    form.locator("input[name=name]").fill("Sari Lestari")
    page.context.clear_cookies()  # the session ends while the officer types
    form.locator("button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("Masuk")
    expect(page.locator(".flash")).to_contain_text("Sesi Anda sudah berakhir")
    page.screenshot(path=str(SHOTS / "session_ended_sign_in.png"), full_page=True)
    page.fill("input[name=username]", "petugas")
    page.fill("input[name=password]", "kata-sandi-panjang-1")
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Kirim ulang formulir")
    expect(page.locator("#resend-form")).to_contain_text("Sari Lestari")
    page.screenshot(path=str(SHOTS / "session_ended_resend.png"), full_page=True)
    page.click("#resend-form button[type=submit]")
    expect(page.locator("#card-serial")).to_have_text(re.compile(r"^[0-9A-Z]{8}$"))


def test_a_request_too_large_says_the_limit_in_megabytes(browser: Browser, site: str) -> None:
    page = person(browser, site, "petugas")
    page.goto(f"{site}/cards/")
    # A form of 2 MB sent from the page, as a pasted file would make it: the service takes 1 MB here.
    page.evaluate("""() => {
        const form = document.getElementById('issue-form');
        const big = document.createElement('input');
        big.type = 'hidden'; big.name = 'school'; big.value = 'x'.repeat(2 * 1024 * 1024);
        form.appendChild(big);
        form.submit();
    }""")
    expect(page.locator("#error-message")).to_contain_text("paling banyak 1 MB")
    page.screenshot(path=str(SHOTS / "too_large.png"), full_page=True)


def test_a_long_report_shows_its_first_rows_and_says_where_the_rest_are(
        browser: Browser, site: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The cap is 1,000 rows (all partners by day at national size is 18,000); made small here.
    monkeypatch.setattr("issuer.web.reports.MAX_SHOWN_ROWS", 2)
    page = person(browser, site, "petugas")
    page.goto(f"{site}/reports/?range=custom&from=2026-10-01&to=2026-11-30&period=day&by=partner")
    expect(page.locator("#figures tbody tr")).to_have_count(2)
    expect(page.locator("#rows-cut")).to_have_text(
        "Halaman ini menampilkan 2 baris pertama dari 5. Jumlah di bawah menghitung semuanya; unduh CSV untuk "
        "melihat setiap baris, atau pilih per bulan.")
    expect(page.locator("#total-net")).to_have_text("Rp 110.000")  # all five rows
    page.screenshot(path=str(SHOTS / "reports_rows_cut.png"), full_page=True)

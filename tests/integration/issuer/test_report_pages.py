"""Issue 13, the reports on the web and the dashboard's charts: what each role sees, and how it reads.

Redemptions are inserted with their local day and month (as ingest files
them; tests/integration/issuer/test_reports.py checks the filing).  Two
partners: the cinema (1, Surakarta) and the pool (2, Balangan).  Every
expected figure is worked out by hand from the rows below; the pages' clock
is the tests' NOW (22 November 2026), so last month is October.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from flask.testing import FlaskClient

from issuer import create_app, partners, reports
from issuer.cards import issue_cards
from issuer.children import ChildRequest
from issuer.storage.models import RedemptionRow
from issuer.storage.store import IssuerHome
from issuer.terminals import register_terminal
from issuer.web.dashboard import COLOURS, ticks
from issuer.web.reports import quick_range
from tests.factories import ACTOR, BALANGAN, BIRTH_DATE, NOW, SURAKARTA
from tests.factories.offices import PASSWORD, UNLOCK, add_people, add_service
from tests.factories.report_reference import summarise_stored

# (partner, local day, serial, accepted, service, price, discount)
SCANS = [
    (1, 20261005, "8H635DT4", True, "bioskop-reguler", 40_000, 20_000),
    (1, 20261020, "9K2M4PQ7", True, "bioskop-reguler", 50_000, 25_000),
    (1, 20261020, "9K2M4PQ7", False, "bioskop-reguler", 0, 0),
    (1, 20261103, "8H635DT4", True, "bioskop-reguler", 40_000, 20_000),
    (2, 20261010, "7TXW3RB2", True, "renang", 25_000, 5_000),
    (2, 20261110, "7TXW3RB2", True, "renang", 25_000, 5_000),
]
# Partner 1's October by day, as the CSV writes it: group, period, scans, accepted, unique cards, gross,
# discount, net, held, flagged.
CINEMA_OCTOBER = [
    ["1", "20261005", "1", "1", "1", "40000", "20000", "20000", "0", "0"],
    ["1", "20261020", "2", "1", "1", "50000", "25000", "25000", "0", "0"],
]


@pytest.fixture
def founded_at() -> int:
    return NOW


@pytest.fixture
def office(office: IssuerHome) -> IssuerHome:
    partners.create_partner(office, "Bioskop Solo Square", "cinema", "education_culture", SURAKARTA,
                            dt.date(2026, 1, 1), dt.date(2027, 12, 31), NOW, by=ACTOR)
    partners.create_partner(office, "Kolam Renang Balangan", "pool", "health_welfare", BALANGAN,
                            dt.date(2026, 1, 1), dt.date(2027, 12, 31), NOW, by=ACTOR)
    add_service(office, 1, now=NOW)  # "bioskop-reguler", named "Bioskop reguler"
    add_people(office, NOW, ("admin", "admin", None), ("officer", "officer", None), ("auditor", "auditor", None),
               ("manager", "partner_manager", 1))
    terminals = {partner: register_terminal(office, partner, "Kasir", NOW, by=ACTOR).terminal_id for partner in (1, 2)}
    with office.transaction() as session:
        for seq, (partner, day, serial, accepted, service, price, discount) in enumerate(SCANS, 1):
            session.add(RedemptionRow(
                terminal_id=terminals[partner], partner_id=partner, seq=seq, at=NOW, serial=serial, accepted=accepted,
                reason="accepted" if accepted else "daily_limit", service=service, category="5-12", price=price,
                discount=discount, paid=price - discount, flags=[], hash="0" * 64, received_at=NOW, day=day,
                month=day // 100))
        summarise_stored(session)  # as ingest would
    return office


def signed_in(office: IssuerHome, username: str) -> FlaskClient:
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True,
                      "WTF_CSRF_ENABLED": False}, now=lambda: NOW)
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    return client


def table_rows(page: str, table_id: str) -> list[list[str]]:
    """The text of each body row's cells of the table ``table_id``."""
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body, f"no table {table_id}"
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body[1], re.S)]


def link(page: str, element_id: str) -> str:
    found = re.search(rf'<a href="([^"]+)" id="{element_id}"', page)
    assert found, f"no link {element_id}"
    return found[1].replace("&amp;", "&")


def csv_rows(client: FlaskClient, url: str) -> list[list[str]]:
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(True))))


# --- the office's staff ----------------------------------------------------------------


def test_last_month_per_partner_in_names_and_rupiah(office: IssuerHome) -> None:
    page = signed_in(office, "officer").get("/reports/?range=last_month&period=month").get_data(True)
    assert table_rows(page, "figures") == [
        ["Bioskop Solo Square", "Okt 2026", "3", "2", "2", "Rp 90.000", "Rp 45.000", "Rp 45.000", "0", "0"],
        ["Kolam Renang Balangan", "Okt 2026", "1", "1", "1", "Rp 25.000", "Rp 5.000", "Rp 20.000", "0", "0"],
    ]
    assert "1 Okt 2026 sampai 31 Okt 2026" in page
    assert '<td id="total-net">Rp 65.000</td>' in page
    assert "202610" not in page and "20261005" not in page  # no period as the database keeps it


def test_a_page_shows_at_most_its_rows_and_says_so_while_the_totals_and_csv_count_them_all(
        office: IssuerHome, monkeypatch: pytest.MonkeyPatch) -> None:
    # All partners by day over a month is 18,000 rows at national size; here the cap is made small.
    monkeypatch.setattr("issuer.web.reports.MAX_SHOWN_ROWS", 1)
    monkeypatch.setattr("issuer.web.reports.MAX_CHART_GROUPS", 1)
    client = signed_in(office, "officer")
    page = client.get("/reports/?range=last_month&period=month").get_data(True)
    assert table_rows(page, "figures") == [
        ["Bioskop Solo Square", "Okt 2026", "3", "2", "2", "Rp 90.000", "Rp 45.000", "Rp 45.000", "0", "0"]]
    assert "Halaman ini menampilkan 1 baris pertama dari 2." in page
    assert '<td id="total-net">Rp 65.000</td>' in page  # both partners
    assert len(csv_rows(client, link(page, "figures-csv"))) == 1 + 2  # the header and every row
    assert "1 kelompok teratas dari 2" in page
    uncut = signed_in(office, "officer").get("/reports/?range=last_month&period=month&by=programme").get_data(True)
    assert 'id="rows-cut"' not in uncut


@pytest.mark.parametrize(("group", "first_column"), [
    ("kind", ["Bioskop", "Kolam renang"]),
    ("cluster", ["Pendidikan, pemanfaatan waktu luang dan kegiatan budaya", "Kesehatan dasar dan kesejahteraan"]),
])
def test_kinds_and_clusters_read_as_words(office: IssuerHome, group: str, first_column: list[str]) -> None:
    page = signed_in(office, "officer").get(f"/reports/?range=last_month&period=month&by={group}").get_data(True)
    assert [row[0] for row in table_rows(page, "figures")] == first_column
    assert "education_culture" not in page and "health_welfare" not in page and ">cinema<" not in page


def test_the_whole_programme_by_day_in_english(office: IssuerHome) -> None:
    page = signed_in(office, "officer").get("/reports/?range=this_month&by=programme&lang=en").get_data(True)
    assert table_rows(page, "figures") == [
        ["3 Nov 2026", "1", "1", "1", "Rp 40,000", "Rp 20,000", "Rp 20,000", "0", "0"],
        ["10 Nov 2026", "1", "1", "1", "Rp 25,000", "Rp 5,000", "Rp 20,000", "0", "0"],
    ]


def test_a_region_keeps_its_own_partners_and_reads_as_a_name(office: IssuerHome) -> None:
    page = signed_in(office, "officer").get(f"/reports/?range=last_month&period=month&region={BALANGAN}").get_data(True)
    assert [row[0] for row in table_rows(page, "figures")] == ["Kolam Renang Balangan"]
    assert f'<option value="{BALANGAN}" selected>Kabupaten Balangan</option>' in page
    assert '<option value="3372">Kota Surakarta</option>' in page


def test_each_csv_is_exactly_the_rows_shown(office: IssuerHome) -> None:
    officer = signed_in(office, "officer")
    page = officer.get(f"/reports/?range=last_month&period=day&region={SURAKARTA}").get_data(True)
    figures = csv_rows(officer, link(page, "figures-csv"))
    assert figures[0] == ["group", "period", "scans", "accepted", "unique_cards", "gross", "discount", "net", "held",
                          "flagged"]
    assert figures[1:] == CINEMA_OCTOBER  # Surakarta's only partner, as the table shows it
    assert len(table_rows(page, "figures")) == len(figures) - 1
    counts = csv_rows(officer, link(page, "partners-csv"))
    assert counts == [["month", "in_force", "with_scans"], ["202610", "1", "1"]]
    assert [row[1:] for row in table_rows(page, "partner-counts")] == [["1", "1"]]
    coverage = csv_rows(officer, link(page, "coverage-csv"))
    assert coverage[0] == ["region", "month", "active_cards", "eligible_children", "coverage_percent"]


def test_partners_over_time_and_coverage_by_region_name(office: IssuerHome) -> None:
    issue_cards(office, UNLOCK, [ChildRequest(1, BIRTH_DATE, SURAKARTA)], NOW - 60, by=ACTOR)
    reports.set_eligible_children(office, SURAKARTA, 4, dt.date(2026, 6, 30))
    page = signed_in(office, "admin").get("/reports/?range=last_12_months").get_data(True)
    counts = table_rows(page, "partner-counts")
    assert counts[0] == ["Des 2025", "0", "0"] and counts[-2:] == [["Okt 2026", "2", "2"], ["Nov 2026", "2", "2"]]
    coverage = table_rows(page, "coverage-trend")
    assert coverage[0][0] == "Kota Surakarta" and coverage[0][1] == "4"
    assert coverage[0][-1].startswith("25,0%") and coverage[0][-2].startswith("0,0%")  # issued this month


@pytest.mark.parametrize(("query", "message"), [
    ("range=custom&from=2025-01-01&to=2026-11-01&period=day", "Laporan per hari mencakup paling lama 366 hari"),
    ("range=custom&from=2020-01-01&to=2026-11-01&period=month", "Laporan per bulan mencakup paling lama 60 bulan"),
    ("range=custom&from=2027-12-01&to=2027-12-31&period=month", "paling lambat 366 hari setelah hari ini"),
    ("from=2026-11-10&to=2026-11-01", "Tanggal awal harus sebelum atau sama dengan tanggal akhir."),
    ("from=10/11/2026", "tulis sebagai tahun-bulan-tanggal"),
    ("by=nothing", "Pilihan laporan tidak dikenal"),
    ("region=33", "Pilihan laporan tidak dikenal"),
])
def test_a_range_beyond_the_limits_is_refused_in_bahasa_indonesia(office: IssuerHome, query: str,
                                                                  message: str) -> None:
    officer = signed_in(office, "officer")
    response = officer.get(f"/reports/?{query}")
    assert response.status_code == 400 and message in response.get_data(True)
    assert 'id="figures"' not in response.get_data(True)
    csv_answer = officer.get(f"/reports/figures.csv?{query}")
    assert csv_answer.status_code == 400 and message in csv_answer.get_data(True)


def test_the_limits_in_english_too(office: IssuerHome) -> None:
    page = signed_in(office, "officer").get("/reports/?from=2025-01-01&to=2026-11-01&lang=en").get_data(True)
    assert "A report by day covers at most 366 days." in page


def test_quick_ranges_end_today_and_last_month_crosses_the_year() -> None:
    today = dt.date(2026, 1, 10)
    assert quick_range("this_month", today) == (dt.date(2026, 1, 1), today)
    assert quick_range("last_month", today) == (dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    assert quick_range("this_year", today) == (dt.date(2026, 1, 1), today)
    assert quick_range("last_12_months", today) == (dt.date(2025, 2, 1), today)


# --- a partner manager ------------------------------------------------------------------


def test_a_partner_manager_downloads_last_months_csv_of_their_own_partner(office: IssuerHome) -> None:
    manager = signed_in(office, "manager")
    page = manager.get("/reports/").get_data(True)
    assert "Kolam" not in page and 'name="region"' not in page
    download = link(page, "download-last-month")
    assert csv_rows(manager, download)[1:] == CINEMA_OCTOBER


def test_a_partner_manager_sees_the_year_by_month_and_each_service(office: IssuerHome) -> None:
    manager = signed_in(office, "manager")
    year = manager.get("/reports/?range=this_year&period=month").get_data(True)
    assert table_rows(year, "figures") == [  # their own partner: no column of its name
        ["Okt 2026", "3", "2", "2", "Rp 90.000", "Rp 45.000", "Rp 45.000", "0", "0"],
        ["Nov 2026", "1", "1", "1", "Rp 40.000", "Rp 20.000", "Rp 20.000", "0", "0"],
    ]
    services = manager.get("/reports/?range=this_year&period=month&by=service").get_data(True)
    assert [row[0] for row in table_rows(services, "figures")] == ["Bioskop reguler", "Bioskop reguler"]


@pytest.mark.parametrize("url", [
    "/reports/?by=kind", "/reports/?by=programme", "/reports/figures.csv?by=cluster",
])
def test_a_partner_manager_cannot_ask_for_groupings_across_partners(office: IssuerHome, url: str) -> None:
    assert signed_in(office, "manager").get(url).status_code == 400


@pytest.mark.parametrize("url", ["/reports/partners.csv", "/reports/coverage.csv"])
def test_programme_wide_downloads_are_for_the_office(office: IssuerHome, url: str) -> None:
    assert signed_in(office, "manager").get(url).status_code == 403
    assert signed_in(office, "auditor").get(url).status_code == 200


def test_a_partner_manager_asking_for_a_region_still_gets_their_own_partner(office: IssuerHome) -> None:
    rows = csv_rows(signed_in(office, "manager"), f"/reports/figures.csv?range=last_month&region={BALANGAN}")
    assert rows[1:] == CINEMA_OCTOBER


def test_the_reports_page_needs_a_sign_in(office: IssuerHome) -> None:
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True},
                     now=lambda: NOW)
    for url in ("/reports/", "/reports/figures.csv"):
        response = app.test_client().get(url)
        assert response.status_code == 302 and "/login" in response.location


# --- the charts ---------------------------------------------------------------------------


def legend_colours(page: str) -> list[dict[str, str]]:
    """Each chart's legend: the series' name and the colour it is drawn in."""
    charts = []
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        colours = dict(re.findall(r"\.color-(\d+)[^{]*\{stroke:(#[0-9a-f]{6})", svg))
        legend = re.findall(r'class="color-(\d+) reactive" /><text[^>]*>([^<]+)</text>', svg)
        charts.append({name: colours[number] for number, name in legend})
    return charts


def test_one_colour_means_one_thing_in_every_chart(office: IssuerHome) -> None:
    officer = signed_in(office, "officer")
    charts = legend_colours(officer.get("/").get_data(True))
    charts += legend_colours(officer.get("/reports/?range=last_12_months").get_data(True))
    money = [chart for chart in charts if "Pendapatan bersih" in chart]
    assert len(money) >= 4  # the dashboard's two, the reports' per period and per group
    assert all(chart["Pendapatan bersih"] == COLOURS["net"] and chart["Potongan"] == COLOURS["discount"]
               for chart in money)
    used = [colour for chart in charts for name, colour in chart.items() if name not in ("Pendapatan bersih",
                                                                                         "Potongan")]
    assert COLOURS["net"] not in used and COLOURS["discount"] not in used  # no other meaning borrows them


def test_the_dashboard_reads_in_rupiah_months_and_region_names(office: IssuerHome) -> None:
    issue_cards(office, UNLOCK, [ChildRequest(1, BIRTH_DATE, SURAKARTA)], NOW - 60, by=ACTOR)
    reports.set_eligible_children(office, SURAKARTA, 4, dt.date(2026, 6, 30))
    page = signed_in(office, "officer").get("/").get_data(True)
    assert table_rows(page, "this-month")[0][:7] == ["Bioskop Solo Square", "1", "1", "1", "Rp 40.000", "Rp 20.000",
                                                     "Rp 20.000"]
    assert ">Okt 2026<" in page and ">Nov 2026<" in page and "2026-11" not in page  # the trend's months
    assert ">Kota Surakarta<" in page and ">3372<" not in page  # coverage by region name
    assert ">Rp 20.000<" in page  # the value axis in rupiah with separators
    assert "No data" not in page
    assert "(Petugas)" in page and "(officer)" not in page  # the role in words


def test_no_chart_is_drawn_without_figures_and_pygal_never_says_no_data(office: IssuerHome) -> None:
    page = signed_in(office, "officer").get("/reports/?range=custom&from=2026-06-01&to=2026-06-30").get_data(True)
    assert "Tidak ada pindaian dalam rentang ini." in page and "No data" not in page


def test_value_axes_step_in_round_amounts() -> None:
    assert ticks(90_000) == [0, 20_000, 40_000, 60_000, 80_000, 100_000]
    assert ticks(1_490_000) == [0, 500_000, 1_000_000, 1_500_000]
    assert ticks(0) == [0, 1]


def test_coverage_without_a_count_of_eligible_children_says_so_in_bahasa(office: IssuerHome) -> None:
    issue_cards(office, UNLOCK, [ChildRequest(1, BIRTH_DATE, SURAKARTA)], NOW - 60, by=ACTOR)
    page = signed_in(office, "officer").get("/").get_data(True)
    coverage = re.search(r'<figure class="chart" id="chart-coverage">(.*?)</figure>', page, re.S)
    assert coverage and "Belum ada angka" in coverage[1] and "No data" not in page


def test_the_navigation_links_only_to_pages_the_service_has(office: IssuerHome) -> None:
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True,
                      "WTF_CSRF_ENABLED": False}, now=lambda: NOW)
    client = app.test_client()
    client.post("/login", data={"username": "officer", "password": PASSWORD})
    assert 'href="/reports/">Laporan</a>' in client.get("/").get_data(True)
    del app.view_functions["reports.index"]  # as if the area were not there yet
    page = client.get("/")
    assert page.status_code == 200 and 'href="/reports/"' not in page.get_data(True)
    manager = signed_in(office, "manager").get("/").get_data(True)
    assert "Cari kartu" not in manager and 'href="/keys/"' not in manager  # the links a role may use only

"""The public site under /publik (issuer/web/public.py): no sign-in, no session, nothing personal.

The office is a small Surakarta and Balangan scene at the fixed NOW: three
partners in force with services, one whose MoU ended, one whose MoU has not
begun, one in force without a service; a school and a clinic; cards issued
to named children with NIKs; a registered terminal.  The pages must list
the first three with their discounts, in Bahasa Indonesia and in English,
and show none of the rest of what the office holds about people or
terminals.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer import create_app, institutions, partners, public_figures, reports
from issuer.cards import issue_cards
from issuer.children import ChildRequest
from issuer.partners import ServiceRules
from issuer.storage.store import IssuerHome
from issuer.terminals import register_terminal
from tests.factories import ACTOR, BALANGAN, BIRTH_DATE, NOW, SURAKARTA, utc
from tests.factories.offices import SERVICE, UNLOCK

TODAY = utc(NOW).date()
SUKAMARA = 6208
POOL = ServiceRules("renang-anak", "Renang anak", {"0-4": 10_000, "5-12": 15_000, "13-16": 20_000}, "fixed", 12_000,
                    1, 0)
MUSEUM = ServiceRules("tiket-masuk", "Tiket masuk", {"5-12": 5_000, "13-16": 5_000}, "percent", 100, 1, 0)
CHILDREN = (("Rizky Pratama Ananda", "3372011405180001"), ("Siti Nur Aisyah", "3372015405180002"))
PAGES = ("/publik/", "/publik/cara-mendapatkan", "/publik/angka", "/publik/data/partners.json",
         "/publik/data/institutions.json", "/publik/data/figures.json")


def partner(home: IssuerHome, name: str, kind: str, cluster: str, region: int, start: dt.date, end: dt.date,
            rules: ServiceRules | None) -> int:
    partner_id = partners.create_partner(home, name, kind, cluster, region, start, end, NOW, by=ACTOR)
    if rules is not None:
        partners.set_service(home, partner_id, rules, NOW, by=ACTOR)
    return partner_id


@pytest.fixture
def scene(office: IssuerHome) -> dict[str, object]:
    in_force = (TODAY - dt.timedelta(days=400), TODAY + dt.timedelta(days=300))
    cinema = partner(office, "Bioskop Solo Paragon", "cinema", "education_culture", SURAKARTA, *in_force, SERVICE)
    partner(office, "Kolam Renang Manahan", "pool", "health_welfare", SURAKARTA, *in_force, POOL)
    partner(office, "Museum Lambung Mangkurat Balangan", "museum", "education_culture", BALANGAN, *in_force, MUSEUM)
    partner(office, "Toko Buku Lama", "bookshop", "education_culture", SURAKARTA,
            TODAY - dt.timedelta(days=730), TODAY - dt.timedelta(days=2), SERVICE)  # MoU ended
    partner(office, "Klinik Baru", "health", "health_welfare", SURAKARTA,
            TODAY + dt.timedelta(days=30), TODAY + dt.timedelta(days=760), SERVICE)  # MoU not begun
    partner(office, "Taman Balekambang", "recreation", "family_care", SURAKARTA, *in_force, None)  # no service
    institutions.create_institution(office, "SD Negeri 1 Paringin", "school", BALANGAN, NOW, by=ACTOR)
    institutions.create_institution(office, "Klinik Bersalin Harapan", "clinic", SUKAMARA, NOW, by=ACTOR)
    requests = [ChildRequest(line, BIRTH_DATE, SURAKARTA, name=name, nik=nik)
                for line, (name, nik) in enumerate(CHILDREN, start=1)]
    serials = [item.record.serial for item in issue_cards(office, UNLOCK, requests, NOW, by=ACTOR).cards]
    reports.set_eligible_children(office, SURAKARTA, 400, TODAY)
    reports.set_eligible_children(office, BALANGAN, 30_000, TODAY)
    terminal = register_terminal(office, cinema, "Kasir lantai 2", NOW, by=ACTOR).terminal_id
    return {"serials": serials, "terminal": terminal}


@pytest.fixture
def app(office: IssuerHome, scene: dict[str, object]) -> Iterator[Flask]:
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True},
                     now=lambda: NOW)
    yield app
    app.extensions["kia_home"].close()


def text_of(html: str) -> str:
    """What a person reads: the page without its tags and attributes."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def page(client: FlaskClient, url: str) -> str:
    answer = client.get(url)
    assert answer.status_code == 200, url
    return answer.get_data(as_text=True)


# --- where a KIA gives a discount --------------------------------------------------


def test_the_public_page_lists_partners_and_their_discounts_without_sign_in(client: FlaskClient):
    words = text_of(page(client, "/publik/"))
    assert "Di mana KIA memberi potongan harga" in words
    assert "3 mitra" in words
    # The cinema: half price for ages 5 to 16, toddlers free anyway.
    assert "Bioskop Solo Paragon" in words and "Potongan 50%" in words
    assert "5–12 tahun Rp 40.000 Rp 20.000 Rp 20.000" in words
    assert "13–16 tahun Rp 50.000 Rp 25.000 Rp 25.000" in words
    # The pool: Rp 12.000 off, never more than the price.
    assert "Potongan Rp 12.000" in words
    assert "0–4 tahun Rp 10.000 Rp 10.000 Gratis" in words
    assert "5–12 tahun Rp 15.000 Rp 12.000 Rp 3.000" in words
    # Kinds, clusters and regions in words, never their codes.
    for shown in ("Bioskop", "Kolam renang", "Museum", "Kota Surakarta", "Kabupaten Balangan",
                  "Pendidikan, pemanfaatan waktu luang dan kegiatan budaya", "Kesehatan dasar dan kesejahteraan"):
        assert shown in words
    for code in ("education_culture", "health_welfare", "cinema", "3372", "6311", "percent", "fixed"):
        assert code not in words


def test_partners_whose_mou_has_ended_or_not_begun_or_without_a_service_are_not_listed(client: FlaskClient):
    html = page(client, "/publik/") + page(client, "/publik/data/partners.json")
    for absent in ("Toko Buku Lama", "Klinik Baru", "Taman Balekambang"):
        assert absent not in html


@pytest.mark.parametrize(("query", "listed"), [
    ("cluster=health_welfare", {"Kolam Renang Manahan"}),
    ("region=6311", {"Museum Lambung Mangkurat Balangan"}),
    ("kind=cinema", {"Bioskop Solo Paragon"}),
    ("cluster=education_culture&region=3372", {"Bioskop Solo Paragon"}),
    ("cluster=special_protection", set()),
    ("region=9999&kind=spaceport", {"Bioskop Solo Paragon", "Kolam Renang Manahan",
                                    "Museum Lambung Mangkurat Balangan"}),  # unknown values: no filter
])
def test_the_filters_narrow_the_list(client: FlaskClient, query: str, listed: set[str]):
    html = page(client, f"/publik/?{query}")
    shown = set(re.findall(r'<article class="partner">\s*<h2>([^<]+)</h2>', html))
    assert shown == listed
    if not listed:
        assert "Belum ada mitra yang memberi potongan untuk pilihan ini." in html


def test_the_filters_offer_names_and_keep_the_choice(client: FlaskClient):
    html = page(client, "/publik/?region=6311")
    assert '<option value="6311" selected>Kabupaten Balangan</option>' in html
    assert '<option value="3372">Kota Surakarta</option>' in html
    assert '<option value="health_welfare">Kesehatan dasar dan kesejahteraan</option>' in html
    assert 'value="special_protection"' not in html  # only the clusters some partner is in


def test_the_public_page_in_english(client: FlaskClient):
    words = text_of(page(client, "/publik/?lang=en"))
    assert "Where a KIA gives a discount" in words
    assert "50% off" in words and "Rp 12,000 off" in words
    assert "5–12 years Rp 40,000 Rp 20,000 Rp 20,000" in words
    assert "Swimming pool" in words and "Basic health and welfare" in words
    assert "Potongan" not in words
    # The filter form and the links keep the language for a visitor who refuses cookies.
    html = page(client, "/publik/?lang=en")
    assert '<input type="hidden" name="lang" value="en">' in html
    assert 'href="/publik/angka?lang=en"' in html
    assert 'href="/publik/?lang=id"' in html


def test_a_visiting_family_sees_which_partners_honour_cards_of_other_regions(office: IssuerHome, client: FlaskClient):
    ids = {row.name: row.id for row in partners.list_partners(office, NOW)}
    partners.set_other_regions(office, ids["Bioskop Solo Paragon"], partners.OtherRegions("listed", (9171, BALANGAN)),
                               NOW, by=ACTOR)
    partners.set_other_regions(office, ids["Kolam Renang Manahan"], partners.OtherRegions("all"), NOW, by=ACTOR)
    articles = [text_of(article) for article in re.findall(r'<article class="partner">(.*?)</article>',
                                                           page(client, "/publik/"), re.DOTALL)]
    cinema, pool, museum = (next(words for words in articles if name in words)
                            for name in ("Bioskop Solo Paragon", "Kolam Renang Manahan", "Museum Lambung"))
    assert "Juga menerima KIA dari: Kabupaten Balangan, Kota Jayapura" in cinema
    assert "Juga menerima KIA dari semua kabupaten/kota di Indonesia" in pool
    assert "Juga menerima" not in museum  # this office's cards only: nothing to add
    english = text_of(page(client, "/publik/?lang=en"))
    assert "Also honours KIA cards of: Kabupaten Balangan, Kota Jayapura" in english
    listed = {row["name"]: row for row in json.loads(page(client, "/publik/data/partners.json"))["partners"]}
    assert [(listed[name]["other_regions"], listed[name]["other_region_codes"]) for name in (
        "Bioskop Solo Paragon", "Kolam Renang Manahan", "Museum Lambung Mangkurat Balangan")] == [
        ("listed", [BALANGAN, 9171]), ("all", []), ("none", [])]


# --- how to get a KIA and the figures ----------------------------------------------


def test_how_to_get_a_kia_names_the_ways_and_the_schools_and_clinics(client: FlaskClient):
    words = text_of(page(client, "/publik/cara-mendapatkan"))
    for shown in ("Di loket Disdukcapil", "Melalui sekolah", "Melalui klinik dan rumah bersalin", "Yang perlu dibawa",
                  "SD Negeri 1 Paringin Sekolah Kabupaten Balangan",
                  "Klinik Bersalin Harapan Klinik / rumah bersalin Kabupaten Sukamara"):
        assert shown in words


def test_the_figures_show_partners_over_time_and_coverage_by_region_name(client: FlaskClient):
    html = page(client, "/publik/angka")
    words = text_of(html)
    totals = re.findall(r"<dd>([^<]+)</dd>", html)
    assert totals == ["4", "3", "2"]  # partners in force (one without a service), services, active cards
    # 24 months of columns, each with its month and count; Surakarta's two cards of 400 eligible children.
    assert len(re.findall(r'<rect class="bar"', html)) == 24 + 2
    # The ended MoU ran from Nov 2024; the four others in force from Oct 2025; the ended one ends in Nov 2026.
    assert "Des 2024: 1" in words and "Sep 2025: 1" in words and "Okt 2025: 5" in words and "Nov 2026: 4" in words
    assert "Kota Surakarta 2 400 per 22 Nov 2026 0,5%" in words
    assert "Kabupaten Balangan 0 30.000" in words
    assert "<script" not in html


def test_partners_over_time_counts_the_mou_in_force_at_each_month_end():
    agreements = [(1, dt.date(2025, 1, 15), dt.date(2026, 6, 30)), (2, dt.date(2026, 7, 1), dt.date(2028, 6, 30)),
                  (3, dt.date(2026, 11, 25), dt.date(2027, 11, 24))]
    counts = public_figures.count_in_force(agreements, dt.date(2026, 11, 22), 24)
    assert [row.month for row in counts[:2]] == [202412, 202501] and counts[-1].month == 202611
    by_month = {row.month: row.partners for row in counts}
    assert by_month[202412] == 0  # the first MoU starts in January
    assert by_month[202501] == 1
    assert by_month[202606] == 1  # ends on 30 June: still in force at that month's end
    assert by_month[202607] == 1
    assert by_month[202611] == 1  # counted at today, before the third MoU starts


def test_a_partner_counts_once_and_not_in_the_gap_between_its_agreements():
    first = (7, dt.date(2024, 1, 1), dt.date(2025, 12, 31))
    late_renewal = (7, dt.date(2026, 3, 1), dt.date(2028, 2, 29))
    overlapping = [(8, dt.date(2024, 1, 1), dt.date(2026, 1, 31)), (8, dt.date(2026, 1, 1), dt.date(2027, 12, 31))]
    counts = public_figures.count_in_force([first, late_renewal, *overlapping], dt.date(2026, 11, 22), 24)
    by_month = {row.month: row.partners for row in counts}
    assert by_month[202512] == 2
    assert (by_month[202601], by_month[202602]) == (1, 1)  # partner 7 had no agreement in force
    assert (by_month[202603], by_month[202611]) == (2, 2)


def test_the_open_data_carries_region_names_and_only_programme_figures(client: FlaskClient):
    listed = json.loads(page(client, "/publik/data/partners.json"))["partners"]
    assert {row["name"] for row in listed} == {"Bioskop Solo Paragon", "Kolam Renang Manahan",
                                               "Museum Lambung Mangkurat Balangan"}
    pool = next(row for row in listed if row["kind"] == "pool")
    assert pool["region_name"] == "Kota Surakarta"
    assert pool["services"][0]["offers"][0] == {"category": "0-4", "price": 10_000, "discount": 10_000, "paid": 0}
    figures = json.loads(page(client, "/publik/data/figures.json"))
    assert figures["as_of"] == "2026-11-22" and len(figures["partners_over_time"]) == 24
    assert {row["region_name"] for row in figures["coverage"]} == {"Kota Surakarta", "Kabupaten Balangan"}


# --- nothing personal, no session, cacheable ---------------------------------------


def test_no_page_shows_a_child_a_serial_or_a_terminal(client: FlaskClient, scene: dict[str, object]):
    everything = "".join(page(client, url) + page(client, f"{url}?lang=en") for url in PAGES)
    secrets = [*scene["serials"], scene["terminal"], "Kasir lantai 2"]  # type: ignore[misc]
    for name, nik in CHILDREN:
        secrets += [name, nik, name.split()[0]]
    for secret in secrets:
        assert secret not in everything
    assert "2018" not in text_of(everything)  # no birth year either


def test_public_pages_make_no_session_and_may_be_cached(client: FlaskClient):
    for url in PAGES:
        answer = client.get(url)
        assert answer.headers["Cache-Control"] == "public, max-age=300"
        assert "Cookie" in answer.headers["Vary"]
        assert "Set-Cookie" not in answer.headers, url
    # ?lang= sets only the language cookie, as on every page.
    assert client.get("/publik/?lang=en").headers.getlist("Set-Cookie") == [
        "lang=en; HttpOnly; Path=/; SameSite=Lax"]
    assert client.get_cookie("session") is None


def test_a_staff_browser_gets_a_private_copy(client: FlaskClient):
    client.set_cookie("session", "a staff session")
    assert client.get("/publik/").headers["Cache-Control"] == "private, max-age=300"


def test_anonymous_visitors_to_staff_pages_still_get_the_sign_in_page(client: FlaskClient):
    page(client, "/publik/")
    for url in ("/", "/partners/", "/cards/"):
        answer = client.get(url)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login"), url


def test_the_pages_stay_small_and_load_one_stylesheet_and_no_script(client: FlaskClient, app: Flask):
    for url in PAGES[:3]:
        html = page(client, url)
        assert len(html.encode()) < 12_000, url
        assert html.count('rel="stylesheet"') == 1 and "<script" not in html and "style=" not in html
    stylesheet = client.get("/static/public.css")
    assert len(stylesheet.data) < 4_000
    stylesheet.close()


def test_a_browser_that_takes_gzip_gets_the_page_compressed(client: FlaskClient):
    plain = client.get("/publik/").data
    answer = client.get("/publik/", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert answer.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in answer.headers["Vary"]
    assert gzip.decompress(answer.data) == plain and len(answer.data) < len(plain) / 2


def test_many_partners_are_shown_ten_to_a_page(office: IssuerHome, client: FlaskClient):
    in_force = (TODAY - dt.timedelta(days=10), TODAY + dt.timedelta(days=300))
    for number in range(1, 13):
        partner(office, f"Zona Bermain {number:02d}", "recreation", "family_care", SURAKARTA, *in_force, SERVICE)
    names = []
    for number in (1, 2):
        html = page(client, f"/publik/?page={number}")
        assert "15 mitra · halaman" in text_of(html)
        names += re.findall(r'<article class="partner">\s*<h2>([^<]+)</h2>', html)
    assert len(names) == 15 == len(set(names))
    assert 'href="/publik/?page=1" rel="prev"' in html
    assert len(re.findall(r'<article class="partner">', page(client, "/publik/?page=99"))) == 5  # the last page


def test_the_sign_in_page_links_the_public_site(client: FlaskClient):
    assert 'href="/publik/"' in page(client, "/login")

"""The public site (/publik) in a real headless browser on a small phone's screen (360 x 640).

A visitor who never signed in opens the discounts, finds a partner and its
discount, narrows the list by region, switches to English and back, and
reads the figures; the pages fit the screen's width, run no script and
leave nothing refused by the Content-Security-Policy.  The office is served
from a thread on the test's clock (tests.factories NOW).  With
KIA_PUBLIC_SCREENSHOTS set to a folder, every page is also photographed at
360 and 1280 pixels wide, in both languages, for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, ViewportSize, expect

from issuer import institutions, partners, reports
from issuer.cards import issue_cards
from issuer.children import ChildRequest
from issuer.partners import ServiceRules
from tests.e2e.pages import served
from tests.factories import ACTOR, BALANGAN, BIRTH_DATE, DAY, NOW, SURAKARTA, utc
from tests.factories.offices import SERVICE, UNLOCK, open_office

SHOTS = os.environ.get("KIA_PUBLIC_SCREENSHOTS")
TODAY = utc(NOW).date()
PHONE: ViewportSize = {"width": 360, "height": 640}
MUSEUM = ServiceRules("tiket-masuk", "Tiket masuk", {"5-12": 5_000, "13-16": 7_500}, "fixed", 5_000, 1, 0)
POOL = ServiceRules("renang-anak", "Renang anak", {"0-4": 10_000, "5-12": 15_000, "13-16": 20_000}, "percent", 25,
                    1, 0)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = open_office(tmp_path_factory.mktemp("public") / "office", None, NOW - 800 * DAY)
    for name, kind, cluster, region, started, rules in (
        ("Bioskop Solo Paragon", "cinema", "education_culture", SURAKARTA, 700, SERVICE),
        ("Kolam Renang Manahan", "pool", "health_welfare", SURAKARTA, 420, POOL),
        ("Museum Lambung Mangkurat Balangan", "museum", "education_culture", BALANGAN, 200, MUSEUM),
    ):
        start = TODAY - dt.timedelta(days=started)
        partner_id = partners.create_partner(home, name, kind, cluster, region, start, start + dt.timedelta(days=729),
                                             NOW, by=ACTOR)
        partners.set_service(home, partner_id, rules, NOW, by=ACTOR)
        if kind == "pool":  # it honours every region's cards; the cinema and the museum only this office's
            partners.set_other_regions(home, partner_id, partners.OtherRegions("all"), NOW, by=ACTOR)
    institutions.create_institution(home, "SD Negeri 1 Paringin", "school", BALANGAN, NOW, by=ACTOR)
    institutions.create_institution(home, "Klinik Bersalin Harapan Sukamara", "clinic", 6208, NOW, by=ACTOR)
    issue_cards(home, UNLOCK, [ChildRequest(line, BIRTH_DATE, SURAKARTA) for line in range(1, 4)], NOW, by=ACTOR)
    reports.set_eligible_children(home, SURAKARTA, 12, TODAY)
    reports.set_eligible_children(home, BALANGAN, 40, TODAY)
    with served(home, insecure_cookies=False) as address:
        yield address


def visitor(browser: Browser, refused: list[str], viewport: ViewportSize = PHONE) -> Page:
    """A new visitor (no cookie) whose console is watched for whatever the policy refused."""
    page = browser.new_context(viewport=viewport, locale="id-ID").new_page()

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            refused.append(f"{page.url}: {message.text}")

    page.on("console", note)
    page.on("pageerror", lambda error: refused.append(f"{page.url}: {error}"))
    return page


def fits_the_screen(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]  # type: ignore[index]


def test_a_visitor_finds_a_partner_and_its_discount_on_a_phone_without_signing_in(browser: Browser,
                                                                                  site: str) -> None:
    refused: list[str] = []
    page = visitor(browser, refused)
    page.goto(f"{site}/publik/")
    expect(page.locator("h1")).to_have_text("Di mana KIA memberi potongan harga")
    cinema = page.locator("article.partner", has_text="Bioskop Solo Paragon")
    expect(cinema).to_be_visible()
    expect(cinema.locator(".deal")).to_have_text("Potongan 50%")
    expect(cinema.locator("tr", has_text="5–12 tahun")).to_contain_text("Rp 20.000")
    expect(cinema.locator(".visitors")).to_have_count(0)
    # A family visiting from another regency sees where its own card gives a discount.
    expect(page.locator("article.partner", has_text="Kolam Renang Manahan").locator(".visitors")).to_have_text(
        "Juga menerima KIA dari semua kabupaten/kota di Indonesia")
    fits_the_screen(page)
    # Narrow to Balangan: only its museum is left.
    page.select_option("select[name=region]", label="Kabupaten Balangan")
    page.click("button[type=submit]")
    expect(page.locator("article.partner h2")).to_have_text(["Museum Lambung Mangkurat Balangan"])
    expect(page.locator("select[name=region] option:checked")).to_have_text("Kabupaten Balangan")
    assert page.context.cookies() == []  # no session, no cookie
    assert page.locator("script").count() == 0
    assert refused == []


def test_the_language_switch_works_and_follows_the_visitor(browser: Browser, site: str) -> None:
    refused: list[str] = []
    page = visitor(browser, refused)
    page.goto(f"{site}/publik/")
    page.click("text=English")
    expect(page.locator("h1")).to_have_text("Where a KIA gives a discount")
    expect(page.locator("article.partner", has_text="Kolam Renang Manahan").locator(".deal")).to_have_text("25% off")
    page.click("nav >> text=Programme figures")
    expect(page.locator("h1")).to_have_text("KIA programme figures")
    page.wait_for_load_state()  # the stylesheet sizes the chart: measured before it loads, the SVG is its own width
    chart = page.locator("figure.chart svg").first.bounding_box()
    assert chart is not None and chart["width"] > 300 and chart["height"] > 150
    fits_the_screen(page)
    page.click("text=Bahasa Indonesia")
    expect(page.locator("h1")).to_have_text("Angka program KIA")
    assert [cookie["name"] for cookie in page.context.cookies()] == ["lang"]
    assert refused == []


def test_every_public_page_fits_a_phone_and_a_desktop_in_both_languages(
        browser: Browser, site: str, tmp_path: Path) -> None:
    """Each page at 360 and 1280 px in both languages, photographed (into KIA_PUBLIC_SCREENSHOTS if set)."""
    folder = Path(SHOTS) if SHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    refused: list[str] = []
    for width, height in ((360, 640), (1280, 800)):
        page = visitor(browser, refused, ViewportSize(width=width, height=height))
        for lang in ("id", "en"):
            for name, path in (("discounts", "/publik/"), ("howto", "/publik/cara-mendapatkan"),
                               ("figures", "/publik/angka")):
                page.goto(f"{site}{path}?lang={lang}")
                fits_the_screen(page)
                page.screenshot(path=str(folder / f"{name}-{lang}-{width}.png"), full_page=True)
    assert refused == []

"""The pages under their Content-Security-Policy in a real headless browser (Debian's chromium).

The policy runs only this site's scripts and stylesheet (and a chart's own
style, with the answer's nonce): Chromium reports whatever it refuses on the
console, so each page is visited and must leave nothing refused, its charts
drawn and its scripts (the revoke confirmation) still working.  The office is
tests.factories.audit_data's scene served from a thread on the test's clock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from keys import load_public_jwk, thumbprint
from tests.e2e.pages import served, sign_in
from tests.factories import DAY, NOW
from tests.factories.audit_data import audit_scene
from tests.factories.offices import open_office

SCREENSHOT = os.environ.get("KIA_DASHBOARD_SCREENSHOT")  # where to keep the dashboard's picture, if anywhere


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = open_office(tmp_path_factory.mktemp("csp") / "office", None, NOW - 40 * DAY)
    audit_scene(home, NOW)
    with served(home) as address:
        yield address


def signed_in(browser: Browser, site: str, username: str, refused: list[str]) -> Page:
    page = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="id-ID").new_page()

    def note(message: ConsoleMessage) -> None:
        # What the policy refused (Chromium says so on the console); a missing favicon is no refusal.
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            refused.append(f"{page.url}: {message.text}")

    page.on("console", note)
    page.on("pageerror", lambda error: refused.append(f"{page.url}: {error}"))
    return sign_in(page, site, username)


def test_the_dashboard_draws_its_charts_under_a_strict_policy(browser: Browser, site: str) -> None:
    refused: list[str] = []
    page = signed_in(browser, site, "admin", refused)
    charts = page.locator("figure.chart svg")
    expect(charts).to_have_count(3)
    for index in range(3):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 150
    # pygal's stylesheet applied (its nonce accepted): the chart's background is the style's white, not black.
    background = page.locator("figure.chart svg rect.background").first
    assert background.evaluate("rect => getComputedStyle(rect).fill") == "rgb(255, 255, 255)"
    assert page.locator("figure.chart svg script").count() == 0
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT, full_page=True)
    assert refused == []


def test_every_page_works_under_the_policy_and_the_revoke_confirmation_still_asks(browser: Browser,
                                                                                   site: str) -> None:
    refused: list[str] = []
    page = signed_in(browser, site, "admin", refused)
    for path in ("/cards/", "/partners/", "/partners/1", "/keys/", "/users/", "/audit/", "/audit/trail",
                 "/audit/quarantine", "/audit/alarms", "/audit/redemptions", "/?lang=en", "/?lang=id"):
        page.goto(f"{site}{path}")
        expect(page.locator("h1")).to_be_visible()
    # confirm.js asks before a key is revoked; dismissing it sends nothing.
    page.goto(f"{site}/keys/")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator("form[data-confirm] button").first.click()
    expect(page.locator("#keys")).to_be_visible()
    assert asked and "Lanjutkan?" in asked[0]
    assert page.url == f"{site}/keys/"
    assert refused == []


def test_the_stylesheet_reaches_the_one_time_code(browser: Browser, site: str, tmp_path: Path) -> None:
    refused: list[str] = []
    page = signed_in(browser, site, "officer", refused)
    page.goto(f"{site}/partners/1")
    page.fill("#terminal-form input[name=name]", "Kasir baru")
    page.click("#terminal-form button[type=submit]")
    code = page.locator("#enrolment-code")
    expect(code).to_be_visible()
    assert code.evaluate("element => getComputedStyle(element).fontSize") == "32px"  # 2rem, from style.css
    # Handed over with the code: the fingerprint of the root key the office serves to terminals.
    root = page.request.get(f"{site}/api/v1/terminals/root").json()["root_jwk"]
    expect(page.locator("#root-fingerprint")).to_have_text(thumbprint(load_public_jwk(root)))
    if SCREENSHOT:
        page.screenshot(path=str(Path(SCREENSHOT).with_name("enrolment.png")), full_page=True)
    assert refused == []

"""The terminal's staff screen in a real headless browser (Debian's chromium, Playwright).

``kia verifier serve`` runs as its own process on a home that enrolment would
have written (tests/terminal_home.py); the browser types the QR text into
the scan box as a keyboard-wedge scanner does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from keys.serial import serial_from_value
from kia.processes import Server, kia_command
from tests.factories import DAY, make_card, make_trust
from tests.terminal_home import enrolled_home
from verifier.messages import MESSAGES

REVOKED = serial_from_value(0x7654321)


def serve(home: Path, log: Path) -> Server:
    env = {name: value for name, value in os.environ.items() if not name.startswith("KIA_")}
    return Server("terminal", [kia_command(), "verifier", "serve", "--home", str(home), "--port", "0", "--no-sync",
                               "--insecure-dev-unencrypted-keys"], env, log)


@pytest.fixture(scope="module")
def terminal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """A fresh terminal: its URL, a valid card (age 8) and a revoked card."""
    now = int(time.time())
    trust = make_trust(now, revoked=[REVOKED])
    folder = tmp_path_factory.mktemp("screen")
    home, _ = enrolled_home(folder / "home", trust, now)
    server = serve(home.path, folder / "terminal.log")
    url = server.start()
    try:
        yield url, trust.issue(make_card(age=8, now=now)), trust.issue(make_card(serial=REVOKED, age=8, now=now))
    finally:
        server.stop()


def scan(page: Page, payload: str) -> None:
    page.fill("#payload", payload)
    page.press("#payload", "Enter")


def test_a_valid_card_shows_green_with_the_price_to_charge(browser: Browser, terminal: tuple[str, str, str]) -> None:
    url, valid, _ = terminal
    page = browser.new_page()
    page.goto(url)
    expect(page.locator("#verdict")).to_have_text("Menunggu kartu…")

    scan(page, valid)

    expect(page.locator("#result")).to_have_class("accepted")
    expect(page.locator("#verdict")).to_have_text("DITERIMA")
    expect(page.locator("#charge")).to_have_text("Tagih Rp20.000")  # 40.000 less 50%
    expect(page.locator("#discount")).to_have_text("Rp20.000")
    expect(page.locator("#category")).to_have_text("5-12 tahun")
    expect(page.locator("#banners .banner")).to_have_count(0)
    expect(page.locator("#t-accepted")).not_to_have_text("0")
    expect(page.locator("#payload")).to_be_focused()  # ready for the next card
    page.close()


def test_a_revoked_card_shows_red_with_its_reason(browser: Browser, terminal: tuple[str, str, str]) -> None:
    url, _, revoked = terminal
    page = browser.new_page()
    page.goto(url)

    scan(page, revoked)

    expect(page.locator("#result")).to_have_class("rejected")
    expect(page.locator("#verdict")).to_have_text("DITOLAK")
    expect(page.locator("#reason")).to_have_text(MESSAGES["card_revoked"]["id"])
    expect(page.locator("#charge")).to_have_text("")
    page.close()


def test_the_screen_speaks_english_when_asked(browser: Browser, terminal: tuple[str, str, str]) -> None:
    url, valid, _ = terminal
    page = browser.new_page()
    page.goto(f"{url}/?lang=en")

    scan(page, "not a card at all")

    expect(page.locator("#verdict")).to_have_text("REFUSED")
    expect(page.locator("#reason")).to_have_text(MESSAGES["malformed"]["en"])
    page.close()


def test_the_stale_banner_appears_when_the_trust_list_has_expired(browser: Browser, tmp_path: Path) -> None:
    now = int(time.time())
    trust = make_trust(now - 30 * DAY)  # a list valid for days, issued a month ago
    home, _ = enrolled_home(tmp_path / "home", trust, now)
    server = serve(home.path, tmp_path / "terminal.log")
    url = server.start()
    try:
        page = browser.new_page()
        page.goto(url)
        expect(page.locator("#banners")).to_contain_text("Daftar kepercayaan sudah kedaluwarsa")

        scan(page, trust.issue(make_card(age=8, now=now)))

        expect(page.locator("#result")).to_have_class("accepted")  # it still decides, and says the list is stale
        page.close()
    finally:
        server.stop()

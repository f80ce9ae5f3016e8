"""The staff screen of a federated terminal in a real headless browser (Debian's chromium, Playwright).

The ministry's directory and two other offices' trust lists are files on a
plain loopback file server; the terminal fetches them (verifier's
``fetch``, as ``kia verifier federation fetch`` does) and then runs as its own
``kia verifier serve`` process.  The page must show the directory's
sequence, its expiry in local time, and each region's state, in Bahasa
Indonesia first and in English on the switch.  Times come from the test's
own ``now``.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import threading
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from keys.directory import OfficeState
from keys.eligibility import WIB
from tests.e2e.test_staff_screen import serve
from tests.factories.federation import YEAR, make_directory, make_office
from tests.terminal_home import enrolled_home
from verifier.federation import FederationStore
from verifier.federation_fetch import fetch

SURAKARTA, BALANGAN, JAYAPURA = 3372, 6311, 9171


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def federated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A terminal of a Surakarta partner holding the national directory (sequence 3): its URL and the expiry."""
    now = int(time.time())
    folder = tmp_path_factory.mktemp("federated-screen")
    offices = {region: make_office(region, now=now) for region in (SURAKARTA, BALANGAN, JAYAPURA)}
    states = {JAYAPURA: OfficeState.SUSPENDED}
    national = make_directory([office.entry(states.get(region, OfficeState.ACTIVE), valid_from=now - YEAR,
                                            valid_until=now + 5 * YEAR) for region, office in offices.items()],
                              seq=3, now=now)
    site = folder / "site"
    (site / "ministry").mkdir(parents=True)
    (site / "ministry" / "directory.jws").write_text(national.token)
    for region in (BALANGAN, JAYAPURA):
        (site / str(region) / "api" / "v1").mkdir(parents=True)
        (site / str(region) / "api" / "v1" / "trustlist").write_text(offices[region].trust.token)
    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFiles, directory=str(site)))
    threading.Thread(target=files.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{files.server_address[1]}"
    home, _ = enrolled_home(folder / "home", offices[SURAKARTA].trust, now)
    store = FederationStore(home)
    store.pin(national.root.public_key())
    fetch(store, now, directory_url=f"{base}/ministry/directory.jws",
          offices={region: f"{base}/{region}" for region in (BALANGAN, JAYAPURA)})
    files.shutdown()
    server = serve(home.path, folder / "terminal.log")
    try:
        yield server.start(), national.directory.expires_at
    finally:
        server.stop()


def test_the_staff_screen_shows_the_national_directory_and_each_regions_state(
    browser: Browser, federated: tuple[str, int],
) -> None:
    url, expires_at = federated
    page = browser.new_page()
    page.goto(url)

    section = page.locator("#federation")
    expect(section).to_be_visible()
    expect(page.locator("#f-heading")).to_have_text("Federasi nasional (kartu dari wilayah lain)")
    expect(page.locator("#f-lines dd").nth(0)).to_have_text("urutan 3")
    expires = dt.datetime.fromtimestamp(expires_at, WIB).strftime("%Y-%m-%d %H:%M WIB")
    expect(page.locator("#f-lines dt").nth(1)).to_have_text("Berlaku sampai (waktu setempat)")
    expect(page.locator("#f-lines dd").nth(1)).to_have_text(expires)
    expect(page.locator("#f-lines dd").nth(2)).to_have_text("Masih berlaku")
    expect(page.locator('#f-regions tr[data-region="6311"] td').nth(1)).to_have_text("Dipercaya")
    jayapura = page.locator('#f-regions tr[data-region="9171"] td')
    expect(jayapura.nth(0)).to_have_text("Kota Jayapura (9171)")  # staff know regions by name
    expect(jayapura.nth(1)).to_have_text("Ditolak")
    expect(jayapura.nth(2)).to_have_text("Kantor ini ditangguhkan oleh kementerian.")

    page.click("header nav a:text('EN')")

    expect(page.locator("#f-heading")).to_have_text("National federation (cards from other regions)")
    expect(page.locator('#f-regions tr[data-region="6311"] td').nth(0)).to_have_text("Kabupaten Balangan (6311)")
    expect(page.locator('#f-regions tr[data-region="6311"] td').nth(1)).to_have_text("Trusted")
    expect(jayapura.nth(2)).to_have_text("The ministry has suspended this office.")
    page.close()

"""The office's pages in a real headless browser: Debian's chromium driven by Playwright.

The service runs as a separate process (`kia issuer serve`) on a home made
with the real CLI.  Playwright never downloads a browser: it launches
/usr/bin/chromium (KIA_CHROMIUM overrides).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.processes import BIN, clean_env, kia, running

PASSPHRASE = "web-test-passphrase-000000"
PASSWORD = "petugas-rahasia-2026"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("KIA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Debian's chromium is needed for the browser tests: apt-get install chromium (make test does)")
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("web")
    home = str(folder / "office")
    env = clean_env(KIA_KEY_PASSPHRASE=PASSPHRASE, KIA_NEW_USER_PASSWORD=PASSWORD)
    kia("issuer", "init", "--home", home, env=env)
    for name, kind in (("Bioskop Solo Square", "cinema"), ("Kolam Renang Manahan", "pool")):
        kia("issuer", "partner", "add", "--home", home, "--name", name, "--kind", kind,
            "--cluster", "education_culture", "--region", "3372", "--mou-start", "2026-01-01", env=env)
    kia("issuer", "user", "add", "--home", home, "--username", "petugas", "--role", "officer", env=env)
    kia("issuer", "user", "add", "--home", home, "--username", "manajer", "--role", "partner_manager",
        "--partner", "1", env=env)
    command = [str(BIN / "kia"), "issuer", "serve", "--home", home, "--port", "0", "--workers", "1"]
    with running(command, env) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def sign_in(browser: Browser, site: str, username: str) -> Page:
    page = browser.new_context().new_page()
    page.goto(f"{site}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dasbor")
    return page


def test_an_officer_issues_a_card_at_the_counter_and_revokes_it(browser: Browser, site: str, tmp_path: Path) -> None:
    page = sign_in(browser, site, "petugas")
    page.goto(f"{site}/cards/")
    form = page.locator("#issue-form")
    form.locator("input[name=birth_date]").fill("2016-08-17")
    form.locator("input[name=region]").fill("3372")
    form.locator("input[name=name]").fill("Budi Santoso")
    form.locator("button[type=submit]").click()
    expect(page.locator("#card-state")).to_have_text("active")
    serial = page.locator("#card-serial").inner_text()
    assert len(serial) == 8
    qr = page.locator("img[alt^=QR]")
    expect(qr).to_be_visible()
    page.wait_for_function("img => img.complete", arg=qr.element_handle())
    assert page.evaluate("img => img.naturalWidth", qr.element_handle()) == 365  # the printed 300 dpi PNG
    page.screenshot(path=str(tmp_path / "card.png"))

    page.fill("#revoke-form input[name=reason]", "hilang")
    page.click("#revoke-form button[type=submit]")
    expect(page.locator("#card-state")).to_have_text("revoked")
    expect(page.locator(".flash")).to_have_text("Kartu telah dicabut.")


def test_an_officer_uploads_a_school_batch_and_sees_its_report(browser: Browser, site: str, tmp_path: Path) -> None:
    batch = tmp_path / "sd-mangkubumen.csv"
    batch.write_text(
        "birth_date,region,name,external_id\n"
        "2017-03-02,3372,Siti Aminah,NIS-1\n"
        "2031-01-01,3372,Belum Lahir,NIS-2\n"
        "2015-11-30,3372,Rizky Pratama,NIS-3\n",
        encoding="utf-8",
    )
    page = sign_in(browser, site, "petugas")
    page.goto(f"{site}/cards/")
    page.set_input_files("#batch-form input[type=file]", str(batch))
    page.click("#batch-form button[type=submit]")
    expect(page.locator("#batch-summary")).to_contain_text("Diterbitkan: 2")
    expect(page.locator("table.errors")).to_contain_text("NIS-2")
    assert "Belum Lahir" not in page.content()  # refused rows are named by line and id, never by the child


def test_a_partner_manager_sees_their_partner_and_is_refused_another(browser: Browser, site: str) -> None:
    page = sign_in(browser, site, "manajer")
    page.goto(f"{site}/partners/")
    expect(page.locator("#partner-name")).to_have_text("Bioskop Solo Square")
    response = page.goto(f"{site}/partners/2")
    assert response is not None and response.status == 403
    expect(page.locator("#error-message")).to_have_text("Anda tidak berhak membuka halaman ini.")
    assert page.goto(f"{site}/cards/").status == 403  # type: ignore[union-attr]


def test_the_dashboard_speaks_english_when_asked(browser: Browser, site: str) -> None:
    page = sign_in(browser, site, "petugas")
    page.goto(f"{site}/?lang=en")
    expect(page.locator("h1")).to_have_text("Dashboard")
    page.goto(f"{site}/partners/")
    expect(page.locator("th").first).to_have_text("Partner")

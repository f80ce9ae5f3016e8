"""The office's pages in a real headless browser: Debian's chromium driven by Playwright.

The service runs as a separate process (`kia issuer serve`) on a home made
with the real CLI.  Playwright never downloads a browser: it launches
/usr/bin/chromium (KIA_CHROMIUM overrides).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from issuer import offline_signing
from issuer.issuing_keys import KeyUnlock
from tests.e2e.pages import sign_in
from tests.e2e.processes import BIN, clean_env, kia, running
from tests.factories import aged

PASSPHRASE = "web-test-passphrase-000000"
PASSWORD = "petugas-rahasia-2026"
# The service reads the real clock: the dates here are relative to this test's today.
TODAY = dt.date.today()
MOU_START = (TODAY - dt.timedelta(days=300)).isoformat()


@pytest.fixture(scope="module")
def office_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("web") / "office"


@pytest.fixture(scope="module")
def site(office_home: Path) -> Iterator[str]:
    home = str(office_home)
    # Plain HTTP on loopback: the session cookie may travel without TLS (the development setting).
    env = clean_env(KIA_KEY_PASSPHRASE=PASSPHRASE, KIA_NEW_USER_PASSWORD=PASSWORD, KIA_DEV_INSECURE_COOKIES="true")
    kia("issuer", "init", "--home", home, env=env)
    for name, kind in (("Bioskop Solo Square", "cinema"), ("Kolam Renang Manahan", "pool")):
        kia("issuer", "partner", "add", "--home", home, "--name", name, "--kind", kind,
            "--cluster", "education_culture", "--region", "3372", "--mou-start", MOU_START, env=env)
    kia("issuer", "user", "add", "--home", home, "--username", "petugas", "--role", "officer", env=env)
    kia("issuer", "user", "add", "--home", home, "--username", "kepala", "--role", "admin", env=env)
    kia("issuer", "user", "add", "--home", home, "--username", "manajer", "--role", "partner_manager",
        "--partner", "1", env=env)
    command = [str(BIN / "kia"), "issuer", "serve", "--home", home, "--port", "0", "--workers", "1"]
    with running(command, env) as base:
        yield base


def signed_in(browser: Browser, site: str, username: str) -> Page:
    return sign_in(browser.new_context().new_page(), site, username, PASSWORD)


def test_an_officer_issues_a_card_at_the_counter_and_revokes_it(browser: Browser, site: str, tmp_path: Path) -> None:
    page = signed_in(browser, site, "petugas")
    page.goto(f"{site}/cards/")
    form = page.locator("#issue-form")
    form.locator("input[name=birth_date]").fill(aged(10, TODAY).isoformat())
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
        f"{aged(9, TODAY)},3372,Siti Aminah,NIS-1\n"
        f"{TODAY + dt.timedelta(days=365)},3372,Belum Lahir,NIS-2\n"  # not born yet
        f"{aged(11, TODAY)},3372,Rizky Pratama,NIS-3\n",
        encoding="utf-8",
    )
    page = signed_in(browser, site, "petugas")
    page.goto(f"{site}/cards/")
    page.set_input_files("#batch-form input[type=file]", str(batch))
    page.click("#batch-form button[type=submit]")
    expect(page.locator("#batch-summary")).to_contain_text("2 anak diterima")  # waiting for verification
    expect(page.locator("table.errors")).to_contain_text("NIS-2")
    assert "Belum Lahir" not in page.content()  # refused rows are named by line and id, never by the child


def test_a_partner_manager_sees_their_partner_and_is_refused_another(browser: Browser, site: str) -> None:
    page = signed_in(browser, site, "manajer")
    page.goto(f"{site}/partners/")
    expect(page.locator("#partner-name")).to_have_text("Bioskop Solo Square")
    response = page.goto(f"{site}/partners/2")
    assert response is not None and response.status == 403
    expect(page.locator("#error-message")).to_have_text("Anda tidak berhak membuka halaman ini.")
    assert page.goto(f"{site}/cards/").status == 403  # type: ignore[union-attr]


def test_the_dashboard_speaks_english_when_asked(browser: Browser, site: str) -> None:
    page = signed_in(browser, site, "petugas")
    page.goto(f"{site}/?lang=en")
    expect(page.locator("h1")).to_have_text("Dashboard")
    page.goto(f"{site}/partners/")
    expect(page.locator("th").first).to_have_text("Partner")


def test_an_officer_signs_a_trust_list_offline_through_the_keys_page(browser: Browser, site: str,
                                                                       office_home: Path, tmp_path: Path) -> None:
    page = signed_in(browser, site, "petugas")
    page.goto(f"{site}/keys/")
    with page.expect_download() as download:
        page.click("#prepare-form button[type=submit]")
    request = tmp_path / download.value.suggested_filename
    download.value.save_as(request)
    page.reload()
    shown = page.locator("#prepared td.fingerprint").first.inner_text().replace("\n", "")
    # What the officer compares at the offline machine:
    assert shown == offline_signing.fingerprint(request.read_bytes())

    # The offline machine: only the root key file and its passphrase.
    root = KeyUnlock(PASSPHRASE.encode()).read_file(office_home / "keys" / "root.key", root=True)
    offline_signing.check_fingerprint(request.read_bytes(), shown[:20])
    _, bundle = offline_signing.sign_request(request.read_bytes(), root, int(time.time()))
    signed = tmp_path / "bundle.json"
    signed.write_bytes(bundle.to_bytes())

    page.set_input_files("#bundle-form input[type=file]", str(signed))
    page.click("#bundle-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("diterbitkan untuk terminal")
    page.set_input_files("#bundle-form input[type=file]", str(signed))
    page.click("#bundle-form button[type=submit]")  # the same bundle again: a rollback, refused
    expect(page.locator("#bundle-error")).to_contain_text("tidak lebih baru dari daftar kepercayaan terakhir kantor")


def test_an_admin_adds_a_person_who_signs_in_and_is_then_disabled(browser: Browser, site: str) -> None:
    admin = signed_in(browser, site, "kepala")
    admin.goto(f"{site}/users/")
    form = admin.locator("#user-form")
    form.locator("input[name=username]").fill("auditor-kota")
    form.locator("select[name=role]").select_option("auditor")
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("input[name=confirm]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(admin.locator(".flash")).to_have_text("Pengguna auditor-kota ditambahkan.")
    expect(admin.locator("#user-auditor-kota .role")).to_have_text("Auditor")
    assert PASSWORD not in admin.content()

    auditor = signed_in(browser, site, "auditor-kota")
    auditor.goto(f"{site}/users/")
    expect(auditor.locator("#user-form")).to_have_count(0)  # reads the list, changes nothing

    admin.click("#user-auditor-kota .active-form button[type=submit]")
    expect(admin.locator(".flash")).to_have_text("auditor-kota dinonaktifkan; sesinya berakhir.")
    auditor.goto(f"{site}/users/")
    expect(auditor.locator("input[name=username]")).to_be_visible()  # signed out: the sign-in page

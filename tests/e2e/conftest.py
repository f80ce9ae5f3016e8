"""Fixtures of the end-to-end tests: a real headless browser.

Debian's chromium driven by Playwright, never a browser download: the
executable is /usr/bin/chromium (KIA_CHROMIUM overrides); `make test`
installs it when missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Indonesian for the browser itself and what it asks for, unless a context asks otherwise (locale="en-US").
    "--lang=id", "--accept-lang=id-ID,id",
]


def chromium_path() -> str:
    path = os.environ.get("KIA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Debian's chromium is needed for the browser tests: apt-get install chromium (make test does)")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # Without a preloaded library (tests/clock_ahead.py's libfaketime): chromium does not start with it.
        env = {name: value for name, value in os.environ.items() if name != "LD_PRELOAD"}
        launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS,
                                              env=env)
        yield launched
        launched.close()

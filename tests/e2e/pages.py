"""Signing in to the office's pages in Chromium, as the browser tests all do."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.factories.offices import PASSWORD


def sign_in(page: Page, site: str, username: str, password: str = PASSWORD) -> Page:
    """``page`` signed in as ``username`` (by default with the factories' password), on the dashboard."""
    page.goto(f"{site}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dasbor")
    return page

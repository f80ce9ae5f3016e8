"""The office's pages for the browser tests: served on loopback from a thread, and signed in to in Chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from issuer import create_app
from issuer.storage.store import IssuerHome
from tests.factories import NOW
from tests.factories.offices import PASSWORD


@contextmanager
def served(home: IssuerHome, *, insecure_cookies: bool = True, environ: dict[str, str] | None = None
           ) -> Iterator[str]:
    """The office's app on ``home`` over real HTTP on a loopback port, from a thread, on the tests' clock (NOW).

    Yields the site's address; ``environ`` is set while it serves.  On leaving the server stops and the app's
    home and ``home`` are closed.  ``insecure_cookies``: the session cookie may travel on plain HTTP.
    """
    config: dict[str, object] = {"HOME": str(home.path), "DATABASE_URL": home.database_url}
    if insecure_cookies:
        config["DEV_INSECURE_COOKIES"] = True
    with pytest.MonkeyPatch.context() as environment:
        for name, value in (environ or {}).items():
            environment.setenv(name, value)
        app = create_app(config, now=lambda: NOW)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="office pages", daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join(5)
            app.extensions["kia_home"].close()
            home.close()


def sign_in(page: Page, site: str, username: str, password: str = PASSWORD) -> Page:
    """``page`` signed in as ``username`` (by default with the factories' password), on the dashboard."""
    page.goto(f"{site}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dasbor")
    return page

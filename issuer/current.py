"""The office and the clock of the app serving the current request.

Views and API handlers read them here; the factory (issuer.app) puts them
in the app's extensions.  Keeping them apart from the factory keeps the
imports one way: app -> api, web -> current.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app

from .storage.store import IssuerHome

HOME_EXTENSION, CLOCK_EXTENSION = "kia_home", "kia_now"


def office(app: Flask | None = None) -> IssuerHome:
    """The office home of ``app``, by default the app serving this request."""
    home: IssuerHome = (app or current_app).extensions[HOME_EXTENSION]
    return home


def now() -> int:
    """The time of the request being served, from the app's clock (seconds since the epoch)."""
    clock: Callable[[], int] = current_app.extensions[CLOCK_EXTENSION]
    return clock()

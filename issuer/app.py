"""The Flask application factory of the office's service.

Configuration comes from one place: ``KIA_``-prefixed environment variables
(``KIA_HOME``, ``KIA_DATABASE_URL``, ``KIA_SECRET_KEY``...), overridden by
``test_config``.  Nothing is built at import time.  The clock is one
function, ``now`` (seconds since the epoch), given to the factory as the
terminal's app takes it; every view reads the time through ``now()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from . import api, health, metrics, web
from .store import IssuerHome

# Secrets never kept in the configuration: issuing keys read their passphrase
# from the environment when they sign, and the root key never comes here.
_NOT_FOR_THE_SERVICE = ("KEY_PASSPHRASE", "KEY_PASSPHRASE_FILE", "ROOT_KEY_PASSPHRASE", "ROOT_KEY_PASSPHRASE_FILE")


def create_app(test_config: Mapping[str, Any] | None = None, *,
               now: Callable[[], int] = lambda: int(time.time())) -> Flask:
    app = Flask(__name__)  # templates/ and static/ beside this module
    app.config.from_mapping(
        HOME=None,
        DATABASE_URL=None,
        MAX_CONTENT_LENGTH=1024 * 1024,  # no request body is larger than a sync batch
        JSON_SORT_KEYS=False,
    )
    app.config.from_prefixed_env("KIA")
    if test_config is not None:
        app.config.update(test_config)
    for name in _NOT_FOR_THE_SERVICE:
        app.config.pop(name, None)
    if not app.config["HOME"]:
        raise RuntimeError("set KIA_HOME to the office's home folder (kia issuer init --home DIR)")
    app.extensions["kia_now"] = now
    app.extensions["kia_home"] = IssuerHome(Path(app.config["HOME"]), app.config["DATABASE_URL"] or None)
    metrics.init_app(app)
    health.init_app(app)
    api.init_app(app)
    web.init_app(app)
    return app


def now() -> int:
    """The time of the request being served, from the app's clock."""
    clock: Callable[[], int] = current_app.extensions["kia_now"]
    return clock()


def office(app: Flask) -> IssuerHome:
    home: IssuerHome = app.extensions["kia_home"]
    return home

"""The Flask application factory of the office's service.

Configuration comes from one place: ``KIA_``-prefixed environment variables
(``KIA_HOME``, ``KIA_DATABASE_URL``, ``KIA_SECRET_KEY``...), overridden by
``test_config``.  Nothing is built at import time.  The clock is one
function, ``now`` (seconds since the epoch), given to the factory as the
terminal's app takes it; every view reads the time through ``issuer.current.now()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Request, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map, ValidationError

from . import api, health, metrics, web
from .current import CLOCK_EXTENSION, HOME_EXTENSION
from .errors import IssuerError, NotFound, Refused, Unavailable
from .storage.store import IssuerHome

# The largest row id: partners, people and batches are numbered with the databases' INTEGER
# (32 bits on PostgreSQL); a route that addresses a BIGINT says so (``<int(max=...):seq>``).
MAX_ROW_ID = 2**31 - 1

# How the sync API takes a batch: stored, checked and counted at once, or journalled and folded later (ADR 0005).
SYNC_INTAKES = ("inline", "journal")

# Secrets never kept in the configuration: issuing keys read their passphrase
# from the environment when they sign, and the root key never comes here.
_NOT_FOR_THE_SERVICE = ("KEY_PASSPHRASE", "KEY_PASSPHRASE_FILE", "ROOT_KEY_PASSPHRASE", "ROOT_KEY_PASSPHRASE_FILE")


def create_app(test_config: Mapping[str, Any] | None = None, *,
               now: Callable[[], int] = lambda: int(time.time())) -> Flask:
    app = Flask(__name__)  # templates/ and static/ beside this module
    app.url_map.converters["int"] = RowNumber  # before any route: every <int:...> is bounded
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
    if app.config.setdefault("SYNC_INTAKE", "inline") not in SYNC_INTAKES:
        raise RuntimeError("KIA_SYNC_INTAKE is 'inline' (the default) or 'journal' (ADR 0005)")
    app.extensions[CLOCK_EXTENSION] = now
    app.extensions[HOME_EXTENSION] = IssuerHome(Path(app.config["HOME"]), app.config["DATABASE_URL"] or None)
    metrics.init_app(app)
    health.init_app(app)
    api.init_app(app)
    web.init_app(app)
    _install_error_handlers(app)
    return app


class RowNumber(IntegerConverter):
    """``<int:...>`` in every route of the service: a number the database can hold, else 404.

    A larger number in a link names nothing, so it matches no route; it never
    reaches a query, where it would overflow (a 500 on SQLite and PostgreSQL alike).
    """

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002 (werkzeug's names)
                 max: int | None = MAX_ROW_ID, signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)

    def to_python(self, value: str) -> Any:
        if self.max is not None and len(value.lstrip("-0")) > len(str(self.max)):
            raise ValidationError  # before int(): thousands of digits cost time, and Python refuses them
        return super().to_python(value)


def _is_page(path: str) -> bool:
    """Whether a person's browser asked: the web pages answer errors in HTML, the rest in JSON."""
    return not (path.startswith("/api/") or path in ("/healthz", "/metrics"))


def _error_code(error: IssuerError) -> str:
    for family, code in ((NotFound, "not_found"), (Refused, "refused"), (Unavailable, "unavailable")):
        if isinstance(error, family):
            return code
    return "invalid"


def _megabytes(request: Request) -> str:
    """The largest body this request's address takes (the route's own limit, else the app's), in MB."""
    limit = request.max_content_length or 0
    megabytes = round(limit / (1024 * 1024), 1)
    return f"{megabytes:g}"


def _page_words(status: int, message: str, generic: bool) -> str:
    """A person's words for an error, in the page's language; ``generic`` for werkzeug's own (English) words."""
    from .web.i18n import language, t

    if status == 413:
        size = _megabytes(request)
        return t("err_too_large", size=size.replace(".", ",") if language() == "id" else size)
    words = {403: "forbidden", 404: "not_found"} | ({400: "err_bad_request", 405: "err_method"} if generic else {})
    return t(words[status]) if status in words else message


def _install_error_handlers(app: Flask) -> None:
    """Errors answer once for the whole app: JSON ``{"error", "message"}`` for the API, a page for people.

    The office's error families carry their HTTP status (issuer.errors); no
    client input produces a 5xx, and an unexpected error is logged, never shown.
    """

    def answer(status: int, code: str, message: str, *, generic: bool = False,
               error: Exception | None = None) -> ResponseReturnValue:
        if _is_page(request.path):
            from .web.error_page import error_page, said

            return error_page(status, _page_words(status, said(error) if error else message, generic))
        if status == 413:
            message = f"the request is larger than this address takes: at most {_megabytes(request)} MB"
        return jsonify(error=code, message=message), status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        code = (exc.name or "error").lower().replace(" ", "_")
        return answer(exc.code or 400, code, exc.description or code, generic=True)

    @app.errorhandler(IssuerError)
    def _office_error(exc: IssuerError) -> ResponseReturnValue:
        return answer(exc.http_status, _error_code(exc), str(exc), error=exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        app.logger.exception("unexpected error")
        if _is_page(request.path):
            from .web.error_page import error_page
            from .web.i18n import t

            return error_page(500, t("err_internal"))
        return jsonify(error="internal_error", message="the service failed; the error is logged"), 500

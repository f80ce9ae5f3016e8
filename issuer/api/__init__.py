"""The JSON API under /api/v1 (its OpenAPI document: /api/v1/openapi.json).

Every error is JSON ``{"error": code, "message": sentence}`` with a 4xx
status; nothing a client sends produces a 5xx.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def error(status: int, code: str, message: str) -> ResponseReturnValue:
    return jsonify(error=code, message=message), status


def _is_page(path: str) -> bool:
    """Whether a person's browser asked: the web pages answer errors in HTML."""
    return not (path.startswith("/api/") or path in ("/healthz", "/metrics"))


def init_app(app: Flask) -> None:
    from . import openapi, reports, terminals, trustlists  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        code = (exc.name or "error").lower().replace(" ", "_")
        if _is_page(request.path):
            from ..web.i18n import t

            words = {403: t("forbidden"), 404: t("not_found")}.get(exc.code or 400, exc.description or code)
            return render_template("error.html", status=exc.code, message=words), exc.code or 400
        return error(exc.code or 400, code, exc.description or code)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        current_app.logger.exception("unexpected error")
        return error(500, "internal_error", "the service failed; the error is logged")

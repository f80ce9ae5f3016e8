"""The JSON API under /api/v1 (its OpenAPI document: /api/v1/openapi.json).

Every error is JSON ``{"error": code, "message": sentence}`` with a 4xx
status (the app's error handlers, issuer.app); nothing a client sends
produces a 5xx.
"""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify
from flask.typing import ResponseReturnValue

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def error(status: int, code: str, message: str) -> ResponseReturnValue:
    return jsonify(error=code, message=message), status


def init_app(app: Flask) -> None:
    from . import openapi, reports, terminals, trustlists  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)

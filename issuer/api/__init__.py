"""The JSON API under /api/v1 (its OpenAPI document: /api/v1/openapi.json).

Every error is JSON ``{"error": code, "message": sentence}`` with a 4xx
status (the app's error handlers, issuer.app); nothing a client sends
produces a 5xx.
"""

from __future__ import annotations

from typing import TypeVar

from flask import Blueprint, Flask, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ValidationError

bp = Blueprint("api", __name__, url_prefix="/api/v1")
Model = TypeVar("Model", bound=BaseModel)


def error(status: int, code: str, message: str) -> ResponseReturnValue:
    return jsonify(error=code, message=message), status


def validated(model: type[Model], data: object, code: str, part: str) -> Model | ResponseReturnValue:
    """``data`` as ``model``, or a 400 ``code`` naming the first field that is wrong (in ``part`` when none)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(name) for name in first["loc"]) or part
        return error(400, code, f"{where}: {first['msg']}")


def parsed_query(model: type[Model]) -> Model | ResponseReturnValue:
    """The request's query string as ``model``, or a 400 ``bad_query``."""
    return validated(model, request.args.to_dict(), "bad_query", "query")


def init_app(app: Flask) -> None:
    from . import audit, federation, log, openapi, reports, terminals, trustlists  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)

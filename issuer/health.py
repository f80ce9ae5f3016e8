"""``GET /healthz``: is the service up and its database reachable."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app

from keys.errors import KiaError

from . import sync_ingest, trust_lists
from .current import now, office

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[dict[str, object], int]:
    journal: dict[str, object] = {}
    try:
        seq = trust_lists.latest_published_seq(office(current_app))
        if current_app.config["SYNC_INTAKE"] == "journal":  # what the folds have yet to do (ADR 0005)
            journal = {"sync_journal": sync_ingest.backlog(office(current_app)).at(now())}
    except KiaError as exc:
        current_app.logger.warning("health check failed: %s", exc)
        return {"status": "unavailable", "database": "unreachable or not initialised"}, 503
    return {"status": "ok", "database": "ok", "trust_list_seq": seq, **journal}, 200


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

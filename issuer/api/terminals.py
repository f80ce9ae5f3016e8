"""Terminal enrolment, signed configuration and redemption sync (docs/sync-protocol.md)."""

from __future__ import annotations

from typing import Annotated, Any

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from keys.chain import InvalidRecord, InvalidSyncToken
from keys.errors import KeyStoreError

from .. import errors, sync_ingest, terminals
from ..audit import Actor
from ..current import now, office
from ..issuing_keys import KeyUnlock
from ..metrics import metrics_of
from . import Model, bp, error, validated

_Text = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
_JOSE = "application/jose"
# Idle terminals sync every minute unless the office asks for less (KIA_POLL_AFTER_SECONDS, at most an hour).
POLL_AFTER_HEADER = "X-KIA-Poll-After"
DEFAULT_POLL_AFTER, MAX_POLL_AFTER = 60, 3600


class EnrolRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    code: Annotated[str, StringConstraints(min_length=4, max_length=32, pattern=r"^[0-9A-Za-z -]+$")]
    public_jwk: dict[str, Any]


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    records: list[dict[str, Any]] = Field(min_length=1, max_length=sync_ingest.MAX_BATCH)
    checkpoint: _Text


def _body(model: type[Model]) -> Model | ResponseReturnValue:
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nested deeper than any real body
        data = None
    if data is None:
        return error(400, "bad_json", "the body must be a JSON object (Content-Type: application/json)")
    return validated(model, data, "bad_request", "body")


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _unauthorized(message: str) -> ResponseReturnValue:
    return (jsonify(error="unauthorized", message=message), 401,
            {"WWW-Authenticate": 'Bearer realm="kia-office"'})


@bp.post("/terminals/enroll")
def enroll() -> ResponseReturnValue:
    body = _body(EnrolRequest)
    if not isinstance(body, EnrolRequest):
        return body
    try:
        enrolment = terminals.enroll(office(current_app), KeyUnlock.from_env(), body.code, body.public_jwk, now(),
                                     by=Actor("terminal", request.remote_addr))
    except errors.EnrolmentRefused as exc:
        return error(403, "enrolment_refused", str(exc))
    except KeyStoreError:
        current_app.logger.error("cannot open the issuing key to sign terminal configuration")
        return error(503, "signing_unavailable", "the office cannot sign configuration now; try again later")
    return {
        "terminal_id": enrolment.terminal_id,
        "audience": enrolment.audience,
        "root_jwk": enrolment.root_jwk,
        "config": enrolment.config,
    }, 201


@bp.get("/terminals/root")
def root() -> ResponseReturnValue:
    """The root public key, so a terminal can check its fingerprint before it spends its enrolment code."""
    return {"root_jwk": terminals.office_root(office(current_app))}


@bp.get("/terminals/config")
def config() -> ResponseReturnValue:
    """The terminal's signed configuration; 304 when the one it holds (If-None-Match) is current.

    Authentication and suspension are checked first, whatever the answer.
    """
    token = _bearer()
    if token is None:
        return _unauthorized("send the terminal's sync token as 'Authorization: Bearer ...'")
    home, at = office(current_app), now()
    try:
        terminal_id = terminals.authenticate_terminal(home, token, at)
        answer = terminals.current_config(home, KeyUnlock.from_env(), terminal_id, at,
                                          request.headers.get("If-None-Match"))
    except InvalidSyncToken as exc:
        return _unauthorized(str(exc))
    except errors.TerminalSuspended as exc:
        return error(403, "terminal_suspended", str(exc))
    except KeyStoreError:
        current_app.logger.error("cannot open the issuing key to sign terminal configuration")
        return error(503, "signing_unavailable", "the office cannot sign configuration now; try again later")
    headers = {"ETag": answer.tag, "Cache-Control": "no-cache", **poll_hint()}
    if answer.token is None:
        return "", 304, headers
    return answer.token, 200, {"Content-Type": _JOSE, **headers}


def poll_hint() -> dict[str, str]:
    """The header telling terminals how long to wait between idle sync rounds (the office's POLL_AFTER_SECONDS)."""
    value = current_app.config.get("POLL_AFTER_SECONDS", DEFAULT_POLL_AFTER)
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        seconds = DEFAULT_POLL_AFTER
    return {POLL_AFTER_HEADER: str(min(max(seconds, DEFAULT_POLL_AFTER), MAX_POLL_AFTER))}


_REFUSAL_STATUS = {"gap": 409, "fork": 409, "chain_mismatch": 422, "bad_batch": 400}


@bp.post("/sync")
def sync_records() -> ResponseReturnValue:
    metrics = metrics_of(current_app)
    token = _bearer()
    if token is None:
        return _unauthorized("send the terminal's sync token as 'Authorization: Bearer ...'")
    body = _body(SyncRequest)
    if not isinstance(body, SyncRequest):
        return body
    try:
        if current_app.config["SYNC_INTAKE"] == "journal":
            ack = sync_ingest.intake(office(current_app), token, body.records, body.checkpoint, request.get_data(),
                                     now())
        else:
            ack = sync_ingest.ingest(office(current_app), token, body.records, body.checkpoint, now())
    except InvalidSyncToken as exc:
        return _unauthorized(str(exc))
    except errors.TerminalSuspended as exc:
        return error(403, "terminal_suspended", str(exc))
    except errors.SyncRefused as exc:
        if exc.code in ("fork", "chain_mismatch"):
            metrics.alarms.inc()
        return {"error": exc.code, "message": str(exc), "acknowledged": exc.acknowledged}, _REFUSAL_STATUS[exc.code]
    except InvalidRecord as exc:
        return error(400, "bad_record", str(exc))
    metrics.sync_batches.inc()
    metrics.redemptions.inc(ack.stored)
    return {"acknowledged": ack.acknowledged, "stored": ack.stored, "duplicates": ack.duplicates}

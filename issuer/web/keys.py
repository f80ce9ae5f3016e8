"""Issuing keys from the web: rotate, retire, revoke.  Root-key work stays on the command line."""

from __future__ import annotations

import time

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from keys.errors import KiaError
from keys.times import iso_utc

from .. import service
from ..app import office
from .auth import CHANGERS, OFFICE_STAFF, ConfirmForm, audit, roles
from .i18n import t

bp = Blueprint("keys", __name__, url_prefix="/keys")


@bp.get("/")
@roles(*OFFICE_STAFF)
def index() -> ResponseReturnValue:
    keys = service.issuing_keys(office(current_app))
    return render_template("keys.html", keys=keys, form=ConfirmForm(), iso=iso_utc,
                           seq=service.latest_published_seq(office(current_app)))


@bp.post("/rotate")
@roles(*CHANGERS)
def rotate() -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        key = service.rotate_issuing_key(office(current_app), service.KeyUnlock.from_env(), int(time.time()))
    except KiaError as exc:
        flash(str(exc))
    else:
        audit("key_rotate", key.kid)
        flash(t("key_rotated"))
    return redirect(url_for("keys.index"))


@bp.post("/<kid>/<any(retire, revoke):change>")
@roles(*CHANGERS)
def change(kid: str, change: str) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        service.change_issuing_key(office(current_app), kid, change, int(time.time()))
    except KiaError as exc:
        flash(str(exc))
    else:
        audit(f"key_{change}", kid)
        flash(t("key_changed"))
    return redirect(url_for("keys.index"))

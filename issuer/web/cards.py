"""Cards: issue at the counter, submit a batch for a school or clinic, detail with QR, revoke, replace.

A batch uploaded here is submitted as an institution's is (issuer.batches):
nothing is signed until the office verifies it on the batch's page.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from keys import Card
from keys.errors import KiaError
from keys.times import iso_utc

from .. import cards, issuing_keys
from ..artifacts import qr_modules, qr_png
from ..batches import SameFileAgain, advance, list_batches, submit_batch
from ..children import BatchFileProblem, RowError, parse_batch, validate_child
from ..current import now, office
from ..errors import NotFound, Refused
from .auth import CHANGERS, OFFICE_STAFF, ConfirmForm, actor, roles
from .error_page import said
from .i18n import t
from .institutions import submitted

bp = Blueprint("cards", __name__, url_prefix="/cards")
MAX_BATCH_UPLOAD = 8 * 1024 * 1024  # a school CSV; everything else keeps the app's 1 MiB


@bp.before_request
def _allow_school_csv() -> None:
    if request.endpoint == "cards.batch":
        request.max_content_length = MAX_BATCH_UPLOAD


class IssueForm(FlaskForm):  # type: ignore[misc]
    birth_date = DateField(validators=[DataRequired()])
    region = StringField(validators=[DataRequired(), Regexp(r"^\d{2}\.?\d{2}$")])
    name = StringField(validators=[Optional(), Length(max=200)])
    nik = StringField(validators=[Optional(), Regexp(r"^[0-9]{16}$")])
    school = StringField(validators=[Optional(), Length(max=200)])


class BatchForm(FlaskForm):  # type: ignore[misc]
    file = FileField(validators=[FileRequired()])
    channel = SelectField(choices=["school", "clinic"], default="school")


class ReasonForm(FlaskForm):  # type: ignore[misc]
    reason = StringField(validators=[DataRequired(), Length(max=200)])


class FindForm(FlaskForm):  # type: ignore[misc]
    class Meta:
        csrf = False  # a search changes nothing

    serial = StringField(validators=[DataRequired(), Length(max=16)])


@bp.get("/")
@roles(*OFFICE_STAFF)
def index() -> ResponseReturnValue:
    find = FindForm(request.args)
    if request.args.get("serial") and find.validate():
        return redirect(url_for("cards.detail", serial=find.serial.data.strip().upper()))
    return _page(find=find)


def _page(
    issue: IssueForm | None = None, batch: BatchForm | None = None, find: FindForm | None = None, status: int = 200
) -> ResponseReturnValue:
    """The cards page, with whichever form needs to show its errors."""
    batches = list_batches(office(current_app))
    page = render_template(
        "cards.html",
        issue=issue or IssueForm(),
        batch=batch or BatchForm(),
        find=find or FindForm(),
        batches=batches,
        advance=ConfirmForm(),
    )
    return page, status


@bp.post("/batches/<int:batch_id>/<any(verified, printed, handed_over):state>")
@roles(*CHANGERS)
def advance_batch(batch_id: int, state: str) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        advance(office(current_app), batch_id, state, now(), by=actor(),
                unlock=issuing_keys.KeyUnlock.from_env)
    except NotFound:
        abort(404)
    except Refused:
        flash(t("batch_wrong_step", id=batch_id, state=t("batch_" + state)))
    except KiaError as exc:
        flash(said(exc))
    return redirect(url_for("cards.index"))


@bp.post("/issue")
@roles(*CHANGERS)
def issue() -> ResponseReturnValue:
    form = IssueForm()
    if not form.validate_on_submit():
        return _page(issue=form, status=400)
    checked = validate_child(0, now(), form.birth_date.data.isoformat(), form.region.data, nik=form.nik.data or "",
                             name=form.name.data or "", school=form.school.data or "")
    if isinstance(checked, RowError):
        getattr(form, checked.field).errors.append(t(f"batch_err_{checked.code}", ref=checked.ref))
        return _page(issue=form, status=400)
    issuance = cards.issue_cards(office(current_app), issuing_keys.KeyUnlock.from_env(), [checked], now(),
                                 by=actor())
    if issuance.rejected:
        refused = issuance.rejected[0]
        form.nik.errors.append(t(f"batch_err_{refused.code}", ref=refused.ref))
        return _page(issue=form, status=409)
    serial = issuance.cards[0].record.serial
    flash(t("issued_ok"))
    return redirect(url_for("cards.detail", serial=serial))


@bp.post("/batch")
@roles(*CHANGERS)
def batch() -> ResponseReturnValue:
    """An officer submits a school's or clinic's CSV; it waits for verification on its page."""
    form = BatchForm()
    if not form.validate_on_submit():
        return _page(batch=form, status=400)
    upload = form.file.data
    data = upload.read()
    try:
        requests, errors = parse_batch(data, now())
        batch_id = submit_batch(office(current_app), requests, errors, now(), channel=form.channel.data,
                                source=Path(upload.filename or "batch.csv").name[:200],
                                file_sha256=hashlib.sha256(data).hexdigest(), by=actor())
    except BatchFileProblem as problem:
        form.file.errors.append(t(f"batch_err_{problem.code}", **problem.values))
        return _page(batch=form, status=400)
    except SameFileAgain as again:
        form.file.errors.append(t("batch_file_again", id=again.batch_id))
        return _page(batch=form, status=409)
    return submitted(batch_id)


@bp.get("/<serial>")
@roles(*OFFICE_STAFF)
def detail(serial: str) -> ResponseReturnValue:
    record = cards.find_card(office(current_app), serial)  # an unknown serial is 404 (issuer.app)
    card = Card(record.serial, record.region, record.birth_month, record.issued_at, record.expires_at)
    return render_template("card.html", card=record, iso=iso_utc, revoke=ReasonForm(), replace=ConfirmForm(),
                           under_five=card.for_under_five)


@bp.get("/<serial>/qr.png")
@roles(*CHANGERS)
def qr(serial: str) -> ResponseReturnValue:
    """The card's working QR: only those who issue cards take it, and each copy is audited."""
    record = cards.take_card_qr(office(current_app), serial, now(), by=actor())
    # A working card: no cache keeps a copy the audit trail does not know of.
    return Response(qr_png(qr_modules(record.token)), mimetype="image/png", headers={"Cache-Control": "no-store"})


@bp.post("/<serial>/revoke")
@roles(*CHANGERS)
def revoke(serial: str) -> ResponseReturnValue:
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        record = cards.revoke_card(office(current_app), serial, form.reason.data, now(),
                                   by=actor())
    except NotFound:
        abort(404)
    except KiaError as exc:
        flash(said(exc))
        return redirect(url_for("cards.detail", serial=serial))
    flash(t("revoked_ok"))
    return redirect(url_for("cards.detail", serial=record.serial))


@bp.post("/<serial>/replace")
@roles(*CHANGERS)
def replace(serial: str) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        new = cards.replace_card(office(current_app), issuing_keys.KeyUnlock.from_env(), serial, now(), by=actor())
    except NotFound:
        abort(404)
    except KiaError as exc:
        flash(said(exc))
        return redirect(url_for("cards.detail", serial=serial))
    flash(t("replaced_ok"))
    return redirect(url_for("cards.detail", serial=new.serial))

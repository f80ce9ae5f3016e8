"""Schools and clinics: their batches, and the office's queue, verification, printing and handover.

An institution's account (role ``institution``) sees only its own
institution and batches, as a partner manager sees only its partner; its
home page is its institution's page.  Office staff see the queue of every
institution; admins add institutions (their accounts are made on the Users
page); admins and officers verify, print and hand over.  Row errors are
shown by their codes in the page's language, naming line and field, never
the row's content.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from keys.errors import KiaError

from .. import agreements, batches, institutions, printing
from ..agreements import Owner
from ..children import BatchFileProblem, RowError, parse_batch, validate_child
from ..current import now, office
from ..errors import NotFound, Refused
from ..issuing_keys import KeyUnlock
from ..storage.models import INSTITUTION_KINDS
from .auth import CHANGERS, ConfirmForm, actor, roles
from .error_page import said
from .formatting import office_zone
from .i18n import language, t
from .security import no_store

bp = Blueprint("institutions", __name__, url_prefix="/institutions")
VIEWERS = ("admin", "officer", "auditor", "institution")
SUBMITTERS = ("admin", "officer", "institution")
MAX_BATCH_UPLOAD = 8 * 1024 * 1024  # a school's CSV; everything else keeps the app's 1 MiB
PDF = "application/pdf"


@bp.before_request
def _allow_school_csv() -> None:
    if request.endpoint == "institutions.upload":
        request.max_content_length = MAX_BATCH_UPLOAD


class InstitutionForm(FlaskForm):  # type: ignore[misc]
    name = StringField(validators=[DataRequired(), Length(max=200)])
    kind = SelectField(choices=list(INSTITUTION_KINDS))
    region = IntegerField(validators=[DataRequired(), NumberRange(1101, 9799)])


class UploadForm(FlaskForm):  # type: ignore[misc]
    file = FileField(validators=[FileRequired()])


class ChildForm(FlaskForm):  # type: ignore[misc]
    """One child; the date as a school writes it (checked by issuer.children, as a file's rows are)."""

    birth_date = StringField(validators=[DataRequired(), Length(max=10)])
    region = StringField(validators=[DataRequired(), Regexp(r"^\d{2}\.?\d{2}$")])
    name = StringField(validators=[Optional(), Length(max=200)])
    nik = StringField(validators=[Optional(), Length(max=16)])
    external_id = StringField(validators=[Optional(), Length(max=64)])


def _may_see(institution_id: int | None) -> None:
    if not current_user.may_see_institution(institution_id):
        abort(403)


# --- the queue and the institutions --------------------------------------------------


@bp.get("/")
@roles(*VIEWERS)
def index() -> ResponseReturnValue:
    if current_user.role == "institution":
        return redirect(url_for("institutions.detail", institution_id=current_user.institution_id))
    return _queue(InstitutionForm())


def _queue(form: InstitutionForm, status: int = 200) -> ResponseReturnValue:
    home = office(current_app)
    return render_template("institutions.html", rows=institutions.list_institutions(home), form=form,
                           recent=batches.list_batches(home, 20), names=institutions.institution_names(home),
                           zones=institutions.institution_zones(home)), status


@bp.post("/")
@roles("admin")
def create() -> ResponseReturnValue:
    form = InstitutionForm()
    if not form.validate_on_submit():
        return _queue(form, 400)
    try:
        institution_id = institutions.create_institution(office(current_app), form.name.data, form.kind.data,
                                                         form.region.data, now(), by=actor())
    except KiaError as exc:
        form.name.errors.append(said(exc))
        return _queue(form, 400)
    flash(t("inst_added"))
    return redirect(url_for("institutions.detail", institution_id=institution_id))


@bp.get("/<int:institution_id>")
@roles(*VIEWERS)
def detail(institution_id: int) -> ResponseReturnValue:
    _may_see(institution_id)
    return _institution_page(institution_id)


def _institution_page(institution_id: int, upload: UploadForm | None = None, child: ChildForm | None = None,
                      status: int = 200) -> ResponseReturnValue:
    home = office(current_app)
    try:
        record = institutions.find_institution(home, institution_id)
    except NotFound:
        abort(404)
    if child is None:
        child = ChildForm(region=str(record.region))
    return render_template("institution.html", institution=record, upload=upload or UploadForm(), child=child,
                           batches=batches.list_batches(home, 100, institution_id=institution_id),
                           zones=institutions.institution_zones(home),
                           agreements=agreements.agreements_of(home, Owner("institution", institution_id), now()),
                           owner=Owner("institution", institution_id),
                           max_document_mb=agreements.MAX_DOCUMENT_BYTES // 2**20), status


@bp.post("/<int:institution_id>/batches")
@roles(*SUBMITTERS)
def upload(institution_id: int) -> ResponseReturnValue:
    """A school's CSV becomes a submitted batch; its bad rows are kept, nothing is signed."""
    _may_see(institution_id)
    form = UploadForm()
    if not form.validate_on_submit():
        return _institution_page(institution_id, upload=form, status=400)
    data = form.file.data.read()
    try:
        requests, errors = parse_batch(data, now())
        batch_id = batches.submit_batch(office(current_app), requests, errors, now(), institution_id=institution_id,
                                        source=Path(form.file.data.filename or "batch.csv").name[:200],
                                        file_sha256=hashlib.sha256(data).hexdigest(), by=actor())
    except BatchFileProblem as problem:
        form.file.errors.append(t(f"batch_err_{problem.code}", **problem.values))
        return _institution_page(institution_id, upload=form, status=400)
    except batches.SameFileAgain as again:
        form.file.errors.append(t("batch_file_again", id=again.batch_id))
        return _institution_page(institution_id, upload=form, status=409)
    return submitted(batch_id)


@bp.post("/<int:institution_id>/children")
@roles(*SUBMITTERS)
def submit_child(institution_id: int) -> ResponseReturnValue:
    """One child's form becomes a batch of one, checked as a file's row is."""
    _may_see(institution_id)
    form = ChildForm()
    if not form.validate_on_submit():
        return _institution_page(institution_id, child=form, status=400)
    checked = validate_child(1, now(), form.birth_date.data, form.region.data, nik=form.nik.data or "",
                             name=form.name.data or "", external_id=form.external_id.data or "")
    if isinstance(checked, RowError):
        getattr(form, checked.field).errors.append(t(f"batch_err_{checked.code}", ref=checked.ref))
        return _institution_page(institution_id, child=form, status=400)
    batch_id = batches.submit_batch(office(current_app), [checked], [], now(), institution_id=institution_id,
                                    by=actor())
    return submitted(batch_id)


def submitted(batch_id: int) -> ResponseReturnValue:
    """Say what became of a submission, on the batch's own page (a reload sends nothing again)."""
    view = batches.batch_view(office(current_app), batch_id)
    flash(t("batch_submitted_ok", id=batch_id, children=len(view.children), refused=len(view.refused)))
    return redirect(url_for("institutions.batch", batch_id=batch_id), 303)


# --- one batch -------------------------------------------------------------------------


def _view(batch_id: int) -> batches.BatchView:
    """The batch if the signed-in person may see it: 404 if there is none, 403 if it is another's."""
    try:
        view = batches.batch_view(office(current_app), batch_id)
    except NotFound:
        abort(404)
    _may_see(view.batch.institution_id)
    return view


@bp.get("/batches/<int:batch_id>")
@roles(*VIEWERS)
def batch(batch_id: int) -> ResponseReturnValue:
    view = _view(batch_id)
    zone = institutions.institution_zones(office(current_app)).get(view.batch.institution_id or 0)
    return render_template("batch.html", view=view, form=ConfirmForm(), zone=zone)


@bp.post("/batches/<int:batch_id>/<any(verified, handed_over):state>")
@roles(*CHANGERS)
def advance(batch_id: int, state: str) -> ResponseReturnValue:
    """Verify (the cards are signed now) or record the handover; each step with who and when."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    _view(batch_id)
    try:
        moved = batches.advance(office(current_app), batch_id, state, now(), by=actor(),
                                unlock=KeyUnlock.from_env)
    except Refused:
        flash(t("batch_wrong_step", id=batch_id, state=t("batch_" + _view(batch_id).batch.state)))
    except KiaError as exc:
        flash(said(exc))
    else:
        flash(t("batch_verified_ok", id=batch_id, cards=moved.cards) if state == "verified"
              else t("batch_moved_ok", id=batch_id, state=t("batch_" + state)))
    return redirect(url_for("institutions.batch", batch_id=batch_id))


@bp.post("/batches/<int:batch_id>/print/<any(sheet, cards):layout>")
@roles(*CHANGERS)
@no_store
def print_cards(batch_id: int, layout: str) -> ResponseReturnValue:
    """The batch's cards as a print-ready PDF; the first print moves a verified batch to printed (audited)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    _view(batch_id)
    draw = printing.sheet_pdf if layout == "sheet" else printing.card_pages_pdf
    lang = language()

    def render(cards: list[batches.BatchCard]) -> bytes:
        return draw([printing.PrintedCard(c.serial, c.token, c.region, c.expires_at, c.name) for c in cards],
                    language=lang)

    try:
        pdf = batches.print_batch(office(current_app), batch_id, now(), render, by=actor())
    except Refused:
        flash(t("batch_not_verified"))
        return redirect(url_for("institutions.batch", batch_id=batch_id))
    except ValueError:  # no card in the batch (every child refused)
        flash(t("batch_no_cards"))
        return redirect(url_for("institutions.batch", batch_id=batch_id))
    return _download(pdf, PDF, f"kia-batch-{batch_id}-{layout}.pdf")


@bp.get("/batches/<int:batch_id>/handover.<any(csv, pdf):kind>")
@roles(*VIEWERS)
@no_store
def handover(batch_id: int, kind: str) -> ResponseReturnValue:
    """The handover list of a verified batch: CSV for the school's records, or the tanda terima to sign."""
    view = _view(batch_id)
    lines = batches.handover_lines(office(current_app), batch_id)
    if not lines:
        flash(t("batch_not_verified") if view.batch.state == "submitted" else t("batch_no_cards"))
        return redirect(url_for("institutions.batch", batch_id=batch_id))
    if kind == "csv":
        return _download(_handover_csv(lines), "text/csv; charset=utf-8", f"serah-terima-{batch_id}.csv")
    zone = institutions.institution_zones(office(current_app)).get(view.batch.institution_id or 0) or office_zone()
    today = dt.datetime.fromtimestamp(now(), zone).date()  # the day where the cards are handed over
    receipt = printing.handover_pdf(view.institution or t("batch_no_institution"), batch_id,
                                    [printing.HandoverLine(line.number, line.external_id, line.name, line.serial)
                                     for line in lines], today, language=language())
    return _download(receipt, PDF, f"tanda-terima-{batch_id}.pdf")


def _handover_csv(lines: list[batches.HandoverLine]) -> bytes:
    """Semicolons and a byte order mark, as Excel in an Indonesian locale opens them."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["no", "external_id", "name", "serial"])
    writer.writerows([line.number, _cell(line.external_id), _cell(line.name), line.serial] for line in lines)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(text: str | None) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})

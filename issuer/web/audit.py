"""The auditor's pages: redemptions, the quarantine queue, alarms and the audit trail.

Auditors and admins only: partner managers and officers see none of it.
Releasing or confirming a held record is an auditor's act (or an admin's),
with a reason, through a CSRF-protected form; issuer.quarantine.decide
audits it.  The views parse the query string, call issuer.audit_queries or
issuer.quarantine, and render.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, Optional

from keys.cosignature import CosignatureInvalid, CosignerKey, verify_cosignature

from .. import audit_queries as queries
from .. import quarantine, transparency, witnessing
from ..current import now, office
from ..errors import Invalid, NotFound, Refused
from ..redemption_checks import CHECKS
from ..storage.models import FINDING_STATES
from .auth import actor, roles
from .formatting import number, rupiah
from .i18n import action_name, alarm_name, t

bp = Blueprint("audit", __name__, url_prefix="/audit")
AUDITORS = ("admin", "auditor")
QUEUE_LIMIT = 100  # held records shown at once; the count says how many wait
Row = TypeVar("Row")


class _Query(FlaskForm):  # type: ignore[misc]
    """A filter in the query string: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    def __init__(self) -> None:
        super().__init__(request.args)


class RedemptionQuery(_Query):
    partner = SelectField(choices=[], default="")
    terminal = StringField(validators=[Optional(), Length(max=16)])
    serial = StringField(validators=[Optional(), Length(max=16)])
    first_day = DateField(name="from", validators=[Optional()])
    last_day = DateField(name="to", validators=[Optional()])
    flag = SelectField(choices=[], default="")
    check = SelectField(choices=[], default="")


class AlarmQuery(_Query):
    kind = SelectField(choices=[], default="")
    partner = SelectField(choices=[], default="")


class TrailQuery(_Query):
    user = StringField(validators=[Optional(), Length(max=64)])
    action = SelectField(choices=[], default="")
    target = StringField(validators=[Optional(), Length(max=queries.MAX_TEXT_FILTER)])
    first_day = DateField(name="from", validators=[Optional()])
    last_day = DateField(name="to", validators=[Optional()])


class DecisionForm(FlaskForm):  # type: ignore[misc]
    reason = StringField(validators=[DataRequired(), Length(max=quarantine.MAX_REASON_LENGTH)])
    decision = StringField(validators=[AnyOf(tuple(quarantine.DECISIONS))])


def page_url(endpoint: str | None = None, /, **changes: object) -> str:
    """This page's address (or ``endpoint``'s) with this page's filters, some changed (None drops one)."""
    args: dict[str, Any] = request.args.to_dict() | changes
    return url_for(endpoint or str(request.endpoint),
                   **{name: value for name, value in args.items() if value not in (None, "")})


@bp.context_processor
def _helpers() -> dict[str, object]:
    return {"rupiah": rupiah, "number": number, "page_url": page_url, "local_time": queries.local_time}


def _any(choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", t("any")), *choices]


def _partner_choices(places: dict[int, queries.Place]) -> list[tuple[str, str]]:
    return _any([(str(partner_id), place.name) for partner_id, place in places.items()])


def _number(text: str | None) -> int | None:
    return int(text) if text else None


def _page(fetch: Callable[[queries.Cursor | None], queries.Page[Row]]) -> queries.Page[Row] | None:
    """The page the query string asks for, or None (with a message) for a filter that cannot be used."""
    try:
        after = queries.Cursor.parse(request.args["after"]) if request.args.get("after") else None
        return fetch(after)
    except Invalid:
        flash(t("filter_invalid"))
        return None


def _position() -> int:
    """How many rows came before this page, as the page links count them (shown only, never trusted)."""
    start = request.args.get("start", "0")
    return int(start) if start.isdigit() and len(start) <= 12 else 0


# --- the overview ---------------------------------------------------------------


@bp.get("/")
@roles(*AUDITORS)
def index() -> ResponseReturnValue:
    home = office(current_app)
    checkpoint = transparency.latest_checkpoint(home)
    witnessed = [] if checkpoint is None else [
        (witness.name, _cosigned_at(checkpoint.note, witness.verifier_key)) for witness in witnessing.witnesses(home)]
    return render_template("audit_overview.html", counts=queries.overview(home, now()), checkpoint=checkpoint,
                           root=base64.b64encode(checkpoint.root).decode("ascii") if checkpoint else "",
                           witnessed=witnessed, zone=queries.office_zone(queries.partner_places(home)))


def _cosigned_at(note: str, verifier_key: str) -> int | None:
    """When the witness cosigned the checkpoint, if its cosignature is there and holds."""
    try:
        return verify_cosignature(note, CosignerKey.parse(verifier_key), now())
    except CosignatureInvalid:
        return None


# --- redemptions ------------------------------------------------------------------


def _redemption_query(places: dict[int, queries.Place]) -> RedemptionQuery:
    form = RedemptionQuery()
    form.partner.choices = _partner_choices(places)
    form.flag.choices = _any([(flag, t(f"flag_{flag}")) for flag in queries.FLAGS])
    form.check.choices = _any(sorted(((check, alarm_name(check)) for check in CHECKS), key=lambda pair: pair[1]))
    return form


def _redemption_filter(form: RedemptionQuery) -> queries.RedemptionFilter | None:
    if not form.validate():
        flash(t("filter_invalid"))
        return None
    return queries.RedemptionFilter(
        partner_id=_number(form.partner.data), terminal_id=(form.terminal.data or "").strip() or None,
        serial=form.serial.data or None, first_day=form.first_day.data, last_day=form.last_day.data,
        flag=form.flag.data or None, check=form.check.data or None)


@bp.get("/redemptions")
@roles(*AUDITORS)
def redemptions() -> ResponseReturnValue:
    home = office(current_app)
    places = queries.partner_places(home)
    form = _redemption_query(places)
    chosen = _redemption_filter(form)
    page = None if chosen is None else _page(lambda after: queries.redemptions(home, chosen, after))
    return render_template("audit_redemptions.html", form=form, page=page, start=_position(), places=places,
                           terminals=queries.terminal_names(home)), 200 if page is not None else 400


@bp.get("/redemptions.csv")
@roles(*AUDITORS)
def export_redemptions() -> ResponseReturnValue:
    """Every redemption the filter matches, streamed as CSV (not only one page)."""
    home = office(current_app)
    places = queries.partner_places(home)
    chosen = _redemption_filter(_redemption_query(places))
    if chosen is None:
        abort(400)
    try:
        chunks = queries.redemptions_csv(home, chosen, places)
    except Invalid:
        abort(400)
    name = f"redemptions-{dt.datetime.fromtimestamp(now(), dt.UTC):%Y%m%dT%H%M%SZ}.csv"
    return Response(chunks, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


# --- the quarantine queue ----------------------------------------------------------


@bp.get("/quarantine")
@roles(*AUDITORS)
def queue() -> ResponseReturnValue:
    home = office(current_app)
    places = queries.partner_places(home)
    state = request.args.get("state", "open")
    partner = request.args.get("partner", "")
    if state not in FINDING_STATES or not (partner == "" or partner.isdigit() and int(partner) in places):
        abort(400)
    partner_id = _number(partner)
    held = quarantine.held_records(home, state=state, partner_id=partner_id, limit=QUEUE_LIMIT)
    total = queries.records_in_state(home, state, partner_id)
    return render_template("audit_quarantine.html", held=held, total=total, state=state, partner=partner,
                           partner_choices=_partner_choices(places), places=places, form=DecisionForm())


@bp.post(f"/quarantine/<terminal_id>/<int(max={queries.MAX_BIGINT}):seq>")
@roles(*AUDITORS)
def decide(terminal_id: str, seq: int) -> ResponseReturnValue:
    form = DecisionForm()
    record = f"{terminal_id}#{seq}"
    back = redirect(url_for("audit.queue", partner=request.args.get("partner") or None))
    if not form.validate_on_submit():
        if "csrf_token" in form.errors or "decision" in form.errors:
            abort(400)
        flash(t("reason_needed"))
        return back
    try:
        quarantine.decide(office(current_app), terminal_id, seq, form.decision.data, form.reason.data, now(),
                          by=actor())
    except NotFound:
        flash(t("record_missing").format(record=record))
    except Refused:
        flash(t("nothing_to_decide").format(record=record))
    except Invalid:
        flash(t("reason_needed"))
    else:
        flash(t(f"{quarantine.DECISIONS[form.decision.data]}_ok").format(record=record))
    return back


# --- alarms -------------------------------------------------------------------------


@bp.get("/alarms")
@roles(*AUDITORS)
def alarms() -> ResponseReturnValue:
    home = office(current_app)
    places = queries.partner_places(home)
    form = AlarmQuery()
    form.kind.choices = _any([(kind, alarm_name(kind)) for kind in queries.alarm_kinds(home)])
    form.partner.choices = _partner_choices(places)
    page = None
    if form.validate():
        chosen = queries.AlarmFilter(form.kind.data or None, _number(form.partner.data))
        page = _page(lambda after: queries.alarms(home, chosen, after))
    else:
        flash(t("filter_invalid"))
    return render_template("audit_alarms.html", form=form, page=page, start=_position(), places=places,
                           zone=queries.office_zone(places), checks=CHECKS), 200 if page is not None else 400


# --- the audit trail ---------------------------------------------------------------


@bp.get("/trail")
@roles(*AUDITORS)
def trail() -> ResponseReturnValue:
    home = office(current_app)
    zone = queries.office_zone(queries.partner_places(home))
    usernames, actions = queries.trail_choices(home)
    form = TrailQuery()
    form.action.choices = _any(sorted(((action, action_name(action)) for action in actions), key=lambda pair: pair[1]))
    page = None
    if form.validate():
        chosen = queries.TrailFilter(form.user.data or None, form.action.data or None, form.target.data or None,
                                     form.first_day.data, form.last_day.data)
        page = _page(lambda after: queries.trail(home, chosen, zone, after))
    else:
        flash(t("filter_invalid"))
    return render_template("audit_trail.html", form=form, page=page, start=_position(), zone=zone,
                           usernames=usernames), 200 if page is not None else 400

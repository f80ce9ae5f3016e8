"""Partners and their terminals; a partner manager sees only their own partner."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from keys.chain import MAX_MONEY
from keys.errors import KiaError

from .. import partners, reports, terminals
from ..current import now, office
from ..errors import NotFound
from ..storage.models import KLA_CLUSTERS, PARTNER_KINDS
from .auth import CHANGERS, EVERYONE, ConfirmForm, actor, roles
from .security import no_store

bp = Blueprint("partners", __name__, url_prefix="/partners")


class PartnerForm(FlaskForm):  # type: ignore[misc]
    name = StringField(validators=[DataRequired(), Length(max=200)])
    kind = SelectField(choices=list(PARTNER_KINDS))
    cluster = SelectField(choices=list(KLA_CLUSTERS))
    region = IntegerField(validators=[DataRequired(), NumberRange(1101, 9799)])
    mou_start = DateField(validators=[DataRequired()])
    mou_end = DateField(validators=[Optional()])


class TerminalForm(FlaskForm):  # type: ignore[misc]
    name = StringField(validators=[DataRequired(), Length(max=200)])


class ServiceForm(FlaskForm):  # type: ignore[misc]
    code = StringField(validators=[DataRequired(), Length(max=64), Regexp(r"^[A-Za-z0-9-]+$")])
    name = StringField(validators=[DataRequired(), Length(max=200)])
    price_0_4 = IntegerField(validators=[Optional(), NumberRange(0, MAX_MONEY)])
    price_5_12 = IntegerField(validators=[Optional(), NumberRange(0, MAX_MONEY)])
    price_13_16 = IntegerField(validators=[Optional(), NumberRange(0, MAX_MONEY)])
    discount_kind = SelectField(choices=["percent", "fixed"])
    discount_value = IntegerField(validators=[InputRequired(), NumberRange(0, MAX_MONEY)])
    daily_limit = IntegerField(default=1, validators=[InputRequired(), NumberRange(1, 100)])
    passback_seconds = IntegerField(default=0, validators=[InputRequired(), NumberRange(0, 86400)])

    def rules(self) -> partners.ServiceRules:
        prices = {
            category: value
            for category, value in (("0-4", self.price_0_4.data), ("5-12", self.price_5_12.data),
                                    ("13-16", self.price_13_16.data))
            if value is not None
        }
        return partners.ServiceRules(self.code.data, self.name.data, prices, self.discount_kind.data,
                                     self.discount_value.data, self.daily_limit.data, self.passback_seconds.data)


@bp.get("/")
@roles(*EVERYONE)
def index() -> ResponseReturnValue:
    if current_user.role == "partner_manager":
        return redirect(url_for("partners.detail", partner_id=current_user.partner_id))
    return render_template("partners.html", rows=partners.list_partners(office(current_app), now()), form=PartnerForm())


@bp.post("/")
@roles(*CHANGERS)
def create() -> ResponseReturnValue:
    form = PartnerForm()
    if form.validate_on_submit():
        start = form.mou_start.data
        end = form.mou_end.data or partners.default_mou_end(start)
        try:
            partner_id = partners.create_partner(office(current_app), form.name.data, form.kind.data,
                                                 form.cluster.data, form.region.data, start, end, now(),
                                                 by=actor())
        except KiaError as exc:
            form.name.errors.append(str(exc))
        else:
            return redirect(url_for("partners.detail", partner_id=partner_id))
    return render_template("partners.html", rows=partners.list_partners(office(current_app), now()), form=form), 400


@bp.get("/<int:partner_id>")
@roles(*EVERYONE)
def detail(partner_id: int) -> ResponseReturnValue:
    if not current_user.may_see_partner(partner_id):
        abort(403)
    home = office(current_app)
    partner = partners.find_partner(home, partner_id, now())  # an unknown partner is 404 (issuer.app)
    today = partners.local_today(partner.region, now())  # the partner's days, as its figures are kept
    figures = reports.figures(home, "partner", "day", today.replace(day=1), today, partner_id)
    return render_template("partner.html", partner=partner, services=partners.services_of(home, partner_id),
                           terminals=terminals.terminals_of(home, partner_id), figures=figures, form=ConfirmForm(),
                           service_form=ServiceForm(), terminal_form=TerminalForm())


@bp.post("/<int:partner_id>/terminals")
@roles(*CHANGERS)
@no_store
def register_terminal(partner_id: int) -> ResponseReturnValue:
    """Register a terminal; its one-time enrolment code is shown on this answer only."""
    form = TerminalForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        registration = terminals.register_terminal(office(current_app), partner_id, form.name.data, now(),
                                                   by=actor())
    except NotFound:
        abort(404)
    return render_template("enrolment.html", registration=registration, partner_id=partner_id,
                           expires=dt.datetime.fromtimestamp(registration.expires_at, dt.UTC))


@bp.post("/<int:partner_id>/services")
@roles(*CHANGERS)
def set_service(partner_id: int) -> ResponseReturnValue:
    form = ServiceForm()
    if not form.validate_on_submit():
        flash("; ".join(f"{name}: {', '.join(errors)}" for name, errors in form.errors.items()))
        return redirect(url_for("partners.detail", partner_id=partner_id))
    try:
        partners.set_service(office(current_app), partner_id, form.rules(), now(), by=actor())
    except NotFound:
        abort(404)
    except KiaError as exc:
        flash(str(exc))
    return redirect(url_for("partners.detail", partner_id=partner_id))


@bp.post("/<int:partner_id>/terminals/<terminal_id>/<any(suspend, activate):action>")
@roles(*CHANGERS)
def terminal_state(partner_id: int, terminal_id: str, action: str) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        terminals.set_terminal_state(office(current_app), terminal_id, "suspended" if action == "suspend" else "active",
                                     now(), by=actor())
    except KiaError as exc:
        flash(str(exc))
    return redirect(url_for("partners.detail", partner_id=partner_id))

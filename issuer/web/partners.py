"""Partners and their terminals; a partner manager sees only their own partner.

A partner's agreements (MoU) are shown by the include ``_agreements.html``
and renewed or amended through issuer/web/agreements.py.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from keys.chain import MAX_MONEY
from keys.errors import KiaError

from .. import agreements, partners, reports, terminals
from ..agreements import Owner
from ..current import now, office
from ..errors import IssuerError, MouNotInForce, NotFound, PartnerExists
from ..storage.models import KLA_CLUSTERS, PARTNER_KINDS
from .agreements import FIELD_WORDS, DetailsForm, allow_document_upload, explain
from .auth import CHANGERS, EVERYONE, ConfirmForm, actor, roles
from .error_page import said
from .i18n import t
from .security import no_store

bp = Blueprint("partners", __name__, url_prefix="/partners")
allow_document_upload(bp, "partners.create")
OFFLINE_AFTER = 86400  # an active terminal silent for longer than a day is shown as offline


class PartnerForm(DetailsForm):
    """A new partner and its first agreement: period, number, contact and the signed PDF."""

    field_words = FIELD_WORDS | {"name": "ptn_name", "kind": "kind", "cluster": "cluster", "region": "ptn_region_code",
                                 "mou_start": "mou_starts_on", "mou_end": "mou_ends_on"}

    name = StringField(validators=[DataRequired(), Length(max=200)])
    kind = SelectField(choices=list(PARTNER_KINDS))
    cluster = SelectField(choices=list(KLA_CLUSTERS))
    region = IntegerField(validators=[DataRequired(), NumberRange(1101, 9799)])
    mou_start = DateField(validators=[DataRequired()])
    mou_end = DateField(validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [(kind, t(f"kind_{kind}")) for kind in PARTNER_KINDS]
        self.cluster.choices = [(cluster, t(f"cluster_{cluster}")) for cluster in KLA_CLUSTERS]


class TerminalForm(FlaskForm):  # type: ignore[misc]
    name = StringField(validators=[DataRequired(), Length(max=200)])
    mou_override = BooleanField()
    override_reason = StringField(validators=[Optional(), Length(max=terminals.MAX_OVERRIDE_REASON)])


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.discount_kind.choices = [("percent", t("ptn_percent")), ("fixed", t("ptn_fixed"))]

    def rules(self) -> partners.ServiceRules:
        prices = {
            category: value
            for category, value in (("0-4", self.price_0_4.data), ("5-12", self.price_5_12.data),
                                    ("13-16", self.price_13_16.data))
            if value is not None
        }
        return partners.ServiceRules(self.code.data, self.name.data, prices, self.discount_kind.data,
                                     self.discount_value.data, self.daily_limit.data, self.passback_seconds.data)


class OtherRegionsForm(FlaskForm):  # type: ignore[misc]
    """Which other regions' cards the partner honours: none, all, or the codes listed."""

    choice = RadioField(choices=list(partners.OTHER_REGIONS), default="none")
    codes = StringField(validators=[Optional(), Length(max=600), Regexp(r"^[0-9 ,]*$")])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choice.choices = [(choice, t(f"ptn_other_regions_{choice}")) for choice in partners.OTHER_REGIONS]

    def chosen(self) -> partners.OtherRegions:
        codes = tuple(int(code) for code in self.codes.data.replace(",", " ").split()) if self.codes.data else ()
        return partners.OtherRegions(self.choice.data, codes if self.choice.data == "listed" else ())


def _list_page(form: PartnerForm, existing: int | None = None) -> str:
    rows = partners.list_partners(office(current_app), now())
    warned = [row for row in rows if row.mou_state in ("expired", "ending_soon")]
    return render_template("partners.html", rows=rows, form=form, warned=warned, existing=existing,
                           warning_days=agreements.MOU_WARNING_DAYS)


@bp.get("/")
@roles(*EVERYONE)
def index() -> ResponseReturnValue:
    if current_user.role == "partner_manager":
        return redirect(url_for("partners.detail", partner_id=current_user.partner_id))
    return _list_page(PartnerForm())


@bp.post("/")
@roles(*CHANGERS)
def create() -> ResponseReturnValue:
    """Add a partner with its first agreement; one already known in the region is pointed to, never doubled."""
    form, existing = PartnerForm(), None
    if not form.validate_on_submit():
        form.name.errors.append(form.fields_to_check())
        return _list_page(form), 400
    start = form.mou_start.data
    end = form.mou_end.data or partners.default_mou_end(start)
    try:
        partner_id = partners.create_partner(office(current_app), form.name.data, form.kind.data,
                                             form.cluster.data, form.region.data, start, end, now(),
                                             details=form.details(), by=actor())
    except PartnerExists as exc:
        existing = exc.partner_id  # the page names it and links to it: renew there
    except IssuerError as exc:
        form.name.errors.append(explain(exc))
    else:
        return redirect(url_for("partners.detail", partner_id=partner_id))
    return _list_page(form, existing), 409 if existing else 400


@bp.get("/<int:partner_id>")
@roles(*EVERYONE)
def detail(partner_id: int) -> ResponseReturnValue:
    if not current_user.may_see_partner(partner_id):
        abort(403)
    return _detail_page(partner_id, ServiceForm())


def _detail_page(partner_id: int, service_form: ServiceForm, regions_form: OtherRegionsForm | None = None) -> str:
    """The partner's page, with ``service_form`` and ``regions_form`` as filled (a refused one keeps what the
    officer typed)."""
    home = office(current_app)
    partner = partners.find_partner(home, partner_id, now())  # an unknown partner is 404 (issuer.app)
    if regions_form is None:
        held = partner.other_regions
        regions_form = OtherRegionsForm(formdata=None, choice=held.choice, codes=" ".join(map(str, held.codes)))
    today = partners.local_today(partner.region, now())  # the partner's days, as its figures are kept
    figures = reports.figures(home, "partner", "day", today.replace(day=1), today, partner_id)
    owner = Owner("partner", partner_id)
    return render_template("partner.html", partner=partner, services=partners.services_of(home, partner_id),
                           terminals=terminals.terminals_of(home, partner_id), figures=figures,
                           form=ConfirmForm(formdata=None), service_form=service_form,
                           terminal_form=TerminalForm(formdata=None), owner=owner,  # not filled from a service's post
                           regions_form=regions_form,
                           agreements=agreements.agreements_of(home, owner, now()), now=now(),
                           offline_after=OFFLINE_AFTER, max_document_mb=agreements.MAX_DOCUMENT_BYTES // 2**20)


@bp.post("/<int:partner_id>/terminals")
@roles(*CHANGERS)
@no_store
def register_terminal(partner_id: int) -> ResponseReturnValue:
    """Register a terminal; its one-time enrolment code is shown on this answer only.

    A partner whose MoU is not in force today gets one only with the
    exception ticked and its reason given (audited).
    """
    form = TerminalForm()
    if not form.validate_on_submit():
        abort(400)
    override = form.override_reason.data if form.mou_override.data else None
    try:
        registration = terminals.register_terminal(office(current_app), partner_id, form.name.data, now(),
                                                   by=actor(), mou_override=override)
    except NotFound:
        abort(404)
    except MouNotInForce:
        flash(t("mou_override_needed"))
        return redirect(url_for("partners.detail", partner_id=partner_id))
    except KiaError as exc:  # an override without its reason
        flash(t("mou_override_needed") if override is not None else said(exc))
        return redirect(url_for("partners.detail", partner_id=partner_id))
    return render_template("enrolment.html", registration=registration, partner_id=partner_id)


SERVICE_FIELD_WORDS = {"code": "ptn_service_code", "name": "ptn_service_name", "price_0_4": "ptn_price_0_4",
                       "price_5_12": "ptn_price_5_12", "price_13_16": "ptn_price_13_16",
                       "discount_kind": "ptn_discount_kind", "discount_value": "ptn_discount_value",
                       "daily_limit": "ptn_limit_per_day", "passback_seconds": "ptn_passback_seconds"}


@bp.post("/<int:partner_id>/services")
@roles(*CHANGERS)
def set_service(partner_id: int) -> ResponseReturnValue:
    form = ServiceForm()
    if not form.validate_on_submit():
        flash(t("ptn_fields_to_check", fields=", ".join(t(SERVICE_FIELD_WORDS.get(name, "field_csrf_token"))
                                                        for name in form.errors)))
        return _detail_page(partner_id, form), 400
    try:
        partners.set_service(office(current_app), partner_id, form.rules(), now(), by=actor())
    except NotFound:
        abort(404)
    except partners.RuleInvalid as exc:
        flash(t(f"ptn_rule_{exc.rule}"))
        return _detail_page(partner_id, form), 400
    flash(t("ptn_service_saved", code=form.code.data))
    return redirect(url_for("partners.detail", partner_id=partner_id))


@bp.post("/<int:partner_id>/regions")
@roles(*CHANGERS)
def set_other_regions(partner_id: int) -> ResponseReturnValue:
    form = OtherRegionsForm()
    if not form.validate_on_submit():
        wrong = "choice" if "choice" in form.errors else "code" if "codes" in form.errors else None
        flash(t(f"ptn_other_regions_rule_{wrong}") if wrong else t("ptn_fields_to_check", fields=t("field_csrf_token")))
        return _detail_page(partner_id, ServiceForm(formdata=None), form), 400
    try:
        partners.set_other_regions(office(current_app), partner_id, form.chosen(), now(), by=actor())
    except NotFound:
        abort(404)
    except partners.OtherRegionsInvalid as exc:
        flash(t(f"ptn_other_regions_rule_{exc.rule}"))
        return _detail_page(partner_id, ServiceForm(formdata=None), form), 400
    flash(t("ptn_other_regions_saved"))
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
        flash(said(exc))
    return redirect(url_for("partners.detail", partner_id=partner_id))

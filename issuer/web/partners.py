"""Partners and their terminals; a partner manager sees only their own partner."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from keys.errors import KiaError

from .. import partners, reports
from ..app import office
from ..models import Partner, PartnerService, Terminal
from .auth import CHANGERS, EVERYONE, ConfirmForm, audit, now, roles

bp = Blueprint("partners", __name__, url_prefix="/partners")
MOU_WARNING_DAYS = 90


def mou_state(partner: Partner, today: dt.date) -> str:
    if partner.mou_end < today:
        return "expired"
    return "ending_soon" if (partner.mou_end - today).days <= MOU_WARNING_DAYS else "in_force"


@bp.get("/")
@roles(*EVERYONE)
def index() -> ResponseReturnValue:
    if current_user.role == "partner_manager":
        return redirect(url_for("partners.detail", partner_id=current_user.partner_id))
    today = dt.datetime.fromtimestamp(now(), dt.UTC).date()
    with office(current_app).transaction() as session:
        rows = [(row, mou_state(row, today)) for row in session.scalars(select(Partner).order_by(Partner.mou_end))]
    return render_template("partners.html", rows=rows)


@bp.get("/<int:partner_id>")
@roles(*EVERYONE)
def detail(partner_id: int) -> ResponseReturnValue:
    if not current_user.may_see_partner(partner_id):
        abort(403)
    home = office(current_app)
    today = dt.datetime.fromtimestamp(now(), dt.UTC).date()
    with home.transaction() as session:
        partner = session.get(Partner, partner_id)
        if partner is None:
            abort(404)
        services = [
            partners.service_rules(row)
            for row in session.scalars(
                select(PartnerService).where(PartnerService.partner_id == partner_id).order_by(PartnerService.code)
            )
        ]
        terminals = list(
            session.scalars(select(Terminal).where(Terminal.partner_id == partner_id).order_by(Terminal.id))
        )
        state = mou_state(partner, today)
    figures = reports.figures(home, "partner", "day", today.replace(day=1), today, partner_id)
    return render_template("partner.html", partner=partner, state=state, services=services, terminals=terminals,
                           figures=figures, form=ConfirmForm())


@bp.post("/<int:partner_id>/terminals/<terminal_id>/<any(suspend, activate):action>")
@roles(*CHANGERS)
def terminal_state(partner_id: int, terminal_id: str, action: str) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        partners.set_terminal_state(office(current_app), terminal_id, "suspended" if action == "suspend" else "active")
    except KiaError as exc:
        flash(str(exc))
    else:
        audit(f"terminal_{action}", terminal_id)
    return redirect(url_for("partners.detail", partner_id=partner_id))

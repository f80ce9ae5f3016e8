"""Finding a card by a child's NIK or name, for the officers at the counter (issue 13).

Admins and officers only: they issue, replace and revoke cards, and a parent
at the counter asks for a child's card by NIK or name.  Auditors do not
search children: they audit the office's acts, and every search is in the
audit trail they read (how it searched and how many it found, never the NIK
or name).  The search is a POST form, so the NIK or name never reaches a
URL, a browser's history or an access log; the answer is not cached.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import AnyOf, InputRequired, Length

from .. import card_search
from ..current import now, office
from ..errors import Invalid
from .auth import CHANGERS, actor, roles
from .formatting import office_zone
from .i18n import TEXT, t

bp = Blueprint("search", __name__, url_prefix="/search")


class SearchForm(FlaskForm):  # type: ignore[misc]
    by = StringField(default="nik", validators=[AnyOf(card_search.BY)])  # two radio buttons (search.html)
    text = StringField(validators=[InputRequired(), Length(max=card_search.MAX_NAME_LENGTH)])


def _page(form: SearchForm, found: card_search.Found | None = None, problem: str | None = None,
          status: int = 200) -> ResponseReturnValue:
    zone = office_zone()
    issued = {} if found is None else {
        card.serial: dt.datetime.fromtimestamp(card.issued_at, zone).date() for card in found.cards}
    page = render_template("search.html", form=form, found=found, problem=problem, issued=issued,
                           limit=card_search.MAX_RESULTS, min_length=card_search.MIN_NAME_LENGTH,
                           state_name=state_name)
    return page, status, {"Cache-Control": "no-store"}


@bp.get("/")
@roles(*CHANGERS)
def index() -> ResponseReturnValue:
    return _page(SearchForm(formdata=None))


@bp.post("/")
@roles(*CHANGERS)
def find() -> ResponseReturnValue:
    form = SearchForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            return _page(form, problem=t("sess_form_refused"), status=400)
        if "by" in form.errors:
            return _page(form, problem=t("rep_bad_choice"), status=400)
        return _page(form, problem=t("search_long") if form.text.data else t("search_bad_nik"), status=400)
    try:
        found = card_search.search_cards(office(current_app), form.by.data, form.text.data, now(), by_whom=actor())
    except Invalid:
        return _page(form, problem=_problem(form.by.data, form.text.data), status=400)
    return _page(form, found)


def _problem(by: str, text: str) -> str:
    """What to fix in a refused search, in the page's language (the text itself is never repeated)."""
    if by == "nik":
        return t("search_bad_nik")
    if len(text.strip()) > card_search.MAX_NAME_LENGTH:
        return t("search_long")
    return t("search_short_name", length=card_search.MIN_NAME_LENGTH)


def state_name(state: str) -> str:
    """A card's state in words (``active``: Berlaku)."""
    key = f"search_state_{state}"
    return t(key) if key in TEXT else state

"""People who sign in: admins add them, change their role, disable or enable them, reset passwords.

Auditors read the list; nobody else sees it.  Passwords are never shown,
logged or audited: the audit trail says who changed whom, and how.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Regexp

from keys.errors import KiaError
from keys.times import iso_utc

from .. import institutions, partners, people
from ..current import now, office
from ..errors import NotFound
from ..storage.models import ROLES
from .auth import ConfirmForm, actor, roles
from .error_page import said
from .i18n import t
from .security import no_store

bp = Blueprint("people", __name__, url_prefix="/users")
PASSWORDS_DIFFER = "passwords_differ"  # a key of i18n.TEXT, translated when shown
ADMINS = ("admin",)
READERS = ("admin", "auditor")
_PASSWORD = [InputRequired(), Length(min=people.MIN_PASSWORD_LENGTH, max=people.MAX_PASSWORD_LENGTH)]


class RoleForm(FlaskForm):  # type: ignore[misc]
    role = SelectField(choices=list(ROLES), default="officer")  # never admin by accident
    partner = SelectField(choices=[], validate_choice=True)
    institution = SelectField(choices=[], default="", validate_choice=True)

    def with_partners(self, partners: list[tuple[str, str]],
                      institutions: list[tuple[str, str]] | None = None) -> RoleForm:
        self.partner.choices = [("", "—"), *partners]
        self.institution.choices = [("", "—"), *(institutions if institutions is not None else _institutions())]
        return self

    def partner_id(self) -> int | None:
        return int(self.partner.data) if self.partner.data else None

    def institution_id(self) -> int | None:
        return int(self.institution.data) if self.institution.data else None


class UserForm(RoleForm):
    username = StringField(validators=[DataRequired(), Length(min=3, max=64), Regexp(r"^[A-Za-z0-9._-]+$")])
    password = PasswordField(validators=_PASSWORD)
    confirm = PasswordField(validators=[InputRequired(), EqualTo("password", message=PASSWORDS_DIFFER)])


class PasswordForm(FlaskForm):  # type: ignore[misc]
    password = PasswordField(validators=_PASSWORD)
    confirm = PasswordField(validators=[InputRequired(), EqualTo("password", message=PASSWORDS_DIFFER)])


def _partners() -> list[tuple[str, str]]:
    return [(str(partner_id), name) for partner_id, name in partners.partner_names(office(current_app)).items()]


def _institutions() -> list[tuple[str, str]]:
    return [(str(row_id), name) for row_id, name in institutions.institution_names(office(current_app)).items()]


def _page(add: UserForm | None = None, status: int = 200) -> ResponseReturnValue:
    partners = _partners()
    return render_template(
        "users.html",
        accounts=people.accounts(office(current_app)),
        add=add or UserForm().with_partners(partners),
        role_form=RoleForm().with_partners(partners),
        password_form=PasswordForm(),
        form=ConfirmForm(),
        roles=ROLES,
        iso=iso_utc,
    ), status


def _errors(form: FlaskForm) -> str:
    """The form's errors as one line, in the page's language, never echoing a password."""
    return "; ".join(f"{t('field_' + name)}: {t(error) if error == PASSWORDS_DIFFER else error}"
                     for name, errors in form.errors.items() for error in errors)


@bp.get("/")
@roles(*READERS)
@no_store  # the page of password forms
def index() -> ResponseReturnValue:
    return _page()


@bp.post("/")
@roles(*ADMINS)
@no_store  # the page of password forms
def add() -> ResponseReturnValue:
    form = UserForm().with_partners(_partners())
    if not form.validate_on_submit():
        flash(_errors(form))
        return _page(add=form, status=400)
    try:
        added = people.create_user(office(current_app), form.username.data, form.password.data, form.role.data,
                                   form.partner_id(), now(), by=actor(), institution_id=form.institution_id())
    except KiaError as exc:
        flash(said(exc))
        return _page(add=form, status=409)
    flash(t("user_added").format(username=added.username))
    return redirect(url_for("people.index"))


@bp.post("/<int:user_id>/role")
@roles(*ADMINS)
def change_role(user_id: int) -> ResponseReturnValue:
    form = RoleForm().with_partners(_partners())
    if not form.validate_on_submit():
        abort(400)
    return _apply(lambda: people.change_role(office(current_app), user_id, form.role.data, form.partner_id(),
                                             now(), by=actor(), institution_id=form.institution_id()),
                  "role_changed")


@bp.post("/<int:user_id>/<any(disable, enable):action>")
@roles(*ADMINS)
def set_active(user_id: int, action: str) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    return _apply(lambda: people.set_active(office(current_app), user_id, action == "enable", now(), by=actor()),
                  f"user_{action}d")


@bp.post("/<int:user_id>/password")
@roles(*ADMINS)
def reset_password(user_id: int) -> ResponseReturnValue:
    form = PasswordForm()
    if not form.validate_on_submit():
        if "csrf_token" not in form.errors:
            flash(_errors(form))
            return redirect(url_for("people.index"))
        abort(400)
    return _apply(lambda: people.reset_password(office(current_app), user_id, form.password.data, now(),
                                                by=actor()), "password_reset")


def _apply(change: Callable[[], people.Person], done: str) -> ResponseReturnValue:
    """Run a change (audited inside it), then say so; an unknown person is 404, a refused change a message."""
    try:
        changed = change()
    except NotFound:
        abort(404)
    except KiaError as exc:
        flash(said(exc))
    else:
        flash(t(done).format(username=changed.username))
    return redirect(url_for("people.index"))

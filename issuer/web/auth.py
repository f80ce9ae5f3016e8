"""Sign-in, sign-out, and the role checks every page uses."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .. import people
from ..audit import Actor
from ..current import now, office
from . import SignedIn
from .i18n import t

bp = Blueprint("auth", __name__)
View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


class SignInForm(FlaskForm):  # type: ignore[misc]
    username = StringField(validators=[DataRequired(), Length(max=64)])
    password = PasswordField(validators=[DataRequired(), Length(max=200)])


class ConfirmForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something: only its CSRF token."""


def remote() -> str | None:
    return request.remote_addr


def actor() -> Actor:
    """The signed-in person making a change, and from where; the services audit it."""
    return Actor(current_user.username, remote(), current_user.id)


def roles(*allowed: str) -> Callable[[View], View]:
    """Only signed-in people with one of ``allowed`` roles; others get 403."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        @login_required  # type: ignore[untyped-decorator]
        def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


EVERYONE = ("admin", "officer", "partner_manager", "auditor")
OFFICE_STAFF = ("admin", "officer", "auditor")  # read the office's pages
CHANGERS = ("admin", "officer")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = SignInForm()
    if form.validate_on_submit():
        found = people.authenticate_person(office(current_app), form.username.data, form.password.data)
        if found is None:
            tried = Actor(form.username.data.strip().lower(), remote())
            people.record_session_event(office(current_app), tried, "sign_in_failed", None, now())
            flash(t("bad_credentials"))
            return render_template("login.html", form=form), 401
        session.clear()  # a fresh session for the signed-in person
        session.permanent = True
        login_user(SignedIn(**found.__dict__))
        signed_in = Actor(found.username, remote(), found.id)
        people.record_session_event(office(current_app), signed_in, "sign_in", None, now())
        target = request.args.get("next", "")
        local = target.startswith("/") and not target.startswith("//")  # never redirect off this site
        return redirect(target if local else url_for("dashboard.index"))
    return render_template("login.html", form=form)


@bp.post("/logout")
@login_required  # type: ignore[untyped-decorator]
def logout() -> ResponseReturnValue:
    people.record_session_event(office(current_app), actor(), "sign_out", None, now())
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))

"""Sign-in, sign-out, and the role checks every page uses."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .. import people
from ..audit import Actor
from ..current import now, office
from ..errors import AccountLocked, TooManySignIns
from . import SignedIn
from .i18n import t

bp = Blueprint("auth", __name__)
View = TypeVar("View", bound=Callable[..., ResponseReturnValue])
MAX_NEXT_LENGTH = 2000


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


def local_path(target: str | None) -> str | None:
    """``target`` if a browser would take it for a path of this site; None otherwise.

    Browsers drop tabs and newlines inside a URL and read a backslash as a
    slash, so ``next=/%09/evil.example`` and ``next=/%5Cevil.example`` lead off
    the site as ``//evil.example`` does: any control character or backslash, a scheme
    or a host refuses the target.
    """
    if not target or len(target) > MAX_NEXT_LENGTH or not target.startswith("/") or target.startswith("//"):
        return None
    if any(char < " " or char == "\x7f" or char == "\\" for char in target):
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = SignInForm()
    if form.validate_on_submit():
        home = office(current_app)
        try:
            found = people.authenticate_person(home, form.username.data, form.password.data, remote(), now())
        except TooManySignIns as refused:
            return _too_many(form, refused)
        if found is None:
            flash(t("bad_credentials"))
            return render_template("login.html", form=form), 401
        if current_user.is_authenticated:  # signing in again ends the session this browser had
            people.end_session(home, current_user.session_id, now(), by=actor())
        session.clear()  # a fresh session for the signed-in person
        session.permanent = True
        opened = people.start_session(home, found, now(), by=Actor(found.username, remote(), found.id))
        login_user(SignedIn(**opened.__dict__))
        return redirect(local_path(request.args.get("next")) or url_for("dashboard.index"))
    return render_template("login.html", form=form)


def _too_many(form: SignInForm, refused: TooManySignIns) -> ResponseReturnValue:
    """429 with Retry-After, saying whether the account or the address is refused and for how long."""
    minutes = -(-refused.retry_after // 60)
    flash(t("account_locked" if isinstance(refused, AccountLocked) else "address_throttled").format(minutes=minutes))
    return render_template("login.html", form=form), 429, {"Retry-After": str(refused.retry_after)}


@bp.post("/logout")
@login_required  # type: ignore[untyped-decorator]
def logout() -> ResponseReturnValue:
    people.end_session(office(current_app), current_user.session_id, now(), by=actor())
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))

"""Sign-in, sign-out, the role checks every page uses, and forms sent after the session ended.

A form sent after its session ended (the cookie expired, so its CSRF token is
missing, or the office ended the session) answers with the sign-in page, not
an error: the form's fields, except its token and passwords, ride along in
the sign-in form's own body (never in a URL or a cookie: they may be a
child's name or NIK), and after signing in a page shows them with a fresh
token to send again.  Only a form sent from this site's own pages is kept, so
that another site cannot plant a form for a signed-in person to confirm.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .. import people
from ..audit import Actor
from ..current import now, office
from ..errors import AccountLocked, TooManySignIns
from . import SignedIn
from .error_page import error_page
from .i18n import TEXT, t

bp = Blueprint("auth", __name__)
View = TypeVar("View", bound=Callable[..., ResponseReturnValue])
MAX_NEXT_LENGTH = 2000
KEPT_PREFIX = "kept-"  # a kept field's name in the sign-in form
MAX_KEPT_FIELDS = 50
MAX_KEPT_VALUE = 5000  # characters; a longer value (a pasted file?) is left out
NEVER_KEPT = ("csrf_token", "confirm")  # the token is the session's; "confirm" repeats a password


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
    kept = _kept_in_sign_in()
    if form.validate_on_submit():
        home = office(current_app)
        try:
            found = people.authenticate_person(home, form.username.data, form.password.data, remote(), now())
        except TooManySignIns as refused:
            return _too_many(form, refused, kept)
        if found is None:
            flash(t("bad_credentials"))
            return _sign_in_page(form, kept, 401)
        if current_user.is_authenticated:  # signing in again ends the session this browser had
            people.end_session(home, current_user.session_id, now(), by=actor())
        session.clear()  # a fresh session for the signed-in person
        session.permanent = True
        opened = people.start_session(home, found, now(), by=Actor(found.username, remote(), found.id))
        login_user(SignedIn(**opened.__dict__))
        if kept is not None:
            return _resend_page(*kept)
        return redirect(local_path(request.args.get("next")) or url_for("dashboard.index"))
    return _sign_in_page(form, kept)


def _sign_in_page(form: SignInForm, kept: tuple[str, list[tuple[str, str]]] | None, status: int = 200,
                  headers: dict[str, str] | None = None) -> tuple[str, int, dict[str, str]]:
    action, fields = kept if kept is not None else (None, [])
    page = render_template("login.html", form=form, kept_action=action, kept_fields=fields, kept_prefix=KEPT_PREFIX)
    return page, status, {"Cache-Control": "no-store"} | (headers or {})


def _too_many(form: SignInForm, refused: TooManySignIns,
              kept: tuple[str, list[tuple[str, str]]] | None) -> ResponseReturnValue:
    """429 with Retry-After, saying whether the account or the address is refused and for how long."""
    minutes = -(-refused.retry_after // 60)
    flash(t("account_locked" if isinstance(refused, AccountLocked) else "address_throttled").format(minutes=minutes))
    return _sign_in_page(form, kept, 429, {"Retry-After": str(refused.retry_after)})


# --- forms sent after the session ended ------------------------------------------------


def _kept_in_sign_in() -> tuple[str, list[tuple[str, str]]] | None:
    """The form a sign-in carries along (its address and fields), or None."""
    action = local_path(request.form.get("kept_action")) if request.method == "POST" else None
    if action is None:
        return None
    fields = [(name.removeprefix(KEPT_PREFIX), value) for name, value in request.form.items(multi=True)
              if name.startswith(KEPT_PREFIX)]
    return action, _keepable(fields)


def _keepable(fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The fields worth sending again: never a token or a password, nothing huge, not too many."""
    kept = [(name, value) for name, value in fields
            if name not in NEVER_KEPT and "password" not in name.lower() and len(value) <= MAX_KEPT_VALUE
            and len(name) <= 100]
    return kept[:MAX_KEPT_FIELDS]


def _from_this_site() -> bool:
    """Whether the browser says the form came from one of this site's pages (Origin, else Referer)."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    return bool(source) and urlsplit(source).netloc == request.host


def form_after_session_ended() -> ResponseReturnValue:
    """The sign-in page for a form sent without a live session, carrying the form's fields to send again."""
    fields = _keepable(list(request.form.items(multi=True))) if _from_this_site() else []
    referrer = request.headers.get("Referer")
    back = local_path(urlsplit(referrer).path) if referrer and _from_this_site() else None
    if not fields:  # nothing to keep (or a form from elsewhere): the sign-in page, as for any page
        flash(t("session_expired"))
        return redirect(url_for("auth.login", next=back))
    flash(t("sess_form_kept"))
    form = SignInForm(formdata=None)  # not this request's fields: they belong to the form being kept
    page = render_template("login.html", form=form, kept_action=request.path, kept_fields=fields,
                           kept_prefix=KEPT_PREFIX, login_url=url_for("auth.login", next=back))
    return page, 401, {"Cache-Control": "no-store"}


def _resend_page(action: str, fields: list[tuple[str, str]]) -> ResponseReturnValue:
    """After signing in: the kept fields, with this session's token, for the person to send again."""
    # The sign-in form made a token for the session that signing in just replaced: make the new session's.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
    return render_template("resend.html", action=action, fields=fields, label=field_label,
                           back=local_path(request.args.get("next")) or url_for("dashboard.index")), 200, {
        "Cache-Control": "no-store"}


def field_label(name: str) -> str:
    """A form field's name in words, where the pages have them (``birth_date``: Tanggal lahir)."""
    for key in (name, f"field_{name}"):
        if key in TEXT:
            return t(key)
    return name


@bp.app_errorhandler(CSRFError)
def _csrf_refused(error: CSRFError) -> ResponseReturnValue:
    """No session behind the form (it ended): sign in and send again.  A session whose token does not
    match (another tab signed in again, or a forged form): 400, saying to reload."""
    if not current_user.is_authenticated:
        return form_after_session_ended()
    return error_page(400, t("sess_form_refused"))


# --- what every page's navigation needs -------------------------------------------------


def has_page(endpoint: str) -> bool:
    """Whether this service has the page ``endpoint`` (areas are added one by one: a link shows when its page is)."""
    return endpoint in current_app.view_functions


def role_name(role: str) -> str:
    key = f"role_{role}"
    return t(key) if key in TEXT else role


@bp.app_context_processor
def _navigation() -> dict[str, object]:
    return {"has_page": has_page, "role_name": role_name}


@bp.post("/logout")
@login_required  # type: ignore[untyped-decorator]
def logout() -> ResponseReturnValue:
    people.end_session(office(current_app), current_user.session_id, now(), by=actor())
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))

"""The office's web pages: sign-in with roles, dashboard, cards, partners.

Server-rendered, Bahasa Indonesia first (``?lang=en`` for English).  Every
form carries a CSRF token (Flask-WTF); sessions end after
``SESSION_MINUTES`` of use; every change is written to the audit trail.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from pathlib import Path

from flask import Flask, Response, request
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from keys import durable

from ..people import Person, session_person
from .i18n import action_name, alarm_name, language, t

SESSION_MINUTES = 30
SECRET_FILE = "web-secret"  # noqa: S105 (a file name; the key is made at run time)

login_manager = LoginManager()
csrf = CSRFProtect()


class SignedIn(Person):
    """A Person as Flask-Login wants it."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        # The token of a session the office keeps: signing out, a new password or disabling ends it.
        return self.session_id


def secret_key(home: Path) -> str | None:
    """A key kept in the home (0600) so that every worker shares it; None without a home."""
    if not home.is_dir():
        return None
    path = home / SECRET_FILE
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another worker made it first
            durable.write_new(path, secrets.token_hex(32).encode("ascii"), 0o600)
    return path.read_text().strip()


def init_app(app: Flask) -> None:
    from ..current import office
    from . import audit, auth, cards, dashboard, formatting, keys, partners, people, public, security

    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(office(app).path)
    if not app.config.get("SECRET_KEY"):
        # No office yet (health answers 503): sessions would not outlive this process.
        app.logger.warning("no office home at %s; sign-in sessions use a temporary key", office(app).path)
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    # Session cookies travel over HTTPS only; KIA_DEV_INSECURE_COOKIES=true lets the demo and the
    # tests sign in over plain HTTP on loopback, and is never for an office's service.
    app.config["SESSION_COOKIE_SECURE"] = not app.config.get("DEV_INSECURE_COOKIES", False)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=SESSION_MINUTES),
        SESSION_REFRESH_EACH_REQUEST=True,
        WTF_CSRF_TIME_LIMIT=None,  # the session's own expiry bounds the token
    )
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)
    security.init_app(app)
    formatting.init_app(app)
    from ..api import bp as api

    csrf.exempt(api)  # terminals authenticate each request with a signed token, not a cookie

    @login_manager.user_loader  # type: ignore[untyped-decorator]
    def _load(session_id: str) -> SignedIn | None:
        from ..current import now

        found = session_person(office(app), session_id, now())
        return None if found is None else SignedIn(**found.__dict__)

    @login_manager.unauthorized_handler  # type: ignore[untyped-decorator]
    def _unauthorized() -> Response:
        from flask import flash, redirect, url_for

        if request.method == "POST":  # a form sent after its session ended: sign in, and send it again
            return auth.form_after_session_ended()  # type: ignore[return-value]
        flash(t("session_expired"))
        return redirect(url_for("auth.login", next=request.path))  # type: ignore[return-value]

    @app.context_processor
    def _words() -> dict[str, object]:
        return {"t": t, "lang": language(), "alarm_name": alarm_name, "action_name": action_name}

    @app.after_request
    def _remember_language(response: Response) -> Response:
        if request.args.get("lang") in ("id", "en"):
            response.set_cookie("lang", request.args["lang"], samesite="Lax", httponly=True)
        return response

    for module in (auth, dashboard, cards, partners, keys, people, audit, public):
        app.register_blueprint(module.bp)
    from . import reports, search  # the reports pages and the card search (issue 13)

    for module in (reports, search):
        app.register_blueprint(module.bp)
    from . import institutions  # schools' and clinics' batches (issue 13)

    app.register_blueprint(institutions.bp)
    from . import agreements  # cooperation agreements (MoU) of partners and institutions (issue 13)

    app.register_blueprint(agreements.bp)

"""What every answer tells the browser: a strict Content-Security-Policy and its companions.

- ``Content-Security-Policy``: scripts, styles, images and forms only from
  this site (``'self'``), no plug-ins, no ``<base>``, never framed.  No
  template carries an inline script, handler or ``style`` attribute; the one
  inline ``<style>`` allowed is a chart's (pygal puts it inside the SVG),
  and only with this answer's nonce (``style_nonce()``), never with
  ``'unsafe-inline'``.
- ``X-Frame-Options: DENY`` for browsers older than ``frame-ancestors``,
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``.
- ``Cache-Control: no-store`` on the pages a view marks with ``@no_store``:
  those that show a one-time secret (a terminal's enrolment code) or take
  passwords, so that neither the browser's cache nor its history keeps them.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, g
from flask.typing import ResponseReturnValue

View = TypeVar("View", bound=Callable[..., ResponseReturnValue])

_POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'{style_nonce}",
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
_NONCE = "kia_style_nonce"
_NO_STORE = "kia_no_store"


def style_nonce() -> str:
    """This answer's nonce for an inline ``<style>`` that cannot be a file (a chart's); made on first use."""
    if _NONCE not in g:
        setattr(g, _NONCE, secrets.token_urlsafe(18))
    nonce: str = getattr(g, _NONCE)
    return nonce


def content_security_policy() -> str:
    """The policy of the current answer: ``'self'`` only, plus the style nonce if a view used one."""
    nonce = g.get(_NONCE)
    return "; ".join(_POLICY).format(style_nonce=f" 'nonce-{nonce}'" if nonce else "")


def no_store(view: View) -> View:
    """Mark a view whose answer shows a one-time secret or takes a password: nothing may keep a copy."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        setattr(g, _NO_STORE, True)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def init_app(app: Flask) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = content_security_policy()
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if g.get(_NO_STORE):
            response.headers["Cache-Control"] = "no-store"
        return response

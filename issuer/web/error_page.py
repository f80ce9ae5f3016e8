"""The page a person sees when a request fails: a heading in words for its status, then what to do."""

from __future__ import annotations

from flask import render_template

from keys.errors import KiaError

from ..errors import Invalid, IssuerError, NotFound, Refused, Unavailable
from .i18n import TEXT, t

# The families say nothing a person can act on: their message does.
_FAMILIES = (IssuerError, Invalid, NotFound, Refused, Unavailable, KiaError, Exception)


def error_page(status: int, message: str) -> tuple[str, int]:
    """The error page for ``status`` with ``message`` (already in the page's language), and the status."""
    heading = f"err_heading_{status}"
    return render_template("error.html", status=status, heading=heading if heading in TEXT else "err_heading",
                           message=message), status


def said(error: Exception) -> str:
    """``error`` in the page's language: the words for its class or the nearest class above it that has
    some (``exc_<Class>``), else its own message, which says the case exactly (in English)."""
    for kind in type(error).__mro__:
        if kind in _FAMILIES:
            break
        if f"exc_{kind.__name__}" in TEXT:
            return t(f"exc_{kind.__name__}")
    return str(error)

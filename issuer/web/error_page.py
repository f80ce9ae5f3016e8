"""The page a person sees when a request fails: a heading in words for its status, then what to do."""

from __future__ import annotations

from flask import render_template

from .i18n import TEXT


def error_page(status: int, message: str) -> tuple[str, int]:
    """The error page for ``status`` with ``message`` (already in the page's language), and the status."""
    heading = f"err_heading_{status}"
    return render_template("error.html", status=status, heading=heading if heading in TEXT else "err_heading",
                           message=message), status

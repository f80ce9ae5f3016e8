"""The office's service: issuing, revocation, trust lists, and its API.

``create_app`` is the Flask application factory (``gunicorn "issuer:create_app()"``);
it is imported lazily so that the command line does not load Flask.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)

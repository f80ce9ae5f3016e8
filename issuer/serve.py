"""`kia issuer serve`: the service on one machine, under gunicorn.

Production runs the same application with its own configuration:
``gunicorn -c gunicorn.conf.py "issuer:create_app()"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> None:
        self._app_config = dict(config)
        self._options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        # Called in each worker after the fork: no connection crosses it.
        from .app import create_app

        return create_app(self._app_config)


def serve(config: Mapping[str, Any], host: str, port: int, workers: int) -> None:
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "accesslog": "-",
        "timeout": 30,
        "graceful_timeout": 10,
    }
    _Server(config, options).run()

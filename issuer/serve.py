"""`kia issuer serve`: the service on one machine, under gunicorn.

Production runs the same application with its own configuration:
``gunicorn -c gunicorn.conf.py "issuer:create_app()"``.  Both use the hooks
below, so that ``/metrics`` adds up every worker's counts (issuer.metrics):
``on_starting`` gives the workers one folder for their counters before any
of them starts, ``child_exit`` marks a worker's files dead when it exits,
``on_exit`` removes a folder the server made for itself.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's variable (issuer.metrics)
_OWN_DIR = "KIA_METRICS_DIR_MADE_BY_SERVER"  # remembers that on_exit may remove it


def on_starting(server: Any) -> None:
    """Before any worker: a folder for the workers' counters, emptied of an earlier run's.

    An operator's PROMETHEUS_MULTIPROC_DIR is used and emptied (prometheus_client
    asks for that between runs); without one, a private temporary folder.
    """
    configured = os.environ.get(MULTIPROCESS_DIR)
    if configured:
        folder = Path(configured)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
    else:
        folder = Path(tempfile.mkdtemp(prefix="kia-metrics-"))
        os.environ[_OWN_DIR] = str(folder)
    os.environ[MULTIPROCESS_DIR] = str(folder)


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited (recycled, killed, timed out): its live gauges end, its counts stay counted."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    made = os.environ.pop(_OWN_DIR, None)
    if made:
        shutil.rmtree(made, ignore_errors=True)


HOOKS = {"on_starting": on_starting, "child_exit": child_exit, "on_exit": on_exit}


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
        **HOOKS,
    }
    _Server(config, options).run()

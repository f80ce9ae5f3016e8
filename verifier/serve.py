"""``kia verifier serve``: the local app under waitress, with the sync loop beside it.

One process owns the terminal's log.  waitress (a production WSGI server in
pure Python) runs the app on a few threads; the terminal's lock orders the
scans.  The address goes to ``HOME/serve.json`` for readers on the same
machine and to stderr as ``Listening at: URL``.  A watcher takes a trust
list or rules that another process (a hand-run ``kia verifier sync``) put in
the home, within a second.  SIGTERM and SIGINT stop the server, the sync
loop, the watcher and the log cleanly.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

from waitress import create_server

from .app import SERVED_HOSTS, create_app, served_hosts
from .federation import FederationStore
from .federation_fetch import FederationLoop
from .sync import OfficeClient, Sync, SyncLoop
from .terminal import Terminal

log = logging.getLogger("kia.verifier")

# How often the running terminal looks at its home's files: a few stat calls each time.
HOME_WATCH_INTERVAL = 0.25


class HomeWatcher:
    """Takes the newest trust list and rules in the terminal's home soon after they land there."""

    def __init__(self, terminal: Terminal, now: Callable[[], int], interval: float = HOME_WATCH_INTERVAL) -> None:
        self.terminal, self.now, self.interval = terminal, now, interval
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kia-home-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.terminal.reload_if_changed(self.now())
            except OSError as exc:  # a home that cannot be read now may be readable at the next look
                log.warning("cannot look at the terminal's home: %s", exc)


class _Stop(Exception):
    pass


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _now() -> int:
    return int(time.time())


def serve_terminal(terminal: Terminal, host: str, port: int, *, threads: int = 4,
                   sync_interval: float | None = 60.0) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    loop = (SyncLoop(Sync(terminal, OfficeClient(terminal.identity.server)), _now, interval=sync_interval)
            if sync_interval is not None else None)
    watcher = HomeWatcher(terminal, _now)
    # Other regions' lists, when the home is federated (docs/federation.md); the watcher reloads what it fetches.
    federation = FederationLoop(FederationStore(terminal.home), _now) if sync_interval is not None else None
    app = create_app(terminal, sync_loop=loop)
    server = create_server(app, host=host, port=port, threads=threads, ident="kia-verifier")
    # Only now is the port known (0 picks one): answer the terminal's own names with it.
    app.config[SERVED_HOSTS] = served_hosts(server.effective_port, host, str(server.effective_host))
    url = f"http://{server.effective_host}:{server.effective_port}"
    terminal.home.announce(url, _now())
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    watcher.start()
    if loop is not None:
        loop.start()
    if federation is not None:
        federation.start()
    print(f"Listening at: {url}", file=sys.stderr, flush=True)
    try:
        server.run()
    except _Stop:
        log.info("stopping")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        terminal.home.withdraw()
        server.close()
        if loop is not None:
            loop.stop()
        if federation is not None:
            federation.stop()
        watcher.stop()
        terminal.close()

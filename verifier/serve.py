"""``kia verifier serve``: the local app under waitress, with the sync loop beside it.

One process owns the terminal's log.  waitress (a production WSGI server in
pure Python) runs the app on a few threads; the terminal's lock orders the
scans.  The address goes to ``HOME/serve.json`` for readers on the same
machine and to stderr as ``Listening at: URL``.  SIGTERM and SIGINT stop
the server, the sync loop and the log cleanly.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from types import FrameType

from waitress import create_server

from .app import create_app
from .sync import OfficeClient, Sync, SyncLoop
from .terminal import Terminal

log = logging.getLogger("kia.verifier")


class _Stop(Exception):
    pass


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def serve_terminal(terminal: Terminal, host: str, port: int, *, threads: int = 4,
                   sync_interval: float | None = 60.0) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    loop = (SyncLoop(Sync(terminal, OfficeClient(terminal.identity.server)), lambda: int(time.time()),
                     interval=sync_interval) if sync_interval is not None else None)
    app = create_app(terminal, sync_loop=loop)
    server = create_server(app, host=host, port=port, threads=threads, ident="kia-verifier")
    url = f"http://{server.effective_host}:{server.effective_port}"  # type: ignore[union-attr]
    terminal.home.announce(url, int(time.time()))
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    if loop is not None:
        loop.start()
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
        terminal.close()

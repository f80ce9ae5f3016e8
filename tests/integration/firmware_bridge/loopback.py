"""A stand-in for ``kia verifier serve`` on a loopback port: the documented ``POST /api/v1/scan``.

The bridge's tests and bench/bench_gate.py need a verifier behind real HTTP
(``verifier.local.LocalVerifierClient`` is the bridge's only way to the
terminal) while the real ``serve`` is written elsewhere.  This server speaks
the wire form of verifier/local.py and decides with any in-process
``Verifier`` double; it writes HOME/serve.json as ``serve`` does.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
from pathlib import Path
from typing import Any

from verifier.local import MAX_PAYLOAD_CHARS, SERVE_FILE, Verifier, VerifierUnavailable

MAX_BODY = 64 * 1024


class LoopbackVerifier:
    """``with LoopbackVerifier(double, home) as server:`` serves on 127.0.0.1:PORT until the block ends."""

    def __init__(self, verifier: Verifier, home: Path | None = None) -> None:
        self.verifier = verifier
        self.home = home
        self.sources: list[str] = []
        self.connections: set[socket.socket] = set()
        self._scanned = threading.Condition()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="loopback verifier", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LoopbackVerifier:
        self._thread.start()
        if self.home is not None:
            (self.home / SERVE_FILE).write_text(json.dumps({"url": self.url}), encoding="utf-8")
        return self

    def stop(self) -> None:
        """Stop as a process that exits would: the listening socket and every kept-alive connection close."""
        self._server.shutdown()
        self._server.server_close()
        for connection in list(self.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)

    def __enter__(self) -> LoopbackVerifier:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for_scans(self, count: int, timeout: float = 10.0) -> bool:
        with self._scanned:
            return self._scanned.wait_for(lambda: len(self.sources) >= count, timeout)

    def decide(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        payload, source = body.get("payload"), body.get("source")
        if not isinstance(payload, str) or not isinstance(source, str) or len(payload) > MAX_PAYLOAD_CHARS:
            return 400, {"error": "bad_request", "message": "payload and source are strings"}
        try:
            outcome = self.verifier.scan(payload, source)
        except VerifierUnavailable as exc:
            return 503, {"error": "unavailable", "message": str(exc)}
        finally:
            with self._scanned:
                self.sources.append(source)
                self._scanned.notify_all()
        return 200, outcome.to_json()


def _handler_for(server: LoopbackVerifier) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as LocalVerifierClient expects
        disable_nagle_algorithm = True  # headers and body go out without waiting for an ACK

        def setup(self) -> None:
            super().setup()
            server.connections.add(self.connection)

        def finish(self) -> None:
            server.connections.discard(self.connection)
            super().finish()

        def do_POST(self) -> None:  # the name http.server calls
            length = int(self.headers.get("Content-Length") or 0)
            if self.path != "/api/v1/scan" or length > MAX_BODY:
                self._answer(404 if self.path != "/api/v1/scan" else 413, {"error": "refused"})
                return
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                self._answer(400, {"error": "bad_request", "message": "not JSON"})
                return
            self._answer(*server.decide(body if isinstance(body, dict) else {}))

        def _answer(self, status: int, value: dict[str, Any]) -> None:
            data = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler

"""The lines gate boards talk on: a TCP server, or a serial port.

Over TCP the bridge is the server and the boards connect to it (a terminal
has one address to configure in every board; boards come and go, and each
reconnects by itself).  One thread per board connection, so a slow decision
for one gate never stalls the heartbeats of another.  A board that connects
again under the same board id replaces its old connection (a half-open TCP
connection from before a Wi-Fi drop would otherwise linger), and a board
silent for ``silent_after`` heartbeats is disconnected.

Over serial there is no connection: the port is opened, reopened after it
was unplugged, and the session persists as long as the port is open.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
from collections.abc import Callable

import serial

from .. import events
from ..dispatch import Dispatcher
from ..serial_link import Backoff, SerialLink
from .session import GateSession, GateSettings

log = logging.getLogger(__name__)

POLL = 0.1  # seconds between checks for stop and for a quiet line
MAX_BOARDS = 64  # connections beyond this are closed at once


class GateTcpReader:
    """A TCP server for gate boards (``gate:tcp:HOST:PORT``)."""

    def __init__(
        self,
        host: str,
        port: int,
        dispatcher: Dispatcher,
        settings: GateSettings | None = None,
        name: str | None = None,
        latency: Callable[[float], None] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.dispatcher = dispatcher
        self.settings = settings or GateSettings()
        self.name = name or f"gate:tcp:{host}:{port}"
        self.address: tuple[str, int] | None = None  # once listening
        self._latency = latency
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, GateSession] = {}
        self._threads: list[threading.Thread] = []

    def run(self, stop: threading.Event) -> None:
        backoff = Backoff(1.0, 10.0)
        while not stop.is_set():
            try:
                server = socket.create_server((self.host, self.port), backlog=16)
            except OSError as exc:  # the address is taken, or the interface is not up yet
                log.warning("%s: cannot listen on %s:%d (%s); trying again", self.name, self.host, self.port, exc)
                if backoff.wait(stop):
                    return
                continue
            with server:
                self.address = server.getsockname()[:2]
                log.info("%s: listening for gate boards on %s:%d", self.name, *self.address)
                self.dispatcher.events.emit(self.name, events.LISTENING, f"{self.address[0]}:{self.address[1]}")
                self._serve(server, stop)
        self._close_all()

    def _serve(self, server: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            ready, _, _ = select.select([server], [], [], POLL)
            if not ready:
                continue
            try:
                connection, peer = server.accept()
            except OSError as exc:
                log.warning("%s: accept failed: %s", self.name, exc)
                continue
            with self._lock:
                self._threads = [thread for thread in self._threads if thread.is_alive()]
                full = len(self._connections) >= MAX_BOARDS
            if full:
                log.warning("%s: refusing %s:%d: already %d boards", self.name, *peer[:2], MAX_BOARDS)
                connection.close()
                continue
            thread = threading.Thread(target=self._converse, args=(connection, peer, stop),
                                      name=f"{self.name} {peer[0]}:{peer[1]}", daemon=True)
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _converse(self, connection: socket.socket, peer: tuple[str, int], stop: threading.Event) -> None:
        where = f"{peer[0]}:{peer[1]}"
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # an answer is one small frame
        session = GateSession(self.name, self.dispatcher, connection.sendall, self.settings, peer=where,
                              on_hello=self._replace_older, latency=self._latency)
        with self._lock:
            self._connections[connection] = session
        log.info("%s: board connected", session.label)
        self.dispatcher.events.emit(self.name, events.CONNECTED, where)
        why = "stopping"
        try:
            while not stop.is_set():
                ready, _, _ = select.select([connection], [], [], POLL)
                if ready:
                    data = connection.recv(4096)
                    if not data:
                        why = "the board closed the connection"
                        break
                    session.receive(data)
                elif not session.tick():
                    why = "the board went silent"
                    break
        except (OSError, ValueError) as exc:  # ValueError: the socket was closed by _replace_older
            why = f"connection lost ({exc})"
        finally:
            with self._lock:
                self._connections.pop(connection, None)
            with contextlib.suppress(OSError):
                connection.close()
            log.info("%s: disconnected: %s", session.label, why)
            self.dispatcher.events.emit(self.name, events.DISCONNECTED, session.board_id or "")

    def _replace_older(self, session: GateSession) -> None:
        with self._lock:
            older = [conn for conn, other in self._connections.items()
                     if other is not session and other.board_id == session.board_id]
        for connection in older:
            log.info("%s: board %s connected again: closing its old connection", self.name, session.board_id)
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _close_all(self) -> None:
        with self._lock:
            connections, threads = list(self._connections), list(self._threads)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout=5)


class GateSerialReader:
    """A gate board on a serial line (``gate:serial:PATH[:BAUD]``)."""

    def __init__(
        self,
        path: str,
        baudrate: int,
        dispatcher: Dispatcher,
        settings: GateSettings | None = None,
        name: str | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.settings = settings or GateSettings()
        self.name = name or f"gate:serial:{path}"
        self.link = SerialLink(path, baudrate, self.name, dispatcher.events)

    def run(self, stop: threading.Event) -> None:
        self.link.run(stop, self._session_for)

    def _session_for(self, port: serial.Serial) -> _SerialSession:
        def send(frame: bytes) -> None:
            port.write(frame)
            port.flush()

        return _SerialSession(GateSession(self.name, self.dispatcher, send, self.settings))


class _SerialSession:
    def __init__(self, session: GateSession) -> None:
        self.session = session

    def received(self, data: bytes) -> None:
        self.session.receive(data)

    def idle(self) -> None:
        self.session.tick()  # a silent board on a serial line is logged; the port stays open

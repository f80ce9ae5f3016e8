"""The lines gate boards talk on: a TCP server, or a serial port.

Over TCP the bridge is the server and the boards connect to it (a terminal
has one address to configure in every board; boards come and go, and each
reconnects by itself).  One thread per board connection, so a slow decision
for one gate never stalls the heartbeats of another.  A board that connects
again under the same board id replaces its old connection (a half-open TCP
connection from before a Wi-Fi drop would otherwise linger), but only once
it is admitted (protocol v2: it proved its key), and a board silent for
``silent_after`` heartbeats is disconnected.

Slots: MAX_BOARDS admitted boards, and apart from them at most
MAX_PENDING connections not admitted yet, MAX_PENDING_PER_ADDRESS from any
one address, each closed unless admitted within the handshake timeout.  A
stranger flooding the gate network with connections (or with HEARTBEATs,
which end a session that has no HELLO) never takes a board's slot.

Over serial there is no connection: the port is opened, reopened after it
was unplugged, and the session persists as long as the port is open.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence

import serial

from .. import events
from ..dispatch import Dispatcher
from ..serial_link import Backoff, SerialLink
from ..throttle import Throttle
from .keyfile import BoardKeys
from .session import GateSession, GateSettings

log = logging.getLogger(__name__)

POLL = 0.1  # seconds between checks for stop and for a quiet line
MAX_BOARDS = 64  # admitted boards; another one is refused
MAX_PENDING = 64  # connections not admitted yet, from all addresses; more are closed at once
MAX_PENDING_PER_ADDRESS = 4  # ... and from any one address


@dataclasses.dataclass
class _Connection:
    session: GateSession
    address: str  # the peer's IP address: the unit of the pending limit


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
        self._connections: dict[socket.socket, _Connection] = {}
        self._threads: list[threading.Thread] = []
        self._throttle = Throttle()

    def pending_from(self, address: str) -> int:
        """Connections from ``address`` not admitted yet."""
        with self._lock:
            return sum(1 for each in self._connections.values()
                       if each.address == address and not each.session.admitted)

    def admitted(self) -> list[str]:
        """The board ids holding a slot."""
        with self._lock:
            return [each.session.board_id or "" for each in self._connections.values() if each.session.admitted]

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
                warn_if_insecure(self.name, self.settings)
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
            session = GateSession(self.name, self.dispatcher, connection.sendall, self.settings,
                                  peer=f"{peer[0]}:{peer[1]}", on_admitted=self._admit, latency=self._latency)
            with self._lock:  # registered before its thread starts: the next accept counts it
                self._threads = [thread for thread in self._threads if thread.is_alive()]
                waiting = [each.address for each in self._connections.values() if not each.session.admitted]
                refused = (f"already {MAX_PENDING_PER_ADDRESS} connections from it not admitted"
                           if waiting.count(peer[0]) >= MAX_PENDING_PER_ADDRESS else
                           f"already {MAX_PENDING} connections not admitted" if len(waiting) >= MAX_PENDING else "")
                if not refused:
                    self._connections[connection] = _Connection(session, peer[0])
            if refused:
                self._throttle.log(log, logging.WARNING, "refused", "%s: refusing %s:%d: %s", self.name,
                                   *peer[:2], refused)
                connection.close()
                continue
            thread = threading.Thread(target=self._converse, args=(connection, session, stop),
                                      name=f"{self.name} {peer[0]}:{peer[1]}", daemon=True)
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _converse(self, connection: socket.socket, session: GateSession, stop: threading.Event) -> None:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # an answer is one small frame
        since = time.monotonic()
        log.info("%s: board connected", session.label)
        if self.settings.insecure_v1:
            log.warning("%s: gate protocol v1 (insecure): this connection is not authenticated", session.label)
        self.dispatcher.events.emit(self.name, events.CONNECTED, session.peer)
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
                if session.ended is not None:
                    why = session.ended
                    break
                if not session.admitted and time.monotonic() - since > self.settings.handshake_timeout:
                    why = f"not admitted within {self.settings.handshake_timeout:g} s"
                    break
        except (OSError, ValueError) as exc:  # ValueError: the socket was closed by _admit
            why = f"connection lost ({exc})"
        finally:
            with self._lock:
                self._connections.pop(connection, None)
            with contextlib.suppress(OSError):
                connection.close()
            log.info("%s: disconnected: %s", session.label, why)
            self.dispatcher.events.emit(self.name, events.DISCONNECTED, session.board_id or "")

    def _admit(self, session: GateSession) -> bool:
        """Give ``session`` (already marked admitted) a slot, closing older connections under its board id."""
        with self._lock:
            others = [(conn, each.session) for conn, each in self._connections.items()
                      if each.session is not session and each.session.admitted]
            older = [conn for conn, other in others if other.board_id == session.board_id]
            if len(others) - len(older) >= MAX_BOARDS:
                log.warning("%s: refusing board %s: already %d boards", self.name, session.board_id, MAX_BOARDS)
                return False
        for connection in older:
            log.info("%s: board %s connected again: closing its old connection", self.name, session.board_id)
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        return True

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
        warn_if_insecure(self.name, self.settings)
        self.link.run(stop, self._session_for)

    def _session_for(self, port: serial.Serial) -> _SerialSession:
        def send(frame: bytes) -> None:
            port.write(frame)
            port.flush()

        return _SerialSession(lambda: GateSession(self.name, self.dispatcher, send, self.settings))


class _SerialSession:
    """A serial line has no connection to close: a session that ended is replaced by a fresh one."""

    def __init__(self, new_session: Callable[[], GateSession]) -> None:
        self._new_session = new_session
        self.session = new_session()

    def received(self, data: bytes) -> None:
        self.session.receive(data)
        if self.session.ended is not None:
            log.info("%s: session ended (%s); waiting for a HELLO", self.session.label, self.session.ended)
            self.session = self._new_session()

    def idle(self) -> None:
        self.session.tick()  # a silent board on a serial line is logged; the port stays open


def secure_gate_readers(readers: Sequence[object], keys: BoardKeys | None, insecure_v1: bool) -> None:
    """Give every gate reader among ``readers`` the board keys (v2), or v1 if ``insecure_v1``; before they run."""
    for reader in readers:
        if isinstance(reader, GateTcpReader | GateSerialReader):
            reader.settings = dataclasses.replace(reader.settings, keys=keys, insecure_v1=insecure_v1)


def warn_if_insecure(name: str, settings: GateSettings) -> None:
    if settings.insecure_v1:
        log.warning("%s: GATE PROTOCOL V1, INSECURE: boards are not authenticated; anyone on the gate network "
                    "can pose as a board or as this bridge and open a gate. Use protocol v2 (board keys).", name)
    elif not settings.keys:
        log.warning("%s: no board keys: every gate board is refused (kia bridge board-key add BOARD_ID)", name)

"""NFC readers with nfcpy: the card's NDEF record, from any reader nfcpy drives.

``nfc:PATH`` takes nfcpy's device paths: ``usb[:VID[:PID]]``,
``usb:BUS:DEV``, ``tty:PORT:DRIVER`` and ``udp:HOST:PORT`` (nfcpy's simulated
radio, which the tests and ``kia bridge simulate tag`` use).  nfcpy reads the
NDEF message of Type 2 (NTAG213/215/216), Type 3 (FeliCa) and Type 4 tags;
``payload.payload_from_ndef`` finds the card's record in it.

One tap is one scan: after a card is read the reader waits for it to leave
the field (nfcpy's presence check), and a card seen again within
``repeat_window`` seconds of leaving (a flicker at the edge of the field) is
not read again.  A card taken away in the middle of a read is not passed on;
a tag that is empty, not formatted, or holds something other than a KIA
card is logged and ignored.  A reader unplugged is opened again when it is
back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import nfc
import nfc.clf
import nfc.tag

from . import events
from .dispatch import Dispatcher, RepeatFilter
from .errors import BridgeError, NotACard, NoTag
from .payload import payload_from_ndef
from .serial_link import Backoff, reopening

T = TypeVar("T")

log = logging.getLogger(__name__)

DEFAULT_TARGETS = ("106A", "106B", "212F")  # ISO 14443 A and B, FeliCa at 212 kbit/s
REPEAT_WINDOW = 1.0
# nfcpy's tag commands wait as long as a real tag needs (5 ms for a Type 2 READ).  Over
# the UDP driver the "tag" is a process on a loaded host: its answers get this long.
UDP_TIMEOUT_FLOOR = 0.25


class ReaderUnavailable(BridgeError):
    """No NFC reader at this path (unplugged, busy, or no permission)."""


class TagGone(BridgeError):
    """The tag left the field before it was read."""


def open_frontend(path: str) -> nfc.ContactlessFrontend:
    """An opened nfcpy frontend for ``path``; raises ReaderUnavailable."""
    frontend = nfc.ContactlessFrontend()
    try:
        opened = frontend.open(path)
    except Exception as exc:  # EACCES, EBUSY, a malformed path, libusb missing or failing
        raise ReaderUnavailable(f"cannot open the NFC reader {path}: {exc}") from None
    if not opened:
        raise ReaderUnavailable(f"no NFC reader found at {path}")
    if path.startswith("udp"):
        _stretch_timeouts(frontend, UDP_TIMEOUT_FLOOR)
    return frontend


def _stretch_timeouts(frontend: nfc.ContactlessFrontend, floor: float) -> None:
    """Give every tag command at least ``floor`` seconds (this frontend's device only)."""
    device = frontend.device
    exchange = device.send_cmd_recv_rsp

    def send_cmd_recv_rsp(target: Any, data: Any, timeout: float | None) -> Any:
        return exchange(target, data, max(timeout, floor) if timeout else timeout)

    device.send_cmd_recv_rsp = send_cmd_recv_rsp


def read_ndef(tag: nfc.tag.Tag) -> bytes:
    """The NDEF message on ``tag``; tries twice.  Raises TagGone, or NotACard for a tag without NDEF."""
    for _attempt in range(2):
        try:
            found = tag.ndef
            if found is not None:
                return bytes(found.octets)
        except (nfc.tag.TagCommandError, nfc.clf.CommunicationError) as exc:
            log.debug("NFC read failed: %s", exc)
        if not tag.is_present:
            raise TagGone("the card was taken away during the read")
    raise NotACard("the tag holds no NDEF message (not formatted for NDEF)")


def read_once(path: str, timeout: float, targets: tuple[str, ...] = DEFAULT_TARGETS) -> tuple[str, str]:
    """Wait up to ``timeout`` seconds for one tag; its label and card payload.

    Raises ReaderUnavailable, NoTag, TagGone or NotACard.
    """
    return with_one_tag(path, timeout, targets, lambda tag: (tag_label(tag), payload_from_ndef(read_ndef(tag))),
                        missing=f"no tag was presented within {timeout:g} s")


def with_one_tag(path: str, timeout: float, targets: tuple[str, ...], work: Callable[[nfc.tag.Tag], T], *,
                 missing: str) -> T:
    """Open the reader at ``path``, run ``work`` on the first tag presented, close the reader.

    ``work``'s BridgeError is raised here, after the reader is closed; no tag
    within ``timeout`` seconds raises NoTag(``missing``).
    """
    frontend = open_frontend(path)
    outcome: list[T | BridgeError] = []

    def on_connect(tag: nfc.tag.Tag) -> bool:
        try:
            outcome.append(work(tag))
        except BridgeError as exc:
            outcome.append(exc)
        return False  # done with this tag: do not wait for it to leave

    deadline = time.monotonic() + timeout
    try:
        frontend.connect(rdwr={"targets": list(targets), "on-connect": on_connect, "iterations": 1},
                         terminate=lambda: bool(outcome) or time.monotonic() > deadline)
    finally:
        frontend.close()
    if not outcome:
        raise NoTag(missing)
    result = outcome[0]
    if isinstance(result, BridgeError):
        raise result
    return result


def tag_label(tag: nfc.tag.Tag) -> str:
    """What the log may say about a tag: its product and identifier (never its content)."""
    return f"{tag.product} {bytes(tag.identifier).hex().upper()}"


class NfcReader:
    def __init__(
        self,
        path: str,
        dispatcher: Dispatcher,
        targets: tuple[str, ...] = DEFAULT_TARGETS,
        repeat_window: float = REPEAT_WINDOW,
        name: str | None = None,
    ) -> None:
        self.path, self.dispatcher, self.targets = path, dispatcher, targets
        self.name = name or f"nfc:{path}"
        self.repeats = RepeatFilter(repeat_window)
        self._reported: bytes | None = None

    def run(self, stop: threading.Event) -> None:
        def complain(exc: BaseException) -> None:
            log.warning("%s: %s; trying again until it is back", self.name, exc)

        for frontend in reopening(stop, lambda: open_frontend(self.path), (ReaderUnavailable,), complain,
                                  Backoff(0.5, 10.0)):
            log.info("%s: reader open (%s)", self.name, frontend.device)
            self.dispatcher.events.emit(self.name, events.CONNECTED, self.path)
            try:
                self._poll(frontend, stop)
            except Exception as exc:  # nfcpy raises more than IOError when a device or tag misbehaves
                log.warning("%s: reader failed (%s: %s); opening it again", self.name, type(exc).__name__, exc)
            finally:
                frontend.close()
                self.dispatcher.events.emit(self.name, events.DISCONNECTED, self.path)
        self.dispatcher.events.emit(self.name, events.STOPPED)

    def _poll(self, frontend: nfc.ContactlessFrontend, stop: threading.Event) -> None:
        options = {
            "targets": list(self.targets),
            "on-connect": self._on_connect,
            "on-release": self._on_release,
            "iterations": 1,
            "interval": 0.1,
        }
        while not stop.is_set():
            if frontend.connect(rdwr=options, terminate=stop.is_set) is False:  # nfcpy's IOError
                raise ReaderUnavailable("the reader stopped answering")

    def _on_connect(self, tag: nfc.tag.Tag) -> bool:
        """Read one tap.  True: nfcpy then waits until the tag has left the field."""
        identifier = bytes(tag.identifier)
        label = tag_label(tag)
        self._reported = None
        if self.repeats.recent(identifier.hex()):
            log.debug("%s: %s seen again at once: not read again", self.name, label)
            self.dispatcher.events.emit(self.name, events.REPEATED)
            return True
        try:
            payload = payload_from_ndef(read_ndef(tag))
        except TagGone as exc:
            self.dispatcher.ignore(self.name, f"{label}: {exc}")
            return True
        except NotACard as exc:
            self.dispatcher.ignore(self.name, f"{label}: {exc}")
            return True
        self._reported = identifier
        self.dispatcher.submit(payload, "nfc", self.name, f"{self.name} {label}")
        return True

    def _on_release(self, tag: nfc.tag.Tag) -> bool:
        if self._reported == bytes(tag.identifier):
            self.repeats.saw(self._reported.hex())  # the window starts when the card leaves
        self.dispatcher.events.emit(self.name, events.LEFT, tag_label(tag))
        return True

"""``--reader SPEC``: which reader, where, and its options.

Grammar (docs/readers.md)::

    SPEC    := KIND ":" WHERE { "," NAME "=" VALUE }
    nfc:PATH                  nfcpy's device path: usb[:VID[:PID]], usb:BUS:DEV, tty:PORT:DRIVER, udp:HOST:PORT
    wedge:stdin | wedge:PATH  keyboard-wedge text from standard input, a FIFO, a tty or a file
    serial:PATH[:BAUD]        a QR scanner on a serial port (9600 baud unless given)
    camera:DIR                image frames written into a directory
    gate:tcp:HOST:PORT        a TCP server for gate boards (PORT 0: any free port, logged)
    gate:serial:PATH[:BAUD]   a gate board on a serial line (115200 baud unless given)

Options: ``repeat=SECONDS`` (the same card again within this time is one
scan) for nfc, wedge, serial and camera, ``targets=106A+106B+212F`` for nfc,
``poll=SECONDS`` for camera, ``pulse=MS`` and ``heartbeat=MS`` for gate.  A trailing
``:DIGITS`` of a serial path is its baud rate; a path with a comma cannot be
named (use a symlink).
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from .dispatch import Dispatcher
from .errors import ReaderSpecError

KINDS = ("nfc", "wedge", "serial", "camera", "gate")
_BAUD = re.compile(r"^(?P<path>.+?)(?::(?P<baud>\d+))?$")
_NFC_TARGET = re.compile(r"^(106A|106B|212F|424F)$")


class Reader(Protocol):
    name: str

    def run(self, stop: threading.Event) -> None: ...


@dataclasses.dataclass(frozen=True)
class ReaderSpec:
    kind: str
    where: str  # the part after "KIND:", without options
    options: Mapping[str, str]

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.where}"


def parse_spec(text: str) -> ReaderSpec:
    """Split a SPEC into kind, address and options; raises ReaderSpecError."""
    kind, colon, rest = text.partition(":")
    if not colon or kind not in KINDS:
        raise ReaderSpecError(f"{text!r}: a reader is one of {', '.join(k + ':...' for k in KINDS)}")
    where, *pairs = rest.split(",")
    if not where:
        raise ReaderSpecError(f"{text!r}: say where the {kind} reader is")
    options: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name or not value:
            raise ReaderSpecError(f"{text!r}: options are NAME=VALUE, not {pair!r}")
        options[name] = value
    allowed = _OPTIONS[kind]
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ReaderSpecError(f"{text!r}: unknown option {unknown[0]!r} (a {kind} reader takes {sorted(allowed)})")
    return ReaderSpec(kind, where, options)


def build_reader(spec: ReaderSpec, dispatcher: Dispatcher) -> Reader:
    """The reader a SPEC names, ready to run; raises ReaderSpecError."""
    return _BUILDERS[spec.kind](spec, dispatcher)


def reader_for(text: str, dispatcher: Dispatcher) -> Reader:
    return build_reader(parse_spec(text), dispatcher)


# --- per kind ------------------------------------------------------------------------

_OPTIONS = {
    "nfc": {"repeat", "targets"},
    "wedge": {"repeat"},
    "serial": {"repeat"},
    "camera": {"repeat", "poll"},
    "gate": {"pulse", "heartbeat"},  # a board's resent scans are recognised by SEQ, not by time
}


def _number(spec: ReaderSpec, name: str, default: float, low: float, high: float) -> float:
    text = spec.options.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ReaderSpecError(f"{spec.name}: {name}={text!r} is not a number") from None
    if not low <= value <= high:
        raise ReaderSpecError(f"{spec.name}: {name} must be between {low:g} and {high:g}, not {text}")
    return value


def _path_and_baud(spec: ReaderSpec, where: str, default: int) -> tuple[str, int]:
    match = _BAUD.match(where)
    assert match is not None  # the pattern matches any non-empty text
    baud = int(match["baud"]) if match["baud"] else default
    if not 50 <= baud <= 4_000_000:
        raise ReaderSpecError(f"{spec.name}: {baud} is not a baud rate")
    return match["path"], baud


def _host_and_port(spec: ReaderSpec, where: str) -> tuple[str, int]:
    host, colon, port = where.rpartition(":")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise ReaderSpecError(f"{spec.name}: a TCP gate is gate:tcp:HOST:PORT, e.g. gate:tcp:0.0.0.0:7070")
    return host.strip("[]"), int(port)


def _nfc(spec: ReaderSpec, dispatcher: Dispatcher) -> Reader:
    from .nfc_reader import DEFAULT_TARGETS, REPEAT_WINDOW, NfcReader

    targets = tuple(spec.options["targets"].split("+")) if "targets" in spec.options else DEFAULT_TARGETS
    if not all(_NFC_TARGET.match(target) for target in targets):
        raise ReaderSpecError(f"{spec.name}: targets are 106A, 106B, 212F or 424F joined by '+'")
    if spec.where.split(":")[0] not in ("usb", "tty", "com", "udp"):
        raise ReaderSpecError(f"{spec.name}: an NFC reader's path starts usb, tty, com or udp (nfcpy's paths)")
    return NfcReader(spec.where, dispatcher, targets, _number(spec, "repeat", REPEAT_WINDOW, 0, 3600), spec.name)


def _wedge(spec: ReaderSpec, dispatcher: Dispatcher) -> Reader:
    from .lines import REPEAT_WINDOW
    from .wedge import WedgeReader

    path = None if spec.where in ("stdin", "-") else spec.where
    return WedgeReader(path, dispatcher, _number(spec, "repeat", REPEAT_WINDOW, 0, 3600), spec.name)


def _serial(spec: ReaderSpec, dispatcher: Dispatcher) -> Reader:
    from .lines import REPEAT_WINDOW
    from .serial_scanner import DEFAULT_BAUD, SerialScannerReader

    path, baud = _path_and_baud(spec, spec.where, DEFAULT_BAUD)
    return SerialScannerReader(path, baud, dispatcher, _number(spec, "repeat", REPEAT_WINDOW, 0, 3600), spec.name)


def _camera(spec: ReaderSpec, dispatcher: Dispatcher) -> Reader:
    from .camera import POLL, REPEAT_WINDOW, CameraReader, DirectoryFrames

    frames = DirectoryFrames(Path(spec.where), _number(spec, "poll", POLL, 0.01, 60))
    return CameraReader(frames, dispatcher, _number(spec, "repeat", REPEAT_WINDOW, 0, 3600), spec.name)


def _gate(spec: ReaderSpec, dispatcher: Dispatcher) -> Reader:
    from .gate.session import GateSettings
    from .gate.transport import GateSerialReader, GateTcpReader

    settings = GateSettings(
        pulse_ms=int(_number(spec, "pulse", 1000, 1, 60_000)),
        heartbeat_ms=int(_number(spec, "heartbeat", 5000, 100, 65_535)),
    )
    line, _, where = spec.where.partition(":")
    if line == "tcp":
        host, port = _host_and_port(spec, where)
        return GateTcpReader(host, port, dispatcher, settings, spec.name)
    if line == "serial" and where:
        path, baud = _path_and_baud(spec, where, 115200)
        return GateSerialReader(path, baud, dispatcher, settings, spec.name)
    raise ReaderSpecError(f"{spec.name}: a gate is gate:tcp:HOST:PORT or gate:serial:PATH[:BAUD]")


_BUILDERS: dict[str, Callable[[ReaderSpec, Dispatcher], Reader]] = {
    "nfc": _nfc,
    "wedge": _wedge,
    "serial": _serial,
    "camera": _camera,
    "gate": _gate,
}

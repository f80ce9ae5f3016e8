"""``--reader SPEC``: every documented form builds the reader it names; anything else is one clear error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from firmware_bridge.camera import CameraReader
from firmware_bridge.dispatch import Dispatcher
from firmware_bridge.errors import ReaderSpecError
from firmware_bridge.gate.transport import GateSerialReader, GateTcpReader
from firmware_bridge.nfc_reader import DEFAULT_TARGETS, NfcReader
from firmware_bridge.serial_scanner import SerialScannerReader
from firmware_bridge.spec import parse_spec, reader_for
from firmware_bridge.wedge import WedgeReader

DOC = Path(__file__).resolve().parents[3] / "docs" / "readers.md"


def test_nfc_specs_take_nfcpy_paths_and_targets(dispatcher: Dispatcher) -> None:
    usb = reader_for("nfc:usb:054c:06c1", dispatcher)
    udp = reader_for("nfc:udp:localhost:4321,targets=106A+212F,repeat=0.5", dispatcher)

    assert isinstance(usb, NfcReader) and usb.path == "usb:054c:06c1" and usb.targets == DEFAULT_TARGETS
    assert isinstance(udp, NfcReader) and udp.path == "udp:localhost:4321" and udp.targets == ("106A", "212F")
    assert udp.repeats.window == 0.5
    assert udp.name == "nfc:udp:localhost:4321"


def test_wedge_specs_read_stdin_or_a_path(dispatcher: Dispatcher) -> None:
    stdin = reader_for("wedge:stdin", dispatcher)
    fifo = reader_for("wedge:/run/kia/scanner.fifo,repeat=3", dispatcher)

    assert isinstance(stdin, WedgeReader) and stdin.path is None
    assert isinstance(fifo, WedgeReader) and fifo.path == "/run/kia/scanner.fifo" and fifo.repeats.window == 3


def test_serial_specs_take_an_optional_baud_rate(dispatcher: Dispatcher) -> None:
    given = reader_for("serial:/dev/ttyACM0:115200", dispatcher)
    default = reader_for("serial:/dev/serial/by-id/usb-Honeywell_Scanner-if00", dispatcher)

    assert isinstance(given, SerialScannerReader)
    assert (given.link.path, given.link.baudrate) == ("/dev/ttyACM0", 115200)
    assert isinstance(default, SerialScannerReader)
    assert (default.link.path, default.link.baudrate) == ("/dev/serial/by-id/usb-Honeywell_Scanner-if00", 9600)


def test_camera_specs_name_a_directory(dispatcher: Dispatcher) -> None:
    camera = reader_for("camera:/var/lib/kia/frames,poll=0.2,repeat=5", dispatcher)

    assert isinstance(camera, CameraReader)
    assert camera.repeats.window == 5


def test_gate_specs_over_tcp_and_serial(dispatcher: Dispatcher) -> None:
    tcp = reader_for("gate:tcp:0.0.0.0:7070,pulse=800,heartbeat=2000", dispatcher)
    ipv6 = reader_for("gate:tcp:[::]:7070", dispatcher)
    line = reader_for("gate:serial:/dev/ttyUSB0", dispatcher)

    assert isinstance(tcp, GateTcpReader) and (tcp.host, tcp.port) == ("0.0.0.0", 7070)
    assert (tcp.settings.pulse_ms, tcp.settings.heartbeat_ms) == (800, 2000)
    assert isinstance(ipv6, GateTcpReader) and ipv6.host == "::"
    assert isinstance(line, GateSerialReader) and (line.link.path, line.link.baudrate) == ("/dev/ttyUSB0", 115200)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("usb", "a reader is one of"),
        ("scanner:/dev/ttyACM0", "a reader is one of"),
        ("wedge:", "say where"),
        ("serial:/dev/ttyACM0,9600", "NAME=VALUE"),
        ("serial:/dev/ttyACM0,baud=9600", "unknown option 'baud'"),
        ("gate:tcp:0.0.0.0:7070,repeat=2", "unknown option 'repeat'"),
        ("camera:/frames,poll=fast", "not a number"),
        ("camera:/frames,poll=0", "between"),
        ("gate:tcp:0.0.0.0:7070,pulse=120000", "between"),
        ("serial:/dev/ttyS0:7", "not a baud rate"),
        ("gate:tcp:7070", "gate:tcp:HOST:PORT"),
        ("gate:tcp:host:99999", "gate:tcp:HOST:PORT"),
        ("gate:ble:aa:bb", "gate:tcp:HOST:PORT or gate:serial"),
        ("nfc:pcsc:0", "usb, tty, com or udp"),
        ("nfc:usb,targets=106A+999Z", "targets are"),
    ],
)
def test_a_bad_spec_says_what_is_wrong(dispatcher: Dispatcher, spec: str, message: str) -> None:
    with pytest.raises(ReaderSpecError, match=re.escape(message)):
        reader_for(spec, dispatcher)


def test_every_spec_in_the_readers_document_is_valid(dispatcher: Dispatcher) -> None:
    commands = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("kia bridge run")]
    specs = [spec for line in commands for spec in re.findall(r"--reader (\S+)", line)]

    assert len(specs) >= 8
    for spec in specs:
        reader_for(spec, dispatcher)
    assert {parse_spec(spec).kind for spec in specs} == {"nfc", "wedge", "serial", "camera", "gate"}

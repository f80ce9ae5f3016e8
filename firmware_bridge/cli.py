"""``kia bridge``: connect readers to the verifier.

``run`` connects readers (NFC, keyboard-wedge and serial scanners, cameras,
gate boards) to the terminal's verifier; ``nfc write`` writes a card's NDEF
record at issuance and ``nfc read`` reads one; ``read-image`` decodes photos;
``simulate tag`` and ``simulate board`` stand in for hardware while
integrating.  Errors are one line on stderr: exit 2 for usage and
configuration, 1 for an operation refused.  Each command imports what it
needs when it runs, so ``kia bridge nfc`` works with the ``nfc`` extra alone.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from .gate.cli import (
    board_key,
    board_key_options,
    gate_board_keys,
    gate_keys_option,
    gate_v1_option,
    simulated_board_key,
)

log = logging.getLogger("firmware_bridge")

LOG_LEVELS = ("debug", "info", "warning", "error")
NDEF_READ_LIMIT = 4096  # more than any tag holds


@click.group()
def bridge() -> None:
    """Readers: turn what a reader sees into card payloads."""


@bridge.command("read-image")
@click.option("--raw", is_flag=True, help="Print only the payload (for piping into 'kia verifier verify -').")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.pass_context
def read_image(ctx: click.Context, raw: bool, images: tuple[Path, ...]) -> None:
    """Decode the QR codes in IMAGES (photos or scans of cards) with zxing-cpp.

    Exits 1 if an image holds no QR code.
    """
    from .image import ImageUnreadable, payloads_from_image  # zxing-cpp and Pillow: the bridge extra

    missing = 0
    for image in images:
        try:
            payloads = payloads_from_image(image)
        except ImageUnreadable as exc:
            raise click.BadParameter(str(exc), param_hint="IMAGES") from None
        missing += not payloads
        if raw:
            for payload in payloads:
                click.echo(payload)
        else:
            click.echo(json.dumps({"image": str(image), "payloads": payloads}))
        if not payloads:
            click.echo(f"no QR code found in {image.name}", err=True)
    if missing:
        ctx.exit(1)


# --- run ---------------------------------------------------------------------------------


@bridge.command()
@click.option("--home", type=click.Path(file_okay=False, path_type=Path),
              help="The terminal's home: its verifier is found through HOME/serve.json, at every scan.")
@click.option("--verifier", "verifier_url", metavar="URL",
              help="Or the verifier's local URL, e.g. http://127.0.0.1:8470.")
@click.option("--reader", "specs", multiple=True, required=True, metavar="SPEC",
              help="A reader, e.g. nfc:usb, wedge:stdin, serial:/dev/ttyACM0:9600, camera:DIR, "
                   "gate:tcp:0.0.0.0:7070, gate:serial:/dev/ttyUSB0:115200 (docs/readers.md). Repeatable.")
@click.option("--verifier-timeout", default=3.0, show_default=True, type=click.FloatRange(0.1, 60),
              help="Seconds to wait for a decision; after that a gate is denied.")
@gate_keys_option
@gate_v1_option
@click.option("--log-level", default="info", show_default=True, type=click.Choice(LOG_LEVELS))
def run(home: Path | None, verifier_url: str | None, specs: tuple[str, ...], verifier_timeout: float,
        gate_keys: Path | None, gate_v1_insecure: bool, log_level: str) -> None:
    """Connect readers to the terminal's verifier until stopped (SIGINT, SIGTERM).

    Each scan goes to the verifier, which decides and logs it; a gate board
    gets ACCEPT or DENY.  When the verifier cannot decide, gates are denied
    ("VERIFIKASI GAGAL"), never opened.  Readers that are unplugged or not
    there yet are waited for.  Gate boards speak protocol v2 with the keys in
    --gate-keys (kia bridge board-key add).
    """
    from verifier.local import LocalVerifierClient, VerifierUnavailable

    from .dispatch import Dispatcher, ServedVerifier
    from .errors import ReaderSpecError
    from .gate.transport import secure_gate_readers
    from .runner import run_readers
    from .spec import build_reader, parse_spec

    if (home is None) == (verifier_url is None):
        raise click.UsageError("give --home DIR or --verifier URL (exactly one)")
    try:
        parsed = [parse_spec(spec) for spec in specs]
    except ReaderSpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--reader") from None
    verifier: ServedVerifier | LocalVerifierClient
    if home is not None:
        verifier = ServedVerifier(home, verifier_timeout)
    else:
        try:
            verifier = LocalVerifierClient(str(verifier_url), verifier_timeout)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--verifier") from None
    dispatcher = Dispatcher(verifier)
    try:
        readers = [build_reader(spec, dispatcher) for spec in parsed]
    except ReaderSpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--reader") from None
    if any(spec.kind == "gate" for spec in parsed):
        secure_gate_readers(readers, gate_board_keys(gate_keys, gate_v1_insecure), gate_v1_insecure)
    configure_logging(log_level)
    if home is not None:
        try:
            LocalVerifierClient.for_home(home)
        except VerifierUnavailable as exc:
            log.warning("%s; until it starts, every scan is refused", exc)
    stop = threading.Event()
    stop_on_signals(stop)
    try:
        run_readers(readers, stop)
    finally:
        verifier.close()


bridge.add_command(board_key)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "debug":  # nfcpy narrates every device search, as an ERROR when no reader is plugged in;
        logging.getLogger("nfc").setLevel(logging.CRITICAL)  # the bridge logs what matters once


def stop_on_signals(stop: threading.Event) -> None:
    """SIGINT and SIGTERM stop the bridge cleanly; a second one stops it at once."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            log.warning("%s again: exiting now", signal.Signals(signum).name)
            raise SystemExit(1)
        log.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


# --- nfc -----------------------------------------------------------------------------------

device_option = click.option("--device", required=True, metavar="PATH",
                             help="nfcpy's path of the reader: usb, usb:054c:06c1, tty:USB0:pn532, udp:HOST:PORT.")
timeout_option = click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(0.1, 3600),
                              help="Seconds to wait for a tag.")


@bridge.group()
def nfc() -> None:
    """NFC tags: write a card's record at issuance, or read one."""


@nfc.command("write")
@device_option
@click.option("--ndef", "ndef_file", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The card's NDEF file (SERIAL.ndef from 'kia issuer card issue').")
@click.option("--lock", is_flag=True, help="Lock the tag afterwards: permanent, nobody can overwrite it (NTAG21x).")
@timeout_option
def nfc_write(device: str, ndef_file: Path, lock: bool, timeout: float) -> None:
    """Write a card's NDEF record to the next tag presented, read it back, optionally lock it.

    Prints JSON: tag, identifier, bytes, capacity, locked.  Refuses a tag that
    is too small, read-only or not NDEF-formatted (exit 1).
    """
    from .errors import TagError
    from .nfc_reader import ReaderUnavailable
    from .nfc_write import write_card

    with ndef_file.open("rb") as handle:
        message = handle.read(NDEF_READ_LIMIT)
    try:
        written = write_card(device, message, lock=lock, timeout=timeout)
    except ReaderUnavailable as exc:
        raise click.UsageError(str(exc)) from None
    except TagError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(dataclasses.asdict(written)))


@nfc.command("read")
@device_option
@timeout_option
@click.option("--raw", is_flag=True, help="Print only the payload (for piping into 'kia verifier verify -').")
def nfc_read(device: str, timeout: float, raw: bool) -> None:
    """Read the card on the next tag presented and print its payload.

    Exits 1 if no tag came or the tag holds no KIA card.
    """
    from .errors import BridgeError
    from .nfc_reader import ReaderUnavailable, read_once

    try:
        tag, payload = read_once(device, timeout)
    except ReaderUnavailable as exc:
        raise click.UsageError(str(exc)) from None
    except BridgeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(payload if raw else json.dumps({"tag": tag, "payload": payload}))


# --- simulate ------------------------------------------------------------------------------


@bridge.group()
def simulate() -> None:
    """Simulated hardware for trying the bridge without readers (integrators, firmware developers)."""


TAG_TYPES = ("ntag213", "ntag215", "ntag216", "type4", "felica")


@simulate.command("tag")
@click.option("--type", "tag_type", default="ntag215", show_default=True, type=click.Choice(TAG_TYPES))
@click.option("--ndef", "ndef_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The NDEF message on the tag (a card's SERIAL.ndef); empty without it.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
def simulate_tag(tag_type: str, ndef_file: Path | None, host: str, port: int) -> None:
    """A tag in the field of nfcpy's UDP driver, until stopped.

    Prints JSON with the reader SPEC that reaches it, e.g.
    {"reader": "nfc:udp:127.0.0.1:40123,targets=106A"}.
    """
    from .tagsim import FelicaSimulator, NtagSimulator, Type4Simulator, UdpTag

    message = ndef_file.read_bytes()[:NDEF_READ_LIMIT] if ndef_file else None
    tag: UdpTag
    if tag_type == "type4":
        tag = Type4Simulator(message, host=host, port=port)
    elif tag_type == "felica":
        tag = FelicaSimulator(message, host=host, port=port)
    else:
        tag = NtagSimulator(tag_type.upper(), message, host=host, port=port)
    targets = "212F" if tag_type == "felica" else "106A"
    stop = threading.Event()
    stop_on_signals(stop)
    with tag:
        click.echo(json.dumps({"device": tag.path, "reader": f"nfc:{tag.path},targets={targets}"}))
        sys.stdout.flush()
        while not stop.wait(1.0):
            pass


@simulate.command("board")
@click.option("--connect", "connect", required=True, metavar="LINE",
              help="tcp:HOST:PORT (the bridge's gate:tcp reader) or serial:PATH[:BAUD].")
@click.option("--board-id", default="SIM-01", show_default=True)
@click.option("--ndef", "ndef_files", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Send this NDEF file as a tag's message (repeatable).")
@click.option("--answer-timeout", default=2.0, show_default=True, type=click.FloatRange(0.1, 60))
@board_key_options
@click.argument("payloads", nargs=-1)
def simulate_board(connect: str, board_id: str, ndef_files: tuple[Path, ...], answer_timeout: float,
                   key_file: Path | None, key_hex: str | None, v1_insecure: bool, payloads: tuple[str, ...]) -> None:
    """A gate board: say HELLO, send each PAYLOAD (QR text; - reads lines from stdin) and --ndef file.

    Speaks protocol v2 with the board's key (--key-file or --key).  Prints one
    JSON line per answer: accepted, the two display lines, the relay pulse.
    """
    from .gate.board import BoardError, BoardSimulator, Link, SerialBoardLink, TcpLink
    from .gate.protocol import ScanKind

    key = simulated_board_key(key_file, key_hex, v1_insecure)

    scans: list[tuple[ScanKind, bytes]] = []
    for payload in payloads:
        lines = sys.stdin.read().split() if payload == "-" else [payload]
        scans += [(ScanKind.TEXT, line.encode("ascii", errors="replace")) for line in lines]
    scans += [(ScanKind.NDEF, path.read_bytes()[:NDEF_READ_LIMIT]) for path in ndef_files]
    line, _, where = connect.partition(":")
    address, _, number = where.rpartition(":")
    link: Link
    try:
        if line == "tcp" and address and number.isdigit():
            link = TcpLink(address.strip("[]"), int(number))
        elif line == "serial" and where:
            link = SerialBoardLink(address, int(number)) if number.isdigit() else SerialBoardLink(where)
        else:
            raise click.BadParameter("tcp:HOST:PORT or serial:PATH[:BAUD]", param_hint="--connect")
    except (OSError, ValueError) as exc:
        raise click.UsageError(f"cannot reach the bridge at {connect}: {exc}") from None
    board = BoardSimulator(link, board_id, answer_timeout=answer_timeout, key=key, insecure_v1=v1_insecure)
    try:
        board.hello()
        for kind, data in scans:
            decision = board.scan(data, kind)
            click.echo(json.dumps({"accepted": decision.accepted, "display": [decision.line1, decision.line2],
                                   "pulse_ms": decision.pulse_ms}))
    except (BoardError, OSError) as exc:
        raise click.ClickException(f"the bridge did not answer: {exc}") from None
    finally:
        board.close()

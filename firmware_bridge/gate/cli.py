"""``kia bridge board-key``: the gate boards' keys (protocol v2), and the gate options of ``run`` and ``simulate``.

A board key is created on the terminal, printed once to be flashed into the
board, and kept in the bridge's key file (mode 0600).  The bridge reads that
file with ``kia bridge run --gate-keys FILE``; without it, gate readers
refuse to start unless told ``--gate-protocol-v1-insecure``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from .keyfile import BoardKeys

KEYS_ENV = "KIA_GATE_KEYS"

keys_option = click.option("--keys", "keys_path", required=True, envvar=KEYS_ENV, metavar="FILE",
                           type=click.Path(dir_okay=False, path_type=Path),
                           help=f"The bridge's board key file (or ${KEYS_ENV}); created mode 0600 if missing.")


@click.group("board-key")
def board_key() -> None:
    """Gate board keys (docs/gate-protocol.md, section 5): one secret key per board."""


@board_key.command("add")
@keys_option
@click.option("--replace", is_flag=True, help="Issue a new key for a board that has one (re-flash the board).")
@click.argument("board_id")
def add(keys_path: Path, replace: bool, board_id: str) -> None:
    """Create BOARD_ID's key and print it once (JSON), to be flashed into the board."""
    from .keyfile import BoardKeyError, add_board_key

    try:
        key = add_board_key(keys_path, board_id, replace=replace)
    except BoardKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps({"board_id": board_id, "key": key.hex(), "keys": str(keys_path)}))
    click.echo(f"Flash this key into board {board_id} now: it is not shown again.", err=True)


@board_key.command("remove")
@keys_option
@click.argument("board_id")
def remove(keys_path: Path, board_id: str) -> None:
    """Remove BOARD_ID's key: the bridge refuses the board from its next HELLO (a lost or stolen board)."""
    from .keyfile import BoardKeyError, remove_board_key

    try:
        remove_board_key(keys_path, board_id)
    except BoardKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps({"removed": board_id}))


@board_key.command("list")
@keys_option
def list_boards(keys_path: Path) -> None:
    """The board ids that have a key (never the keys)."""
    from .keyfile import BoardKeyError, read_board_keys

    try:
        boards = sorted(read_board_keys(keys_path))
    except BoardKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps({"boards": boards}))


# --- options of kia bridge run --------------------------------------------------------------

gate_keys_option = click.option(
    "--gate-keys", type=click.Path(dir_okay=False, path_type=Path), envvar=KEYS_ENV, metavar="FILE",
    help=f"Gate readers: the board key file (kia bridge board-key add; or ${KEYS_ENV}).")
gate_v1_option = click.option(
    "--gate-protocol-v1-insecure", "gate_v1_insecure", is_flag=True,
    help="INSECURE, for old boards only: gate protocol v1, which authenticates nothing (anyone on the gate "
         "network can pose as a board or as this bridge and open a gate).")


def gate_board_keys(gate_keys: Path | None, v1_insecure: bool) -> BoardKeys | None:
    """The board keys gate readers use, or None in v1.  Raises click.UsageError / BadParameter."""
    from .keyfile import BoardKeyError, BoardKeyFile

    if v1_insecure:
        if gate_keys is not None:
            raise click.UsageError("--gate-keys and --gate-protocol-v1-insecure exclude each other")
        return None
    if gate_keys is None:
        raise click.UsageError("gate readers speak protocol v2 and need --gate-keys FILE (create it with "
                               "'kia bridge board-key add BOARD_ID --keys FILE')")
    try:
        return BoardKeyFile(gate_keys)
    except BoardKeyError as exc:
        raise click.BadParameter(str(exc), param_hint="--gate-keys") from None


# --- options of kia bridge simulate board ----------------------------------------------------

_BOARD_KEY_OPTIONS = [
    click.option("--key-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                 help="A file holding the board's key (64 hex digits), as flashed into a real board."),
    click.option("--key", "key_hex", envvar="KIA_GATE_BOARD_KEY", metavar="HEX",
                 help="Or the key itself (or $KIA_GATE_BOARD_KEY; a file keeps it out of the process list)."),
    click.option("--protocol-v1-insecure", "v1_insecure", is_flag=True,
                 help="INSECURE: speak gate protocol v1, without a key, to a bridge run with "
                      "--gate-protocol-v1-insecure."),
]


def board_key_options(command: Callable[..., None]) -> Callable[..., None]:
    """The simulated board's key options: ``key_file``, ``key_hex``, ``v1_insecure``."""
    for option in reversed(_BOARD_KEY_OPTIONS):
        command = option(command)
    return command


def simulated_board_key(key_file: Path | None, key_hex: str | None, v1_insecure: bool) -> bytes | None:
    """The simulated board's key, or None in v1.  Raises click.UsageError / BadParameter."""
    from .keyfile import BoardKeyError, parse_board_key

    given = [name for name, value in (("--key-file", key_file), ("--key", key_hex)) if value is not None]
    if v1_insecure:
        if given:
            raise click.UsageError(f"{given[0]} and --protocol-v1-insecure exclude each other")
        return None
    if len(given) != 1:
        raise click.UsageError("a board speaks protocol v2 with its key: give --key-file FILE or --key HEX "
                               "(exactly one), or --protocol-v1-insecure")
    try:
        return parse_board_key(key_file.read_text(encoding="ascii") if key_file is not None else str(key_hex))
    except (OSError, UnicodeDecodeError, BoardKeyError) as exc:
        raise click.BadParameter(str(exc), param_hint=given[0]) from None

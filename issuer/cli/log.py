"""``kia issuer log``: the transparency log's key, checkpoints, witnesses, proofs and static tiles."""

from __future__ import annotations

import base64
import dataclasses
import sys
from pathlib import Path

import click

from keys.tiles import tiles_for

from .. import transparency, witnessing
from .common import by, dev_keys_option, emit, home_option, now, open_home, unlock


@click.group()
def log() -> None:
    """The office's transparency log: every fact it accepts, in a tree anyone can check."""


@log.command("init")
@home_option
@dev_keys_option
@click.option("--origin", required=True, help="The log's name, e.g. kia.surakarta.go.id/log (never changes).")
def init(home: Path, insecure_dev_keys: bool, origin: str) -> None:
    """Create the log's checkpoint key; print its verifier key for auditors, witnesses and terminals."""
    key = transparency.init_log(open_home(home), unlock(insecure_dev_keys), origin, now(), by=by())
    emit(dataclasses.asdict(key))


@log.command("key")
@home_option
def key(home: Path) -> None:
    """The log's origin and checkpoint verifier key."""
    emit(dataclasses.asdict(transparency.log_key(open_home(home))))


@log.command("publish")
@home_option
@dev_keys_option
@click.option("--timeout", type=click.FloatRange(0.1, 120), default=witnessing.TIMEOUT, show_default=True,
              help="Seconds to wait for each witness.")
def publish(home: Path, insecure_dev_keys: bool, timeout: float) -> None:
    """Place the facts recorded since the last run in the tree, sign a checkpoint and ask each witness to cosign it.

    Run it from cron, e.g. every minute: that is how long a fact waits to be in a checkpoint.

    Exits 1 when a witness did not cosign (the checkpoint is published with the others' cosignatures).
    """
    published = witnessing.publish(open_home(home), unlock(insecure_dev_keys), now(), timeout=timeout)
    emit({"size": published.checkpoint.size, "root": base64.b64encode(published.checkpoint.root).decode(),
          "cosignatures": published.checkpoint.cosignatures, "checkpoint": published.checkpoint.note,
          "witnesses": [dataclasses.asdict(outcome) for outcome in published.outcomes]})
    if not all(outcome.cosigned for outcome in published.outcomes):
        raise SystemExit(1)


@log.command("witness-add")
@home_option
@click.argument("url")
@click.argument("verifier_key")
def witness_add(home: Path, url: str, verifier_key: str) -> None:
    """Ask the witness at URL (its key VERIFIER_KEY, from 'kia audit witness key') to cosign checkpoints."""
    emit(dataclasses.asdict(witnessing.add_witness(open_home(home), url, verifier_key, now(), by=by())))


@log.command("witnesses")
@home_option
def witnesses(home: Path) -> None:
    """The witnesses and the size each last cosigned."""
    emit([dataclasses.asdict(witness) for witness in witnessing.witnesses(open_home(home))])


@log.command("write-tiles")
@home_option
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def write_tiles(home: Path, folder: Path) -> None:
    """Write the latest checkpoint with its tiles and entry bundles to FOLDER, as C2SP tlog-tiles static files.

    Serve FOLDER from any web server (or a copy on a USB stick for an auditor); files
    already there are kept, since tiles never change.
    """
    office = open_home(home)
    latest = transparency.latest_checkpoint(office)
    if latest is None:
        raise click.ClickException("the log has no checkpoint yet: run 'kia issuer log publish'")
    wanted = tiles_for(latest.size)
    written = 0
    with office.transaction() as session, click.progressbar(length=len(wanted), label="Ubin / tiles",
                                                            file=sys.stderr) as bar:
        for tile in wanted:
            bar.update(1)
            path = folder / tile.path
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".tmp")
            partial.write_bytes(transparency.tile(session, tile))
            partial.replace(path)
            written += 1
    checkpoint = folder / "checkpoint"
    checkpoint.with_name("checkpoint.tmp").write_text(latest.note, encoding="utf-8")
    checkpoint.with_name("checkpoint.tmp").replace(checkpoint)
    emit({"size": latest.size, "tiles": len(wanted), "written": written, "folder": str(folder)})

"""``kia issuer batch``: school and clinic batches and their states."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from .. import batches
from .common import by, emit, home_option, now, open_home


@click.group()
def batch() -> None:
    """School and clinic batches: submitted, verified, printed, handed over."""


@batch.command("list")
@home_option
def list_batches(home: Path) -> None:
    """The latest batches with their states."""
    emit([dataclasses.asdict(item) for item in batches.list_batches(open_home(home))])


@batch.command("advance")
@home_option
@click.argument("batch_id", type=int)
@click.argument("state", type=click.Choice(batches.STATES[1:]))
def advance(home: Path, batch_id: int, state: str) -> None:
    """Move BATCH_ID to its next STATE."""
    emit(dataclasses.asdict(batches.advance(open_home(home), batch_id, state, now(), by=by())))

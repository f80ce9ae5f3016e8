"""``kia issuer batch``: school and clinic batches and their states."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from .. import batches
from .common import by, dev_keys_option, emit, home_option, now, open_home, unlock


@click.group()
def batch() -> None:
    """School and clinic batches: submitted, verified, printed, handed over."""


@batch.command("list")
@home_option
@click.option("--institution", "institution_id", type=int, help="Only this school's or clinic's batches.")
def list_batches(home: Path, institution_id: int | None) -> None:
    """The latest batches with their states."""
    emit([dataclasses.asdict(item) for item in batches.list_batches(open_home(home), institution_id=institution_id)])


@batch.command("advance")
@home_option
@click.argument("batch_id", type=int)
@click.argument("state", type=click.Choice(batches.STATES[1:]))
@dev_keys_option
def advance(home: Path, batch_id: int, state: str, insecure_dev_keys: bool) -> None:
    """Move BATCH_ID to its next STATE; verifying signs the cards of the children waiting in it.

    Verifying opens the issuing key (KIA_KEY_PASSPHRASE or KIA_KEY_PASSPHRASE_FILE).
    """
    emit(dataclasses.asdict(batches.advance(open_home(home), batch_id, state, now(), by=by(),
                                            unlock=lambda: unlock(insecure_dev_keys))))

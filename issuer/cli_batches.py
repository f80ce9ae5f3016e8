"""``kia issuer batch``: school and clinic batches and their states."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import batches
from .audit import Actor
from .store import IssuerHome


def register(issuer: click.Group, home_option: Callable[..., Any], home_of: Callable[[Path], IssuerHome],
             emit: Callable[[Any], None], now: Callable[[], int]) -> None:
    @issuer.group()
    def batch() -> None:
        """School and clinic batches: submitted, verified, printed, handed over."""

    @batch.command("list")
    @home_option
    def list_command(home: Path) -> None:
        """The latest batches with their states."""
        emit([dataclasses.asdict(item) for item in batches.list_batches(home_of(home))])

    @batch.command("advance")
    @home_option
    @click.argument("batch_id", type=int)
    @click.argument("state", type=click.Choice(batches.STATES[1:]))
    def advance(home: Path, batch_id: int, state: str) -> None:
        """Move BATCH_ID to its next STATE."""
        emit(dataclasses.asdict(batches.advance(home_of(home), batch_id, state, now(), by=Actor.command_line())))

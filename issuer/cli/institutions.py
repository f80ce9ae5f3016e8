"""``kia issuer institution``: schools and clinics that submit children, and their accounts."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import click

from .. import institutions, people
from ..storage.models import INSTITUTION_KINDS
from .common import by, emit, home_option, now, open_home
from .people import PASSWORD_ENV


@click.group()
def institution() -> None:
    """Schools (Smart Kids) and clinics (Alibaba) that submit batches of children."""


@institution.command("add")
@home_option
@click.option("--name", required=True)
@click.option("--kind", required=True, type=click.Choice(INSTITUTION_KINDS))
@click.option("--region", required=True, type=int, help="The 4-digit regency/city code, e.g. 6311 (Balangan).")
def add(home: Path, name: str, kind: str, region: int) -> None:
    """Add a school or clinic."""
    emit({"id": institutions.create_institution(open_home(home), name, kind, region, now(), by=by())})


@institution.command("list")
@home_option
def list_institutions(home: Path) -> None:
    """Every institution with its batches counted per state."""
    emit([dataclasses.asdict(row) for row in institutions.list_institutions(open_home(home))])


@institution.command("account")
@home_option
@click.argument("institution_id", type=int)
@click.option("--username", required=True)
def account(home: Path, institution_id: int, username: str) -> None:
    """Add an account for INSTITUTION_ID; the password is asked for (or read from KIA_NEW_USER_PASSWORD)."""
    password = os.environ.get(PASSWORD_ENV) or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True, err=True
    )
    added = people.create_user(open_home(home), username, password, "institution", None, now(), by=by(),
                               institution_id=institution_id)
    emit({"username": added.username, "role": added.role, "institution_id": added.institution_id})

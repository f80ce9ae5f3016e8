"""``kia issuer user``: people who sign in to the office's pages."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .. import people
from ..storage.models import ROLES
from .common import by, emit, home_option, now, open_home

PASSWORD_ENV = "KIA_NEW_USER_PASSWORD"  # noqa: S105 (a variable name)


@click.group()
def user() -> None:
    """People who sign in: admin, officer, partner manager, auditor."""


@user.command("add")
@home_option
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--partner", "partner_id", type=int, help="The partner a partner manager manages.")
def add(home: Path, username: str, role: str, partner_id: int | None) -> None:
    """Add a person; the password is asked for (or read from KIA_NEW_USER_PASSWORD)."""
    password = os.environ.get(PASSWORD_ENV) or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True, err=True
    )
    added = people.create_user(open_home(home), username, password, role, partner_id, now(), by=by())
    emit({"username": added.username, "role": added.role, "partner_id": added.partner_id})

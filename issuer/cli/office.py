"""``kia issuer init``, ``serve`` and ``db upgrade``: the office itself."""

from __future__ import annotations

import os
from pathlib import Path

import click

from keys.keystore import ROOT_PASSPHRASE_FILE_ENV, has_root_passphrase

from .. import issuing_keys
from ..errors import Refused
from ..storage import migrate
from ..storage.db import DATABASE_URL_ENV
from .common import by, dev_keys_option, emit, home_option, now, open_home, redacted, unlock


@click.command()
@home_option
@dev_keys_option
def init(home: Path, insecure_dev_keys: bool) -> None:
    """Create a home with a root key and a first issuing key."""
    office = open_home(home)
    keys = issuing_keys.init_home(office, unlock(insecure_dev_keys, root=True), now(), by=by())
    if not insecure_dev_keys and not has_root_passphrase():
        click.echo(f"WARNING: the root key has the issuing keys' passphrase; set {ROOT_PASSPHRASE_FILE_ENV} "
                   "to give it its own (docs/operations.md)", err=True)
    emit({"home": str(home), "database": redacted(office.database_url), "root_kid": keys.root_kid,
          "issuing_kid": keys.issuing_kid})


@click.command()
@home_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="0 picks a free port.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
def serve(home: Path, host: str, port: int, workers: int) -> None:
    """Run the office's service (API, health, metrics) on this machine."""
    from ..serve import serve as run

    open_home(home).require()
    run({"HOME": str(home), "DATABASE_URL": os.environ.get(DATABASE_URL_ENV) or None}, host, port, workers)


@click.group()
def db() -> None:
    """The office's database (SQLite in the home, or KIA_DATABASE_URL)."""


@db.command("upgrade")
@home_option
def db_upgrade(home: Path) -> None:
    """Apply schema migrations; import a first-version home (kia-issuer.json) once."""
    office = open_home(home)
    office.prepare()
    imported = None
    if office.legacy_state_path.is_file():
        if office.database_holds_an_office():
            raise Refused(f"the database already holds an office; {office.legacy_state_path.name} was not imported")
        imported = office.import_legacy_state()
    emit({"database": redacted(office.database_url), "revision": migrate.current_revision(office.database),
          "imported_cards": imported})

"""``kia issuer init``, ``serve`` and ``db upgrade | partitions | prune``: the office itself."""

from __future__ import annotations

import os
from pathlib import Path

import click

from keys.hsm_options import token_address, token_options
from keys.keystore import ROOT_PASSPHRASE_FILE_ENV, has_root_passphrase

from .. import issuing_keys, retention
from ..errors import Refused
from ..storage import migrate
from ..storage.db import DATABASE_URL_ENV
from .common import by, dev_keys_option, emit, home_option, now, open_home, redacted, unlock


@click.command()
@home_option
@dev_keys_option
@click.option("--root-hsm", is_flag=True, help="Make the root key on a PKCS#11 token, not in an encrypted file.")
@click.option("--hsm", "issuing_hsm", is_flag=True,
              help="Make the first issuing key on a PKCS#11 token, not in an encrypted file.")
@token_options
def init(home: Path, insecure_dev_keys: bool, root_hsm: bool, issuing_hsm: bool, pkcs11_module: str | None,
         hsm_token: str | None) -> None:
    """Create a home with a root key and a first issuing key."""
    office = open_home(home)
    root_token = token_address(root_hsm, pkcs11_module, hsm_token)
    issuing_token = token_address(issuing_hsm, pkcs11_module, hsm_token)
    # Keys made on a token need no passphrase: nothing is written encrypted.
    keys = (issuing_keys.KeyUnlock(None) if root_hsm and issuing_hsm and not insecure_dev_keys
            else unlock(insecure_dev_keys, issuing=not issuing_hsm, root=not root_hsm))
    at = now()
    made = issuing_keys.init_home(office, keys, at, by=by(), root_token=root_token, issuing_token=issuing_token)
    retention.make_partitions(office, at)
    if not insecure_dev_keys and not root_hsm and not issuing_hsm and not has_root_passphrase():
        click.echo(f"WARNING: the root key has the issuing keys' passphrase; set {ROOT_PASSPHRASE_FILE_ENV} "
                   "to give it its own (docs/operations.md)", err=True)
    emit({"home": str(home), "database": redacted(office.database_url), "root_kid": made.root_kid,
          "issuing_kid": made.issuing_kid})


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
    """Apply schema migrations, make the months' partitions; import a first-version home (kia-issuer.json) once."""
    office = open_home(home)
    office.prepare()
    imported = None
    if office.legacy_state_path.is_file():
        if office.database_holds_an_office():
            raise Refused(f"the database already holds an office; {office.legacy_state_path.name} was not imported")
        imported = office.import_legacy_state()
    emit({"database": redacted(office.database_url), "revision": migrate.current_revision(office.database),
          "imported_cards": imported, "partitions_made": retention.make_partitions(office, now())})


@db.command("partitions")
@home_option
def db_partitions(home: Path) -> None:
    """Make the monthly partitions of the months around now (PostgreSQL; run daily)."""
    emit({"made": retention.make_partitions(open_home(home), now())})


@db.command("prune")
@home_option
@click.option("--keep-months", type=click.IntRange(retention.MIN_KEEP_MONTHS, None),
              help="Keep this month and the months before it, this many in all.")
@click.option("--before", "before", metavar="YYYY-MM", help="Remove the months before this one.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@click.option("--yes", is_flag=True, help="Do not ask before removing.")
def db_prune(home: Path, keep_months: int | None, before: str | None, dry_run: bool, yes: bool) -> None:
    """Remove the records and card sets of old months under the office's retention rule.

    Revenue figures and unique-card counts of whole days and months stay.
    """
    if (keep_months is None) == (before is None):
        raise click.UsageError("give one of --keep-months and --before")
    office, at = open_home(home), now()
    kept_from = retention.parse_month(before) if before is not None else retention.first_kept(keep_months or 0, at)
    pruned = retention.prune(office, kept_from, at, by(), dry_run=True)
    if not dry_run and pruned.months:
        if not yes:
            click.confirm(f"Remove {pruned.records} records of {len(pruned.months)} months before "
                          f"{retention.month_text(kept_from)}?", abort=True, err=True)
        pruned = retention.prune(office, kept_from, at, by())
    emit({"kept_from": retention.month_text(pruned.kept_from),
          "months": [retention.month_text(month) for month in pruned.months],
          "records": pruned.records, "removed": pruned.done})

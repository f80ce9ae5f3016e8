"""``kia issuer``: the office's commands (DESIGN section 9).

Output is JSON on stdout; progress and warnings go to stderr.  Issuing keys
are opened with the passphrase from KIA_KEY_PASSPHRASE or
KIA_KEY_PASSPHRASE_FILE; the root key with KIA_ROOT_KEY_PASSPHRASE or
KIA_ROOT_KEY_PASSPHRASE_FILE, falling back to the issuing keys' passphrase.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import make_url

from keys.keystore import ROOT_PASSPHRASE_FILE_ENV, has_root_passphrase
from keys.times import iso_utc, iso_utc_or_none, parse_instant

from . import (
    cards,
    cli_batches,
    cli_partners,
    cli_reports,
    cli_trustlists,
    cli_users,
    issuing_keys,
    migrate,
    trust_lists,
)
from .artifacts import CardFiles, write_many
from .audit import Actor
from .children import ChildRequest, RowError, read_batch, validate_child
from .db import DATABASE_URL_ENV
from .errors import Invalid
from .store import CardRecord, IssuerHome

DEV_FLAG = "--insecure-dev-unencrypted-keys"

home_option = click.option(
    "--home",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The office's home folder (state and encrypted keys).",
)
dev_keys_option = click.option(
    DEV_FLAG,
    "insecure_dev_keys",
    is_flag=True,
    help="DANGEROUS, development only: keep private keys unencrypted, no passphrase.",
)


def _home(path: Path) -> IssuerHome:
    """The office at ``path``, on KIA_DATABASE_URL when it is set."""
    return IssuerHome(path, os.environ.get(DATABASE_URL_ENV) or None)


def _unlock(insecure_dev_keys: bool, *, issuing: bool = True, root: bool = False) -> issuing_keys.KeyUnlock:
    """Passphrases for the keys a command opens: ``issuing`` keys, the ``root`` key, or both."""
    if insecure_dev_keys:
        click.echo("WARNING: private keys are NOT encrypted (development flag)", err=True)
        return issuing_keys.KeyUnlock(None, allow_unencrypted_for_development=True)
    return issuing_keys.KeyUnlock.from_env(issuing=issuing, root=root)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _emit(value: Any) -> None:
    """JSON on stdout: indented for a person, compact (and fast) for a pipe."""
    indent = 2 if sys.stdout.isatty() else None
    click.echo(json.dumps(value, indent=indent, ensure_ascii=False))


@click.group()
def issuer() -> None:
    """Office (Disdukcapil): keys, cards, revocation, trust lists."""


@issuer.command()
@home_option
@dev_keys_option
def init(home: Path, insecure_dev_keys: bool) -> None:
    """Create a home with a root key and a first issuing key."""
    office = _home(home)
    keys = issuing_keys.init_home(office, _unlock(insecure_dev_keys, root=True), int(_now().timestamp()),
                             by=Actor.command_line())
    if not insecure_dev_keys and not has_root_passphrase():
        click.echo(f"WARNING: the root key has the issuing keys' passphrase; set {ROOT_PASSPHRASE_FILE_ENV} "
                   "to give it its own (docs/operations.md)", err=True)
    _emit({"home": str(home), "database": _redacted(office.database_url), "root_kid": keys.root_kid,
           "issuing_kid": keys.issuing_kid})


@issuer.group()
def card() -> None:
    """Issue and revoke cards."""


@card.command("issue")
@home_option
@click.option("--birth-date", help="The child's birth date, YYYY-MM-DD.")
@click.option("--region", help="The 4-digit regency/city code, e.g. 3372 (Surakarta).")
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A school's batch: columns birth_date, region; optional name, nik, school, external_id.",
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Where card files go.")
@click.option("--channel", "batch_channel", type=click.Choice(["school", "clinic"]), default="school",
              show_default=True, help="Who sent the --csv batch: a school, or a clinic registering newborns.")
@dev_keys_option
@click.pass_context
def issue(
    ctx: click.Context,
    home: Path,
    birth_date: str | None,
    region: str | None,
    csv_file: Path | None,
    out: Path,
    batch_channel: str,
    insecure_dev_keys: bool,
) -> None:
    """Issue one card, or a batch from --csv; writes QR PNG, QR SVG and NDEF per card.

    A batch reports bad rows by line number and issues the rest; it exits 1
    when any row was refused.
    """
    now = _now()
    if csv_file is not None:
        if birth_date or region:
            raise click.UsageError("give either --csv or --birth-date and --region, not both")
        requests, errors = read_batch(csv_file, now)
    elif birth_date and region:
        checked = validate_child(0, now, birth_date, region)
        if isinstance(checked, RowError):
            raise click.BadParameter(checked.error, param_hint=f"--{checked.field.replace('_', '-')}")
        requests, errors = [checked], []
    else:
        raise click.UsageError("give --birth-date and --region, or --csv FILE")

    channel, source = (batch_channel, csv_file.name) if csv_file is not None else ("counter", None)
    issuance = cards.issue_cards(_home(home), _unlock(insecure_dev_keys), requests, now, channel=channel,
                                   source=source, refused=errors, by=Actor.command_line())
    issued, errors = issuance.cards, issuance.rejected
    files = _write_files(issued, out, show_progress=csv_file is not None)
    printed = [_card_json(item.record, item.request, item_files) for item, item_files in zip(issued, files,
                                                                                             strict=True)]
    if csv_file is None:
        if errors:
            raise Invalid(errors[0].error)
        _emit(printed[0])
        return
    report = _write_report(out, printed, errors)
    _emit(
        {
            "issued": len(printed),
            "rejected": len(errors),
            "report": str(report),
            "batch_id": issuance.batch_id,
            "cards": printed,
            "errors": [dataclasses.asdict(error) for error in errors],
        }
    )
    for error in errors:
        click.echo(f"line {error.line}: {error.error}", err=True)
    if errors:
        ctx.exit(1)


def _write_files(issued: list[cards.IssuedCard], out: Path, *, show_progress: bool) -> list[CardFiles]:
    jobs = [(item.record.serial, item.record.token) for item in issued]
    if not (show_progress and sys.stderr.isatty()):
        return write_many(jobs, out)
    with click.progressbar(length=len(jobs), label="Mencetak kartu / Drawing cards", file=sys.stderr) as bar:
        return write_many(jobs, out, on_progress=bar.update)


def _card_json(record: CardRecord, request: ChildRequest, files: CardFiles) -> dict[str, Any]:
    card: dict[str, Any] = {
        "serial": record.serial,
        "token": record.token,
        "qr_png": str(files.qr_png),
        "qr_svg": str(files.qr_svg),
        "ndef": str(files.ndef),
        "kid": record.kid,
        "expires_at": iso_utc_or_none(record.expires_at),
    }
    if request.line:
        card["line"] = request.line
    if request.external_id:
        card["external_id"] = request.external_id
    return card


def _write_report(out: Path, printed: list[dict[str, Any]], errors: list[RowError]) -> Path:
    """issued.csv for the school: which line got which serial, or why not."""
    report = out / "issued.csv"
    with report.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "external_id", "serial", "status", "error"])
        rows = [(c["line"], c.get("external_id", ""), c["serial"], "issued", "") for c in printed]
        rows += [(e.line, e.external_id or "", "", "rejected", e.error) for e in errors]
        writer.writerows(sorted(rows))
    return report


@card.command("revoke")
@home_option
@click.argument("serial")
@click.option("--reason", required=True, help="Why, on one line (e.g. lost, replaced).")
def revoke(home: Path, serial: str, reason: str) -> None:
    """Revoke a card; the next exported trust list lists it."""
    record = cards.revoke_card(_home(home), serial, reason, int(_now().timestamp()), by=Actor.command_line())
    _emit({"serial": record.serial, "state": record.state, "revoked_at": iso_utc_or_none(record.revoked_at)})


@card.command("mark-expired")
@home_option
@click.option("--at", "at", metavar="ISO-8601", help="Mark as at this time instead of now (with an offset).")
def mark_expired(home: Path, at: str | None) -> None:
    """Mark active cards whose eligibility has ended as expired: a daily job, safe to run again."""
    if at is None:
        now = int(_now().timestamp())
    else:
        try:
            now = parse_instant(at)
        except ValueError:
            raise click.BadParameter("use ISO 8601 with an offset, e.g. 2026-11-22T00:00:00+07:00",
                                     param_hint="--at") from None
    _emit({"expired": cards.mark_expired(_home(home), now, by=Actor.command_line()), "at": iso_utc(now)})


@issuer.group()
def key() -> None:
    """Rotate, retire and revoke issuing keys."""


@key.command("rotate")
@home_option
@dev_keys_option
def key_rotate(home: Path, insecure_dev_keys: bool) -> None:
    """Make a new active issuing key; the old one is retired (it still verifies)."""
    new = issuing_keys.rotate_issuing_key(_home(home), _unlock(insecure_dev_keys), int(_now().timestamp()),
                                     by=Actor.command_line())
    _emit({"kid": new.kid, "state": new.state.value})


def _change_key(change: str) -> click.Command:
    @key.command(change, help=f"{change.capitalize()} the issuing key KID.")
    @click.argument("kid")
    @home_option
    def command(kid: str, home: Path) -> None:
        changed = issuing_keys.change_issuing_key(_home(home), kid, change, int(_now().timestamp()),
                                                  by=Actor.command_line())
        _emit({"kid": changed.kid, "state": changed.state.value})

    return command


_change_key("retire")
_change_key("revoke")


@key.command("list")
@home_option
def key_list(home: Path) -> None:
    """The issuing keys with their states and times."""
    _emit(
        [
            {
                "kid": key.kid,
                "state": key.state.value,
                "created_at": iso_utc_or_none(key.created_at),
                "retired_at": iso_utc_or_none(key.retired_at),
                "revoked_at": iso_utc_or_none(key.revoked_at),
            }
            for key in issuing_keys.list_issuing_keys(_home(home))
        ]
    )


@issuer.group()
def trustlist() -> None:
    """Sign trust lists: export with the root key at hand, or prepare, sign offline, import."""


@trustlist.command("export")
@home_option
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--since", type=click.IntRange(min=1), help="Also write a delta from this earlier sequence.")
@click.option("--valid-days", type=click.IntRange(1, 365), default=30, show_default=True)
@dev_keys_option
def export(home: Path, out: Path, since: int | None, valid_days: int, insecure_dev_keys: bool) -> None:
    """Write trustlist.jws, root.jwk (the trust anchor) and jwks.json."""
    result = trust_lists.export_trust_list(
        _home(home),
        _unlock(insecure_dev_keys, issuing=False, root=True),
        int(_now().timestamp()),
        out,
        since=since,
        validity=dt.timedelta(days=valid_days),
        by=Actor.command_line(),
    )
    _emit(
        {
            "seq": result.seq,
            "trust_list": str(result.trust_list),
            "root_jwk": str(result.root_jwk),
            "jwks": str(result.jwks),
            "delta": None if result.delta is None else str(result.delta),
        }
    )


@issuer.command()
@home_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="0 picks a free port.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
def serve(home: Path, host: str, port: int, workers: int) -> None:
    """Run the office's service (API, health, metrics) on this machine."""
    from .serve import serve as run

    _home(home).require()
    run({"HOME": str(home), "DATABASE_URL": os.environ.get(DATABASE_URL_ENV) or None}, host, port, workers)


@issuer.group()
def db() -> None:
    """The office's database (SQLite in the home, or KIA_DATABASE_URL)."""


@db.command("upgrade")
@home_option
def db_upgrade(home: Path) -> None:
    """Apply schema migrations; import a first-version home (kia-issuer.json) once."""
    office = _home(home)
    office.prepare()
    imported = None
    if office.legacy_state_path.is_file():
        if office.database_holds_an_office():
            raise Invalid(
                f"the database already holds an office; {office.legacy_state_path.name} was not imported"
            )
        imported = office.import_legacy_state()
    _emit({"database": _redacted(office.database_url), "revision": migrate.current_revision(office.database),
           "imported_cards": imported})


cli_partners.register(issuer, home_option, _home, _emit, lambda: int(_now().timestamp()))
cli_reports.register(issuer, home_option, _home, _emit, lambda: int(_now().timestamp()))
cli_users.register(issuer, home_option, _home, _emit, lambda: int(_now().timestamp()))
cli_batches.register(issuer, home_option, _home, _emit, lambda: int(_now().timestamp()))
cli_trustlists.register(trustlist, home_option, _home, _emit, lambda: int(_now().timestamp()),
                        lambda dev: _unlock(dev, issuing=False, root=True), dev_keys_option)


def _redacted(url: str) -> str:
    """The database URL without its password, for output and logs."""
    return make_url(url).render_as_string(hide_password=True)

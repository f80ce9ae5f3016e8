"""``kia audit``: read-only checks for auditors."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import click

from keys.times import iso_utc_or_none
from kia.audit_client import download_export, export_url
from kia.audit_export_format import Manifest, read_manifest
from kia.audit_verify import (
    CHECKS,
    ExportNotVerified,
    Problem,
    Revenue,
    RevenueDiffers,
    Verification,
    manifest_rows,
    recompute_revenue,
    verify_export,
)


@click.group()
def audit() -> None:
    """Auditors: verify what the office publishes (read-only)."""


@audit.command("trustlist")
@click.option("--trust-anchor", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--at", "at", metavar="ISO-8601", help="Check as at this time instead of now.")
@click.argument("trust_list", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def trustlist(trust_anchor: Path, at: str | None, trust_list: Path) -> None:
    """Verify TRUST_LIST against the root key and print what it says.

    Exits 2 if the list is not signed by the anchor or is malformed.
    """
    from verifier.cli import load_trust, parse_at  # the terminal's own reading of a trust list

    now = parse_at(at)
    trust, expired = load_trust(trust_anchor, trust_list, now)
    summary = {
        "signature": "valid",
        "seq": trust.seq,
        "issued_at": iso_utc_or_none(trust.issued_at),
        "expires_at": iso_utc_or_none(trust.expires_at),
        "expired": expired,
        "revoked_cards": len(trust.revoked),
        "issuing_keys": [
            {
                "kid": key.kid,
                "state": key.state.value,
                "created_at": iso_utc_or_none(key.created_at),
                "retired_at": iso_utc_or_none(key.retired_at),
                "revoked_at": iso_utc_or_none(key.revoked_at),
            }
            for key in trust.keys
        ],
    }
    click.echo(json.dumps(summary, indent=2))


# --- the audit export: fetch it, verify it, recompute its revenue (docs/audit.md) ------------------

PASSWORD_ENV = "KIA_AUDIT_PASSWORD"  # noqa: S105 (the name of a variable, not a secret)
_LANG = click.option("--lang", type=click.Choice(["id", "en"]), default="id", show_default=True,
                     help="Language of the summary (Bahasa Indonesia or English).")
_SHOWN = 50  # problems printed in a summary; --json lists them all (up to kia.audit_verify.MAX_LISTED)


def _words(lang: str, indonesian: str, english: str) -> str:
    return indonesian if lang == "id" else english


@contextmanager
def _progress(label: str, total: int | None) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for a person at a terminal; nothing for scripts."""
    if total is None or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


@audit.command("export")
@click.option("--url", required=True, help="The office's service, e.g. https://kia.example.go.id")
@click.option("--user", "username", required=True, help="Your username at the office (auditor, admin or "
              "partner manager); the password comes from KIA_AUDIT_PASSWORD or a prompt.")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First partner-local day.")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day, inclusive.")
@click.option("--partner", type=click.IntRange(1), help="Only this partner's records.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="A new or empty directory for the export.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "both"]), default="csv", show_default=True)
def export(url: str, username: str, start: dt.datetime, end: dt.datetime, partner: int | None, out: Path,
           fmt: str) -> None:
    """Download the audit export of a period and check every file against its manifest."""
    address = export_url(url, start.date(), end.date(), partner, fmt)
    password = os.environ.get(PASSWORD_ENV) or click.prompt("Kata sandi / password", hide_input=True, err=True)
    with ExitStack() as bars:

        def progress(total: int | None) -> Callable[[int], None]:
            return bars.enter_context(_progress("Mengunduh / downloading", total)) or (lambda _: None)

        manifest = download_export(address, username, password, out, progress=progress)
    click.echo(json.dumps({"out": str(out), **_period(manifest),
                           "files": {name: entry.rows for name, entry in sorted(manifest.files.items())}}, indent=2))


def _period(manifest: Manifest) -> dict[str, object]:
    return {"from": manifest.start, "to": manifest.end, "partner": manifest.partner,
            "exported_at": manifest.exported_at}


@audit.command("verify")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--require-checkpoint", is_flag=True,
              help="Fail when records are covered by no checkpoint the terminal signed (else a warning).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_LANG
@click.pass_context
def verify(context: click.Context, directory: Path, require_checkpoint: bool, as_json: bool, lang: str) -> None:
    """Verify an export alone: every record's chain and every checkpoint, with the terminals' keys.

    Exits 0 when everything verified, 1 when something did not (each failure
    on one line), 2 when the export is malformed.
    """
    manifest = read_manifest(directory)
    with _progress(_words(lang, "Memeriksa", "Verifying"), manifest_rows(manifest, "redemptions")) as advance:
        try:
            report = verify_export(directory, require_checkpoint=require_checkpoint, progress=advance)
        except ExportNotVerified as failed:
            report = failed.report
    if as_json:
        click.echo(json.dumps({**_period(manifest), **report.to_json()}, indent=2))
    else:
        _print_verification(manifest, report, lang)
    context.exit(0 if report.verified else 1)


def _scope(manifest: Manifest, lang: str) -> str:
    partner = (_words(lang, "semua mitra", "all partners") if manifest.partner is None
               else _words(lang, f"mitra {manifest.partner}", f"partner {manifest.partner}"))
    return f"{manifest.start} {_words(lang, 's.d.', 'to')} {manifest.end}, {partner}"


def _print_problems(title: str, problems: list[Problem], count: int, lang: str) -> None:
    if not count:
        return
    click.echo(f"{title} ({count}):")
    for problem in problems[:_SHOWN]:
        label = CHECKS.get(problem.check, (problem.check, problem.check))[lang == "en"]
        where = problem.terminal + (f" #{problem.seq}" if problem.seq is not None else "")
        click.echo(f"  {where}: {problem.check} ({label}): {problem.message}")
    if count > _SHOWN:
        click.echo("  " + _words(lang, f"... dan {count - _SHOWN} lainnya (--json untuk daftar lengkap)",
                                 f"... and {count - _SHOWN} more (--json lists them)"))


def _print_verification(manifest: Manifest, report: Verification, lang: str) -> None:
    click.echo(_words(lang, "Ekspor audit ", "Audit export ") + _scope(manifest, lang))
    click.echo(_words(
        lang,
        f"Terminal: {report.terminals}; catatan: {report.records} ({report.records_covered} dicakup checkpoint); "
        f"checkpoint terverifikasi: {report.checkpoints_verified} dari {report.checkpoints}",
        f"Terminals: {report.terminals}; records: {report.records} ({report.records_covered} covered by "
        f"checkpoints); checkpoints verified: {report.checkpoints_verified} of {report.checkpoints}",
    ))
    _print_problems(_words(lang, "Gagal", "Failures"), report.failures, report.failure_count, lang)
    _print_problems(_words(lang, "Peringatan", "Warnings"), report.warnings, report.warning_count, lang)
    click.echo(_words(lang, "TERVERIFIKASI", "VERIFIED") if report.verified
               else _words(lang, "TIDAK TERVERIFIKASI", "NOT VERIFIED"))


@audit.command("revenue")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the figures and differences as JSON.")
@_LANG
@click.pass_context
def revenue(context: click.Context, directory: Path, as_json: bool, lang: str) -> None:
    """Recompute the revenue figures from an export's raw records and compare them with the office's.

    Exits 0 when they agree, 1 when they differ (each difference on one
    line), 2 when the export is malformed.
    """
    manifest = read_manifest(directory)
    with _progress(_words(lang, "Menghitung", "Counting"), manifest_rows(manifest, "redemptions")) as advance:
        try:
            figures = recompute_revenue(directory, progress=advance)
        except RevenueDiffers as differs:
            figures = differs.revenue
    if as_json:
        click.echo(json.dumps(figures.to_json(), indent=2))
    else:
        _print_revenue(manifest, figures, lang)
    context.exit(1 if figures.differences else 0)


@audit.command("visits")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("figures", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@_LANG
@click.pass_context
def visits(context: click.Context, directory: Path, figures: Path, as_json: bool, lang: str) -> None:
    """Recompute an office's signed figures of another region's cards (FIGURES, kia-visits) from its export.

    The export must hold every partner's records of the figures' whole month.
    Exits 0 when every cell agrees, 1 when one differs (each on one line),
    2 when the figures or the export cannot be read or compared.
    """
    from kia.audit_visits import check_visits

    checked = check_visits(directory, figures.read_text(encoding="utf-8"))
    if as_json:
        click.echo(json.dumps(checked.to_json(), indent=2))
    else:
        month = f"{checked.month // 100}-{checked.month % 100:02d}"
        click.echo(_words(lang, f"Angka kartu daerah {checked.home} dari kantor daerah {checked.answering}, {month}: "
                                f"{checked.cells} sel dihitung ulang dari catatan.",
                          f"Figures of region {checked.home}'s cards from region {checked.answering}'s office, "
                          f"{month}: {checked.cells} cells recomputed from the records."))
        if not checked.differences:
            click.echo(_words(lang, "Angka yang ditandatangani sama dengan catatan.",
                              "The signed figures match the records."))
        for item in checked.differences:
            click.echo(f"  {item.day} {item.kind} {item.cluster}: {_words(lang, 'ditandatangani', 'signed')} "
                       f"{item.signed}, {_words(lang, 'dihitung ulang', 'recomputed')} {item.recomputed}")
    context.exit(1 if checked.differences else 0)


_REVENUE_COLUMNS = (("accepted", "diterima", "accepted"), ("unique_cards", "kartu unik", "unique cards"),
                    ("gross", "harga penuh", "gross"), ("discount", "potongan", "discount"),
                    ("net", "bersih", "net"), ("held", "ditahan", "held"), ("flagged", "ditandai", "flagged"))


def _print_revenue(manifest: Manifest, figures: Revenue, lang: str) -> None:
    click.echo(_words(lang, "Pendapatan dihitung ulang dari catatan, ", "Revenue recomputed from the records, ")
               + _scope(manifest, lang))
    header = [_words(lang, "mitra", "partner"), *(_words(lang, id_, en) for _, id_, en in _REVENUE_COLUMNS)]
    rows = [[str(partner), *(str(values[key]) for key, _, _ in _REVENUE_COLUMNS)]
            for partner, values in sorted(figures.partners.items())]
    rows.append(["total", *(str(figures.total[key]) for key, _, _ in _REVENUE_COLUMNS)])
    widths = [max(len(line[column]) for line in [header, *rows]) for column in range(len(header))]
    for line in [header, *rows]:
        click.echo("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))
    if not figures.differences:
        click.echo(_words(lang, "Angka kantor sama dengan catatan.", "The office's figures match the records."))
        return
    click.echo(_words(lang, f"Angka kantor berbeda di {len(figures.differences)} tempat:",
                      f"The office's figures differ in {len(figures.differences)} place(s):"))
    for item in figures.differences:
        scope = ("programme" if item.partner_id is None else _words(lang, "mitra", "partner") + f" {item.partner_id}")
        click.echo(f"  {scope}, {_words(lang, 'hari', 'day')} {item.day}: {item.field} "
                   f"{_words(lang, 'kantor', 'office')} {item.office}, "
                   f"{_words(lang, 'dihitung ulang', 'recomputed')} {item.recomputed}")


from kia.witness import witness  # noqa: E402 (flask and waitress are imported only by witness serve)

audit.add_command(witness)

from kia.audit_log import log_command  # noqa: E402

audit.add_command(log_command)

from kia.audit_anomalies_cli import anomalies_command  # noqa: E402 (the auditor's DuckDB pass: duckdb imported when run)

audit.add_command(anomalies_command)

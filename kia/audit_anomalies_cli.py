"""``kia audit anomalies``: the auditor's own anomaly pass over an export (kia.audit_analysis).

Anomalies are findings, not errors: the command exits 0 whatever it finds, and 2
when the directory is not a readable export.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import click

from kia.audit_analysis import Anomaly, anomalies, as_json, count_by_kind

_DATE = click.DateTime(formats=["%Y-%m-%d"])
_HEADERS = {"id": ("jenis", "mitra", "terminal", "kartu", "hari", "bukti"),
            "en": ("kind", "partner", "terminal", "card", "day", "evidence")}


@click.command("anomalies")
@click.argument("export_dir", metavar="DIR", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--from", "start", type=_DATE, help="First partner-local day, YYYY-MM-DD (default: the export's).")
@click.option("--to", "end", type=_DATE, help="Last partner-local day, YYYY-MM-DD (default: the export's).")
@click.option("--daily-limit", type=click.IntRange(1), default=1, show_default=True,
              help="Uses a day of one card for one service at one partner before they are listed "
                   "(the partners' rules are not in the export).")
@click.option("--without-held", is_flag=True,
              help="Leave out the records the office holds, as the office's own pass does (to compare).")
@click.option("--json", "as_json_output", is_flag=True, help="Print JSON: the anomalies and the count per kind.")
@click.option("--lang", type=click.Choice(["id", "en"]), default="id", show_default=True,
              help="Language of the table (Bahasa Indonesia or English).")
def anomalies_command(export_dir: Path, start: dt.datetime | None, end: dt.datetime | None, daily_limit: int,
                      without_held: bool, as_json_output: bool, lang: str) -> None:
    """List the anomalies in the export in DIR, recomputed from its raw records.

    Daftar anomali dalam ekspor DIR, dihitung ulang dari catatan mentahnya.
    The office's own verdicts (held, flagged) are not taken into account.
    """
    first, last = (start.date() if start else None), (end.date() if end else None)
    if first and last and first > last:
        raise click.BadParameter("--from must not be after --to", param_hint="--from")
    found = anomalies(export_dir, first, last, daily_limit=daily_limit, include_held=not without_held)
    if as_json_output:
        click.echo(json.dumps({"anomalies": as_json(found), "counts": count_by_kind(found)}, indent=2,
                              ensure_ascii=False))
        return
    _table(found, lang)


def _table(found: Sequence[Anomaly], lang: str) -> None:
    indonesian = lang == "id"
    if found:
        rows = [(a.kind, str(a.partner_id), a.terminal_id or "-", a.serial or "-", str(a.day or "-"), a.evidence)
                for a in found]
        headers = _HEADERS[lang]
        widths = [max(len(row[column]) for row in [headers, *rows]) for column in range(len(headers) - 1)]
        for row in [headers, *rows]:
            click.echo("  ".join([cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[-1]]))
        click.echo("")
    else:
        click.echo("Tidak ada anomali." if indonesian else "No anomalies.")
    counts = ", ".join(f"{kind} {count}" for kind, count in count_by_kind(found).items())
    click.echo(("Jumlah per jenis: " if indonesian else "Count per kind: ") + counts)

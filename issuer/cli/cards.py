"""``kia issuer card``: issue cards (one at the counter, or a school's CSV), print, revoke, expire."""

from __future__ import annotations

import csv
import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from keys.times import iso_utc, iso_utc_or_none, parse_instant

from .. import batches, cards
from ..artifacts import CardFiles, Drawing, write_archive, write_many
from ..children import ChildRequest, RowError, read_batch, validate_child
from ..errors import Invalid
from ..storage.store import CardRecord
from .common import by, dev_keys_option, emit, home_option, now, open_home, unlock

if TYPE_CHECKING:
    from .. import printing  # imported where a PDF is drawn: fpdf takes 0.3 s to import, a third of the start

LAYOUTS = ("sheet", "pages")


@click.group()
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
@click.option("--pdf", "pdf_layout", type=click.Choice(LAYOUTS), default=None,
              help="Also write every card issued into one print-ready PDF in --out: 'sheet' (A4, 10 a sheet) "
                   "or 'pages' (one page a side, for desk card printers).")
@click.option("--archive", "archive", is_flag=True,
              help="With --csv: write the batch's cards into one zip, cards-batch-N.zip in --out (N the batch "
                   "id), holding SERIAL.png, SERIAL.svg and SERIAL.ndef for each card, instead of three files a "
                   "card.  The JSON names it as 'archive', and each card's qr_png, qr_svg and ndef are then "
                   "member names in it.")
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
    pdf_layout: str | None,
    archive: bool,
    insecure_dev_keys: bool,
) -> None:
    """Issue one card, or a batch from --csv; writes QR PNG, QR SVG and NDEF per card.

    A batch reports bad rows by line number and issues the rest; it exits 1
    when any row was refused.  With --archive, a batch's files are in one zip
    (cards-batch-N.zip in --out) instead of three files a card.  With --pdf,
    the cards issued are also in one PDF (cards.pdf in --out), ready for the
    card printer.
    """
    if archive and csv_file is None:
        raise click.UsageError("--archive is for a batch: give it with --csv FILE")
    at = now()
    if csv_file is not None:
        if birth_date or region:
            raise click.UsageError("give either --csv or --birth-date and --region, not both")
        requests, errors = read_batch(csv_file, at)
    elif birth_date and region:
        checked = validate_child(0, at, birth_date, region)
        if isinstance(checked, RowError):
            raise click.BadParameter(checked.error, param_hint=f"--{checked.field.replace('_', '-')}")
        requests, errors = [checked], []
    else:
        raise click.UsageError("give --birth-date and --region, or --csv FILE")

    channel, source = (batch_channel, csv_file.name) if csv_file is not None else ("counter", None)
    # The drawing processes start now; with --archive they draw each card as
    # soon as it is signed, while the cards are recorded, and the archive is
    # written from them once the transaction has committed: nothing signed
    # reaches the disk before it is recorded (docs/benchmarks.md, issue 14).
    with Drawing(len(requests)) as drawing:
        issuance = cards.issue_cards(open_home(home), unlock(insecure_dev_keys), requests, at, channel=channel,
                                     source=source, refused=errors, by=by(),
                                     on_signed=drawing.draw if archive else None)
        issued, errors = issuance.cards, issuance.rejected
        zipped = out / f"cards-batch-{issuance.batch_id}.zip" if archive and issued else None
        files = _write_files(issued, out, zipped, drawing, show_progress=csv_file is not None)
    printed = [_card_json(item.record, item.request, item_files)
               for item, item_files in zip(issued, files, strict=True)]
    outputs: dict[str, str] = {} if zipped is None else {"archive": str(zipped)}
    if pdf_layout is not None and issued:
        from .. import printing

        to_print = [printing.PrintedCard(item.record.serial, item.record.token, item.record.region,
                                         item.record.expires_at, item.request.name) for item in issued]
        outputs |= {"pdf": str(_write_pdf(out / "cards.pdf", to_print, pdf_layout, "id", None))}
    if csv_file is None:
        if errors:
            raise Invalid(errors[0].error)
        emit(printed[0] | outputs)
        return
    report = _write_report(out, printed, errors)
    emit(
        {
            "issued": len(printed),
            "rejected": len(errors),
            "report": str(report),
            "batch_id": issuance.batch_id,
            "cards": printed,
            "errors": [dataclasses.asdict(error) | {"error": error.error} for error in errors],
        }
        | outputs
    )
    for error in errors:
        click.echo(f"line {error.line}: {error.error}", err=True)
    if errors:
        ctx.exit(1)


def _write_files(issued: list[cards.IssuedCard], out: Path, archive: Path | None, drawing: Drawing, *,
                 show_progress: bool) -> list[CardFiles]:
    """Three files a card in ``out``, or, given ``archive``, one zip of the cards ``drawing`` drew."""
    jobs = [(item.record.serial, item.record.token) for item in issued]

    def write(on_progress: Callable[[int], None] = lambda done: None) -> list[CardFiles]:
        if archive is None:
            return write_many(jobs, out, on_progress, drawing=drawing)
        return write_archive(jobs, archive, on_progress, drawing=drawing)

    if not (show_progress and sys.stderr.isatty()):
        return write()
    with click.progressbar(length=len(jobs), label="Mencetak kartu / Drawing cards", file=sys.stderr) as bar:
        return write(bar.update)


def _card_json(record: CardRecord, request: ChildRequest, files: CardFiles) -> dict[str, Any]:
    printed: dict[str, Any] = {
        "serial": record.serial,
        "token": record.token,
        "qr_png": str(files.qr_png),
        "qr_svg": str(files.qr_svg),
        "ndef": str(files.ndef),
        "kid": record.kid,
        "expires_at": iso_utc_or_none(record.expires_at),
    }
    if request.line:
        printed["line"] = request.line
    if request.external_id:
        printed["external_id"] = request.external_id
    return printed


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


@card.command("print")
@home_option
@click.argument("serials", nargs=-1)
@click.option("--batch", "batch_id", type=int, help="Print every card of this batch (verified or later).")
@click.option("--layout", type=click.Choice(LAYOUTS), default="sheet", show_default=True,
              help="'sheet': A4, 10 cards a sheet, fronts then mirrored backs, for PVC sheet printers; "
                   "'pages': one page a side (card size plus bleed), front then back, for desk card printers.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The PDF to write.")
@click.option("--lang", "language", type=click.Choice(["id", "en"]), default="id", show_default=True,
              help="The language printed on the cards.")
@click.option("--site", help="The public site's address, printed on the back (where to find partners).")
def print_cards(home: Path, serials: tuple[str, ...], batch_id: int | None, layout: str, out: Path,
                language: str, site: str | None) -> None:
    """Print cards to one PDF: SERIAL... (each copy audited), or --batch N (the batch moves to printed).

    Print at 100% (no fit-to-page); docs/printing.md gives sizes and settings.
    """
    if bool(serials) == (batch_id is not None):
        raise click.UsageError("give SERIAL... or --batch N, not both")
    from .. import printing

    office = open_home(home)
    chosen: list[printing.PrintedCard] = []

    def render(found: Sequence[printing.PrintedCard | batches.BatchCard]) -> bytes:
        chosen.extend(printing.PrintedCard(c.serial, c.token, c.region, c.expires_at, c.name) for c in found)
        return _render(chosen, layout, language, site)

    if batch_id is not None:
        pdf = batches.print_batch(office, batch_id, now(), render, by=by())
    else:
        at, actor = now(), by()
        # A card printed by serial carries no name: the office prints names from a batch's own list.
        records = [cards.take_card_qr(office, serial, at, by=actor) for serial in serials]
        pdf = render([printing.PrintedCard(r.serial, r.token, r.region, r.expires_at, None) for r in records])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)
    emit({"pdf": str(out), "layout": layout, "cards": len(chosen), "batch_id": batch_id})


def _render(chosen: Sequence[printing.PrintedCard], layout: str, language: str, site: str | None) -> bytes:
    if not chosen:
        raise Invalid("there is no card to print")
    from .. import printing

    draw = printing.sheet_pdf if layout == "sheet" else printing.card_pages_pdf
    return draw(chosen, language=language, site=site)


def _write_pdf(path: Path, chosen: Sequence[printing.PrintedCard], layout: str, language: str,
               site: str | None) -> Path:
    path.write_bytes(_render(chosen, layout, language, site))
    return path


@card.command("revoke")
@home_option
@click.argument("serial")
@click.option("--reason", required=True, help="Why, on one line (e.g. lost, replaced).")
def revoke(home: Path, serial: str, reason: str) -> None:
    """Revoke a card; the next exported trust list lists it."""
    record = cards.revoke_card(open_home(home), serial, reason, now(), by=by())
    emit({"serial": record.serial, "state": record.state, "revoked_at": iso_utc_or_none(record.revoked_at)})


@card.command("mark-expired")
@home_option
@click.option("--at", "at", metavar="ISO-8601", help="Mark as at this time instead of now (with an offset).")
def mark_expired(home: Path, at: str | None) -> None:
    """Mark active cards whose eligibility has ended as expired: a daily job, safe to run again."""
    if at is None:
        stamp = now()
    else:
        try:
            stamp = parse_instant(at)
        except ValueError:
            raise click.BadParameter("use ISO 8601 with an offset, e.g. 2026-11-22T00:00:00+07:00",
                                     param_hint="--at") from None
    emit({"expired": cards.mark_expired(open_home(home), stamp, by=by()), "at": iso_utc(stamp)})

"""``kia issuer partner``: partners, their agreements (MoU) and the discount rules of their services.

The ``mou-*`` commands serve institutions' agreements too (``--institution``).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .. import agreements, partners
from ..agreements import Details, Document, Owner
from ..partners import AGE_CATEGORY_NAMES, ServiceRules
from ..storage.models import KLA_CLUSTERS, PARTNER_KINDS
from .common import DATE, by, emit, home_option, now, open_home


@click.group()
def partner() -> None:
    """Partners (MoU, cluster) and their discount rules."""


def _details(number: str | None, contact_name: str | None, contact_phone: str | None, contact_email: str | None,
             document: Path | None) -> Details:
    pdf = Document(document.name, document.read_bytes()) if document is not None else None
    return Details(number, contact_name, contact_phone, contact_email, pdf)


def details_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options of an agreement's details: number, contact person, signed PDF."""
    for option in reversed((
        click.option("--mou-number", "number", help="The agreement's number (nomor perjanjian)."),
        click.option("--contact-name", help="The partner's contact person for the agreement."),
        click.option("--contact-phone"),
        click.option("--contact-email"),
        click.option("--document", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                     help=f"The signed agreement, a PDF of at most {agreements.MAX_DOCUMENT_BYTES // 2**20} MB."),
    )):
        command = option(command)
    return command


@partner.command("add")
@home_option
@click.option("--name", required=True)
@click.option("--kind", required=True, type=click.Choice(PARTNER_KINDS))
@click.option("--cluster", required=True, type=click.Choice(KLA_CLUSTERS), help="The KLA cluster it serves.")
@click.option("--region", required=True, type=int, help="4-digit regency/city code, e.g. 3372.")
@click.option("--mou-start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--mou-end", type=click.DateTime(["%Y-%m-%d"]), help="Default: two years after the start.")
@click.option("--location", metavar="LAT,LON", callback=lambda _ctx, _param, value: _location(value),
              help="Where the partner serves, in degrees (e.g. -7.5666,110.8243): the office checks travel with it.")
@details_options
def add(home: Path, name: str, kind: str, cluster: str, region: int, mou_start: dt.datetime,
        mou_end: dt.datetime | None, location: tuple[float, float] | None, **details: Any) -> None:
    """Add a partner; agreements run two years unless --mou-end says otherwise.

    A partner already known by that name in that region is refused: renew its
    agreement with ``kia issuer partner mou-renew`` instead.
    """
    start = mou_start.date()
    end = mou_end.date() if mou_end else partners.default_mou_end(start)
    partner_id = partners.create_partner(open_home(home), name, kind, cluster, region, start, end, now(),
                                         location=location, details=_details(**details), by=by())
    emit({"partner_id": partner_id, "mou_start": start.isoformat(), "mou_end": end.isoformat()})


def _location(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        latitude, longitude = (float(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter("give latitude and longitude in degrees, e.g. -7.5666,110.8243") from None
    return latitude, longitude


@partner.command("service")
@home_option
@click.argument("partner_id", type=int)
@click.option("--code", required=True, help="e.g. bioskop-reguler")
@click.option("--name", required=True)
@click.option("--price", "prices", multiple=True, required=True, metavar="CATEGORY=RUPIAH",
              help=f"Price per age category ({', '.join(AGE_CATEGORY_NAMES)}); repeat.")
@click.option("--percent", type=click.IntRange(0, 100), help="Discount in percent.")
@click.option("--fixed", type=click.IntRange(0), help="Discount in rupiah.")
@click.option("--daily-limit", type=click.IntRange(1, 100), default=1, show_default=True)
@click.option("--passback", type=click.IntRange(0, 86400), default=0, show_default=True,
              help="Seconds before the same card may pass again.")
def service(home: Path, partner_id: int, code: str, name: str, prices: tuple[str, ...], percent: int | None,
            fixed: int | None, daily_limit: int, passback: int) -> None:
    """Set the discount rules of one of a partner's services."""
    if (percent is None) == (fixed is None):
        raise click.UsageError("give exactly one of --percent and --fixed")
    parsed = {}
    for item in prices:
        category, _, amount = item.partition("=")
        if not amount.isdigit():
            raise click.BadParameter(f"{item!r} is not CATEGORY=RUPIAH", param_hint="--price")
        parsed[category.strip()] = int(amount)
    kind, value = ("percent", percent) if percent is not None else ("fixed", fixed)
    rules = ServiceRules(code, name, parsed, kind, int(value or 0), daily_limit, passback)
    partners.set_service(open_home(home), partner_id, rules, now(), by=by())
    emit({"partner_id": partner_id, "service": rules.to_json()})


@partner.command("regions")
@home_option
@click.argument("partner_id", type=int)
@click.option("--all", "every", is_flag=True, help="Cards of every region the national directory trusts.")
@click.option("--none", "none_", is_flag=True, help="This office's cards only (the default of a new partner).")
@click.option("--region", "regions", multiple=True, type=int, metavar="REGION",
              help="A region whose cards the partner honours (4-digit code, e.g. 6311); repeat.")
def regions(home: Path, partner_id: int, every: bool, none_: bool, regions: tuple[int, ...]) -> None:
    """Which other regions' cards the partner agreed to honour (docs/federation.md).

    The office holds a record of another region's card the partner did not
    agree to honour (home_not_accepted), and the public page shows the choice.
    Set the partner's terminals to the same with ``kia verifier federation pin
    --accept-region``.
    """
    if every + none_ + bool(regions) != 1:
        raise click.UsageError("give exactly one of --all, --none and --region")
    choice = partners.OtherRegions("all" if every else "none" if none_ else "listed", regions)
    recorded = partners.set_other_regions(open_home(home), partner_id, choice, now(), by=by())
    emit({"partner_id": partner_id, **recorded.to_json()})


@partner.command("list")
@home_option
def list_partners(home: Path) -> None:
    """Partners with their MoU and services; those ending within 90 days are marked (MOU_WARNING_DAYS)."""
    listed = sorted(partners.list_partners(open_home(home), now()), key=lambda partner: partner.id)
    emit([{"partner_id": partner.id, "name": partner.name, "kind": partner.kind, "cluster": partner.cluster,
           "region": partner.region, "mou_end": partner.mou_end.isoformat(), "mou_state": partner.mou_state,
           "mou_number": partner.mou_number, **partner.other_regions.to_json(),
           "services": list(partner.services)} for partner in listed])


# --- agreements (MoU) of partners and institutions ------------------------------------


def owner_options(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option("--institution", "institution_id", type=int, help="An institution's id (a school...).")(
        command)
    return click.option("--partner", "partner_id", type=int, help="A partner's id.")(command)


def _owner(partner_id: int | None, institution_id: int | None) -> Owner:
    if (partner_id is None) == (institution_id is None):
        raise click.UsageError("give exactly one of --partner and --institution")
    return Owner("partner", partner_id) if partner_id is not None else Owner("institution", int(institution_id or 0))


def _agreement_json(record: agreements.AgreementRecord) -> dict[str, Any]:
    fields = dataclasses.asdict(record)
    fields["owner"] = {"kind": record.owner.kind, "id": record.owner.id}
    return dict(json_dates(fields))


def json_dates(value: Any) -> Any:
    """``value`` with its dates as ISO strings, its tuples as lists: what JSON holds."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: json_dates(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_dates(item) for item in value]
    return value


@partner.command("mou-renew")
@home_option
@owner_options
@click.option("--start", type=DATE, help="Default: the day after the current agreement ends.")
@click.option("--end", type=DATE, help="Default: two years after the start.")
@details_options
def mou_renew(home: Path, partner_id: int | None, institution_id: int | None, start: dt.datetime | None,
              end: dt.datetime | None, **details: Any) -> None:
    """Add the next agreement period under the same partner or institution (never a second partner)."""
    owner, office = _owner(partner_id, institution_id), open_home(home)
    if start is None:
        current = agreements.agreements_of(office, owner, now())
        if not current:
            raise click.UsageError(f"{owner} has no agreement yet: give --start")
        first_day = current[0].next_start
    else:
        first_day = start.date()
    last_day = end.date() if end else partners.default_mou_end(first_day)
    agreement_id = agreements.renew(office, owner, first_day, last_day, _details(**details), now(), by=by())
    emit({"agreement_id": agreement_id, "owner": dataclasses.asdict(owner), "starts_on": first_day.isoformat(),
          "ends_on": last_day.isoformat()})


@partner.command("mou-amend")
@home_option
@owner_options
@click.option("--end", type=DATE, help="A new end of the current agreement.")
@click.option("--note", help="Why (kept in the agreement's history).")
@details_options
def mou_amend(home: Path, partner_id: int | None, institution_id: int | None, end: dt.datetime | None,
              note: str | None, **details: Any) -> None:
    """Change the current agreement's number, end, contact or document; every version is kept."""
    owner = _owner(partner_id, institution_id)
    version = agreements.amend(open_home(home), owner, _details(**details), now(),
                               ends_on=end.date() if end else None, note=note, by=by())
    emit({"owner": dataclasses.asdict(owner), "version": version})


@partner.command("mou-history")
@home_option
@owner_options
def mou_history(home: Path, partner_id: int | None, institution_id: int | None) -> None:
    """Every agreement of a partner or institution, the latest first, each with every version (who, when, what)."""
    records = agreements.agreements_of(open_home(home), _owner(partner_id, institution_id), now())
    emit([_agreement_json(record) for record in records])


REPORT_COLUMNS = ("owner_kind", "owner_id", "name", "region", "agreement_id", "number", "starts_on", "ends_on",
                  "days_left", "state", "contact_name", "contact_phone", "contact_email")


@partner.command("mou-report")
@home_option
@click.option("--days", type=click.IntRange(0, 3650), default=agreements.MOU_WARNING_DAYS, show_default=True,
              help="Report agreements ending within this many days (and those ended).")
@click.option("--format", "output", type=click.Choice(["json", "csv"]), default="json", show_default=True)
def mou_report(home: Path, days: int, output: str) -> None:
    """The daily report: partners' and institutions' agreements ending within --days, or ended (docs/operations.md).

    One row per partner or institution: its current agreement, days left
    (negative once ended), state and contact person; the soonest first.
    """
    rows = [{"owner_kind": item.owner.kind, "owner_id": item.owner.id,
             **{name: getattr(item, name) for name in REPORT_COLUMNS[2:]}}
            for item in agreements.ending(open_home(home), now(), days)]
    if output == "json":
        emit(json_dates(rows))
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=REPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(json_dates(rows))

"""``kia issuer partner``: partners, their agreements (MoU) and the discount rules of their services."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from .. import partners
from ..partners import AGE_CATEGORY_NAMES, ServiceRules
from ..storage.models import KLA_CLUSTERS, PARTNER_KINDS
from .common import by, emit, home_option, now, open_home


@click.group()
def partner() -> None:
    """Partners (MoU, cluster) and their discount rules."""


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
def add(home: Path, name: str, kind: str, cluster: str, region: int, mou_start: dt.datetime,
        mou_end: dt.datetime | None, location: tuple[float, float] | None) -> None:
    """Add a partner; agreements run two years unless --mou-end says otherwise."""
    start = mou_start.date()
    end = mou_end.date() if mou_end else partners.default_mou_end(start)
    partner_id = partners.create_partner(open_home(home), name, kind, cluster, region, start, end, now(),
                                         location=location, by=by())
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


@partner.command("list")
@home_option
def list_partners(home: Path) -> None:
    """Partners with their MoU and services; those ending within 90 days are marked (MOU_WARNING_DAYS)."""
    listed = sorted(partners.list_partners(open_home(home), now()), key=lambda partner: partner.id)
    emit([{"partner_id": partner.id, "name": partner.name, "kind": partner.kind, "cluster": partner.cluster,
           "region": partner.region, "mou_end": partner.mou_end.isoformat(), "mou_state": partner.mou_state,
           "services": list(partner.services)} for partner in listed])

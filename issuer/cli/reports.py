"""``kia issuer report`` and ``kia issuer coverage``: stakeholder figures as JSON or CSV."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from .. import reports
from .common import DATE, emit, home_option, now, open_home

format_option = click.option("--format", "output", type=click.Choice(["json", "csv"]), default="json",
                             show_default=True)


def _show(rows: Sequence[Any], row_type: type, output: str) -> None:
    if output == "csv":
        click.echo(reports.to_csv(rows, row_type), nl=False)
    else:
        emit(reports.to_json(rows))


def _period_range(start: dt.datetime | None, end: dt.datetime | None) -> tuple[dt.date, dt.date]:
    last = end.date() if end else reports.today(now())
    first = start.date() if start else last.replace(day=1)
    if first > last:
        raise click.BadParameter("--from must not be after --to", param_hint="--from")
    return first, last


@click.group()
def report() -> None:
    """Stakeholder reports: revenue KIA holders bring, partners, coverage."""


@report.command("figures")
@home_option
@click.option("--by", "group", type=click.Choice(reports.GROUPS), default="partner", show_default=True)
@click.option("--period", type=click.Choice(reports.PERIODS), default="month", show_default=True)
@click.option("--from", "start", type=DATE, help="First local date (default: the 1st of --to's month).")
@click.option("--to", "end", type=DATE, help="Last local date (default: today).")
@click.option("--partner", "partner_id", type=int, help="Only this partner.")
@format_option
def figures(home: Path, group: str, period: str, start: dt.datetime | None, end: dt.datetime | None,
            partner_id: int | None, output: str) -> None:
    """Scans, accepted, unique cards, gross price, discount, net revenue, and the accepted records held by checks."""
    first, last = _period_range(start, end)
    _show(reports.figures(open_home(home), group, period, first, last, partner_id), reports.Figures, output)


@report.command("partners")
@home_option
@click.option("--from", "start", type=DATE)
@click.option("--to", "end", type=DATE)
@format_option
def partners_over_time(home: Path, start: dt.datetime | None, end: dt.datetime | None, output: str) -> None:
    """Partners in force, and partners with accepted scans, month by month."""
    first, last = _period_range(start, end)
    _show(reports.active_partners(open_home(home), first, last), reports.PartnerCount, output)


@report.command("coverage")
@home_option
@format_option
def coverage_report(home: Path, output: str) -> None:
    """Active cards per region against the eligible children entered."""
    _show(reports.coverage(open_home(home), now()), reports.Coverage, output)


@click.group()
def coverage() -> None:
    """The number of children eligible for a KIA, per region."""


@coverage.command("set")
@home_option
@click.option("--region", required=True, type=int)
@click.option("--eligible", required=True, type=click.IntRange(0), help="Children under 17 in the region.")
@click.option("--as-of", type=DATE, help="When they were counted (default: today).")
def set_eligible(home: Path, region: int, eligible: int, as_of: dt.datetime | None) -> None:
    """Enter how many children of REGION may hold a KIA."""
    day = as_of.date() if as_of else reports.today(now())
    reports.set_eligible_children(open_home(home), region, eligible, day)
    emit({"region": region, "eligible_children": eligible, "as_of": day.isoformat()})

"""The reports pages: revenue KIA holders bring, partners over time and card coverage, for every role.

The office's staff choose a date range (this month, last month, this year,
the last 12 months, or their own dates), days or months, a grouping
(partner, kind, KLA cluster, the whole programme) and a region; a partner
manager sees their own partner only, by day, by month or per service.
Each table has a CSV download of exactly its rows, written by the same
function as ``kia issuer report ... --format csv`` (issuer.reports.to_csv).
The choices travel in the query string: they hold nothing personal.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

import pygal
from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup

from keys.regions import region_name

from .. import partners, reports, retention, visits
from ..current import now, office
from .auth import EVERYONE, roles
from .dashboard import (
    COLOURS,
    REGION_COLOURS,
    WIDTH,
    _chart,
    net_and_discount_over_time,
    net_and_discount_per_group,
    percent,
    style,
    ticks,
)
from .error_page import error_page, said
from .formatting import day, month, number
from .i18n import TEXT, t

bp = Blueprint("reports", __name__, url_prefix="/reports")
RANGES = ("this_month", "last_month", "this_year", "last_12_months", "custom")
# A range's natural period: a month's figures by day, a year's by month.
DEFAULT_PERIOD = {"this_month": "day", "last_month": "day", "this_year": "month", "last_12_months": "month",
                  "custom": "day"}
PARTNER_GROUPS = ("partner", reports.BY_SERVICE)  # a partner manager's own partner, in all or per service
MAX_CHART_REGIONS = len(REGION_COLOURS)  # more regions than shades: the table shows them all
# A page shows at most this many rows of figures (all partners by day over a month can be 18,000 at
# national size: no one reads them on a page, and the browser takes seconds to lay them out); the CSV
# has them all, and the totals count them all.
MAX_SHOWN_ROWS = 1000
MAX_CHART_GROUPS = 20  # the per-group chart draws the groups that brought the most, largest first


class ReportRefused(Exception):
    """The choices cannot make a report; the message says why, in the page's language."""


@dataclasses.dataclass(frozen=True)
class Choice:
    """What a report shows: the range and its dates, the period, the grouping and the region."""

    range: str
    period: str
    group: str
    region: int | None
    start: dt.date
    end: dt.date

    def args(self, **changes: str | None) -> dict[str, str]:
        """The query string that asks for this report again (custom dates only for a custom range)."""
        values: dict[str, str | None] = {"range": self.range, "period": self.period, "by": self.group,
                                         "region": None if self.region is None else str(self.region)}
        if self.range == "custom":
            values |= {"from": self.start.isoformat(), "to": self.end.isoformat()}
        values |= changes
        return {name: value for name, value in values.items() if value}


def quick_range(name: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last days of a quick choice, as of ``today`` (the month and year so far end today)."""
    first_of_month = today.replace(day=1)
    if name == "last_month":
        last = first_of_month - dt.timedelta(days=1)
        return last.replace(day=1), last
    if name == "this_year":
        return today.replace(month=1, day=1), today
    if name == "last_12_months":
        start = first_of_month
        for _ in range(11):
            start = (start - dt.timedelta(days=1)).replace(day=1)
        return start, today
    return first_of_month, today


def choice(args: Mapping[str, str], today: dt.date, *, partner_manager: bool) -> Choice:
    """The report the query string asks for; ReportRefused saying why it cannot be made."""
    custom = bool(args.get("from") or args.get("to"))
    chosen_range = args.get("range") or ("custom" if custom else "this_month")
    groups = PARTNER_GROUPS if partner_manager else reports.GROUPS
    group = args.get("by") or groups[0]
    period = args.get("period") or DEFAULT_PERIOD.get(chosen_range, "day")
    if chosen_range not in RANGES or group not in groups or period not in reports.PERIODS:
        raise ReportRefused(t("rep_bad_choice"))
    region = None
    if args.get("region") and not partner_manager:
        text = args["region"]
        if not (text.isdigit() and len(text) == 4):
            raise ReportRefused(t("rep_bad_choice"))
        region = int(text)
    if chosen_range == "custom":
        try:
            first = dt.date.fromisoformat(args["from"]) if args.get("from") else today.replace(day=1)
            last = dt.date.fromisoformat(args["to"]) if args.get("to") else today
        except ValueError:
            raise ReportRefused(t("rep_bad_dates")) from None
    else:
        first, last = quick_range(chosen_range, today)
    if first > last:
        raise ReportRefused(t("rep_dates_order"))
    problem = reports.range_problem(first, last, period, today)
    if problem == "days":
        raise ReportRefused(t("rep_too_many_days", days=reports.MAX_DAYS))
    if problem == "months":
        raise ReportRefused(t("rep_too_many_months", months=reports.MAX_MONTHS))
    if problem == "ahead":
        raise ReportRefused(t("rep_too_far_ahead", days=reports.MAX_DAYS_AHEAD))
    return Choice(chosen_range, period, group, region, first, last)


def _mine() -> int | None:
    """The partner a partner manager is held to; None for the office's staff."""
    return current_user.partner_id if current_user.role == "partner_manager" else None


def _today(partner_id: int | None) -> dt.date:
    # A partner's own local day for its manager; over every partner, the easternmost zone's (as the dashboard).
    if partner_id is None:
        return reports.today(now())
    return partners.local_today(partners.find_partner(office(current_app), partner_id, now()).region, now())


def _figures(chosen: Choice, partner_id: int | None) -> list[reports.Figures]:
    return reports.figures(office(current_app), chosen.group, chosen.period, chosen.start, chosen.end, partner_id,
                           chosen.region)


def _partner_counts(chosen: Choice) -> list[reports.PartnerCount]:
    return reports.active_partners(office(current_app), chosen.start, chosen.end, chosen.region)


def _coverage(chosen: Choice) -> list[reports.CoverageMonth]:
    return reports.coverage_trend(office(current_app), chosen.start, chosen.end, now(), chosen.region)


@bp.get("/")
@roles(*EVERYONE)
def index() -> ResponseReturnValue:
    mine = _mine()
    home = office(current_app)
    today = _today(mine)
    regions = [] if mine is not None else reports.report_regions(home)
    try:
        chosen = choice(request.args, today, partner_manager=mine is not None)
    except ReportRefused as refused:
        return render_template("reports.html", chosen=None, refused=str(refused), regions=regions, mine=mine,
                               args=request.args, ranges=RANGES, groups=_groups(mine), today=today), 400
    try:
        rows = _figures(chosen, mine)
    except retention.RemovedByRetention as removed:  # said beside the choices, which stay as they were
        return render_template("reports.html", chosen=None, refused=said(removed), regions=regions, mine=mine,
                               args=request.args, ranges=RANGES, groups=_groups(mine), today=today), 409
    names = partners.partner_names(home)
    services = {rules.code: rules.name for rules in partners.services_of(home, mine)} if mine is not None else {}
    label = _labeller(chosen.group, names, services)
    page: dict[str, Any] = {
        "figures": rows[:MAX_SHOWN_ROWS],
        "figures_count": len(rows),
        "label": label,
        "percent": percent,
        # A partner manager's own partner needs no column of its own name.
        "show_group": chosen.group != "programme" and not (mine is not None and chosen.group == "partner"),
        "totals": _totals(rows),
        "figures_chart": net_and_discount_over_time(t("rep_figures_per_period"), rows) if rows else None,
        "groups_chart": _per_group_chart(rows, label) if chosen.group != "programme" else None,
    }
    if mine is None:
        counts = _partner_counts(chosen)
        coverage = _coverage(chosen)
        page |= {"counts": counts, "counts_chart": _partners_chart(counts) if counts else None,
                 "coverage": _coverage_table(coverage), "coverage_months": sorted({row.month for row in coverage}),
                 "coverage_chart": _coverage_chart(coverage)}
        elsewhere = visits.elsewhere(home, reports.bucket(chosen.start, "month"), reports.bucket(chosen.end, "month"))
        page |= {"elsewhere": elsewhere, "elsewhere_chart": _elsewhere_chart(elsewhere) if elsewhere else None}
    return render_template("reports.html", chosen=chosen, refused=None, regions=regions, mine=mine,
                           args=request.args, ranges=RANGES, groups=_groups(mine), today=today,
                           last_month=quick_range("last_month", today), **page)


def _groups(partner_id: int | None) -> tuple[str, ...]:
    return PARTNER_GROUPS if partner_id is not None else reports.GROUPS


def _labeller(group: str, names: dict[int, str], services: dict[str, str]) -> Any:
    """How a row's group reads on the page: a partner's or service's name, a kind or cluster in words."""

    def label(value: str) -> str:
        if group == "partner":
            return names.get(int(value), f"#{value}") if value.isdigit() else value
        if group == reports.BY_SERVICE:
            return services.get(value, value)
        if group == "programme":
            return t("rep_group_programme")
        key = f"{group}_{value}"
        return t(key) if key in TEXT else value

    return label


def _totals(rows: list[reports.Figures]) -> dict[str, int]:
    """Sums of the columns that add up (distinct cards do not: a card may count in two rows)."""
    return {name: sum(getattr(row, name) for row in rows)
            for name in ("scans", "accepted", "gross", "discount", "net", "held", "flagged")}


def _per_group_chart(rows: list[reports.Figures], label: Any) -> Markup | None:
    totals: dict[str, reports.Figures] = {}
    for row in rows:
        before = totals.get(row.group)
        totals[row.group] = row if before is None else dataclasses.replace(
            before, net=before.net + row.net, discount=before.discount + row.discount)
    if len(totals) < 2:  # one group: the chart per period says it all
        return None
    ordered = sorted(totals.values(), key=lambda row: -(row.net + row.discount))
    title = t("rep_figures_per_group") if len(ordered) <= MAX_CHART_GROUPS else t(
        "rep_figures_per_group_top", shown=MAX_CHART_GROUPS, total=len(ordered))
    ordered = ordered[:MAX_CHART_GROUPS]
    return net_and_discount_per_group(title, [label(row.group) for row in ordered], ordered)


def _partners_chart(counts: list[reports.PartnerCount]) -> Markup:
    chart = pygal.Line(style=style((COLOURS["in_force"], COLOURS["with_scans"])), width=WIDTH, height=380,
                       legend_at_bottom=True, legend_at_bottom_columns=1, value_formatter=number,
                       x_label_rotation=40, show_minor_x_labels=False, x_labels_major_every=max(1, len(counts) // 8),
                       truncate_label=-1, margin_right=24, y_labels=ticks(max(row.in_force for row in counts)))
    chart.title = t("rep_partners_over_time")
    chart.x_labels = [month(row.month) for row in counts]
    chart.add(t("rep_partners_in_force"), [row.in_force for row in counts], stroke_style={"width": 3})
    # Dashed, so that it shows where it runs along the line above (every partner in force is scanning).
    chart.add(t("rep_partners_with_scans"), [row.with_scans for row in counts],
              stroke_style={"width": 3, "dasharray": "8, 6"})
    return _chart(chart)


def _elsewhere_chart(rows: list[visits.Elsewhere]) -> Markup:
    """This office's cards accepted at each other office's partners over the range, fewest last."""
    scans: dict[int, int] = {}
    for row in rows:
        scans[row.region] = scans.get(row.region, 0) + row.scans
    ordered = sorted(scans, key=lambda region: -scans[region])
    chart = pygal.HorizontalBar(style=style((COLOURS["with_scans"],)), width=WIDTH, height=150 + 44 * len(ordered),
                                legend_at_bottom=True, value_formatter=number, truncate_label=-1, truncate_legend=-1,
                                y_labels=ticks(max(max(scans.values()), 1)), margin_right=48)
    chart.title = t("rep_elsewhere_chart")
    chart.x_labels = [region_name(region) for region in ordered]
    chart.add(t("rep_elsewhere_scans"), [scans[region] for region in ordered])
    return _chart(chart)


def _coverage_table(rows: list[reports.CoverageMonth]) -> dict[int, list[reports.CoverageMonth]]:
    table: dict[int, list[reports.CoverageMonth]] = {}
    for row in rows:
        table.setdefault(row.region, []).append(row)
    return table


def _coverage_chart(rows: list[reports.CoverageMonth]) -> Markup | None:
    """Coverage in percent per region over the months, for the regions whose eligible children are known."""
    table = _coverage_table([row for row in rows if row.coverage_percent is not None])
    if not table:
        return None
    shown = sorted(table, key=lambda region: -(table[region][-1].coverage_percent or 0))[:MAX_CHART_REGIONS]
    months = sorted({row.month for row in rows})
    chart = pygal.Line(style=style(REGION_COLOURS[:len(shown)]), width=WIDTH, height=400, legend_at_bottom=True,
                       legend_at_bottom_columns=2, value_formatter=percent, range=(0, 100),
                       y_labels=[0, 20, 40, 60, 80, 100], x_label_rotation=40, show_minor_x_labels=False,
                       x_labels_major_every=max(1, len(months) // 8), truncate_label=-1,
                       truncate_legend=30, margin_right=24)
    chart.title = t("rep_coverage_trend")
    chart.x_labels = [month(value) for value in months]
    for region in shown:
        chart.add(region_name(region), [row.coverage_percent for row in table[region]])
    return _chart(chart)


# --- CSV downloads: the rows shown, as the command line writes them -----------------------


def _csv(rows: list[Any], row_type: type, name: str) -> Response:
    return Response(reports.to_csv(rows, row_type), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"', "Cache-Control": "no-store"})


def _chosen_or_400(partner_id: int | None) -> Choice:
    try:
        return choice(request.args, _today(partner_id), partner_manager=partner_id is not None)
    except ReportRefused as refused:
        abort(Response(*error_page(400, str(refused))))


@bp.get("/figures.csv")
@roles(*EVERYONE)
def figures_csv() -> ResponseReturnValue:
    mine = _mine()
    chosen = _chosen_or_400(mine)
    owner = f"partner{mine}-" if mine is not None else ""
    return _csv(_figures(chosen, mine), reports.Figures,
                f"kia-{owner}figures-{chosen.group}-{chosen.period}-{chosen.start}-{chosen.end}")


@bp.get("/partners.csv")
@roles("admin", "officer", "auditor")
def partners_csv() -> ResponseReturnValue:
    chosen = _chosen_or_400(None)
    return _csv(_partner_counts(chosen), reports.PartnerCount, f"kia-partners-{chosen.start}-{chosen.end}")


@bp.get("/coverage.csv")
@roles("admin", "officer", "auditor")
def coverage_csv() -> ResponseReturnValue:
    chosen = _chosen_or_400(None)
    return _csv(_coverage(chosen), reports.CoverageMonth, f"kia-coverage-{chosen.start}-{chosen.end}")


@bp.app_template_global()
def report_url(endpoint: str, chosen: Choice, **changes: str | None) -> str:
    """The address of ``endpoint`` (a page or a CSV) for the report ``chosen``, some choices changed."""
    values: dict[str, Any] = chosen.args(**changes)
    return url_for(endpoint, **values)


@bp.app_template_filter("day_range")
def day_range(chosen: Choice) -> str:
    return t("rep_shown_range", first=day(chosen.start), last=day(chosen.end))

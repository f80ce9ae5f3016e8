"""The dashboard: revenue per partner and over time, coverage, latest alarms.

Its charts are also the reports pages' (issuer.web.reports): one colour per
meaning across every chart (``COLOURS``: net revenue is always green, the
discount always amber), money as ``Rp 12.500``, months and regions by name.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from xml.etree.ElementTree import Element

import pygal
from flask import Blueprint, current_app, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup
from pygal.style import Style

from keys.regions import region_name

from .. import partners, reports, sync_ingest
from ..current import now, office
from .auth import EVERYONE, roles
from .formatting import month, rupiah
from .i18n import language, t
from .security import style_nonce

bp = Blueprint("dashboard", __name__)
# One colour per meaning, the same in every chart of the pages.
COLOURS = {
    "net": "#1b6e3a",  # green: what the partner took in
    "discount": "#d68910",  # amber: what the programme gave
    "gross": "#2c6fbb",  # blue: the full price
    "in_force": "#34495e",  # slate: partners with an MoU in force
    "with_scans": "#17a589",  # teal: partners with accepted scans
}
# Coverage is purple, one shade per region (a region's lines keep their shade within a chart).
REGION_COLOURS = ("#7d3c98", "#c39bd3", "#4a235a", "#a569bd", "#5b2c6f", "#d2b4de", "#6c3483", "#af7ac5")
WIDTH = 640  # drawn close to the column it is shown in, so the text stays legible
ENDING_SOON_SHOWN = 5  # agreements ending soon listed on the dashboard; the partners page has them all


def style(colours: tuple[str, ...]) -> Style:
    """The pages' chart style, with ``colours`` for the series in the order they are added."""
    return Style(
        background="white",
        plot_background="white",
        colors=colours,
        font_family="system-ui, sans-serif",
        title_font_size=17,
        label_font_size=13,
        major_label_font_size=13,
        legend_font_size=14,
        value_font_size=13,
        tooltip_font_size=13,
    )


def money(value: float | None) -> str:
    """A chart's money label, as the pages write money (``Rp 12.500``)."""
    return "" if value is None else rupiah(value)


def percent(value: float | None) -> str:
    if value is None:
        return ""
    text = f"{value:.1f}".replace(".", "," if language() == "id" else ".")
    return f"{text}%"


def _chart(chart: pygal.Graph) -> Markup:
    """The chart as inline SVG that loads and runs nothing: no script, no address outside this site.

    pygal's tooltips are a script from a third-party site (its ``js`` option,
    emptied here) fed by an inline script of settings (removed here); the
    pages' Content-Security-Policy runs neither.  Each value carries a
    ``<title>`` instead, which the browser shows on hover.  The chart's own
    ``<style>`` stays inline with this answer's nonce (issuer.web.security).
    """
    chart.config.js = []
    chart.config.no_data_text = t("no_chart_data")  # never pygal's English "No data"
    chart.add_xml_filter(_without_scripts)
    return Markup(chart.render(is_unicode=True, disable_xml_declaration=True))  # noqa: S704 (SVG made by pygal)


def _without_scripts(svg: Element) -> Element:
    for parent in list(svg.iter()):
        for child in list(parent):
            # The script of settings, and the tooltip box only that script would fill and show.
            if child.tag == "script" or "tooltip-overlay" in child.get("class", ""):
                parent.remove(child)
    for value in svg.iter():
        descriptions = {_first_class(desc): desc.text or "" for desc in value if desc.tag == "desc"}
        if "value" in descriptions:
            title = " · ".join(text for text in (descriptions.get("x_label"), descriptions["value"]) if text)
            value.insert(0, _text_element("title", title))
    for style in svg.iter("style"):
        style.set("nonce", style_nonce())
    return svg


def _first_class(element: Element) -> str:
    return re.split(r"\s+", element.get("class", "").strip())[0]


def _text_element(tag: str, text: str) -> Element:
    element = Element(tag)
    element.text = text
    return element


@bp.get("/")
@roles(*EVERYONE, "institution")
def index() -> ResponseReturnValue:
    if current_user.role == "institution":  # a school's or clinic's home is its own page
        return redirect(url_for("institutions.index"))
    home = office(current_app)
    mine = current_user.partner_id if current_user.role == "partner_manager" else None
    names = partners.partner_names(home)
    alarms = sync_ingest.latest_alarms(home, mine)
    # Today is the partner's local day for its manager; over every partner, the
    # easternmost zone's, so that no region's scans of today are left out (as the reports do).
    if mine is None:
        today = reports.today(now())
    else:
        today = partners.local_today(partners.find_partner(home, mine, now()).region, now())
    this_month = reports.figures(home, "partner", "month", today.replace(day=1), today, mine)
    year_ago = (today.replace(day=1) - dt.timedelta(days=335)).replace(day=1)
    over_time = reports.figures(home, "programme" if mine is None else "partner", "month", year_ago, today, mine)
    coverage_rows = reports.coverage(home, now()) if mine is None else []
    labels = [names.get(int(row.group), row.group) for row in this_month]
    return render_template(
        "dashboard.html",
        per_partner=net_and_discount_per_group(t("revenue_per_partner"), labels, this_month) if this_month else None,
        trend=net_and_discount_over_time(t("revenue_over_time"), over_time) if over_time else None,
        coverage=_coverage_chart(coverage_rows) if coverage_rows else None,
        figures=this_month,
        names=names,
        alarms=alarms,
        ending=_ending_agreements(mine),
    )


def net_and_discount_per_group(title: str, labels: list[str], rows: list[reports.Figures]) -> Markup:
    """One bar per group (a partner, a kind...): net revenue and the discount stacked, the full price in all."""
    # A few round amounts on the value axis: pygal's own are as many as fit, and their labels overlap.
    chart = pygal.HorizontalStackedBar(style=style((COLOURS["net"], COLOURS["discount"])), width=WIDTH,
                                       height=150 + 44 * max(1, len(rows)), legend_at_bottom=True,
                                       legend_at_bottom_columns=2, value_formatter=money, truncate_label=-1,
                                       truncate_legend=-1, y_labels=ticks(max(row.net + row.discount for row in rows)),
                                       margin_right=48)
    chart.title = title
    chart.x_labels = labels
    chart.add(t("net"), [row.net for row in rows])
    chart.add(t("discount"), [row.discount for row in rows])
    return _chart(chart)


def net_and_discount_over_time(title: str, rows: list[reports.Figures]) -> Markup:
    """Net revenue and the discount per period (summed over the rows' groups), stacked."""
    periods = sorted({row.period for row in rows})
    net = dict.fromkeys(periods, 0)
    discount = dict.fromkeys(periods, 0)
    for row in rows:
        net[row.period] += row.net
        discount[row.period] += row.discount
    by_day = bool(periods) and periods[0] >= 1_000_000
    chart = pygal.StackedBar(style=style((COLOURS["net"], COLOURS["discount"])), width=WIDTH, height=400,
                             legend_at_bottom=True, legend_at_bottom_columns=2, value_formatter=money,
                             truncate_legend=-1, x_label_rotation=40, show_minor_x_labels=False,
                             x_labels_major_every=max(1, len(periods) // 8), truncate_label=-1,
                             y_labels=ticks(max(net[period] + discount[period] for period in periods)),
                             margin_right=24)
    chart.title = title
    chart.x_labels = [_short_day(period) if by_day else month(period) for period in periods]
    chart.add(t("net"), [net[period] for period in periods])
    chart.add(t("discount"), [discount[period] for period in periods])
    return _chart(chart)


def ticks(maximum: float, most: int = 5) -> list[int]:
    """Round values from 0 past ``maximum`` for a chart's value axis, at most ``most`` steps: 0, 250.000, 500.000..."""
    if maximum <= 0:
        return [0, 1]
    power = 10 ** max(0, len(str(int(maximum))) - 2)
    step = next(power * factor for factor in (1, 2, 2.5, 5, 10, 20, 25, 50, 100) if maximum / (power * factor) <= most)
    step = int(step)
    return list(range(0, int(maximum) + step + 1, step))[: most + 2]


def _short_day(period: int) -> str:
    """A day on a chart's axis: ``4/12`` (the title and the table give the year)."""
    return f"{period % 100}/{period // 100 % 100}"


def _coverage_chart(rows: list[reports.Coverage]) -> Markup:
    """Coverage per region; a region without a count of eligible children has no bar (the reports page says
    so), and with no count at all the chart says there are no figures yet."""
    chart = pygal.HorizontalBar(style=style((REGION_COLOURS[0],)), width=WIDTH, height=130 + 44 * len(rows),
                                range=(0, 100), show_legend=False, value_formatter=percent, truncate_label=-1,
                                y_labels=[0, 25, 50, 75, 100], margin_right=32)
    chart.title = t("coverage")
    chart.x_labels = [region_name(row.region) for row in rows]
    chart.add(t("coverage"), [row.coverage_percent for row in rows])
    return _chart(chart)


def _ending_agreements(partner_id: int | None) -> list[Any] | None:
    """Agreements ending soon or ended (issuer.agreements.ending), a partner manager's own only; None
    while the office keeps no agreements."""
    try:
        from .. import agreements
    except ImportError:
        return None
    ending = getattr(agreements, "ending", None)
    if ending is None:
        return None
    found: list[Any] = list(ending(office(current_app), now()))
    if partner_id is not None:
        found = [item for item in found if item.owner.kind == "partner" and item.owner.id == partner_id]
    return found[:ENDING_SOON_SHOWN]

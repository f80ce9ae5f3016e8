"""The dashboard: revenue per partner and over time, coverage, latest alarms."""

from __future__ import annotations

import datetime as dt
import re
from xml.etree.ElementTree import Element

import pygal
from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup
from pygal.style import Style

from .. import partners, reports, sync_ingest
from ..current import now, office
from .auth import EVERYONE, roles
from .i18n import t
from .security import style_nonce

bp = Blueprint("dashboard", __name__)
_STYLE = Style(
    background="white",
    plot_background="white",
    colors=("#1b6e3a", "#c0392b", "#2c6fbb", "#d68910"),
    font_family="system-ui, sans-serif",
    title_font_size=18,
    label_font_size=14,
    major_label_font_size=14,
    legend_font_size=14,
    value_font_size=14,
)
_WIDTH = 640  # drawn close to the column it is shown in, so the text stays legible


def _chart(chart: pygal.Graph) -> Markup:
    """The chart as inline SVG that loads and runs nothing: no script, no address outside this site.

    pygal's tooltips are a script from a third-party site (its ``js`` option,
    emptied here) fed by an inline script of settings (removed here); the
    pages' Content-Security-Policy runs neither.  Each value carries a
    ``<title>`` instead, which the browser shows on hover.  The chart's own
    ``<style>`` stays inline with this answer's nonce (issuer.web.security).
    """
    chart.config.js = []
    chart.config.no_data_text = t("no_chart_data")
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
@roles(*EVERYONE)
def index() -> ResponseReturnValue:
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

    per_partner = pygal.HorizontalStackedBar(style=_STYLE, width=_WIDTH, height=180 + 50 * max(1, len(this_month)),
                                             legend_at_bottom=True, value_formatter=_rupiah, x_label_rotation=20,
                                             show_minor_x_labels=False, x_labels_major_count=5, truncate_label=-1)
    per_partner.title = t("revenue_per_partner")
    per_partner.x_labels = [names.get(int(row.group), row.group) for row in this_month]
    per_partner.add(t("net"), [row.net for row in this_month])
    per_partner.add(t("discount"), [row.discount for row in this_month])

    trend = pygal.Line(style=_STYLE, width=_WIDTH, height=400, legend_at_bottom=True, value_formatter=_rupiah,
                       x_label_rotation=30)
    trend.title = t("revenue_over_time")
    trend.x_labels = [f"{row.period // 100}-{row.period % 100:02d}" for row in over_time]
    trend.add(t("gross"), [row.gross for row in over_time])
    trend.add(t("net"), [row.net for row in over_time])

    coverage_rows = reports.coverage(home, now()) if mine is None else []
    coverage = pygal.Bar(style=_STYLE, width=_WIDTH, height=360, range=(0, 100), show_legend=False)
    coverage.title = t("coverage")
    coverage.x_labels = [str(row.region) for row in coverage_rows]
    coverage.add(t("coverage"), [row.coverage_percent for row in coverage_rows])

    return render_template(
        "dashboard.html",
        per_partner=_chart(per_partner) if this_month else None,
        trend=_chart(trend) if over_time else None,
        coverage=_chart(coverage) if coverage_rows else None,
        figures=this_month,
        names=names,
        alarms=alarms,
    )


def _rupiah(value: float | None) -> str:
    return "" if value is None else f"Rp{int(value):,}".replace(",", ".")

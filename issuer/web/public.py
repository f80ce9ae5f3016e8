"""The public site under /publik: where a KIA gives a discount, how to get one, the programme's figures.

No sign-in and no session: these pages never touch the session, carry no
form token and set no cookie but the language one every page sets on
``?lang=``.  They are for a cheap phone on a slow line: no script, one small
stylesheet (static/public.css), charts drawn here as plain SVG styled by
that stylesheet (so no inline style and no nonce), a few KB each.  Anyone
may keep a copy for a few minutes (``Cache-Control: public``), unless the
visitor brought a staff session cookie.  What they show is chosen in
issuer.public_figures: programme figures, never a person, a card or a
partner's revenue.
"""

from __future__ import annotations

import dataclasses
import gzip
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue

from keys.eligibility import is_valid_region
from keys.regions import region_name

from .. import public_figures, reports
from ..current import now, office
from ..storage.models import KLA_CLUSTERS, PARTNER_KINDS
from .i18n import language

bp = Blueprint("public", __name__, url_prefix="/publik")
PAGE_SIZE = 10  # partners on one page of discounts: a few KB, however many partners the programme has
GZIP_FROM = 1000  # bytes: smaller answers fit in a packet as they are
MAX_AGE = 300  # seconds a browser or a proxy may keep a page: the lists change a few times a year

# The charts' drawing area, in SVG units: 1:1 on a 360-pixel phone, scaled up on a wider screen.
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 340, 200, 30, 24, 12, 24  # RIGHT: room for the last month's name
BAR_ROW = 36  # one region's row in the coverage chart


@bp.after_request
def _cacheable(response: Response) -> Response:
    if response.status_code == 200:
        # A staff member's browser brings its session cookie (and may get it refreshed): their copy stays theirs.
        staff = current_app.config["SESSION_COOKIE_NAME"] in request.cookies
        response.headers["Cache-Control"] = f"{'private' if staff else 'public'}, max-age={MAX_AGE}"
        response.vary.add("Cookie")  # the language may come from the cookie
        _compress(response)
    return response


def _compress(response: Response) -> None:
    """Gzip the page for a browser that takes it: a page of ten partners goes from about 14 KB to 2 KB.

    Done here rather than left to a proxy the office may not have; these
    pages hold no secret, so compression reveals nothing (no BREACH).
    """
    response.vary.add("Accept-Encoding")
    if "gzip" not in request.headers.get("Accept-Encoding", "") or response.direct_passthrough:
        return
    body = response.get_data()
    if len(body) >= GZIP_FROM:
        response.set_data(gzip.compress(body, compresslevel=6, mtime=0))
        response.headers["Content-Encoding"] = "gzip"


@bp.context_processor
def _links() -> dict[str, Any]:
    return {"link": link, "switch_to": switch_to, "here": here}


def link(endpoint: str, **values: Any) -> str:
    """A link to another public page, in English when this page is (a visitor without cookies keeps it too)."""
    if language() == "en":
        values["lang"] = "en"
    return url_for(endpoint, **values)


def here(**changes: Any) -> str:
    """This page with its filters, some of them changed (``lang``, ``page``)."""
    values: dict[str, Any] = request.args.to_dict() | changes
    return url_for(request.endpoint or "public.discounts", **values)


def switch_to(lang: str) -> str:
    """This page, with its filters, in ``lang``."""
    return here(lang=lang)


def _choice(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name)
    return value if value in allowed else None


def _region_choice() -> int | None:
    value = request.args.get("region", "")
    return int(value) if value.isdigit() and len(value) == 4 and is_valid_region(int(value)) else None


@bp.get("/")
def discounts() -> ResponseReturnValue:
    listed = public_figures.partners_with_discounts(office(current_app), now())
    cluster, region, kind = _choice("cluster", KLA_CLUSTERS), _region_choice(), _choice("kind", PARTNER_KINDS)
    shown = public_figures.narrow(listed, cluster=cluster, region=region, kind=kind)
    pages = max(1, -(-len(shown) // PAGE_SIZE))
    asked = request.args.get("page", "")
    number = min(max(int(asked), 1), pages) if asked.isdigit() and len(asked) < 6 else 1
    return render_template("public_discounts.html", partners=shown[(number - 1) * PAGE_SIZE:number * PAGE_SIZE],
                           total=len(shown), page=number, pages=pages, choices=public_figures.choices(listed),
                           chosen={"cluster": cluster, "region": region, "kind": kind})


@bp.get("/cara-mendapatkan")
def howto() -> ResponseReturnValue:
    return render_template("public_howto.html", institutions=public_figures.institutions(office(current_app)))


@bp.get("/angka")
def figures() -> ResponseReturnValue:
    home, at = office(current_app), now()
    today = reports.today(at)
    over_time = public_figures.partners_over_time(home, today)
    coverage = public_figures.coverage(home, at)
    listed = public_figures.partners_with_discounts(home, at)
    return render_template(
        "public_figures.html", today=today, over_time=over_time, coverage=coverage,
        partners_now=over_time[-1].partners, services_now=sum(len(row.services) for row in listed),
        active_cards=sum(row.active_cards for row in coverage),
        trend=column_chart([(row.month, row.partners) for row in over_time]),
        coverage_chart=bar_rows([(row.region, row.coverage_percent) for row in coverage]), percent=percent)


# --- open data ----------------------------------------------------------------------


@bp.get("/data/partners.json")
def partners_json() -> ResponseReturnValue:
    listed = public_figures.partners_with_discounts(office(current_app), now())
    return jsonify(partners=[_with_region_name(dataclasses.asdict(row)) for row in listed])


@bp.get("/data/institutions.json")
def institutions_json() -> ResponseReturnValue:
    listed = public_figures.institutions(office(current_app))
    return jsonify(institutions=[_with_region_name(dataclasses.asdict(row)) for row in listed])


@bp.get("/data/figures.json")
def figures_json() -> ResponseReturnValue:
    home, at = office(current_app), now()
    over_time = public_figures.partners_over_time(home, reports.today(at))
    coverage = [_with_region_name(row) for row in reports.to_json(public_figures.coverage(home, at))]
    return jsonify(as_of=reports.today(at).isoformat(), coverage=coverage,
                   partners_over_time=[dataclasses.asdict(row) for row in over_time])


def _with_region_name(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"region_name": region_name(row["region"])}


# --- presentation -------------------------------------------------------------------


def percent(value: float | int | None) -> str:
    """``55,4%`` in Bahasa Indonesia, ``55.4%`` in English; whole numbers without decimals."""
    if value is None:
        return ""
    text = f"{value:.1f}".removesuffix(".0")
    return (text.replace(".", ",") if language() == "id" else text) + "%"


@dataclasses.dataclass(frozen=True)
class Column:
    x: float
    y: float
    width: float
    height: float
    month: int
    value: int
    labelled: bool  # its month is written under the axis


def column_chart(points: list[tuple[int, int]]) -> dict[str, Any]:
    """Columns for (YYYYMM, count) points in the WIDTH x HEIGHT area; every sixth month and the last labelled.

    The scale runs to the even number at or above the largest count, so the middle grid line is a whole count.
    """
    half = -(-max([value for _, value in points] + [1]) // 2)  # the grid's middle line: a whole number
    top = 2 * half
    step = (WIDTH - LEFT - RIGHT) / max(1, len(points))
    plot = HEIGHT - TOP - BOTTOM
    columns = [
        Column(round(LEFT + index * step + 1, 1), round(TOP + plot * (1 - value / top), 1), round(step - 2, 1),
               round(plot * value / top, 1), month, value, (len(points) - 1 - index) % 6 == 0)
        for index, (month, value) in enumerate(points)
    ]
    grid = [(round(TOP + plot * (1 - share), 1), int(top * share)) for share in (0, 0.5, 1)]
    return {"columns": columns, "grid": grid, "width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT,
            "base": HEIGHT - BOTTOM}


@dataclasses.dataclass(frozen=True)
class BarRow:
    y: float
    width: float  # 0 when the share is not known
    region: int
    value: float | None


def bar_rows(points: list[tuple[int, float | None]]) -> dict[str, Any]:
    """One row per region: its name, then a bar of its share (0 to 100) of the full WIDTH less the value's room."""
    room = WIDTH - 60
    rows = [BarRow(index * BAR_ROW, round(room * min(value or 0, 100) / 100, 1), region, value)
            for index, (region, value) in enumerate(points)]
    return {"rows": rows, "width": WIDTH, "height": max(1, len(rows)) * BAR_ROW, "room": room}

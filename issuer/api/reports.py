"""Stakeholder reports as JSON or CSV, for people signed in to the office's pages.

Partner managers read only their own partner's figures; groupings that mix
partners (kind, cluster, programme) and coverage are for the office.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from flask import Response, current_app
from flask.typing import ResponseReturnValue
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .. import reports
from ..current import now, office
from . import bp, error, parsed_query


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["json", "csv"] = "json"


class FiguresQuery(_Query):
    by: Literal["partner", "kind", "cluster", "programme"] = "partner"
    period: Literal["day", "month"] = "month"
    from_: dt.date | None = Field(default=None, alias="from")
    to: dt.date | None = None
    partner: int | None = Field(default=None, ge=1, le=2**31 - 1)

    @model_validator(mode="after")
    def _dates_in_order(self) -> FiguresQuery:
        if self.from_ and self.to and self.from_ > self.to:
            raise ValueError("from must not be after to")
        return self


class RangeQuery(_Query):
    from_: dt.date | None = Field(default=None, alias="from")
    to: dt.date | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> RangeQuery:
        if self.from_ and self.to and self.from_ > self.to:
            raise ValueError("from must not be after to")
        return self


def _signed_in() -> ResponseReturnValue | None:
    if not current_user.is_authenticated:
        return error(401, "unauthorized", "sign in to the office's pages to read reports")
    return None


def _range(query: FiguresQuery | RangeQuery, period: str) -> tuple[dt.date, dt.date]:
    """The report's first and last days (by default this month so far); Invalid (400) beyond reports.check_range."""
    today = reports.today(now())
    last = query.to or today
    first = query.from_ or last.replace(day=1)
    reports.check_range(first, last, period, today)
    return first, last


def _answer(rows: list[Any], row_type: type, output: str, name: str) -> ResponseReturnValue:
    if output == "csv":
        return Response(reports.to_csv(rows, row_type), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return {"rows": reports.to_json(rows)}


@bp.get("/reports/figures")
def figures() -> ResponseReturnValue:
    if (refusal := _signed_in()) is not None:
        return refusal
    query = parsed_query(FiguresQuery)
    if not isinstance(query, FiguresQuery):
        return query
    partner = query.partner
    if current_user.role == "partner_manager":
        if query.by != "partner" or (partner is not None and partner != current_user.partner_id):
            return error(403, "forbidden", "a partner manager reads only their own partner's figures")
        partner = current_user.partner_id
    start, end = _range(query, query.period)
    rows = reports.figures(office(current_app), query.by, query.period, start, end, partner)
    return _answer(rows, reports.Figures, query.format, f"figures-{query.by}-{query.period}")


@bp.get("/reports/partners")
def partners_over_time() -> ResponseReturnValue:
    if (refusal := _signed_in()) is not None:
        return refusal
    if current_user.role == "partner_manager":
        return error(403, "forbidden", "programme-wide reports are for the office")
    query = parsed_query(RangeQuery)
    if not isinstance(query, RangeQuery):
        return query
    start, end = _range(query, "month")
    return _answer(reports.active_partners(office(current_app), start, end), reports.PartnerCount, query.format,
                   "partners")


@bp.get("/reports/coverage")
def coverage() -> ResponseReturnValue:
    if (refusal := _signed_in()) is not None:
        return refusal
    if current_user.role == "partner_manager":
        return error(403, "forbidden", "card coverage is for the office")
    query = parsed_query(_Query)
    if not isinstance(query, _Query):
        return query
    return _answer(reports.coverage(office(current_app), now()), reports.Coverage, query.format,
                   "coverage")

"""Reports straight from redemptions, the way issuer.reports computed them before daily summaries (issue 14).

``raw_figures`` is the reference the summaries are tested against
(tests/integration/issuer/test_report_summaries.py) and the "before" of
bench/bench_report.py.  ``summarise_stored`` counts into the summaries the
redemptions a test inserted directly, as ingest would have.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, delete, distinct, func, literal, select
from sqlalchemy.orm import Session

from issuer import summaries
from issuer.reports import BY_SERVICE, Figures, bucket, check_range
from issuer.storage.models import Partner, RedemptionRow
from issuer.storage.store import IssuerHome


def raw_figures(home: IssuerHome, group: str, period: str, start: dt.date, end: dt.date,
                partner_id: int | None = None, region: int | None = None) -> list[Figures]:
    """reports.figures computed by scanning redemptions (its arguments and result)."""
    check_range(start, end, period)
    column = RedemptionRow.day if period == "day" else RedemptionRow.month
    accepted = and_(RedemptionRow.accepted.is_(True), RedemptionRow.held.is_(False))
    held = and_(RedemptionRow.accepted.is_(True), RedemptionRow.held.is_(True))

    def when_accepted(value: Any) -> Any:
        return func.coalesce(func.sum(case((accepted, value), else_=0)), 0)

    keys = {"partner": RedemptionRow.partner_id, "kind": Partner.kind, "cluster": Partner.cluster,
            BY_SERVICE: RedemptionRow.service}
    grouping = [keys[group]] if group in keys else []
    query = (
        select(
            (keys[group] if group in keys else literal("all")).label("group"),
            column.label("period"),
            func.count().label("scans"),
            when_accepted(1).label("accepted"),
            func.count(distinct(case((accepted, RedemptionRow.serial), else_=None))).label("unique_cards"),
            when_accepted(RedemptionRow.price).label("gross"),
            when_accepted(RedemptionRow.discount).label("discount"),
            when_accepted(RedemptionRow.paid).label("net"),
            func.coalesce(func.sum(case((held, 1), else_=0)), 0).label("held"),
            when_accepted(case((RedemptionRow.flagged.is_(True), 1), else_=0)).label("flagged"),
        )
        .where(RedemptionRow.day.between(bucket(start, "day"), bucket(end, "day")))
        .group_by(*grouping, column)
        .order_by(*grouping, column)
    )
    if group in ("kind", "cluster") or region is not None:
        query = query.join(Partner, Partner.id == RedemptionRow.partner_id)
    if region is not None:
        query = query.where(Partner.region == region)
    if partner_id is not None:
        query = query.where(RedemptionRow.partner_id == partner_id)
    with home.transaction() as session:
        return [Figures(str(row.group), *(int(value) for value in row[1:])) for row in session.execute(query)]


def summarise_stored(session: Session) -> None:
    """Count every stored redemption into the summaries and card sets afresh: for tests that insert rows directly."""
    session.flush()
    for table in summaries.TABLES:
        session.execute(delete(table))
    columns = [RedemptionRow.__table__.c[name] for name in (
        "partner_id", "day", "service", "category", "accepted", "held", "flagged", "price", "discount", "paid",
        "serial")]
    summaries.add_records(session, [dict(row._mapping) for row in session.execute(select(*columns))])

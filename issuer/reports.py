"""Stakeholder reports: what KIA holders bring to partners, and card coverage.

Revenue figures count accepted scans only: ``gross`` is the full price of
what KIA holders bought, ``discount`` what the programme gave, ``net`` what
the partner took in.  These are sums of daily summaries kept at ingest
(issuer.summaries).  ``unique_cards`` counts distinct cards, never summed
over groups: it is read from the card sets kept at ingest for each grouping,
or counted from redemptions where none is kept.  Periods are the partner
region's local days (YYYYMMDD) or months (YYYYMM), set at ingest.
"""

from __future__ import annotations

import calendar
import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    Subquery,
    and_,
    case,
    cast,
    distinct,
    false,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from keys.eligibility import WIT, is_valid_region, region_timezone

from . import retention
from .errors import Invalid
from .storage.models import (
    PROGRAMME,
    SUMMARY_FIGURES,
    Agreement,
    CardRow,
    Partner,
    RedemptionCard,
    RedemptionCardCount,
    RedemptionCardEdge,
    RedemptionPartnerDay,
    RedemptionPartnerMonth,
    RedemptionProgrammeDay,
    RedemptionRow,
    RedemptionServiceCardCount,
    RedemptionSummary,
    RedemptionSummaryMonth,
    RegionEligibility,
    ReportScope,
    on_days,
)
from .storage.store import IssuerHome

PERIODS = ("day", "month")
GROUPS = ("partner", "kind", "cluster", "programme")
BY_SERVICE = "service"  # one partner's figures per service (its code), for the partner's own report
MAX_DAYS = 366  # a report by day covers at most a (leap) year, as an audit export does
MAX_MONTHS = 60  # a report by month covers at most five years
MAX_DAYS_AHEAD = 366  # a report ends at most a year after today: later days have no scans, only cost


@dataclasses.dataclass(slots=True)  # not frozen: a frozen dataclass's init costs 7x, felt at 18,000 rows a report
class Figures:
    group: str  # the partner's id, the kind, the cluster, or "all"
    period: int  # YYYYMMDD or YYYYMM
    scans: int
    accepted: int
    unique_cards: int
    gross: int
    discount: int
    net: int
    held: int = 0  # accepted records a check held out of the figures above, until an auditor releases them
    flagged: int = 0  # accepted and counted, though the terminal flagged them (stale trust list, clock skew)


def today(now: int) -> dt.date:
    """The default last day of a report: today in WIT, the easternmost zone, so
    that no region's scans of today are left out."""
    return dt.datetime.fromtimestamp(now, WIT).date()


def bucket(day: dt.date, period: str) -> int:
    return day.year * 10000 + day.month * 100 + day.day if period == "day" else day.year * 100 + day.month


def range_problem(start: dt.date, end: dt.date, period: str, today: dt.date | None = None) -> str | None:
    """Which limit ``start``..``end`` passes for ``period``: "days", "months", "ahead", or None within them.

    The pages name the limit in the reader's language; check_range raises with it.
    """
    if period == "day" and (end - start).days >= MAX_DAYS:
        return "days"
    if period == "month" and _month_number(end) - _month_number(start) >= MAX_MONTHS:
        return "months"
    if today is not None and (end - today).days > MAX_DAYS_AHEAD:
        return "ahead"
    return None


def check_range(start: dt.date, end: dt.date, period: str, today: dt.date | None = None) -> None:
    """Refuse a report's dates unless ``start``..``end`` is within the span for ``period``.

    At most MAX_DAYS days by day and MAX_MONTHS months by month (a range that
    ends before it starts is empty, and allowed); with ``today``, the report
    also ends at most MAX_DAYS_AHEAD days after it.  Raises Invalid, saying
    what to ask instead.
    """
    problem = range_problem(start, end, period, today)
    if problem == "days":
        raise Invalid(f"a report by day covers at most {MAX_DAYS} days; ask by month, or for several periods")
    if problem == "months":
        raise Invalid(f"a report by month covers at most {MAX_MONTHS} months; ask for several periods")
    if problem == "ahead" and today is not None:
        raise Invalid(f"a report ends at most {MAX_DAYS_AHEAD} days after today ({today.isoformat()})")


def figures(
    home: IssuerHome, group: str, period: str, start: dt.date, end: dt.date, partner_id: int | None = None,
    region: int | None = None,
) -> list[Figures]:
    """Figures per ``group`` and ``period`` for local dates ``start`` to ``end`` inclusive.

    ``group`` is one of GROUPS, or BY_SERVICE (the service's code: meant with
    ``partner_id``, as service codes are each partner's own).  ``region``
    keeps the partners of one region.  Raises Invalid when the dates span
    more than check_range allows.

    Every figure but ``unique_cards`` is a sum of the summaries kept at
    ingest (issuer.summaries): whole months from the monthly rows, other
    days from the daily ones.  Unique cards are read from what ingest keeps
    too (counts for whole days and months, each set's first and last counted
    days for the days of a month the range cuts), but for kinds and clusters
    within one region and services across partners: those are counted from
    the redemptions' index of counted cards.  All in one statement (one
    snapshot); docs/benchmarks.md gives the costs.
    """
    if group not in (*GROUPS, BY_SERVICE) or period not in PERIODS:
        raise ValueError("unknown group or period")
    check_range(start, end, period)
    days = (bucket(start, "day"), bucket(end, "day"))  # always the exact days asked for, whatever the grouping
    months, cut = _whole_months(start, end) if period == "month" else (None, [days])
    # A partner's day or month in one row, but per service: those need services' rows.  The whole programme's
    # days in a few rows a day.
    daily: Any = RedemptionSummary if group == BY_SERVICE else RedemptionPartnerDay
    monthly: Any = RedemptionSummaryMonth if group == BY_SERVICE else RedemptionPartnerMonth
    if _whole_programme(group, partner_id, region) and period == "day":
        daily = RedemptionProgrammeDay
    parts = [_sums(daily, daily.day, group, period, daily.day.between(*span), partner_id, region) for span in cut]
    if months is not None:
        parts.append(_sums(monthly, monthly.month, group, period, monthly.month.between(*months), partner_id,
                           region))
    if len(parts) > 1:
        each = union_all(*parts).subquery()
        sums = select(each.c.group, each.c.period, *(_summed(each.c[name]).label(name) for name in FIGURES_SUMMED)
                      ).group_by(each.c.group, each.c.period).subquery()
    else:
        sums = parts[0].subquery()
    with home.transaction() as session:
        if session.connection().dialect.name == "postgresql":
            # A plan for this range, not one the driver's prepared statement kept from another: a plan made
            # for one month's rows and reused for a year's cost 10x (docs/benchmarks.md).
            session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        cards = _unique_cards(session, group, period, days, months, cut, partner_id, region)
        figures = (sums.c.scans, sums.c.accepted, func.coalesce(cards.c.unique_cards, 0), sums.c.gross,
                   sums.c.discount, sums.c.net, sums.c.held, sums.c.flagged)
        query = (
            # PostgreSQL sums bigints as numeric: cast back, or each figure crosses as text for a Decimal.
            select(sums.c.group, sums.c.period, *(cast(figure, BigInteger) for figure in figures))
            .outerjoin(cards, and_(sums.c.group == cards.c.group, sums.c.period == cards.c.period))
            .order_by(sums.c.group, sums.c.period)
        )
        # Core rows (no ORM loading) of ints: thousands of rows for reports over every partner.
        return [Figures(str(row[0]), *row[1:]) for row in session.connection().execute(query)]


def _whole_months(start: dt.date, end: dt.date) -> tuple[tuple[int, int] | None, list[tuple[int, int]]]:
    """The whole months in ``start``..``end`` (first, last YYYYMM, or None) and the spans of days left around them."""
    first = start if start.day == 1 else _next_month(start)
    after = _next_month(end) if end.day == calendar.monthrange(end.year, end.month)[1] else end.replace(day=1)
    if first >= after:  # no whole month: the days alone (none when the range ends before it starts)
        return None, [(bucket(start, "day"), bucket(end, "day"))]
    spans = []
    if start < first:
        spans.append((bucket(start, "day"), bucket(first - dt.timedelta(days=1), "day")))
    if after <= end:
        spans.append((bucket(after, "day"), bucket(end, "day")))
    return (bucket(first, "month"), bucket(after - dt.timedelta(days=1), "month")), spans


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


MONTHLY = (RedemptionSummaryMonth, RedemptionPartnerMonth)


def _sums(summary: Any, when: Any, group: str, period: str, where: Any, partner_id: int | None,
          region: int | None) -> Select[Any]:
    """FIGURES_SUMMED of ``summary`` (daily or monthly) per ``group`` and ``period`` where ``where`` holds.

    A partner's row of a partner table is already its figures for the
    period when the table is kept by that period: it is read, not summed.
    """
    label = (when if period == "day" or summary in MONTHLY else summary.month).label("period")
    partner = getattr(summary, "partner_id", None)  # none in the programme's own rows
    group_of = _group_of(group, partner, getattr(summary, "service", None)).label("group")
    if group == "partner" and (summary is RedemptionPartnerMonth or (summary is RedemptionPartnerDay
                                                                      and period == "day")):
        return _narrowed(select(group_of, label, *(getattr(summary, name) for name in FIGURES_SUMMED)).where(where),
                         group, partner, partner_id, region)
    return _grouped(_narrowed(
        select(group_of, label, *(_summed(getattr(summary, name)).label(name) for name in FIGURES_SUMMED)
               ).where(where),
        group, partner, partner_id, region), group)


def _whole_programme(group: str, partner_id: int | None, region: int | None) -> bool:
    """Whether a report is the whole programme's, which RedemptionProgrammeDay keeps by day."""
    return group == "programme" and partner_id is None and region is None


def _summed(column: Any) -> Any:
    """SUM of a bigint ``column`` as a bigint: PostgreSQL's own answer is numeric, slower to add again and to
    read."""
    return cast(func.sum(column), BigInteger)


def _unique_cards(session: Session, group: str, period: str, days: tuple[int, int], months: tuple[int, int] | None,
                  cut: list[tuple[int, int]], partner_id: int | None, region: int | None) -> Subquery:
    """Unique cards per group and period: from the sets ingest keeps (issuer.summaries), else counted from
    redemptions.

    Whole days and months are read from the counts; the days of a month the
    range cuts from the sets' edges or day bits (_set_members).  Kinds and
    clusters within one region have no sets of their own (theirs span
    regions): those, and services across partners, are counted from
    redemptions.
    """
    if (group in ("kind", "cluster") and region is not None and partner_id is None) or (
            group == BY_SERVICE and partner_id is None):
        retention.require_records(session, days[0] // 100)
        return _counted_cards(session, group, period, [days], partner_id, region)
    parts: list[Select[Any]] = []
    whole = days if period == "day" else months
    if whole is not None and period == "day" and _whole_programme(group, partner_id, region):
        programme = RedemptionProgrammeDay
        parts.append(select(literal("all").label("group"), programme.day.label("period"),
                            _summed(programme.cards).label("unique_cards")).where(programme.day.between(*whole))
                     .group_by(programme.day))
    elif whole is not None:
        parts.append(_counted_in_sets(group, whole, partner_id, region))
    if period == "month":
        pieces = _month_pieces(cut)
        read = [month for month, bits in pieces if _edge_of(month, bits) is None]
        if read:  # those pieces read the card sets' rows
            retention.require_records(session, min(read))
        parts.extend(_set_members(group, month, bits, partner_id, region) for month, bits in pieces)
    if not parts:  # a range that ends before it starts: nothing, typed as the redemptions' count types it
        return _counted_cards(session, group, period, cut, partner_id, region)
    return union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()


def _counted_in_sets(group: str, periods: tuple[int, int], partner_id: int | None, region: int | None
                     ) -> Select[Any]:
    """Unique cards per group and period (days or months in ``periods``) from the sets' counts."""
    if group == BY_SERVICE:
        counts: Any = RedemptionServiceCardCount
        figure = counts.cards
    else:
        counts = RedemptionCardCount
        figure = counts.partner_cards if group == "partner" or partner_id is not None else {
            "programme": counts.region_cards if region is not None else counts.programme_cards,
            "kind": counts.kind_cards, "cluster": counts.cluster_cards}[group]
    group_of = _group_of(group, counts.partner_id, getattr(counts, "service", None)).label("group")
    if group == "partner" and counts is RedemptionCardCount:  # a row per partner and period: read, not summed
        return _narrowed(select(group_of, counts.period.label("period"), figure.label("unique_cards")).where(
            counts.period.between(*periods)), group, counts.partner_id, partner_id, region)
    return _grouped(_narrowed(
        select(group_of, counts.period.label("period"), _summed(figure).label("unique_cards")).where(
            counts.period.between(*periods)),
        group, counts.partner_id, partner_id, region), group)


def _set_members(group: str, month: int, bits: int, partner_id: int | None, region: int | None) -> Select[Any]:
    """Unique cards per group of ``month`` counted on the days in ``bits``: for the month's first or last
    days, sums of the cards' first or last counted days (RedemptionCardEdge); else the card sets' rows."""
    cards: Any
    edge = _edge_of(month, bits)
    if edge is None:
        cards = RedemptionCard
        on_days: tuple[Any, ...] = (cards.month == month, cards.days.op("&")(bits) != 0)
        unique: Any = func.count()
        period = cards.month
    else:
        cards = RedemptionCardEdge
        figure, first, last = edge
        on_days = (cards.day.between(first, last),)
        unique = func.sum(getattr(cards, figure))
        period = cards.day // 100
    if group == "programme" and partner_id is None and region is None:
        return select(literal("all").label("group"), period.label("period"),
                      unique.label("unique_cards")).where(cards.scope == PROGRAMME, *on_days).group_by(period)
    if group == "partner" or partner_id is not None and group != BY_SERVICE:
        return _grouped(_narrowed(
            select(_group_of(group, cards.scope, None).label("group"), period.label("period"),
                   unique.label("unique_cards")).where(cards.scope > 0, *on_days),
            group, cards.scope, partner_id, region), group)
    scope = ReportScope
    label = literal("all") if group == "programme" else scope.name
    query = select(label.label("group"), period.label("period"), unique.label("unique_cards")).select_from(
        cards).join(scope, cards.scope == -scope.id).where(*on_days)
    if group == "programme":  # a region's programme
        query = query.where(scope.what == "region", scope.partner_id == 0, scope.name == str(region))
    elif group == BY_SERVICE:
        query = _narrowed(query.where(scope.what == "service"), group, scope.partner_id, partner_id, region)
    else:
        query = query.where(scope.what == group, scope.partner_id == 0)
    return query.group_by(label, period) if group != "programme" else query.group_by(period)


def _edge_of(month: int, bits: int) -> tuple[str, int, int] | None:
    """For days ``bits`` of ``month`` that are its first or its last days: the RedemptionCardEdge figure
    that counts their cards and the days (YYYYMMDD) to sum it over; else None."""
    first, last = (bits & -bits).bit_length(), bits.bit_length()
    if bits != (1 << last) - (1 << first - 1):  # days with a gap: only the sets' rows answer
        return None
    if first == 1:
        return "firsts", month * 100 + 1, month * 100 + last
    if last == calendar.monthrange(month // 100, month % 100)[1]:
        return "lasts", month * 100 + first, month * 100 + last
    return None


def _month_pieces(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans of days (YYYYMMDD, inclusive) as (month YYYYMM, bits of its days: bit d - 1 for day d)."""
    pieces: dict[int, int] = {}
    for first, last in spans:
        day = dt.date(first // 10000, first // 100 % 100, first % 100)
        end = dt.date(last // 10000, last // 100 % 100, last % 100)
        while day <= end:
            month = day.year * 100 + day.month
            pieces[month] = pieces.get(month, 0) | 1 << (day.day - 1)
            day += dt.timedelta(days=1)
    return sorted(pieces.items())


def _counted_cards(session: Session, group: str, period: str, spans: list[tuple[int, int]], partner_id: int | None,
                   region: int | None) -> Subquery:
    """Distinct cards of accepted, counted records per group and period in ``spans`` of days, read from
    ix_redemptions_counted_cards.

    By day each card is taken once per group and day, then counted: the
    index's order makes them distinct without a sort.  By month the serials
    are sorted, on PostgreSQL byte-wise (not by the locale) and in memory.
    """
    serial: Any = RedemptionRow.serial
    if period == "month" and session.connection().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))
        serial = serial.collate("C")
    label = _group_of(group, RedemptionRow.partner_id, RedemptionRow.service).label("group")
    when = (RedemptionRow.day if period == "day" else RedemptionRow.day // 100).label("period")
    counted = (RedemptionRow.accepted.is_(True), RedemptionRow.held.is_(False), RedemptionRow.serial.is_not(None),
               or_(false(), *(on_days(*span) for span in spans)))
    if period == "day":
        each = _narrowed(select(label, when, serial).where(*counted), group, RedemptionRow.partner_id, partner_id,
                         region).distinct().subquery()
        return select(each.c.group, each.c.period, func.count().label("unique_cards")).group_by(
            each.c.group, each.c.period).subquery()
    return _grouped(_narrowed(select(label, when, func.count(distinct(serial)).label("unique_cards")).where(*counted),
                              group, RedemptionRow.partner_id, partner_id, region), group).subquery()


REPORT_WORK_MEM = "32MB"  # sorts a partner's month of serials in memory: the default 4MB spills to disk
FIGURES_SUMMED = SUMMARY_FIGURES


def _group_of(group: str, partner: Any, service: Any) -> Any:
    """The column ``group`` groups by, given a table's partner and service columns."""
    return {"partner": partner, "kind": Partner.kind, "cluster": Partner.cluster, BY_SERVICE: service}.get(
        group, literal("all"))


def _narrowed(query: Select[Any], group: str, partner: Any, partner_id: int | None, region: int | None) -> Select[Any]:
    """``query`` joined to partners where ``group`` needs them, narrowed to one partner or one region."""
    if group in ("kind", "cluster") or region is not None:
        query = query.join(Partner, Partner.id == partner)
    if region is not None:
        query = query.where(Partner.region == region)
    if partner_id is not None:
        query = query.where(partner == partner_id)
    return query


def _grouped(query: Select[Any], group: str) -> Select[Any]:
    """``query`` grouped by ``group`` (none for the programme) and its period."""
    grouping = [query.selected_columns.group] if group in ("partner", "kind", "cluster", BY_SERVICE) else []
    return query.group_by(*grouping, query.selected_columns.period)


@dataclasses.dataclass(frozen=True)
class PartnerCount:
    month: int
    in_force: int  # partners whose MoU covers some of the month
    with_scans: int  # partners whose terminals logged an accepted scan that month


def active_partners(home: IssuerHome, start: dt.date, end: dt.date,
                    region: int | None = None) -> list[PartnerCount]:
    """How many partners the programme had, month by month (at most MAX_MONTHS of them; check_range).

    ``region`` counts the partners of one region only.
    """
    check_range(start, end, "month")
    months = _months(start, end)
    if not months:
        return []
    in_region = [] if region is None else [Partner.region == region]
    with home.transaction() as session:
        # Every agreement each partner has had: a gap between two counts as none.
        periods = [(row.partner_id, row.starts_on, row.ends_on) for row in session.execute(
            select(Agreement.partner_id, Agreement.starts_on, Agreement.ends_on)
            .join(Partner, Partner.id == Agreement.partner_id).where(*in_region))]
        summary = RedemptionSummary
        scanning_query = (
            select(summary.month, func.count(distinct(summary.partner_id)))
            .where(summary.accepted > 0, summary.day.between(months[0] * 100 + 1, months[-1] * 100 + 31))
            .group_by(summary.month)
        )
        if region is not None:
            scanning_query = scanning_query.join(Partner, Partner.id == summary.partner_id).where(*in_region)
        scanning = dict(session.execute(scanning_query).all())
    counts = []
    for month in months:
        first = dt.date(month // 100, month % 100, 1)
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        in_force = len({partner for partner, begin, finish in periods if begin <= last and finish >= first})
        counts.append(PartnerCount(month, in_force, int(scanning.get(month, 0))))
    return counts


def _months(start: dt.date, end: dt.date) -> list[int]:
    # By counting months, never by adding days: the month after December 9999 is no date.
    return [(number // 12) * 100 + number % 12 + 1 for number in range(_month_number(start), _month_number(end) + 1)]


def _month_number(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


@dataclasses.dataclass(frozen=True)
class Coverage:
    region: int
    eligible_children: int | None
    as_of: dt.date | None
    active_cards: int
    coverage_percent: float | None


def coverage(home: IssuerHome, now: int) -> list[Coverage]:
    """Active cards per region against the eligible children the office entered."""
    with home.transaction() as session:
        active = dict(
            session.execute(
                select(CardRow.region, func.count())
                .where(and_(CardRow.state == "active", CardRow.expires_at > now))
                .group_by(CardRow.region)
            ).all()
        )
        eligible = {row.region: row for row in session.scalars(select(RegionEligibility))}
    rows = []
    for region in sorted(set(active) | set(eligible)):
        known = eligible.get(region)
        cards = int(active.get(region, 0))
        percent = round(100 * cards / known.eligible_children, 1) if known and known.eligible_children else None
        rows.append(Coverage(region, known.eligible_children if known else None, known.as_of if known else None,
                             cards, percent))
    return rows


# Card states of a card that was once in force: a card awaiting verification or printing was not yet.
ONCE_IN_FORCE = ("active", "expired", "revoked", "replaced")


@dataclasses.dataclass(frozen=True)
class CoverageMonth:
    region: int
    month: int  # YYYYMM
    active_cards: int  # cards in force at the end of the month (the region's local midnight)
    eligible_children: int | None  # the latest count the office entered (RegionEligibility), if any
    coverage_percent: float | None


def coverage_trend(home: IssuerHome, start: dt.date, end: dt.date, now: int,
                   region: int | None = None) -> list[CoverageMonth]:
    """Cards in force per region at the end of each month from ``start`` to ``end`` (at most MAX_MONTHS).

    Built from what the office keeps of every card: issued, ends (``expires_at``)
    and revoked or replaced (``revoked_at``); a card counts at a month's end if
    it was issued before it and neither ended nor was revoked by then.  A month
    not yet over counts at ``now``.  The office keeps one count of eligible
    children per region (the latest entered), so every month's percentage is
    against it.  ``region`` keeps one region.
    """
    check_range(start, end, "month")
    months = _months(start, end)
    if not months:
        return []
    with home.transaction() as session:
        eligible = {row.region: row.eligible_children for row in session.scalars(select(RegionEligibility))}
        card_regions = set(session.scalars(select(CardRow.region).distinct()))
        regions = sorted((card_regions | set(eligible)) if region is None else {region})
        counts: dict[tuple[int, int], int] = {}
        by_zone: dict[dt.tzinfo, list[int]] = {}
        for code in regions:
            by_zone.setdefault(region_timezone(code), []).append(code)
        for zone, codes in by_zone.items():
            # One query per time zone (at most three), one column per month: an instant per month in that zone.
            # A card issued in the month's last second counts; one issued at midnight is the next month's.
            instants = [min(now + 1, _month_end(month, zone)) for month in months]
            columns = [
                func.coalesce(func.sum(case((and_(CardRow.issued_at < at, CardRow.expires_at >= at,
                                                  or_(CardRow.revoked_at.is_(None), CardRow.revoked_at >= at)), 1),
                                            else_=0)), 0)
                for at in instants
            ]
            query = (select(CardRow.region, *columns)
                     .where(CardRow.region.in_(codes), CardRow.state.in_(ONCE_IN_FORCE))
                     .group_by(CardRow.region))
            for row in session.execute(query):
                for month, count in zip(months, row[1:], strict=True):
                    counts[(int(row[0]), month)] = int(count)
    rows = []
    for code in regions:
        known = eligible.get(code)
        for month in months:
            cards = counts.get((code, month), 0)
            percent = round(100 * cards / known, 1) if known else None
            rows.append(CoverageMonth(code, month, cards, known, percent))
    return rows


def _month_end(month: int, zone: dt.tzinfo) -> int:
    """The instant the month ends: local midnight starting the next month (the month after December 9999 is
    no date, so it ends at the year's last second)."""
    year, number = divmod(_month_number(dt.date(month // 100, month % 100, 1)) + 1, 12)
    if year > dt.MAXYEAR:
        return int(dt.datetime(dt.MAXYEAR, 12, 31, 23, 59, 59, tzinfo=zone).timestamp())
    return int(dt.datetime(year, number + 1, 1, tzinfo=zone).timestamp())


def set_eligible_children(home: IssuerHome, region: int, count: int, as_of: dt.date) -> None:
    if not is_valid_region(region):
        raise Invalid("the region is a 4-digit regency/city code, e.g. 3372")
    if not 0 <= count <= 50_000_000:
        raise Invalid("the number of eligible children is from 0 to 50,000,000")
    with home.transaction() as session:
        _upsert_eligibility(session, region, count, as_of)


def _upsert_eligibility(session: Session, region: int, count: int, as_of: dt.date) -> None:
    row = session.get(RegionEligibility, region)
    if row is None:
        session.add(RegionEligibility(region=region, eligible_children=count, as_of=as_of))
    else:
        row.eligible_children, row.as_of = count, as_of


def to_csv(rows: Sequence[Any], row_type: type) -> str:
    """Rows of dataclass ``row_type`` as CSV with a header row, even when empty."""
    names = [field.name for field in dataclasses.fields(row_type)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(names)
    writer.writerows([_plain(getattr(row, name)) for name in names] for row in rows)
    return buffer.getvalue()


def to_json(rows: Sequence[Any]) -> list[dict[str, Any]]:
    return [{key: _plain(value) for key, value in dataclasses.asdict(row).items()} for row in rows]


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def report_regions(home: IssuerHome) -> list[int]:
    """The regions a report can be narrowed to: its partners', its cards' and those with eligible children."""
    with home.transaction() as session:
        found = set(session.scalars(select(Partner.region).distinct()))
        found |= set(session.scalars(select(CardRow.region).distinct()))
        found |= set(session.scalars(select(RegionEligibility.region)))
    return sorted(found)

"""What the public site shows: discounts of the partners in force, where to get a KIA, programme figures.

Everything here is for anyone to read, so it is chosen, not filtered: a
partner's name, kind, cluster, region and its services' prices and
discounts; an institution's name, kind and region; counts of partners per
month and of active cards per region.  Never a serial, a child, a terminal
or a partner's revenue.  Times and days are arguments, as in the reports.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select

from keys.chain import discounted
from keys.eligibility import AGE_CATEGORIES

from . import reports
from .partners import mou_active, other_regions
from .storage.models import KLA_CLUSTERS, PARTNER_KINDS, Agreement, Institution, Partner, PartnerService
from .storage.store import IssuerHome

TREND_MONTHS = 24  # partners over time: the last two years, an MoU's usual term


@dataclasses.dataclass(frozen=True)
class Offer:
    """What a KIA holder of one age category pays for a service, in rupiah."""

    category: str  # "0-4", "5-12", "13-16"
    price: int
    discount: int
    paid: int


@dataclasses.dataclass(frozen=True)
class PublicService:
    name: str
    discount_kind: str  # "percent" or "fixed"
    discount_value: int  # percent, or rupiah
    offers: tuple[Offer, ...]  # in the order of keys.eligibility.AGE_CATEGORIES, only the categories priced


@dataclasses.dataclass(frozen=True)
class PublicPartner:
    name: str
    kind: str
    cluster: str
    region: int
    services: tuple[PublicService, ...]
    # Cards of other regions it honours (issuer.partners.OtherRegions): "none", "all" or "listed" in
    # other_region_codes; a family visiting from another region looks for these.
    other_regions: str = "none"
    other_region_codes: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class PublicInstitution:
    name: str
    kind: str  # "school" or "clinic"
    region: int


@dataclasses.dataclass(frozen=True)
class MonthCount:
    month: int  # YYYYMM
    partners: int  # partners whose MoU was in force on the month's last day (today, for this month)


def offers(prices: dict[str, int], kind: str, value: int) -> tuple[Offer, ...]:
    """The service's price and discount per age category, with the terminal's own rule (keys.chain.discounted)."""
    priced = [(name, prices[name]) for name, _, _ in AGE_CATEGORIES if name in prices]
    return tuple(Offer(name, price, *discounted(price, kind, value)) for name, price in priced)


def partners_with_discounts(home: IssuerHome, now: int) -> list[PublicPartner]:
    """Partners whose MoU is in force at ``now`` (their local day) and that list a service, by name."""
    with home.transaction() as session:
        in_force = [row for row in session.scalars(select(Partner).order_by(Partner.name, Partner.id))
                    if mou_active(row, now)]
        services: dict[int, list[PublicService]] = {row.id: [] for row in in_force}
        rows = session.scalars(select(PartnerService).where(PartnerService.partner_id.in_(services))
                               .order_by(PartnerService.name, PartnerService.code))
        for row in rows:
            services[row.partner_id].append(PublicService(
                row.name, row.discount_kind, row.discount_value,
                offers(row.prices, row.discount_kind, row.discount_value)))
        return [PublicPartner(row.name, row.kind, row.cluster, row.region, tuple(services[row.id]),
                              *dataclasses.astuple(other_regions(row)))
                for row in in_force if services[row.id]]


def narrow(rows: Iterable[PublicPartner], *, cluster: str | None = None, region: int | None = None,
           kind: str | None = None) -> list[PublicPartner]:
    """The partners of ``rows`` in ``cluster``, ``region`` and of ``kind``, each when given."""
    return [row for row in rows if cluster in (None, row.cluster) and region in (None, row.region)
            and kind in (None, row.kind)]


@dataclasses.dataclass(frozen=True)
class Choices:
    """What the filters offer: the clusters, regions and kinds of the partners listed."""

    clusters: list[str]
    regions: list[int]
    kinds: list[str]


def choices(rows: Iterable[PublicPartner]) -> Choices:
    listed = list(rows)
    clusters, kinds = {row.cluster for row in listed}, {row.kind for row in listed}
    # Clusters and kinds in the programme's own order; regions by code, which groups them by province.
    return Choices([name for name in KLA_CLUSTERS if name in clusters], sorted({row.region for row in listed}),
                   [name for name in PARTNER_KINDS if name in kinds])


def institutions(home: IssuerHome) -> list[PublicInstitution]:
    """Schools and clinics that submit children for cards, by region, kind and name."""
    query = select(Institution.name, Institution.kind, Institution.region).order_by(
        Institution.region, Institution.kind, Institution.name)
    with home.transaction() as session:
        return [PublicInstitution(name, kind, region) for name, kind, region in session.execute(query)]


def partners_over_time(home: IssuerHome, today: dt.date, months: int = TREND_MONTHS) -> list[MonthCount]:
    """Partners with an MoU in force at each month's end, for the ``months`` months up to ``today``'s.

    Read from every agreement a partner has had, so a gap between two of them counts as none.
    """
    query = select(Agreement.partner_id, Agreement.starts_on, Agreement.ends_on)
    with home.transaction() as session:
        agreements = [(partner, start, end) for partner, start, end in session.execute(query)
                      if partner is not None]  # not an institution's
    return count_in_force(agreements, today, months)


def count_in_force(agreements: Iterable[tuple[int, dt.date, dt.date]], today: dt.date,
                   months: int) -> list[MonthCount]:
    """For each of the ``months`` months up to ``today``'s: how many partners have a (partner, start, end)
    period covering its last day, each partner once however many of its periods do.

    The current month counts at ``today``: its end has not come yet.
    """
    periods = list(agreements)
    counts = []
    for number in range(today.year * 12 + today.month - months, today.year * 12 + today.month):
        year, month = divmod(number, 12)
        last = min(dt.date(year, month + 1, calendar.monthrange(year, month + 1)[1]), today)
        in_force = {partner for partner, start, end in periods if start <= last <= end}
        counts.append(MonthCount(year * 100 + month + 1, len(in_force)))
    return counts


def coverage(home: IssuerHome, now: int) -> list[reports.Coverage]:
    """Active cards against eligible children, per region (issuer.reports.coverage): counts only."""
    return reports.coverage(home, now)

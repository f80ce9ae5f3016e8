"""Partners, their cooperation agreements (MoU) and the discount rules of their services."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from keys.chain import MAX_MONEY
from keys.eligibility import AGE_CATEGORIES, is_valid_region

from . import transparency
from .agreements import MOU_WARNING_DAYS, Details, Owner, PeriodInvalid, local_today, period_state, record_agreement
from .audit import Actor
from .audit import record as audit
from .errors import Invalid, PartnerExists, PartnerNotFound
from .storage.models import KLA_CLUSTERS, PARTNER_KINDS, Agreement, Partner, PartnerService, ServiceRuleVersion
from .storage.store import IssuerHome

AGE_CATEGORY_NAMES = tuple(name for name, _, _ in AGE_CATEGORIES)

__all__ = ["MOU_WARNING_DAYS", "local_today"]  # kept here too: pages and reports read them from partners

MOU_YEARS = 2  # how long an agreement runs unless it says otherwise


class RuleInvalid(Invalid):
    """A service rule out of range; ``rule`` names which (``prices``, ``daily_limit``...), for a page's words."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclasses.dataclass(frozen=True)
class ServiceRules:
    """One discounted service: price per age category and the discount rules."""

    code: str
    name: str
    prices: dict[str, int]
    discount_kind: str  # "percent" or "fixed"
    discount_value: int
    daily_limit: int
    passback_seconds: int

    def check(self) -> None:
        """Raise Invalid with one sentence for the first rule out of range."""
        if not (0 < len(self.code) <= 64 and self.code.replace("-", "").isalnum() and self.code.isascii()):
            raise RuleInvalid("the service code is 1 to 64 letters, digits and dashes, e.g. bioskop-reguler", "code")
        if not 0 < len(self.name.strip()) <= 200:
            raise RuleInvalid("the service name is 1 to 200 characters", "name")
        if not self.prices or not set(self.prices) <= set(AGE_CATEGORY_NAMES):
            raise RuleInvalid(f"prices are given per age category: {', '.join(AGE_CATEGORY_NAMES)}", "categories")
        if not all(isinstance(p, int) and 0 <= p <= MAX_MONEY for p in self.prices.values()):
            raise RuleInvalid("prices are whole rupiah from 0 to 100,000,000", "prices")
        if self.discount_kind == "percent" and not 0 <= self.discount_value <= 100:
            raise RuleInvalid("a percentage discount is from 0 to 100", "percent")
        if self.discount_kind == "fixed" and not 0 <= self.discount_value <= MAX_MONEY:
            raise RuleInvalid("a fixed discount is whole rupiah from 0 to 100,000,000", "fixed")
        if self.discount_kind not in ("percent", "fixed"):
            raise RuleInvalid("the discount is a percentage or a fixed amount of rupiah", "discount_kind")
        if not 1 <= self.daily_limit <= 100:
            raise RuleInvalid("the daily limit per card is from 1 to 100", "daily_limit")
        if not 0 <= self.passback_seconds <= 86400:
            raise RuleInvalid("the anti-passback window is from 0 seconds to one day", "passback")

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "prices": dict(sorted(self.prices.items())),
            "discount": {"kind": self.discount_kind, "value": self.discount_value},
            "daily_limit": self.daily_limit,
            "passback_seconds": self.passback_seconds,
        }


def check_partner(
    name: str, kind: str, cluster: str, region: int, mou_start: dt.date, mou_end: dt.date,
    location: tuple[float, float] | None = None,
) -> None:
    """Raise Invalid with one sentence for the first field of a partner out of range."""
    if not 0 < len(name.strip()) <= 200:
        raise Invalid("the partner's name is 1 to 200 characters")
    if kind not in PARTNER_KINDS:
        raise Invalid(f"the kind of service is one of: {', '.join(PARTNER_KINDS)}")
    if cluster not in KLA_CLUSTERS:
        raise Invalid(f"the KLA cluster is one of: {', '.join(KLA_CLUSTERS)}")
    if not is_valid_region(region):
        raise Invalid("the region is a 4-digit regency/city code, e.g. 3372")
    if mou_end <= mou_start:
        raise PeriodInvalid("the MoU must end after it starts")
    if location is not None and not (-90 <= location[0] <= 90 and -180 <= location[1] <= 180):
        raise Invalid("the location is latitude and longitude in degrees, e.g. -7.5666,110.8243")


def same_name(name: str) -> str:
    """A partner's name as the duplicate check compares it: case and spacing ignored."""
    return " ".join(name.split()).casefold()


def create_partner(
    home: IssuerHome, name: str, kind: str, cluster: str, region: int, mou_start: dt.date, mou_end: dt.date, now: int,
    *, location: tuple[float, float] | None = None, details: Details | None = None, by: Actor,
) -> int:
    """Add a partner with its first agreement (MoU) from ``mou_start`` to ``mou_end`` and its ``details``.

    ``location`` (latitude, longitude) lets the office check a card's travel
    between partners.  A partner of the same name in the same region is
    refused (PartnerExists): its agreement is renewed (issuer/agreements.py),
    never added again as a second partner.
    """
    check_partner(name, kind, cluster, region, mou_start, mou_end, location)
    details = (details or Details()).cleaned()
    latitude, longitude = location or (None, None)
    with home.transaction() as session:
        for other_id, other_name in session.execute(select(Partner.id, Partner.name).where(Partner.region == region)):
            if same_name(other_name) == same_name(name):
                raise PartnerExists(f"partner {other_id} ({other_name}) already works in this region; renew its "
                                    "agreement instead of adding it again", other_id)
        partner = Partner(name=name.strip(), kind=kind, cluster=cluster, region=region, mou_start=mou_start,
                          mou_end=mou_end, created_at=now, latitude=latitude, longitude=longitude)
        session.add(partner)
        session.flush()
        # The first agreement is part of the partner's creation: one event, one fact, carrying its terms.
        record_agreement(session, Owner("partner", partner.id), mou_start, mou_end, details, now, by=by,
                         announce=False)
        transparency.record_fact(session, "partner", str(partner.id), now, partner=partner.id, name=partner.name,
                                 partner_kind=kind, cluster=cluster, region=region, mou_start=mou_start.isoformat(),
                                 mou_end=mou_end.isoformat(), mou_number=details.number,
                                 document_sha256=details.document.sha256 if details.document else None,
                                 latitude=latitude, longitude=longitude)
        audit(session, by, "partner_create", f"partner {partner.id}", now)
        return partner.id


def set_service(home: IssuerHome, partner_id: int, rules: ServiceRules, now: int, *, by: Actor) -> None:
    """Create or replace the rules of one of the partner's services."""
    rules.check()
    with home.transaction() as session:
        if session.get(Partner, partner_id) is None:
            raise PartnerNotFound(f"there is no partner {partner_id}")
        row = session.scalars(
            select(PartnerService).where(PartnerService.partner_id == partner_id, PartnerService.code == rules.code)
        ).one_or_none()
        if row is None:
            row = PartnerService(partner_id=partner_id, code=rules.code)
            session.add(row)
        row.name, row.prices = rules.name.strip(), dict(rules.prices)
        row.discount_kind, row.discount_value = rules.discount_kind, rules.discount_value
        row.daily_limit, row.passback_seconds = rules.daily_limit, rules.passback_seconds
        session.execute(
            update(ServiceRuleVersion)
            .where(ServiceRuleVersion.partner_id == partner_id, ServiceRuleVersion.code == rules.code,
                   ServiceRuleVersion.valid_until.is_(None))
            .values(valid_until=now)
        )
        session.add(ServiceRuleVersion(partner_id=partner_id, code=rules.code, valid_from=now, valid_until=None,
                                       prices=dict(rules.prices), discount_kind=rules.discount_kind,
                                       discount_value=rules.discount_value, daily_limit=rules.daily_limit))
        transparency.record_fact(session, "service_rules", f"{partner_id}/{rules.code}", now, partner=partner_id,
                                 service=rules.code, prices=dict(rules.prices), discount_kind=rules.discount_kind,
                                 discount_value=rules.discount_value, daily_limit=rules.daily_limit,
                                 passback_seconds=rules.passback_seconds)
        audit(session, by, "service_rules", f"partner {partner_id}: {rules.code}", now)


class OtherRegionsInvalid(Invalid):
    """A choice of other regions out of range; ``rule`` names which, for a page's words."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


OTHER_REGIONS = ("none", "all", "listed")
MAX_LISTED_REGIONS = 100


@dataclasses.dataclass(frozen=True)
class OtherRegions:
    """The other regions' cards a partner agreed to honour: ``none``, ``all`` the national directory trusts, or
    the ``listed`` ``codes``."""

    choice: str
    codes: tuple[int, ...] = ()

    def check(self) -> None:
        """Raise Invalid with one sentence when the choice is not one of the three, or its codes are wrong."""
        if self.choice not in OTHER_REGIONS:
            raise OtherRegionsInvalid(f"other regions' cards: one of {', '.join(OTHER_REGIONS)}", "choice")
        if self.choice != "listed" and self.codes:
            raise OtherRegionsInvalid("regions are listed only with the choice listed", "choice")
        if self.choice == "listed" and not 0 < len(self.codes) <= MAX_LISTED_REGIONS:
            raise OtherRegionsInvalid(f"list 1 to {MAX_LISTED_REGIONS} regions", "count")
        if not all(isinstance(code, int) and is_valid_region(code) for code in self.codes):
            raise OtherRegionsInvalid("each region is a 4-digit regency/city code, e.g. 6311", "code")

    def to_json(self) -> dict[str, Any]:
        return {"other_regions": self.choice, "regions": list(self.codes) if self.choice == "listed" else None}


def other_regions(row: Partner) -> OtherRegions:
    return OtherRegions(row.other_regions, tuple(row.other_region_codes or ()))


def partner_regions(row: Partner) -> frozenset[int] | None:
    """The regions whose cards the partner honours, as the office's checks take them: None for every region the
    national directory trusts; else its choice and its own region, whose cards it always honours."""
    choice = other_regions(row)
    return None if choice.choice == "all" else frozenset(choice.codes) | {row.region}


def set_other_regions(home: IssuerHome, partner_id: int, choice: OtherRegions, now: int, *, by: Actor
                      ) -> OtherRegions:
    """Record which other regions' cards the partner agreed to honour, from ``now`` on; answer the choice as
    recorded (its codes sorted, once each).

    Its terminals are set to the same with ``kia verifier federation pin
    --accept-region`` (docs/federation.md); the office holds records of other
    regions' cards the partner did not agree to (``home_not_accepted``), and
    the public page shows the choice.  A region is never this partner's own.
    """
    codes = tuple(sorted(set(choice.codes)))
    choice = OtherRegions(choice.choice, codes)
    choice.check()
    with home.transaction() as session:
        row = session.get(Partner, partner_id, with_for_update=True)
        if row is None:
            raise PartnerNotFound(f"there is no partner {partner_id}")
        if row.region in codes:
            raise OtherRegionsInvalid(f"region {row.region} is the partner's own: its cards are always honoured",
                                      "own")
        row.other_regions, row.other_region_codes = choice.choice, list(codes) if choice.choice == "listed" else None
        transparency.record_fact(session, "partner_regions", str(partner_id), now, partner=partner_id,
                                 **choice.to_json())
        audit(session, by, "partner_regions", f"partner {partner_id}: {choice.choice} {' '.join(map(str, codes))}"
              .strip(), now)
    return choice


def service_rules(row: PartnerService) -> ServiceRules:
    return ServiceRules(row.code, row.name, dict(row.prices), row.discount_kind, row.discount_value, row.daily_limit,
                        row.passback_seconds)


def default_mou_end(start: dt.date) -> dt.date:
    """Agreements run two years: to the day before the start's second anniversary (1 March for 29 February)."""
    try:
        anniversary = start.replace(year=start.year + MOU_YEARS)
    except ValueError:  # 29 February, in a year two years on that has none
        anniversary = dt.date(start.year + MOU_YEARS, 3, 1)
    return anniversary - dt.timedelta(days=1)


def mou_active(partner: Partner, now: int) -> bool:
    return partner.mou_start <= local_today(partner.region, now) <= partner.mou_end


def mou_state(partner: Partner, now: int) -> str:
    """``upcoming``, ``expired``, ``ending_soon`` (within MOU_WARNING_DAYS) or ``in_force``, on the local day."""
    today = local_today(partner.region, now)
    return "upcoming" if today < partner.mou_start else period_state(partner.mou_end, today)


# --- reading ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PartnerRecord:
    """A partner as the pages and commands show it, with its MoU's state on its local day."""

    id: int
    name: str
    kind: str
    cluster: str
    region: int
    mou_start: dt.date
    mou_end: dt.date
    mou_state: str
    services: tuple[str, ...]
    mou_number: str | None  # the current agreement's number; None when the office has not recorded it
    mou_days_left: int  # from the partner's today to the MoU's end; negative once it ended
    other_regions: OtherRegions


def _records(session: Session, rows: Sequence[Partner], now: int) -> list[PartnerRecord]:
    """The partners' records, with all their service codes and agreement numbers read in one query each."""
    codes: dict[int, list[str]] = {row.id: [] for row in rows}
    services = select(PartnerService.partner_id, PartnerService.code).where(PartnerService.partner_id.in_(codes))
    for partner_id, code in session.execute(services.order_by(PartnerService.code)):
        codes[partner_id].append(code)
    numbers: dict[int | None, str | None] = {}
    agreements = (select(Agreement.partner_id, Agreement.number).where(Agreement.partner_id.in_(codes))
                  .order_by(Agreement.starts_on))
    for owner_id, number in session.execute(agreements):
        numbers[owner_id] = number  # ordered by start: the current agreement's number stays
    return [PartnerRecord(row.id, row.name, row.kind, row.cluster, row.region, row.mou_start, row.mou_end,
                          mou_state(row, now), tuple(codes[row.id]), numbers.get(row.id),
                          (row.mou_end - local_today(row.region, now)).days, other_regions(row)) for row in rows]


def list_partners(home: IssuerHome, now: int) -> list[PartnerRecord]:
    """Every partner, the agreements ending first at the top."""
    with home.transaction() as session:
        return _records(session, list(session.scalars(select(Partner).order_by(Partner.mou_end, Partner.id))), now)


def find_partner(home: IssuerHome, partner_id: int, now: int) -> PartnerRecord:
    with home.transaction() as session:
        row = session.get(Partner, partner_id)
        if row is None:
            raise PartnerNotFound(f"there is no partner {partner_id}")
        return _records(session, [row], now)[0]


def services_of(home: IssuerHome, partner_id: int) -> list[ServiceRules]:
    with home.transaction() as session:
        rows = session.scalars(
            select(PartnerService).where(PartnerService.partner_id == partner_id).order_by(PartnerService.code)
        )
        return [service_rules(row) for row in rows]


def partner_names(home: IssuerHome) -> dict[int, str]:
    with home.transaction() as session:
        rows = session.execute(select(Partner.id, Partner.name).order_by(Partner.id))
        return {partner_id: name for partner_id, name in rows}

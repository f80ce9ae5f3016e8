"""What the office checks in every record a terminal sends: the office trusts no terminal.

A terminal's key proves which terminal signed a record, not that the record
is true: whoever holds the key (or the device) can sign "accepted" for a card
never issued, at a price the partner never set.  So each new record is checked
against what the office knows at the record's time, and a record that fails a
check is held out of every revenue figure, with a finding that names the check
and its evidence, until an auditor releases or confirms it.

Pure code: ``check_batch`` takes the records and what the office knows
(``Known``, read by issuer.sync_ingest in the ingest transaction with indexed
lookups) and returns the findings.  Thresholds, documented in docs/audit.md:

- a scan more than ``ALLOWED_SKEW`` seconds before the terminal's enrolment or
  after the batch reached the office cannot be true;
- a card at two partners more than ``TRAVEL_KM`` apart, faster than
  ``TRAVEL_KMH``, cannot have travelled (partners with a location only);
- a card accepted at more than ``MAX_PARTNERS_PER_HOUR`` partners within an
  hour is not one child's day out.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence

from keys.audit_thresholds import EARTH_RADIUS_KM, MAX_PARTNERS_PER_HOUR, TRAVEL_KM, TRAVEL_KMH
from keys.chain import Redemption, discounted
from keys.eligibility import age_category, age_from_birth_month, region_timezone
from keys.serial import is_valid_serial
from keys.times import local_date

from .reports import bucket

ALLOWED_SKEW = 300  # seconds, as the terminal's own clock_skew flag
HOUR, DAY = 3600, 86400

# Every check, and what its finding means (the evidence says which values).
CHECKS = {
    "serial_malformed": "the accepted card's serial is not a KIA serial",
    "serial_unknown": "no card with this serial was issued by this office",
    "home_own_region": "the record names this office's own region as the card's home region",
    "home_unlisted": "the national directory the office holds does not list the card's home region",
    "home_untrusted": "the national directory did not trust the card's home office at the scan's time",
    "home_not_accepted": "the partner did not agree to honour cards of the card's home region",
    "card_not_issued_yet": "the card was issued after the scan",
    "card_revoked": "the card was revoked before the scan",
    "card_replaced": "the card was replaced before the scan",
    "card_expired": "the card's eligibility had ended before the scan",
    "key_revoked": "the card's issuing key was revoked before the scan",
    "category_mismatch": "the age category is not the card's at the scan's time",
    "rules_mismatch": "no version of the partner's signed rules gives this service, price and discount",
    "reason_mismatch": "the reason contradicts the decision, or a refusal carries amounts",
    "before_enrolment": "the scan is dated before the terminal was enrolled",
    "future": "the scan is dated after the office received it",
    "while_suspended": "the scan is dated while the terminal was suspended or retired",
    "daily_limit": "the card was accepted more often than the daily limit across the partner's terminals",
    "impossible_travel": "the card was accepted at a partner too far away for the time between",
    "many_partners": f"the card was accepted at more than {MAX_PARTNERS_PER_HOUR} partners within an hour",
}


@dataclasses.dataclass(frozen=True)
class CardFacts:
    kid: str
    region: int
    birth_month: int
    issued_at: int
    expires_at: int
    revoked_at: int | None
    state: str


@dataclasses.dataclass(frozen=True)
class RuleVersion:
    code: str
    valid_from: int
    valid_until: int | None
    prices: Mapping[str, int]
    discount_kind: str
    discount_value: int
    daily_limit: int

    def in_force_during(self, start: int, end: int) -> bool:
        return self.valid_from <= end and (self.valid_until is None or self.valid_until > start)


@dataclasses.dataclass(frozen=True)
class Use:
    """An accepted scan of a card, stored or in the batch: where and when."""

    at: int
    partner_id: int
    service: str
    terminal_id: str
    seq: int
    day: int  # the partner's local day, YYYYMMDD, as reports file it (0 beyond the calendar)


@dataclasses.dataclass(frozen=True)
class HomeOffice:
    """Another region's office as the national directory lists it."""

    state: str  # active, suspended or revoked
    valid_from: int
    valid_until: int


@dataclasses.dataclass(frozen=True)
class Known:
    """What the office knows when a batch arrives, for the checks."""

    now: int
    terminal_id: str
    partner_id: int
    partner_zone: dt.tzinfo
    enrolled_at: int
    states: Sequence[tuple[int, str]]  # the terminal's state changes, oldest first
    cards: Mapping[str, CardFacts]
    revoked_keys: Mapping[str, int]  # kid -> revoked at
    rules: Sequence[RuleVersion]  # every version of this partner's services
    uses: Mapping[str, Sequence[Use]]  # stored accepted uses of the batch's serials, by serial, oldest first
    places: Mapping[int, tuple[float, float]]  # partner id -> (latitude, longitude), where known
    # Other regions' offices as the held national directory lists them (issuer.federation), for records
    # of their cards (``home``), and this office's own region there; empty and None without a directory.
    home_offices: Mapping[int, HomeOffice] = dataclasses.field(default_factory=dict)
    own_region: int | None = None
    # The regions whose cards the partner agreed to honour (issuer.partners.partner_regions): None for every
    # region the directory trusts; else its choice and its own region.
    partner_regions: frozenset[int] | None = None


@dataclasses.dataclass(frozen=True)
class Finding:
    seq: int
    check: str
    evidence: str


def check_batch(records: Sequence[Redemption], known: Known) -> list[Finding]:
    """The findings of the new records of one terminal's batch, in record order."""
    findings: list[Finding] = []
    uses = {serial: list(found) for serial, found in known.uses.items()}
    services: dict[str, list[RuleVersion]] = defaultdict(list)  # the versions of each service's rules
    for rule in known.rules:
        services[rule.code].append(rule)
    for record in records:
        versions = services.get(record.service, [])
        found = _time_checks(record, known) + _decision_checks(record)
        if record.accepted and record.serial is not None and is_valid_serial(record.serial):
            # Another office's card: this office holds none of its facts, only the directory's word on
            # its office (the terminal verified the card under that office's list).
            found += (_card_checks(record, record.serial, known) if record.home is None
                      else _home_checks(record, record.home, known))
            earlier = uses.setdefault(record.serial, [])
            use = Use(record.at, known.partner_id, record.service, known.terminal_id, record.seq,
                      _day(record.at, known.partner_zone))
            found += _use_checks(record, use, earlier, versions, known)
            bisect.insort(earlier, use, key=lambda other: other.at)
        elif record.accepted:
            found.append(("serial_malformed", "the record has no serial" if record.serial is None
                          else "the serial's characters or check character are wrong"))
        if record.accepted:
            found += _rules_checks(record, versions, known.enrolled_at)
        findings += [Finding(record.seq, check, evidence) for check, evidence in found]
    return findings


def _time_checks(record: Redemption, known: Known) -> list[tuple[str, str]]:
    found = []
    if record.at < known.enrolled_at - ALLOWED_SKEW:
        found.append(("before_enrolment", f"scanned {_iso(record.at)}, enrolled {_iso(known.enrolled_at)}"))
    if record.at > known.now + ALLOWED_SKEW:
        found.append(("future", f"scanned {_iso(record.at)}, received {_iso(known.now)}"))
    state = _state_at(known.states, record.at)
    if state in ("suspended", "retired"):
        found.append(("while_suspended", f"the terminal was {state} at {_iso(record.at)}"))
    return found


def _decision_checks(record: Redemption) -> list[tuple[str, str]]:
    if record.accepted and record.reason != "accepted":
        return [("reason_mismatch", f"accepted with reason {record.reason}")]
    if not record.accepted and record.reason == "accepted":
        return [("reason_mismatch", "refused with reason accepted")]
    if not record.accepted and (record.price or record.discount or record.paid):
        return [("reason_mismatch", f"refused ({record.reason}) with amounts {record.price}/{record.discount}")]
    return []


def _card_checks(record: Redemption, serial: str, known: Known) -> list[tuple[str, str]]:
    card = known.cards.get(serial)
    if card is None:
        return [("serial_unknown", "no card of this office has the serial")]
    found = []
    if card.revoked_at is not None and card.revoked_at <= record.at:
        check = "card_replaced" if card.state == "replaced" else "card_revoked"
        found.append((check, f"{card.state} {_iso(card.revoked_at)}, scanned {_iso(record.at)}"))
    if card.expires_at <= record.at:
        found.append(("card_expired", f"eligible until {_iso(card.expires_at)}, scanned {_iso(record.at)}"))
    key_revoked = known.revoked_keys.get(card.kid)
    if key_revoked is not None and key_revoked <= record.at:
        found.append(("key_revoked", f"key {card.kid} revoked {_iso(key_revoked)}"))
    if card.issued_at > record.at + ALLOWED_SKEW:
        found.append(("card_not_issued_yet", f"issued {_iso(card.issued_at)}, scanned {_iso(record.at)}"))
    local_day = local_date(record.at, region_timezone(card.region))
    category = age_category(age_from_birth_month(card.birth_month, local_day)) if local_day else None
    if category is not None and record.category != category:
        found.append(("category_mismatch", f"recorded {record.category}, the card's category was {category}"))
    return found


def _home_checks(record: Redemption, home: int, known: Known) -> list[tuple[str, str]]:
    if home == known.own_region:
        return [("home_own_region", f"home {home} is this office's region")]
    office = known.home_offices.get(home)
    if office is None:
        return [("home_unlisted", f"region {home} is not in the national directory the office holds")]
    if office.state != "active" or not office.valid_from <= record.at < office.valid_until:
        return [("home_untrusted", f"region {home}'s office is {office.state}, trusted {_iso(office.valid_from)} "
                                   f"to {_iso(office.valid_until)}; scanned {_iso(record.at)}")]
    if known.partner_regions is not None and home not in known.partner_regions:
        agreed = " ".join(map(str, sorted(known.partner_regions))) or "this office's only"
        return [("home_not_accepted", f"partner {known.partner_id} honours cards of regions: {agreed}")]
    return []


def _rules_checks(record: Redemption, service: Sequence[RuleVersion], enrolled_at: int) -> list[tuple[str, str]]:
    """The record must follow a version of its service's rules the terminal could have held: one
    in force between its enrolment and the scan, give or take the clocks' skew (a terminal decides
    with the rules it last fetched)."""
    start, end = min(enrolled_at, record.at) - ALLOWED_SKEW, record.at + ALLOWED_SKEW
    versions = [rule for rule in service if rule.in_force_during(start, end)]
    if not versions:
        return [("rules_mismatch", f"the partner had no service {record.service[:32]} in force")]
    for rule in versions:
        price = rule.prices.get(record.category or "")
        if price == record.price and discounted(price, rule.discount_kind, rule.discount_value) == (
            record.discount, record.paid
        ):
            return []
    return [("rules_mismatch", f"{record.service[:32]} for {record.category}: price {record.price}, "
                               f"discount {record.discount} follow no version of the rules")]


def _use_checks(record: Redemption, use: Use, earlier: Sequence[Use], service: Sequence[RuleVersion],
                known: Known) -> list[tuple[str, str]]:
    found = []
    limit = max((rule.daily_limit for rule in service if rule.in_force_during(record.at - DAY, record.at)),
                default=None)
    same_day = [other for other in earlier if other.partner_id == use.partner_id
                and other.service == use.service and other.day == use.day]
    if limit is not None and len(same_day) >= limit:
        found.append(("daily_limit", f"use {len(same_day) + 1} on {use.day} (limit {limit}); before: "
                                     + _where(same_day)))
    hour = [other for other in earlier if abs(other.at - record.at) <= HOUR and other.partner_id != use.partner_id]
    partners = {other.partner_id for other in hour} | {use.partner_id}
    if len(partners) > MAX_PARTNERS_PER_HOUR:
        found.append(("many_partners", f"{len(partners)} partners within an hour: " + _where(hour)))
    here = known.places.get(use.partner_id)
    if here is not None:
        for other in _neighbours(earlier, record.at):
            there = known.places.get(other.partner_id)
            if there is None or other.partner_id == use.partner_id:
                continue
            km = _distance_km(here, there)
            hours = max(abs(record.at - other.at), 1) / HOUR
            if km > TRAVEL_KM and km / hours > TRAVEL_KMH:
                found.append(("impossible_travel", f"{km:.0f} km in {hours * 60:.0f} min from partner "
                                                   f"{other.partner_id} ({other.terminal_id}#{other.seq})"))
                break
    return found


def _neighbours(uses: Sequence[Use], at: int) -> list[Use]:
    """The uses just before and just after ``at`` (those the travel check compares with)."""
    index = bisect.bisect_left([use.at for use in uses], at)
    return [uses[i] for i in (index - 1, index) if 0 <= i < len(uses)]


def _where(uses: Sequence[Use]) -> str:
    listed = ", ".join(f"{use.terminal_id}#{use.seq}" for use in uses[:5])
    return listed + (f" and {len(uses) - 5} more" if len(uses) > 5 else "")


def _state_at(states: Sequence[tuple[int, str]], at: int) -> str | None:
    index = bisect.bisect_right([moment for moment, _ in states], at)
    return states[index - 1][1] if index else None


def _distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance on a sphere of the Earth's mean radius (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def _day(at: int, zone: dt.tzinfo) -> int:
    day = local_date(at, zone)
    return bucket(day, "day") if day else 0


def _iso(at: int) -> str:
    try:
        return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):
        return str(at)


def alarm_summary(findings: Sequence[Finding]) -> dict[str, int]:
    """How many records of a batch each check held."""
    counts: dict[str, set[int]] = defaultdict(set)
    for finding in findings:
        counts[finding.check].add(finding.seq)
    return {check: len(seqs) for check, seqs in counts.items()}

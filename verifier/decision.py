"""The terminal's decision: one scan in, one Decision out (DESIGN section 6).

``decide`` is pure: the payload, the trust list, the partner's service
rules, what the log knows about the card and the time all come in as
arguments, so the same scan at the same moment always gives the same
answer, and a rejected scan is a Decision too (the log keeps it).  The card
checks are keys.verify_card's; the rules after them are the partner's:

1. ``no_service``: the terminal has no rules for the service (the partner's
   MoU expired, or the office sent no rules);
2. ``no_price``: the service has no price for the child's age category
   (the partner gives no KIA discount to that age group);
3. ``daily_limit``: the card was accepted ``daily_limit`` times already on
   the terminal's local day;
4. ``passback``: the card was accepted at this service less than
   ``passback_seconds`` ago (a card handed back over the gate).

The daily limit is checked before anti-passback because it is the final
answer for the day, where ``passback`` would tell staff to wait a moment.
Money is integer rupiah; amounts are 0 on every rejected decision.

``home`` is the card's region when another office than the terminal's own
vouched for it under the national directory (keys.federation); never a
region read from a card whose signature did not verify.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from keys import InvalidCardError, TrustList, verify_card
from keys.chain import MAX_MONEY, Redemption, discounted
from keys.eligibility import AGE_CATEGORIES
from keys.federation import FederatedTrust, signing_region

from .errors import SetupError, VerifierError

RULE_REASONS: tuple[str, ...] = ("no_service", "no_price", "daily_limit", "passback")
# How far the terminal's clock may be from the office's before decisions are flagged.
CLOCK_SKEW_LIMIT = 300
STALE, CLOCK_SKEW = "stale", "clock_skew"
FLAGS: tuple[str, ...] = (STALE, CLOCK_SKEW)
# The service code recorded for a scan made while the terminal has no rules.
NO_SERVICE_CODE = "none"
DISCOUNT_KINDS = ("percent", "fixed")
AGE_CATEGORY_NAMES = tuple(name for name, _, _ in AGE_CATEGORIES)
MAX_DAILY_LIMIT = 100
MAX_PASSBACK_SECONDS = 86400
_SERVICE_MEMBERS = frozenset({"code", "name", "prices", "discount", "daily_limit", "passback_seconds"})


class ConfigInvalid(SetupError):
    """The terminal configuration's service rules are not of the documented form."""


class NoPriceForCategory(VerifierError):
    """The service has no price for this age category: no KIA discount applies."""

    def __init__(self, service: str, category: str) -> None:
        self.service, self.category = service, category
        super().__init__(f"service {service} has no price for age category {category}")


@dataclasses.dataclass(frozen=True)
class Service:
    """One discounted service from the signed terminal configuration."""

    code: str
    name: str
    prices: Mapping[str, int]  # rupiah, per age category "0-4", "5-12", "13-16"
    discount_kind: str  # "percent" | "fixed"
    discount_value: int
    daily_limit: int
    passback_seconds: int

    @classmethod
    def from_json(cls, value: object) -> Service:
        """Parse one entry of the configuration's ``services`` strictly.

        The form is issuer.partners.ServiceRules.to_json(); every member must
        be there, of its type and in range, and nothing else.  Raises
        ConfigInvalid with one sentence naming the first problem.
        """
        if not isinstance(value, dict) or set(value) != _SERVICE_MEMBERS:
            raise ConfigInvalid(f"a service holds exactly {', '.join(sorted(_SERVICE_MEMBERS))}")
        code, name, prices, discount = value["code"], value["name"], value["prices"], value["discount"]
        if not is_service_code(code):
            raise ConfigInvalid("a service code is 1 to 64 ASCII letters, digits and dashes")
        if not isinstance(name, str) or not 0 < len(name.strip()) <= 200:
            raise ConfigInvalid(f"service {code}: the name is 1 to 200 characters")
        if not isinstance(discount, dict) or set(discount) != {"kind", "value"}:
            raise ConfigInvalid(f"service {code}: the discount holds exactly kind and value")
        service = cls(
            code=code,
            name=name,
            prices=_parse_prices(code, prices),
            discount_kind=discount["kind"],
            discount_value=discount["value"],
            daily_limit=value["daily_limit"],
            passback_seconds=value["passback_seconds"],
        )
        service._check_rules()
        return service

    def _check_rules(self) -> None:
        code = self.code
        if self.discount_kind not in DISCOUNT_KINDS:
            raise ConfigInvalid(f"service {code}: the discount kind is percent or fixed")
        top = 100 if self.discount_kind == "percent" else MAX_MONEY
        if not _is_int_in(self.discount_value, 0, top):
            raise ConfigInvalid(f"service {code}: a {self.discount_kind} discount is a whole number from 0 to {top}")
        if not _is_int_in(self.daily_limit, 1, MAX_DAILY_LIMIT):
            raise ConfigInvalid(f"service {code}: the daily limit per card is from 1 to {MAX_DAILY_LIMIT}")
        if not _is_int_in(self.passback_seconds, 0, MAX_PASSBACK_SECONDS):
            raise ConfigInvalid(f"service {code}: the anti-passback window is 0 to {MAX_PASSBACK_SECONDS} seconds")

    def amounts(self, category: str) -> tuple[int, int, int]:
        """(price, discount, paid) in rupiah for a child of ``category``.

        The discount follows keys.chain.discounted, as the office checks it.
        Raises NoPriceForCategory when the service sets no price for
        ``category``: the partner gives that age group no KIA discount, and
        inventing a price would misstate the partner's revenue.
        """
        price = self.prices.get(category)
        if price is None:
            raise NoPriceForCategory(self.code, category)
        return price, *discounted(price, self.discount_kind, self.discount_value)


def _parse_prices(code: str, prices: object) -> Mapping[str, int]:
    if not isinstance(prices, dict) or not prices or not set(prices) <= set(AGE_CATEGORY_NAMES):
        raise ConfigInvalid(f"service {code}: prices are given per age category ({', '.join(AGE_CATEGORY_NAMES)})")
    if not all(_is_int_in(price, 0, MAX_MONEY) for price in prices.values()):
        raise ConfigInvalid(f"service {code}: prices are whole rupiah from 0 to {MAX_MONEY:,}")
    return MappingProxyType(dict(prices))


def is_service_code(code: object) -> bool:
    """What the office allows as a service code (issuer.partners.ServiceRules.check)."""
    return (
        isinstance(code, str)
        and 0 < len(code) <= 64
        and code.isascii()
        and code.replace("-", "").isalnum()
    )


def _is_int_in(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@dataclasses.dataclass(frozen=True)
class History:
    """What the log knows about one card at one service."""

    accepted_today: int  # accepted scans on the terminal's local day of ``now``
    last_accepted_at: int | None  # POSIX seconds of the last accepted scan


NO_HISTORY = History(0, None)


class HistoryLookup(Protocol):
    def __call__(self, serial: str, service: str, now: int) -> History: ...


@dataclasses.dataclass(frozen=True)
class TerminalClock:
    """How the terminal's clock compared with the office's at the last contact."""

    last_server_time: int | None  # the office's clock at the last contact
    offset: int  # office time minus terminal time, measured at that contact

    @classmethod
    def measured(cls, server_time: int, terminal_time: int) -> TerminalClock:
        """The clock as seen at one contact: the office said ``server_time`` at ``terminal_time``."""
        return cls(server_time, server_time - terminal_time)

    def is_skewed(self, now: int) -> bool:
        """Far from the office's clock, or gone back before the last contact."""
        if abs(self.offset) > CLOCK_SKEW_LIMIT:
            return True
        return self.last_server_time is not None and now < self.last_server_time - CLOCK_SKEW_LIMIT


@dataclasses.dataclass(frozen=True)
class Decision:
    """The answer to one scan, accepted or not, as staff see it and the log keeps it."""

    accepted: bool
    reason: str  # "accepted", a keys CARD_REASONS code, or a RULE_REASONS code
    serial: str | None  # None when the scan was not a card whose signature verified
    service: str
    category: str | None  # the child's age category at the time of the scan
    price: int
    discount: int
    paid: int
    eligible_until: dt.date | None  # the card's last eligible day
    flags: tuple[str, ...] = ()
    home: int | None = None  # the card's region, for a card of another office (see _home)

    def record(self, seq: int, at: int) -> Redemption:
        """The log record of this decision: no child's data beyond the serial."""
        return Redemption(
            seq=seq,
            at=at,
            serial=self.serial,
            accepted=self.accepted,
            reason=self.reason,
            service=self.service,
            category=self.category,
            price=self.price,
            discount=self.discount,
            paid=self.paid,
            flags=self.flags,
            home=self.home,
        )


def decide(
    payload: str | bytes,
    trust: TrustList | FederatedTrust,
    service: Service | None,
    history: HistoryLookup,
    now: int,
    clock: TerminalClock | None = None,
    *,
    service_code: str | None = None,
) -> Decision:
    """Decide one scan at ``now`` (POSIX seconds); never raises for a bad scan.

    ``trust`` is one office's trust list, or a keys.federation.FederatedTrust
    of many offices under the national directory (docs/federation.md).

    ``service`` None means the terminal has no rules (``no_service``);
    ``service_code`` then names the service staff chose, for the record
    (``"none"`` when absent or not a service code).  Flags: ``stale`` when
    the trust list is past its expiry, ``clock_skew`` when ``clock`` says
    the terminal's time cannot be trusted.  ``home``: see ``_home``.
    """
    flags = _flags(trust, now, clock)
    code = service.code if service is not None else _fallback_code(service_code)
    if isinstance(payload, bytearray | memoryview):
        payload = bytes(payload)
    if not isinstance(payload, str | bytes):
        return _rejected("malformed", code, flags)
    try:
        # One office's list, or many under the national directory (keys.federation).
        verified = verify_card(payload, trust, now) if isinstance(trust, TrustList) else trust.verify_card(payload, now)
        card = verified.card
    except InvalidCardError as error:
        return _rejected(error.reason, code, flags, getattr(error, "serial", None),
                         home=_home(trust, signing_region(error)))
    home = _home(trust, card.region)
    category = card.age_category_at(now)
    until = card.last_eligible_day()
    reason = _rule_refusal(card.serial, category, service, history, now)
    if reason is not None or service is None:
        return _rejected(reason or "no_service", code, flags, card.serial, category, until, home)
    price, discount, paid = service.amounts(category)
    return Decision(True, "accepted", card.serial, code, category, price, discount, paid, until, flags, home)


def _home(trust: TrustList | FederatedTrust, region: int | None) -> int | None:
    """``region`` when the office whose key verified the card is not the terminal's own, else None.

    ``region`` is the verified card's ``reg`` (the signing office's region,
    keys.federation checks), or for a card refused after its signature
    verified (revoked, expired, a key revoked...) the signing office's
    region: authenticated either way, so the office learns whose card was
    refused.  None when no signature verified, and on one office's list alone.
    """
    if region is None or not isinstance(trust, FederatedTrust) or region == trust.own_region:
        return None
    return region


def _rule_refusal(
    serial: str, category: str, service: Service | None, history: HistoryLookup, now: int
) -> str | None:
    """The first rule of the partner's that refuses the card, or None."""
    if service is None:
        return "no_service"
    if category not in service.prices:
        return "no_price"
    seen = history(serial, service.code, now)
    if seen.accepted_today >= service.daily_limit:
        return "daily_limit"
    # Either way round: a clock set back must not turn a recent scan into an old one.
    if seen.last_accepted_at is not None and abs(now - seen.last_accepted_at) < service.passback_seconds:
        return "passback"
    return None


def _flags(trust: TrustList | FederatedTrust, now: int, clock: TerminalClock | None) -> tuple[str, ...]:
    stale = trust.is_expired(now)
    skewed = clock is not None and clock.is_skewed(now)
    if not (stale or skewed):
        return ()
    return tuple(flag for flag, on in ((STALE, stale), (CLOCK_SKEW, skewed)) if on)


def _fallback_code(service_code: str | None) -> str:
    return service_code if is_service_code(service_code) else NO_SERVICE_CODE  # type: ignore[return-value]


def _rejected(
    reason: str,
    service: str,
    flags: tuple[str, ...],
    serial: str | None = None,
    category: str | None = None,
    eligible_until: dt.date | None = None,
    home: int | None = None,
) -> Decision:
    return Decision(False, reason, serial, service, category, 0, 0, 0, eligible_until, flags, home)

"""KIA eligibility rules: when a card ends and which age category a child is in.

A KIA for a child under 5 ends on the 5th birthday (that card has no photo);
a KIA issued from age 5 ends at the end of the day before the 17th birthday,
when the child gets an adult KTP.  Both instants are the start of the
birthday in the issuing region's local time (WIB, WITA or WIT), taken from
the province digits of the Kemendagri region code.  A child born on 29
February reaches an age on 1 March in years without that day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

UNDER_FIVE_ENDS_AT = 5
ELIGIBILITY_ENDS_AT = 17

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
WITA = dt.timezone(dt.timedelta(hours=8), "WITA")
WIT = dt.timezone(dt.timedelta(hours=9), "WIT")

# Province codes (the first two digits of a region code) outside WIB.
_WITA_PROVINCES = frozenset({51, 52, 53, 63, 64, 65, 71, 72, 73, 74, 75, 76})
_WIT_PROVINCES = frozenset({81, 82, 91, 92, 93, 94, 95, 96, 97})
_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36, 61, 62}
) | _WITA_PROVINCES | _WIT_PROVINCES

# Age categories shown at the counter and used by partners' price rules.
AGE_CATEGORIES: tuple[tuple[str, int, int], ...] = (
    ("0-4", 0, 4),
    ("5-12", 5, 12),
    ("13-16", 13, 16),
)


def is_valid_region(region: object) -> bool:
    """A four-digit regency/city code whose province exists (e.g. 3372)."""
    return (
        isinstance(region, int)
        and not isinstance(region, bool)
        and 1101 <= region <= 9799
        and region // 100 in _PROVINCES
        and region % 100 != 0
    )


def region_timezone(region: int) -> dt.timezone:
    province = region // 100
    if province in _WIT_PROVINCES:
        return WIT
    if province in _WITA_PROVINCES:
        return WITA
    return WIB


def birthday(birth_date: dt.date, years: int) -> dt.date:
    """The date a child reaches ``years`` of age."""
    try:
        return birth_date.replace(year=birth_date.year + years)
    except ValueError:  # 29 February in a year without one
        return dt.date(birth_date.year + years, 3, 1)


def age_on(birth_date: dt.date, day: dt.date) -> int:
    years = day.year - birth_date.year
    return years if day >= birthday(birth_date, years) else years - 1


@dataclasses.dataclass(frozen=True)
class Validity:
    issued_at: int
    expires_at: int
    under_five: bool


def card_validity(birth_date: dt.date, region: int, now: dt.datetime) -> Validity:
    """The issue and end times of a card issued at ``now``.

    Raises ValueError for an unknown region and NotEligible (from
    keys.errors) for a child not yet born or already 17.
    """
    from .errors import NotEligible

    if not is_valid_region(region):
        raise ValueError("unknown region code")
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime; a naive one is ambiguous across time zones")
    zone = region_timezone(region)
    today = now.astimezone(zone).date()
    if birth_date > today:
        raise NotEligible("the birth date is in the future")
    age = age_on(birth_date, today)
    if age >= ELIGIBILITY_ENDS_AT:
        raise NotEligible("a child of 17 or older gets a KTP, not a KIA")
    under_five = age < UNDER_FIVE_ENDS_AT
    end_day = birthday(birth_date, UNDER_FIVE_ENDS_AT if under_five else ELIGIBILITY_ENDS_AT)
    end = dt.datetime.combine(end_day, dt.time(0), tzinfo=zone)
    return Validity(issued_at=int(now.timestamp()), expires_at=int(end.timestamp()), under_five=under_five)


def birth_month(birth_date: dt.date) -> int:
    """The ``bm`` claim: year and month as YYYYMM, nothing finer."""
    return birth_date.year * 100 + birth_date.month


def is_valid_birth_month(value: object) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and 190001 <= value <= 999912
        and 1 <= value % 100 <= 12
    )


def age_from_birth_month(bm: int, day: dt.date) -> int:
    """Completed years at ``day``, knowing only the birth year and month.

    Within the birth month the birthday may not have come yet, so the lower
    bound is taken: a child is never placed in an older category too early.
    """
    months = (day.year * 12 + day.month) - ((bm // 100) * 12 + bm % 100)
    return max(0, (months - 1) // 12) if months % 12 == 0 else max(0, months // 12)


def age_category(age: int) -> str:
    for name, low, high in AGE_CATEGORIES:
        if low <= age <= high:
            return name
    return "17+"


def last_eligible_day(expires_at: int, region: int) -> dt.date:
    """The last local day on which the card gives eligibility."""
    end = dt.datetime.fromtimestamp(expires_at, region_timezone(region))
    return (end - dt.timedelta(seconds=1)).date()

"""KIA eligibility: when a card ends, in the region's own time zone, and age categories."""

from __future__ import annotations

import datetime as dt

import pytest

from keys import NotEligible, card_validity
from keys.eligibility import age_category, age_from_birth_month, birth_month, last_eligible_day
from tests.factories import BALANGAN, JAYAPURA, NOW, SURAKARTA, make_card, utc

# Independent of keys.eligibility's own zone objects.
OFFSETS = {SURAKARTA: 7, BALANGAN: 8, JAYAPURA: 9}


def local_midnight(day: dt.date, region: int) -> int:
    zone = dt.timezone(dt.timedelta(hours=OFFSETS[region]))
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_under_five_card_ends_at_the_fifth_birthday_local_midnight():
    validity = card_validity(dt.date(2023, 3, 10), SURAKARTA, utc(NOW))

    assert validity.under_five
    assert validity.issued_at == NOW
    assert validity.expires_at == local_midnight(dt.date(2028, 3, 10), SURAKARTA)
    assert last_eligible_day(validity.expires_at, SURAKARTA) == dt.date(2028, 3, 9)


def test_card_from_age_five_ends_at_the_start_of_the_seventeenth_birthday():
    validity = card_validity(dt.date(2018, 5, 14), SURAKARTA, utc(NOW))

    assert not validity.under_five
    assert validity.expires_at == local_midnight(dt.date(2035, 5, 14), SURAKARTA)
    # The end of the day before the 17th birthday is the last eligible day.
    assert last_eligible_day(validity.expires_at, SURAKARTA) == dt.date(2035, 5, 13)


@pytest.mark.parametrize(
    ("birth_date", "end_day", "under_five"),
    [
        (dt.date(2024, 2, 29), dt.date(2029, 3, 1), True),  # 2029 has no 29 February
        (dt.date(2012, 2, 29), dt.date(2029, 3, 1), False),
        (dt.date(2016, 2, 29), dt.date(2033, 3, 1), False),
    ],
)
def test_29_february_birthdays_end_on_1_march(birth_date, end_day, under_five):
    validity = card_validity(birth_date, SURAKARTA, utc(NOW))
    assert validity.under_five is under_five
    assert validity.expires_at == local_midnight(end_day, SURAKARTA)


def test_child_born_29_february_turns_17_on_1_march():
    born = dt.date(2012, 2, 29)
    assert card_validity(born, SURAKARTA, at("2029-02-28T23:59:59+07:00")).expires_at == local_midnight(
        dt.date(2029, 3, 1), SURAKARTA
    )
    with pytest.raises(NotEligible):
        card_validity(born, SURAKARTA, at("2029-03-01T00:00:00+07:00"))


@pytest.mark.parametrize("region", [SURAKARTA, BALANGAN, JAYAPURA], ids=["WIB", "WITA", "WIT"])
def test_card_ends_at_local_midnight_of_the_region(region):
    validity = card_validity(dt.date(2018, 5, 14), region, utc(NOW))
    assert validity.expires_at == local_midnight(dt.date(2035, 5, 14), region)


def test_time_zones_put_the_same_birthday_an_hour_apart():
    ends = [
        card_validity(dt.date(2018, 5, 14), region, utc(NOW)).expires_at for region in (SURAKARTA, BALANGAN, JAYAPURA)
    ]
    assert ends[0] - ends[1] == 3600 and ends[1] - ends[2] == 3600


def test_age_at_issue_is_counted_in_the_regions_local_day():
    # 2026-11-21T16:30Z is 23:30 on the 21st in Surakarta but 01:30 on the 22nd in Jayapura.
    now, born = at("2026-11-21T16:30:00+00:00"), dt.date(2009, 11, 22)
    assert card_validity(born, SURAKARTA, now).expires_at == local_midnight(dt.date(2026, 11, 22), SURAKARTA)
    with pytest.raises(NotEligible):
        card_validity(born, JAYAPURA, now)


def test_fifth_birthday_switches_to_a_card_that_ends_at_17():
    born = dt.date(2021, 11, 22)  # 5 today (NOW is 22 November in Surakarta)
    validity = card_validity(born, SURAKARTA, utc(NOW))
    assert not validity.under_five
    assert validity.expires_at == local_midnight(dt.date(2038, 11, 22), SURAKARTA)

    day_before = card_validity(born, SURAKARTA, utc(NOW - 86400))
    assert day_before.under_five
    assert day_before.expires_at == local_midnight(dt.date(2026, 11, 22), SURAKARTA)


def test_newborn_today_is_eligible():
    validity = card_validity(dt.date(2026, 11, 22), SURAKARTA, utc(NOW))
    assert validity.under_five
    assert validity.expires_at == local_midnight(dt.date(2031, 11, 22), SURAKARTA)


@pytest.mark.parametrize("birth_date", [dt.date(2026, 11, 23), dt.date(2030, 1, 1)])
def test_birth_date_in_the_future_is_not_eligible(birth_date):
    with pytest.raises(NotEligible):
        card_validity(birth_date, SURAKARTA, utc(NOW))


@pytest.mark.parametrize("birth_date", [dt.date(2009, 11, 22), dt.date(2009, 1, 1), dt.date(1990, 6, 1)])
def test_seventeen_year_olds_are_not_eligible(birth_date):
    with pytest.raises(NotEligible):
        card_validity(birth_date, SURAKARTA, utc(NOW))


def test_the_day_before_the_seventeenth_birthday_is_still_eligible():
    validity = card_validity(dt.date(2009, 11, 23), SURAKARTA, utc(NOW))
    assert validity.expires_at == local_midnight(dt.date(2026, 11, 23), SURAKARTA)


@pytest.mark.parametrize("region", [0, 1100, 3300, 2001, 9999, 10000, -3372, "3372", 3372.0, True, None])
def test_invalid_region_is_refused(region):
    with pytest.raises(ValueError):
        card_validity(dt.date(2018, 5, 14), region, utc(NOW))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("day", "age"),
    [
        (dt.date(2018, 5, 1), 0),
        (dt.date(2018, 4, 30), 0),  # before birth: never negative
        (dt.date(2019, 5, 31), 0),  # the first birthday may not have come yet
        (dt.date(2019, 6, 1), 1),
        (dt.date(2023, 4, 30), 4),
        (dt.date(2023, 5, 1), 4),
        (dt.date(2023, 5, 31), 4),
        (dt.date(2023, 6, 1), 5),
        (dt.date(2035, 5, 14), 16),
        (dt.date(2035, 6, 1), 17),
    ],
)
def test_age_from_birth_month_takes_the_lower_bound_within_the_birth_month(day, age):
    assert age_from_birth_month(201805, day) == age


def test_birth_month_claim_holds_year_and_month_only():
    assert birth_month(dt.date(2018, 5, 14)) == 201805


@pytest.mark.parametrize(
    ("age", "category"),
    [(0, "0-4"), (4, "0-4"), (5, "5-12"), (12, "5-12"), (13, "13-16"), (16, "13-16"), (17, "17+"), (40, "17+")],
)
def test_age_category(age, category):
    assert age_category(age) == category


def test_card_age_category_uses_the_regions_local_date():
    # 2026-12-31T15:30Z is 1 January 00:30 in Jayapura but still 31 December 22:30 in Surakarta.
    moment = int(at("2026-12-31T15:30:00+00:00").timestamp())
    jayapura = make_card(birth_date=dt.date(2021, 12, 3), region=JAYAPURA)
    surakarta = make_card(birth_date=dt.date(2021, 12, 3), region=SURAKARTA)

    assert (jayapura.age_at(moment), jayapura.age_category_at(moment)) == (5, "5-12")
    assert (surakarta.age_at(moment), surakarta.age_category_at(moment)) == (4, "0-4")

"""The months retention counts in: YYYYMM moved by months, the month of a time in WIB, written YYYY-MM."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.errors import Invalid
from issuer.retention import add_months, first_kept, month_of, month_text, parse_month
from issuer.storage.models import is_partition


@pytest.mark.parametrize(("month", "count", "moved"), [
    (202611, 1, 202612), (202612, 1, 202701), (202601, -1, 202512), (202611, -59, 202112), (202611, 0, 202611),
    (202611, 25, 202812),
])
def test_months_move_across_years(month: int, count: int, moved: int) -> None:
    assert add_months(month, count) == moved


@given(st.integers(1, 9998), st.integers(1, 12), st.integers(-1200, 1200))
def test_moving_there_and_back_is_the_same_month(year: int, month: int, count: int) -> None:
    start = year * 100 + month
    moved = add_months(start, count)
    assert 1 <= moved % 100 <= 12
    assert add_months(moved, -count) == start


def test_a_month_is_counted_in_wib_where_the_month_changes_last() -> None:
    last_of_november_utc = int(dt.datetime(2026, 11, 30, 16, 59, tzinfo=dt.UTC).timestamp())
    assert month_of(last_of_november_utc) == 202611
    assert month_of(last_of_november_utc + 60) == 202612  # midnight in Jakarta; already December in Jayapura


def test_keeping_sixty_months_keeps_this_month_and_the_fifty_nine_before() -> None:
    now = int(dt.datetime(2026, 11, 22, 3, tzinfo=dt.UTC).timestamp())
    assert first_kept(60, now) == 202112
    assert first_kept(1, now) == 202611


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "26-01", "2026/01", "", "2026-1x"])
def test_a_month_not_written_yyyy_mm_is_refused(bad: str) -> None:
    with pytest.raises(Invalid, match="YYYY-MM"):
        parse_month(bad)


def test_months_read_and_written() -> None:
    assert parse_month("2026-09") == 202609
    assert month_text(202609) == "2026-09"


@pytest.mark.parametrize(("name", "partition"), [
    ("redemptions_202611", True), ("redemption_cards_default", True), ("redemptions", False),
    ("redemption_cards", False), ("redemptions_2026", False), ("redemption_summaries", False),
    ("redemption_card_counts", False),
])
def test_partitions_are_told_from_tables(name: str, partition: bool) -> None:
    assert is_partition(name) is partition

"""The log's fast canonical form is byte for byte Redemption.canonical(), which the office hashes."""

from __future__ import annotations

import dataclasses

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from keys.chain import MAX_MONEY, Redemption
from keys.eligibility import is_valid_region
from verifier.log import _canonical, _row

PROPERTY = settings(derandomize=True, max_examples=500, deadline=None, database=None)
# What Redemption.from_json lets through: printable ASCII, quotes and backslashes included.
TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=16)
# None, or the region of another office's card.
HOME = st.none() | st.sampled_from([region for region in range(1101, 9800) if is_valid_region(region)])


@st.composite
def records(draw: st.DrawFn) -> Redemption:
    price = draw(st.integers(0, MAX_MONEY))
    discount = draw(st.integers(0, price))
    return Redemption(
        seq=draw(st.integers(1, 2**62 - 1)),
        at=draw(st.integers(0, 2**40 - 1)),
        serial=draw(st.none() | TEXT),
        accepted=draw(st.booleans()),
        reason=draw(st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=40)),
        service=draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=64)),
        category=draw(st.none() | TEXT),
        price=price,
        discount=discount,
        paid=price - discount,
        flags=tuple(draw(st.lists(st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=32), max_size=8))),
        home=draw(HOME),
    )


@PROPERTY
@given(record=records())
def test_the_fast_form_of_a_stored_row_is_the_reference_form(record: Redemption) -> None:
    assert Redemption.from_json(record.to_json()) == record  # a record the log would store

    assert _canonical(_row(record)) == record.canonical()


@PROPERTY
@given(record=records(), column=st.sampled_from([1, 3, 7, 11]), value=st.sampled_from(["7", 1.0, b"\x01", None]))
def test_a_value_of_the_wrong_type_never_reads_as_the_original(record: Redemption, column: int, value) -> None:
    row = list(_row(record))
    row[column] = value
    assume(tuple(row) != _row(record))  # home None in a record without one: nothing changed

    assert _canonical(tuple(row)) != record.canonical()


def test_a_home_set_or_cleared_in_the_file_never_reads_as_the_original() -> None:
    record = Redemption(7, 1_795_316_400, "8H635DT4", True, "accepted", "museum", "5-12", 10_000, 2_500, 7_500)
    foreign = dataclasses.replace(record, home=6311)

    assert _canonical(_row(foreign)) == foreign.canonical() and b'"home":6311' in foreign.canonical()
    assert _canonical(_row(record)[:11] + (6311,)) != record.canonical()
    assert _canonical(_row(foreign)[:11] + (None,)) != foreign.canonical()
    assert _canonical(_row(foreign)[:11] + ("6311",)) != foreign.canonical()

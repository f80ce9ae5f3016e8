"""Properties of decide(): whatever a reader, a clock or the office's rules hand over,
the answer is a Decision with a documented reason, and the money adds up."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import CARD_REASONS, CLOCK_SKEW_LEEWAY, qr_text
from keys.chain import MAX_MONEY, Redemption
from tests.factories import DAY, NOW, SERIAL, make_card, make_trust
from verifier.decision import (
    AGE_CATEGORY_NAMES,
    RULE_REASONS,
    History,
    NoPriceForCategory,
    Service,
    TerminalClock,
    decide,
)

PROPERTY = settings(derandomize=True, max_examples=200, deadline=None, database=None)
REASONS = set(CARD_REASONS) | set(RULE_REASONS)

PRICES = st.dictionaries(st.sampled_from(AGE_CATEGORY_NAMES), st.integers(0, MAX_MONEY), min_size=1)
DISCOUNTS = st.one_of(
    st.fixed_dictionaries({"kind": st.just("percent"), "value": st.integers(0, 100)}),
    st.fixed_dictionaries({"kind": st.just("fixed"), "value": st.integers(0, MAX_MONEY)}),
)
SERVICES = st.builds(
    lambda prices, discount, limit, window: Service.from_json(
        {"code": "layanan-uji", "name": "Layanan uji", "prices": prices, "discount": discount,
         "daily_limit": limit, "passback_seconds": window}
    ),
    PRICES,
    DISCOUNTS,
    st.integers(1, 100),
    st.integers(0, 86400),
)
HISTORIES = st.builds(History, st.integers(0, 120), st.none() | st.integers(NOW - 2 * DAY, NOW + DAY))
CLOCKS = st.none() | st.builds(TerminalClock, st.none() | st.integers(NOW - DAY, NOW + DAY), st.integers(-900, 900))
PAYLOADS = st.one_of(st.binary(max_size=1200), st.text(max_size=1200), st.text("0123456789", max_size=900))


@pytest.fixture(scope="module")
def trust():
    return make_trust()


@pytest.fixture(scope="module")
def token(trust) -> str:
    return trust.issue(make_card())


def check_invariants(decision: Any) -> None:
    assert decision.reason in REASONS
    assert decision.accepted == (decision.reason == "accepted")
    assert 0 <= decision.discount <= decision.price and decision.paid == decision.price - decision.discount
    if not decision.accepted:
        assert (decision.price, decision.discount, decision.paid) == (0, 0, 0)
    record = decision.record(1, NOW)
    assert Redemption.from_json(record.to_json()) == record  # the office would take it


@PROPERTY
@given(payload=PAYLOADS, service=st.none() | SERVICES, history=HISTORIES, clock=CLOCKS)
def test_anything_a_reader_hands_over_gives_a_documented_rejection(trust, payload, service, history, clock) -> None:
    decision = decide(payload, trust.trust_list, service, lambda *_: history, NOW, clock)

    check_invariants(decision)
    assert not decision.accepted and decision.serial is None


@PROPERTY
@given(service=SERVICES, history=HISTORIES, clock=CLOCKS, offset=st.integers(-CLOCK_SKEW_LEEWAY, 3 * 365 * DAY),
       numeric=st.booleans())
def test_a_genuine_card_follows_exactly_the_partners_rules(trust, token, service, history, clock, offset,
                                                           numeric) -> None:
    now = NOW + offset
    payload = qr_text(token) if numeric else token

    decision = decide(payload, trust.trust_list, service, lambda *_: history, now, clock)

    check_invariants(decision)
    assert decision.serial == SERIAL and decision.category == "5-12"
    window = history.last_accepted_at is not None and abs(now - history.last_accepted_at) < service.passback_seconds
    expected = (
        "no_price" if "5-12" not in service.prices
        else "daily_limit" if history.accepted_today >= service.daily_limit
        else "passback" if window
        else "accepted"
    )
    assert decision.reason == expected
    if decision.accepted:
        assert (decision.price, decision.discount, decision.paid) == service.amounts("5-12")


@PROPERTY
@given(token_edit=st.data())
def test_a_damaged_genuine_token_is_the_original_card_or_a_rejection(trust, token, token_edit) -> None:
    index = token_edit.draw(st.integers(0, len(token) - 1))
    character = token_edit.draw(st.characters())
    damaged = token[:index] + character + token[index + 1:]

    decision = decide(damaged, trust.trust_list, None, lambda *_: History(0, None), NOW)

    check_invariants(decision)
    assert decision.serial in (None, SERIAL)


@PROPERTY
@given(service=SERVICES, category=st.sampled_from(AGE_CATEGORY_NAMES))
def test_amounts_add_up_and_never_go_negative(service, category) -> None:
    try:
        price, discount, paid = service.amounts(category)
    except NoPriceForCategory:
        assert category not in service.prices
        return
    assert price == service.prices[category]
    assert paid == price - discount and 0 <= paid <= price
    if service.discount_kind == "percent":
        assert discount == price * service.discount_value // 100
    else:
        assert discount == min(price, service.discount_value)

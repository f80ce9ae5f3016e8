"""verifier.decision: the card checks of keys/, then the partner's rules, as one pure function."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from issuer.partners import ServiceRules
from keys import CARD_REASONS, qr_text
from keys.chain import Redemption
from keys.serial import serial_from_value
from tests.factories import (
    DAY,
    NOW,
    SERIAL,
    UNDER_FIVE_BIRTH_DATE,
    make_card,
    make_issuing_key,
    make_trust,
)
from verifier.decision import (
    CLOCK_SKEW_LIMIT,
    NO_HISTORY,
    RULE_REASONS,
    ConfigInvalid,
    Decision,
    History,
    NoPriceForCategory,
    Service,
    TerminalClock,
    decide,
)

PRICES = {"0-4": 0, "5-12": 35_000, "13-16": 50_000}
SERVICE_JSON: dict[str, Any] = {
    "code": "bioskop-reguler",
    "name": "Bioskop reguler",
    "prices": PRICES,
    "discount": {"kind": "percent", "value": 33},
    "daily_limit": 2,
    "passback_seconds": 600,
}


def service(**changes: Any) -> Service:
    value = {**SERVICE_JSON, **changes}
    return Service.from_json(value)


class FakeHistory:
    """A HistoryLookup that answers one History and remembers what it was asked."""

    def __init__(self, history: History = NO_HISTORY) -> None:
        self.history = history
        self.asked: list[tuple[str, str, int]] = []

    def __call__(self, serial: str, service: str, now: int) -> History:
        self.asked.append((serial, service, now))
        return self.history


@pytest.fixture(scope="module")
def trust():
    return make_trust(revoked=[serial_from_value(1)])


@pytest.fixture(scope="module")
def token(trust) -> str:
    return trust.issue(make_card())


# --- Service.from_json ---------------------------------------------------------------


def test_the_office_rules_format_parses_to_the_same_rules() -> None:
    rules = ServiceRules("kolam-renang", "Kolam renang", {"5-12": 20_000, "13-16": 25_000}, "fixed", 5_000, 1, 3600)

    parsed = Service.from_json(rules.to_json())

    assert (parsed.code, parsed.name, dict(parsed.prices)) == (rules.code, rules.name, rules.prices)
    assert (parsed.discount_kind, parsed.discount_value) == ("fixed", 5_000)
    assert (parsed.daily_limit, parsed.passback_seconds) == (1, 3600)


def test_parsed_prices_cannot_be_changed_afterwards() -> None:
    parsed = service()

    with pytest.raises(TypeError):
        parsed.prices["5-12"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    "changes",
    [
        {"code": ""},
        {"code": "a" * 65},
        {"code": "bioskop reguler"},
        {"code": "bioskóp"},
        {"code": 7},
        {"name": " "},
        {"name": None},
        {"prices": {}},
        {"prices": {"adult": 10_000}},
        {"prices": {"5-12": -1}},
        {"prices": {"5-12": 100_000_001}},
        {"prices": {"5-12": 1.5}},
        {"prices": {"5-12": True}},
        {"prices": [35_000]},
        {"discount": {"kind": "percent"}},
        {"discount": {"kind": "percent", "value": 10, "cap": 5}},
        {"discount": {"kind": "bogof", "value": 1}},
        {"discount": {"kind": "percent", "value": 101}},
        {"discount": {"kind": "percent", "value": -1}},
        {"discount": {"kind": "fixed", "value": 100_000_001}},
        {"discount": {"kind": "fixed", "value": "5000"}},
        {"discount": 10},
        {"daily_limit": 0},
        {"daily_limit": 101},
        {"daily_limit": False},
        {"passback_seconds": -1},
        {"passback_seconds": 86_401},
        {"passback_seconds": 60.0},
    ],
)
def test_a_service_out_of_form_or_range_is_refused_with_one_sentence(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigInvalid) as raised:
        service(**changes)

    assert "\n" not in str(raised.value) and str(raised.value)


@pytest.mark.parametrize("value", [None, [], "bioskop", {**SERVICE_JSON, "extra": 1},
                                   {k: v for k, v in SERVICE_JSON.items() if k != "daily_limit"}])
def test_anything_but_exactly_the_documented_members_is_refused(value: object) -> None:
    with pytest.raises(ConfigInvalid):
        Service.from_json(value)


# --- amounts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "category", "expected"),
    [
        ("percent", 33, "5-12", (35_000, 11_550, 23_450)),
        ("percent", 33, "13-16", (50_000, 16_500, 33_500)),
        ("percent", 50, "0-4", (0, 0, 0)),
        ("percent", 100, "5-12", (35_000, 35_000, 0)),
        ("percent", 0, "5-12", (35_000, 0, 35_000)),
        ("fixed", 10_000, "5-12", (35_000, 10_000, 25_000)),
        ("fixed", 60_000, "13-16", (50_000, 50_000, 0)),
        ("fixed", 10_000, "0-4", (0, 0, 0)),
    ],
)
def test_amounts_are_whole_rupiah_and_never_give_more_than_the_price(
    kind: str, value: int, category: str, expected: tuple[int, int, int]
) -> None:
    assert service(discount={"kind": kind, "value": value}).amounts(category) == expected


def test_a_percentage_is_rounded_down_to_the_rupiah() -> None:
    rules = service(prices={"5-12": 9_999}, discount={"kind": "percent", "value": 15})

    assert rules.amounts("5-12") == (9_999, 1_499, 8_500)  # 1,499.85 gives 1,499


def test_a_category_without_a_price_has_no_amounts() -> None:
    rules = service(prices={"5-12": 35_000})

    with pytest.raises(NoPriceForCategory) as raised:
        rules.amounts("13-16")

    assert (raised.value.service, raised.value.category) == ("bioskop-reguler", "13-16")


# --- decide: the card ----------------------------------------------------------------


def test_a_valid_card_is_accepted_with_the_price_discount_and_end_of_eligibility(trust, token) -> None:
    history = FakeHistory()

    decision = decide(token, trust.trust_list, service(), history, NOW)

    assert decision == Decision(
        accepted=True,
        reason="accepted",
        serial=SERIAL,
        service="bioskop-reguler",
        category="5-12",
        price=35_000,
        discount=11_550,
        paid=23_450,
        eligible_until=dt.date(2035, 5, 13),  # the day before the 17th birthday
        flags=(),
    )
    assert history.asked == [(SERIAL, "bioskop-reguler", NOW)]


@pytest.mark.parametrize("form", ["token", "numeric", "bytes", "numeric bytes", "padded"])
def test_every_form_a_reader_hands_over_decides_alike(trust, token, form: str) -> None:
    payload: str | bytes = {
        "token": token,
        "numeric": qr_text(token),
        "bytes": token.encode(),
        "numeric bytes": qr_text(token).encode(),
        "padded": f"  {token}\r\n",
    }[form]

    assert decide(payload, trust.trust_list, service(), FakeHistory(), NOW).accepted


def test_a_bytearray_from_a_reader_buffer_is_read_as_bytes(trust, token) -> None:
    assert decide(bytearray(token.encode()), trust.trust_list, service(), FakeHistory(), NOW).accepted


def test_a_revoked_card_is_refused_with_its_serial_and_no_money() -> None:
    trust = make_trust(revoked=[SERIAL])

    decision = decide(trust.issue(make_card()), trust.trust_list, service(), FakeHistory(), NOW)

    assert (decision.accepted, decision.reason, decision.serial) == (False, "card_revoked", SERIAL)
    assert (decision.price, decision.discount, decision.paid) == (0, 0, 0)


def test_a_forged_card_names_no_serial_since_nothing_in_it_can_be_trusted(trust) -> None:
    forger = make_trust()  # another office's keys
    forged = forger.issue(make_card(), signer=make_issuing_key())

    decision = decide(forged, trust.trust_list, service(), FakeHistory(), NOW)

    assert (decision.accepted, decision.reason, decision.serial, decision.category) == (
        False, "unknown_key", None, None)


def test_a_card_with_a_forged_signature_is_bad_signature(trust, token) -> None:
    head, body, signature = token.split(".")
    tampered = f"{head}.{body}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"

    decision = decide(tampered, trust.trust_list, service(), FakeHistory(), NOW)

    assert (decision.reason, decision.serial) == ("bad_signature", None)


def test_an_aged_out_card_is_refused_and_the_rules_are_not_consulted(trust, token) -> None:
    history = FakeHistory()
    later = NOW + 9 * 365 * DAY

    decision = decide(token, trust.trust_list, service(), history, later)

    assert (decision.reason, decision.serial) == ("aged_out", SERIAL)
    assert history.asked == []


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x00\xff\xfe garbage from a reader \x81", "malformed"),
        ("", "malformed"),
        ("https://example.com/not-a-card", "malformed"),
        ("x" * 10_240, "too_large"),
        (b"\x00" * 10_240, "too_large"),
        ("1" * 801, "too_large"),
    ],
)
def test_what_is_not_a_card_is_a_rejected_decision_never_an_exception(trust, payload, reason: str) -> None:
    decision = decide(payload, trust.trust_list, service(), FakeHistory(), NOW)

    assert (decision.accepted, decision.reason, decision.serial, decision.service) == (
        False, reason, None, "bioskop-reguler")
    assert decision.record(1, NOW) == Redemption.from_json(decision.record(1, NOW).to_json())


@pytest.mark.parametrize("payload", [None, 42, ["token"], {"payload": "x"}])
def test_a_payload_of_the_wrong_type_is_malformed(trust, payload) -> None:
    assert decide(payload, trust.trust_list, service(), FakeHistory(), NOW).reason == "malformed"


# --- decide: the partner's rules -----------------------------------------------------


def test_without_rules_the_card_is_refused_as_no_service_but_still_identified(trust, token) -> None:
    decision = decide(token, trust.trust_list, None, FakeHistory(), NOW)

    assert (decision.accepted, decision.reason, decision.serial, decision.category) == (
        False, "no_service", SERIAL, "5-12")
    assert decision.service == "none"
    assert decision.eligible_until == dt.date(2035, 5, 13)


def test_without_rules_the_service_staff_chose_is_recorded_when_it_is_a_service_code(trust, token) -> None:
    chosen = decide(token, trust.trust_list, None, FakeHistory(), NOW, service_code="kolam-renang")
    junk = decide(token, trust.trust_list, None, FakeHistory(), NOW, service_code="kolam renang; drop")

    assert (chosen.service, junk.service) == ("kolam-renang", "none")


def test_an_age_group_without_a_price_is_no_price(trust) -> None:
    under_five = trust.issue(make_card(birth_date=UNDER_FIVE_BIRTH_DATE))
    rules = service(prices={"5-12": 35_000, "13-16": 50_000})

    decision = decide(under_five, trust.trust_list, rules, FakeHistory(), NOW)

    assert (decision.accepted, decision.reason, decision.category) == (False, "no_price", "0-4")
    assert (decision.price, decision.discount, decision.paid) == (0, 0, 0)


def test_an_under_five_card_gets_its_own_price(trust) -> None:
    under_five = trust.issue(make_card(birth_date=UNDER_FIVE_BIRTH_DATE))
    rules = service(prices={"0-4": 20_000}, discount={"kind": "fixed", "value": 5_000})

    decision = decide(under_five, trust.trust_list, rules, FakeHistory(), NOW)

    assert (decision.category, decision.price, decision.discount, decision.paid) == ("0-4", 20_000, 5_000, 15_000)
    assert decision.eligible_until == dt.date(2028, 3, 9)  # the day before the 5th birthday


@pytest.mark.parametrize(("accepted_today", "outcome"), [(0, "accepted"), (1, "accepted"), (2, "daily_limit"),
                                                         (7, "daily_limit")])
def test_the_daily_limit_counts_accepted_scans_of_the_day(trust, token, accepted_today: int, outcome: str) -> None:
    history = FakeHistory(History(accepted_today, None))

    assert decide(token, trust.trust_list, service(daily_limit=2), history, NOW).reason == outcome


@pytest.mark.parametrize(
    ("seconds_since", "outcome"),
    [(1, "passback"), (0, "passback"), (599, "passback"), (600, "accepted"), (3600, "accepted"),
     (-599, "passback"), (-600, "accepted")],
)
def test_anti_passback_refuses_the_card_again_inside_the_window(
    trust, token, seconds_since: int, outcome: str
) -> None:
    history = FakeHistory(History(1, NOW - seconds_since))

    assert decide(token, trust.trust_list, service(passback_seconds=600), history, NOW).reason == outcome


def test_a_window_of_zero_never_refuses_as_passback(trust, token) -> None:
    history = FakeHistory(History(1, NOW))

    assert decide(token, trust.trust_list, service(passback_seconds=0), history, NOW).accepted


def test_the_daily_limit_wins_over_passback_as_it_is_the_final_answer_for_the_day(trust, token) -> None:
    history = FakeHistory(History(2, NOW - 5))

    assert decide(token, trust.trust_list, service(daily_limit=2), history, NOW).reason == "daily_limit"


def test_a_refusal_by_rule_keeps_the_card_facts_for_the_screen(trust, token) -> None:
    decision = decide(token, trust.trust_list, service(), FakeHistory(History(2, None)), NOW)

    assert (decision.serial, decision.category, decision.eligible_until) == (SERIAL, "5-12", dt.date(2035, 5, 13))
    assert (decision.price, decision.discount, decision.paid) == (0, 0, 0)


# --- flags ---------------------------------------------------------------------------


def test_a_trust_list_past_its_expiry_still_decides_but_flags_stale() -> None:
    old = make_trust(now=NOW - 31 * DAY)

    decision = decide(old.issue(make_card()), old.trust_list, service(), FakeHistory(), NOW)

    assert decision.accepted and decision.flags == ("stale",)


@pytest.mark.parametrize(
    ("clock", "flagged"),
    [
        (None, False),
        (TerminalClock(None, 0), False),
        (TerminalClock(NOW, CLOCK_SKEW_LIMIT), False),
        (TerminalClock(NOW, -CLOCK_SKEW_LIMIT), False),
        (TerminalClock(NOW, CLOCK_SKEW_LIMIT + 1), True),
        (TerminalClock(NOW, -CLOCK_SKEW_LIMIT - 1), True),
        (TerminalClock(NOW + CLOCK_SKEW_LIMIT, 0), False),  # the last contact, just now by a correct clock
        (TerminalClock(NOW + CLOCK_SKEW_LIMIT + 1, 0), True),  # the clock went back before the last contact
        (TerminalClock(NOW - 60 * DAY, 0), False),  # offline for two months: the clock is not to blame
    ],
)
def test_a_clock_far_from_the_office_or_gone_back_is_flagged(trust, token, clock, flagged: bool) -> None:
    decision = decide(token, trust.trust_list, service(), FakeHistory(), NOW, clock)

    assert decision.accepted
    assert decision.flags == (("clock_skew",) if flagged else ())


def test_flags_ride_on_rejected_decisions_too_in_a_fixed_order() -> None:
    old = make_trust(now=NOW - 31 * DAY)

    decision = decide(b"\xff", old.trust_list, service(), FakeHistory(), NOW, TerminalClock(None, 3600))

    assert (decision.reason, decision.flags) == ("malformed", ("stale", "clock_skew"))


def test_the_clock_measured_at_a_contact_is_office_minus_terminal() -> None:
    assert TerminalClock.measured(server_time=NOW, terminal_time=NOW - 400) == TerminalClock(NOW, 400)


# --- the record ----------------------------------------------------------------------


def test_every_decision_makes_a_record_the_office_accepts(trust, token) -> None:
    decisions = [
        decide(token, trust.trust_list, service(), FakeHistory(), NOW, TerminalClock(None, 900)),
        decide(token, trust.trust_list, None, FakeHistory(), NOW),
        decide(b"\x00", trust.trust_list, service(), FakeHistory(), NOW),
    ]

    for seq, decision in enumerate(decisions, start=1):
        record = decision.record(seq, NOW + seq)
        assert Redemption.from_json(record.to_json()) == record
        assert (record.seq, record.at, record.reason, record.flags) == (seq, NOW + seq, decision.reason,
                                                                        decision.flags)


def test_the_record_holds_only_the_serial_category_and_money(trust, token) -> None:
    record = decide(token, trust.trust_list, service(), FakeHistory(), NOW).record(1, NOW)

    assert set(record.to_json()) == {"seq", "at", "serial", "accepted", "reason", "service", "category", "price",
                                     "discount", "paid", "flags"}


def test_reason_codes_are_the_documented_closed_set() -> None:
    assert set(RULE_REASONS).isdisjoint(CARD_REASONS)
    assert RULE_REASONS == ("no_service", "no_price", "daily_limit", "passback")


def test_a_decision_is_a_value(trust, token) -> None:
    decision = decide(token, trust.trust_list, service(), FakeHistory(), NOW)

    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.accepted = False  # type: ignore[misc]
    assert decide(token, trust.trust_list, service(), FakeHistory(), NOW) == decision

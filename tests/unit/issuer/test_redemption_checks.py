"""issuer.redemption_checks without a database: each check on its own, and its documentation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest

from issuer.anomalies import KINDS
from issuer.redemption_checks import (
    ALLOWED_SKEW,
    CHECKS,
    HOUR,
    CardFacts,
    HomeOffice,
    Known,
    RuleVersion,
    Use,
    alarm_summary,
    check_batch,
)
from issuer.reports import bucket
from keys.chain import Redemption
from keys.serial import serial_from_value
from tests.factories import DAY, NOW, SURAKARTA, WIB

CARD = serial_from_value(42)
ENROLLED = NOW - 10 * DAY
RULES = RuleVersion("renang", NOW - 30 * DAY, None, {"5-12": 20_000}, "percent", 50, 1)
FACTS = CardFacts(kid="K1", region=SURAKARTA, birth_month=201805, issued_at=NOW - 20 * DAY,
                  expires_at=NOW + 365 * DAY, revoked_at=None, state="active")
KNOWN = Known(now=NOW, terminal_id="T-1", partner_id=1, partner_zone=WIB, enrolled_at=ENROLLED,
              states=[(ENROLLED, "active")], cards={CARD: FACTS}, revoked_keys={}, rules=[RULES], uses={},
              places={})


def use(at: int, partner_id: int, service: str, terminal_id: str, seq: int) -> Use:
    """Another accepted scan of the card, filed under its local day in WIB as ingest files it."""
    return Use(at, partner_id, service, terminal_id, seq, bucket(dt.datetime.fromtimestamp(at, WIB).date(), "day"))


def accepted(at: int = NOW - HOUR, **changes: object) -> Redemption:
    record = Redemption(1, at, CARD, True, "accepted", "renang", "5-12", 20_000, 10_000, 10_000)
    return dataclasses.replace(record, **changes)


def checks(record: Redemption, known: Known = KNOWN) -> set[str]:
    return {finding.check for finding in check_batch([record], known)}


def test_an_honest_record_raises_no_finding():
    assert checks(accepted()) == set()


def test_a_refusal_carries_no_amounts():
    refused = Redemption(1, NOW - HOUR, CARD, False, "daily_limit", "renang", "5-12", 0, 0, 0)
    assert checks(refused) == set()
    assert checks(dataclasses.replace(refused, price=20_000, paid=20_000)) == {"reason_mismatch"}
    assert checks(dataclasses.replace(refused, reason="accepted")) == {"reason_mismatch"}


@pytest.mark.parametrize(("facts", "expected"), [
    pytest.param(dataclasses.replace(FACTS, revoked_at=NOW - DAY, state="revoked"), {"card_revoked"}, id="revoked"),
    pytest.param(dataclasses.replace(FACTS, revoked_at=NOW - DAY, state="replaced"), {"card_replaced"},
                 id="replaced"),
    pytest.param(dataclasses.replace(FACTS, revoked_at=NOW + DAY, state="revoked"), set(), id="revoked_later"),
    pytest.param(dataclasses.replace(FACTS, expires_at=NOW - DAY), {"card_expired"}, id="expired"),
    pytest.param(dataclasses.replace(FACTS, issued_at=NOW), {"card_not_issued_yet"}, id="issued_after"),
    pytest.param(dataclasses.replace(FACTS, birth_month=201005), {"category_mismatch"}, id="a_teenager"),
])
def test_the_card_as_it_was_at_the_scan(facts: CardFacts, expected: set[str]):
    assert checks(accepted(), dataclasses.replace(KNOWN, cards={CARD: facts})) == expected


BALANGAN = 6311
FOREIGN = serial_from_value(77)  # a Balangan card: this office holds none of its facts


@pytest.mark.parametrize(("offices", "own", "home", "expected"), [
    pytest.param({BALANGAN: HomeOffice("active", NOW - 365 * DAY, NOW + 365 * DAY)}, SURAKARTA, BALANGAN, set(),
                 id="listed_and_trusted"),
    pytest.param({}, None, BALANGAN, {"home_unlisted"}, id="no_directory_held"),
    pytest.param({SURAKARTA: HomeOffice("active", 0, NOW * 2)}, SURAKARTA, 9171, {"home_unlisted"},
                 id="region_not_listed"),
    pytest.param({BALANGAN: HomeOffice("active", 0, NOW * 2)}, BALANGAN, BALANGAN, {"home_own_region"},
                 id="own_region_named_home"),
    pytest.param({BALANGAN: HomeOffice("suspended", 0, NOW * 2)}, SURAKARTA, BALANGAN, {"home_untrusted"},
                 id="suspended"),
    pytest.param({BALANGAN: HomeOffice("revoked", 0, NOW * 2)}, SURAKARTA, BALANGAN, {"home_untrusted"},
                 id="revoked"),
    pytest.param({BALANGAN: HomeOffice("active", NOW, NOW * 2)}, SURAKARTA, BALANGAN, {"home_untrusted"},
                 id="before_its_validity"),
])
def test_a_card_of_another_region_is_checked_against_the_directory_not_the_offices_cards(
        offices: dict[int, HomeOffice], own: int | None, home: int, expected: set[str]):
    known = dataclasses.replace(KNOWN, home_offices=offices, own_region=own)
    assert checks(accepted(serial=FOREIGN, home=home), known) == expected
    # Without home the same serial is no card of this office's.
    assert checks(accepted(serial=FOREIGN), known) == {"serial_unknown"}


@pytest.mark.parametrize(("agreed", "expected"), [
    pytest.param(None, set(), id="every_region"),
    pytest.param(frozenset({BALANGAN, 9171}), set(), id="listed"),
    pytest.param(frozenset({9171}), {"home_not_accepted"}, id="not_listed"),
    pytest.param(frozenset(), {"home_not_accepted"}, id="own_cards_only"),
])
def test_a_card_of_another_region_counts_only_where_the_partner_agreed_to_honour_it(
        agreed: frozenset[int] | None, expected: set[str]):
    known = dataclasses.replace(KNOWN, home_offices={BALANGAN: HomeOffice("active", 0, NOW * 2)},
                                own_region=SURAKARTA, partner_regions=agreed)
    assert checks(accepted(serial=FOREIGN, home=BALANGAN), known) == expected
    assert checks(accepted(), known) == set()  # the office's own cards, whatever the partner chose


def test_a_card_of_another_region_still_meets_the_partners_rules_and_daily_limit():
    known = dataclasses.replace(KNOWN, home_offices={BALANGAN: HomeOffice("active", 0, NOW * 2)},
                                own_region=SURAKARTA)
    assert checks(accepted(serial=FOREIGN, home=BALANGAN, discount=15_000, paid=5_000), known) == {"rules_mismatch"}
    twice = [accepted(serial=FOREIGN, home=BALANGAN), accepted(NOW - HOUR + 60, seq=2, serial=FOREIGN, home=BALANGAN)]
    assert [finding.check for finding in check_batch(twice, known)] == ["daily_limit"]


def test_a_key_revoked_before_the_scan_holds_its_cards_and_one_revoked_after_does_not():
    assert checks(accepted(), dataclasses.replace(KNOWN, revoked_keys={"K1": NOW - DAY})) == {"key_revoked"}
    assert checks(accepted(), dataclasses.replace(KNOWN, revoked_keys={"K1": NOW})) == set()


@pytest.mark.parametrize(("at", "expected"), [
    pytest.param(ENROLLED - ALLOWED_SKEW, set(), id="within_the_skew_before_enrolment"),
    pytest.param(ENROLLED - ALLOWED_SKEW - 1, {"before_enrolment"}, id="before_enrolment"),
    pytest.param(NOW + ALLOWED_SKEW, set(), id="within_the_skew_after_receipt"),
    pytest.param(NOW + ALLOWED_SKEW + 1, {"future"}, id="after_receipt"),
])
def test_the_scan_time_against_the_terminal_and_the_receipt(at: int, expected: set[str]):
    assert checks(accepted(at)) == expected


def test_a_scan_while_suspended_is_held_and_one_after_reactivation_is_not():
    states = [(ENROLLED, "active"), (NOW - 3 * DAY, "suspended"), (NOW - DAY, "active")]
    known = dataclasses.replace(KNOWN, states=states)
    assert checks(accepted(NOW - 2 * DAY), known) == {"while_suspended"}
    assert checks(accepted(NOW - HOUR), known) == set()


def test_rules_in_force_at_some_moment_since_enrolment_are_accepted_and_no_others():
    old = dataclasses.replace(RULES, valid_until=NOW - 5 * DAY)
    new = dataclasses.replace(RULES, valid_from=NOW - 5 * DAY, prices={"5-12": 30_000})
    known = dataclasses.replace(KNOWN, rules=[old, new])
    assert checks(accepted(), known) == set()  # still on the old rules, as an offline terminal is
    assert checks(accepted(price=30_000, discount=15_000, paid=15_000), known) == set()
    assert checks(accepted(price=25_000, discount=12_500, paid=12_500), known) == {"rules_mismatch"}
    before = dataclasses.replace(KNOWN, enrolled_at=NOW - 2 * DAY, rules=[old, new])
    assert checks(accepted(), before) == {"rules_mismatch"}  # ended before this terminal was enrolled
    assert checks(accepted(service="vip")) == {"rules_mismatch"}


def test_the_daily_limit_counts_every_terminal_of_the_partner_on_its_local_day():
    at = int(dt.datetime(2026, 11, 21, 10, tzinfo=WIB).timestamp())
    earlier = use(at - HOUR, 1, "renang", "T-2", 7)
    yesterday = use(at - 11 * HOUR, 1, "renang", "T-2", 6)  # 23:00 WIB the day before
    elsewhere = use(at - 2 * HOUR, 2, "renang", "T-9", 3)
    assert checks(accepted(at), dataclasses.replace(KNOWN, uses={CARD: [earlier]})) == {"daily_limit"}
    assert checks(accepted(at), dataclasses.replace(KNOWN, uses={CARD: [yesterday, elsewhere]})) == set()


def test_travel_faster_than_250_kmh_over_more_than_50_km_is_held():
    solo, jakarta, klaten = (-7.5666, 110.8243), (-6.1754, 106.8272), (-7.7056, 110.6063)
    places = {1: solo, 2: jakarta, 3: klaten}
    jakarta_use, klaten_use = use(NOW - 2 * HOUR, 2, "museum", "T-J", 1), use(NOW - 2 * HOUR, 3, "museum", "T-K", 1)
    assert checks(accepted(NOW - HOUR), dataclasses.replace(KNOWN, places=places, uses={CARD: [jakarta_use]})) == {
        "impossible_travel"}
    assert checks(accepted(NOW - HOUR), dataclasses.replace(KNOWN, places=places, uses={CARD: [klaten_use]})) == set()
    assert checks(accepted(NOW - HOUR + 3 * DAY), dataclasses.replace(
        KNOWN, now=NOW + 3 * DAY, places=places, uses={CARD: [jakarta_use]})) == set()


def test_more_than_three_partners_within_an_hour_is_held():
    uses = [use(NOW - HOUR - 600 * n, partner, "tiket", f"T-{partner}", 1) for n, partner in enumerate((2, 3, 4))]
    assert checks(accepted(), dataclasses.replace(KNOWN, uses={CARD: uses})) == {"many_partners"}
    assert checks(accepted(), dataclasses.replace(KNOWN, uses={CARD: uses[:2]})) == set()


def test_records_of_one_batch_count_as_each_others_uses():
    batch = [accepted(NOW - 2 * HOUR), dataclasses.replace(accepted(NOW - HOUR), seq=2)]
    findings = check_batch(batch, KNOWN)
    assert [(finding.seq, finding.check) for finding in findings] == [(2, "daily_limit")]
    assert alarm_summary(findings) == {"daily_limit": 1}


def test_every_check_is_documented_for_auditors():
    text = (Path(__file__).resolve().parents[3] / "docs" / "audit.md").read_text(encoding="utf-8")
    checks_section = text.split("## The checks", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \|", checks_section, re.MULTILINE))
    assert {name for pair in documented for name in pair if name} == set(CHECKS)


def test_every_anomaly_is_documented_for_auditors():
    text = (Path(__file__).resolve().parents[3] / "docs" / "audit.md").read_text(encoding="utf-8")
    section = text.split("## The statistical pass", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE)) == set(KINDS)


def test_every_alarm_the_office_raises_has_a_name_in_both_languages():
    from issuer.web.i18n import ALARMS

    raised = set(CHECKS) | set(KINDS) | {"fork", "chain_mismatch", "mou_expired"}
    assert raised <= set(ALARMS) and all(all(words) for words in ALARMS.values())

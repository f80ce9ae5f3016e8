"""A partner's fields and a service's discount rules, checked without a database (issuer/partners.py).

tests/integration/issuer/test_partners.py shows that the services apply these
checks before writing anything, on both databases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from issuer.errors import Invalid
from issuer.partners import RuleInvalid, ServiceRules, check_partner
from issuer.web.i18n import TEXT
from keys.chain import MAX_MONEY
from tests.factories import SURAKARTA
from tests.factories.offices import SERVICE

START = dt.date(2026, 11, 1)
PARTNER = {"name": "Bioskop Solo Paragon", "kind": "cinema", "cluster": "education_culture", "region": SURAKARTA,
           "mou_start": START, "mou_end": START + dt.timedelta(days=730)}


def rules(**changes: Any) -> ServiceRules:
    return dataclasses.replace(SERVICE, **changes)


@pytest.mark.parametrize(("bad", "words"), [  # the bad field, a word the message must hold
    pytest.param({"name": "   "}, "name", id="name_blank"),
    pytest.param({"name": "B" * 201}, "name", id="name_too_long"),
    pytest.param({"kind": "casino"}, "kind of service", id="kind_unknown"),
    pytest.param({"cluster": "health"}, "KLA cluster", id="cluster_unknown"),
    pytest.param({"region": 3300}, "region", id="region_of_a_province"),
    pytest.param({"region": 9999}, "region", id="region_unknown_province"),
    pytest.param({"region": "3372"}, "region", id="region_as_text"),
    pytest.param({"mou_end": START}, "MoU", id="mou_ends_when_it_starts"),
    pytest.param({"mou_end": START - dt.timedelta(days=1)}, "MoU", id="mou_ends_before_it_starts"),
])
def test_a_partner_with_a_bad_field_is_refused_in_one_sentence(bad: dict[str, Any], words: str):
    with pytest.raises(Invalid) as refused:
        check_partner(**PARTNER | bad)
    assert words in str(refused.value) and "\n" not in str(refused.value)


def test_a_partner_with_every_field_in_range_passes():
    check_partner(**PARTNER | {"name": "B" * 200, "mou_end": START + dt.timedelta(days=1)})


@pytest.mark.parametrize(("bad", "words"), [  # rules out of range, and words the message must hold
    pytest.param(rules(code=""), "service code", id="code_empty"),
    pytest.param(rules(code="bioskop reguler"), "service code", id="code_with_space"),
    pytest.param(rules(code="bioskop-é"), "service code", id="code_not_ascii"),
    pytest.param(rules(code="b" * 65), "service code", id="code_too_long"),
    pytest.param(rules(name="  "), "service name", id="name_blank"),
    pytest.param(rules(prices={}), "per age category", id="no_prices"),
    pytest.param(rules(prices={"17+": 50_000}), "0-4, 5-12, 13-16", id="unknown_age_category"),
    pytest.param(rules(prices={"5-12": -1}), "whole rupiah", id="price_negative"),
    pytest.param(rules(prices={"5-12": MAX_MONEY + 1}), "whole rupiah", id="price_too_high"),
    pytest.param(rules(prices={"5-12": 40_000.5}), "whole rupiah", id="price_not_whole"),
    pytest.param(rules(discount_kind="percent", discount_value=101), "from 0 to 100", id="percent_over_100"),
    pytest.param(rules(discount_kind="percent", discount_value=-1), "from 0 to 100", id="percent_negative"),
    pytest.param(rules(discount_kind="fixed", discount_value=-1), "fixed discount", id="fixed_negative"),
    pytest.param(rules(discount_kind="fixed", discount_value=MAX_MONEY + 1), "fixed discount", id="fixed_too_high"),
    pytest.param(rules(discount_kind="free", discount_value=0), "percentage or a fixed", id="unknown_discount_kind"),
    pytest.param(rules(daily_limit=0), "daily limit", id="daily_limit_zero"),
    pytest.param(rules(daily_limit=101), "daily limit", id="daily_limit_over_100"),
    pytest.param(rules(passback_seconds=-1), "anti-passback", id="passback_negative"),
    pytest.param(rules(passback_seconds=86_401), "anti-passback", id="passback_over_a_day"),
])
def test_rules_out_of_range_are_refused_in_one_sentence(bad: ServiceRules, words: str):
    with pytest.raises(RuleInvalid) as refused:
        bad.check()
    assert words in str(refused.value) and "\n" not in str(refused.value)
    assert f"ptn_rule_{refused.value.rule}" in TEXT, "the partner page has words for the rule in both languages"


@pytest.mark.parametrize("edge", [
    rules(code="gratis", discount_kind="percent", discount_value=100, daily_limit=100, passback_seconds=86_400),
    rules(code="tanpa-diskon", discount_kind="percent", discount_value=0, daily_limit=1, passback_seconds=0),
    rules(code="potongan-maks", prices={"13-16": MAX_MONEY}, discount_kind="fixed", discount_value=MAX_MONEY),
    rules(code="potongan-nol", prices={"0-4": 0}, discount_kind="fixed", discount_value=0),
], ids=lambda edge: edge.code)
def test_rules_at_the_limits_of_each_range_pass(edge: ServiceRules):
    edge.check()

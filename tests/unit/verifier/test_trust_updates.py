"""What a terminal relies on when its trust list changes: deltas give exactly the
office's list, and the fast paths of keys/ (sorted-run union and difference, the
trust list's own JWS check) agree with the plain definitions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import RevokedSerials, apply_delta, build_trust_list, sign_delta, sign_trust_list, verify_trust_list
from keys.errors import TrustListMalformed, TrustListSignatureInvalid
from keys.serial import SERIAL_BITS
from tests.factories import NOW, make_trust

PROPERTY = settings(derandomize=True, max_examples=200, deadline=None, database=None)
VALUES = st.sets(st.integers(0, 2**SERIAL_BITS - 1), max_size=60)
SMALL_VALUES = st.sets(st.integers(0, 40), max_size=30)  # crowded: many hits and neighbours


@PROPERTY
@given(held=st.one_of(VALUES, SMALL_VALUES), added=st.one_of(VALUES, SMALL_VALUES))
def test_union_is_the_sorted_set_union(held: set[int], added: set[int]) -> None:
    result = RevokedSerials(held).union(added)

    assert list(result) == sorted(held | added)


@PROPERTY
@given(held=st.one_of(VALUES, SMALL_VALUES), removed=st.one_of(VALUES, SMALL_VALUES))
def test_difference_is_the_sorted_set_difference(held: set[int], removed: set[int]) -> None:
    result = RevokedSerials(held).difference(removed)

    assert list(result) == sorted(held - removed)


@PROPERTY
@given(old=SMALL_VALUES, new=SMALL_VALUES)
def test_a_delta_between_any_two_lists_gives_exactly_the_new_one(old: set[int], new: set[int]) -> None:
    trust = make_trust()
    old_list = build_trust_list(1, trust.trust_list.keys, RevokedSerials(old), NOW)
    new_list = build_trust_list(2, trust.trust_list.keys, RevokedSerials(new), NOW + 60)

    delta = sign_delta(1, old_list.revoked, new_list, trust.root)

    assert apply_delta(old_list, delta, trust.root.public_key(), NOW + 60) == new_list


def test_a_list_with_padded_segments_is_malformed_as_for_cards() -> None:
    trust = make_trust()
    header, payload, signature = trust.token.split(".")
    padded = f"{header}.{payload}{'=' * (-len(payload) % 4) or '=='}.{signature}"

    with pytest.raises(TrustListMalformed):
        verify_trust_list(padded, trust.root.public_key(), NOW)


def test_a_signature_over_other_segments_does_not_carry_over() -> None:
    trust = make_trust()
    other = sign_trust_list(build_trust_list(9, trust.trust_list.keys, RevokedSerials([5]), NOW), trust.root)
    header, payload, _ = trust.token.split(".")
    signature = other.rsplit(".", 1)[1]

    with pytest.raises(TrustListSignatureInvalid):
        verify_trust_list(f"{header}.{payload}.{signature}", trust.root.public_key(), NOW)

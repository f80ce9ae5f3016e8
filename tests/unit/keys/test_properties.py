"""Property-based attacks: whatever a scanner or a network hands over, verification
either returns the original card (or list) or raises the package's own rejection."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import (
    CARD_REASONS,
    TRUST_LIST_REASONS,
    InvalidCardError,
    InvalidTrustListError,
    qr_text,
    verify_card,
    verify_trust_list,
)
from tests.factories import NOW, b64url, make_card, make_issuing_key, make_trust

# Deterministic and quick: the whole file runs in a few seconds.
PROPERTY = settings(derandomize=True, max_examples=250, deadline=None, database=None)

TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
CHARACTERS = st.one_of(st.sampled_from(TOKEN_ALPHABET + '=+/ \t\n{}"0'), st.characters())

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def trust():
    return make_trust(signers=[make_issuing_key(), make_issuing_key()], revoked=[])


@pytest.fixture(scope="module")
def token(trust):
    return trust.issue(make_card())


def mutate(draw, text: str, characters=CHARACTERS) -> str:
    """Replace, insert or delete one character of ``text``."""
    kind = draw(st.sampled_from(("replace", "insert", "delete")))
    index = draw(st.integers(0, len(text) if kind == "insert" else len(text) - 1))
    if kind == "delete":
        return text[:index] + text[index + 1 :]
    character = draw(characters)
    return text[:index] + character + text[index + (kind == "replace") :]


def card_outcome(payload, trust, original):
    """Reject with a documented reason, or accept exactly the original card."""
    try:
        verified = verify_card(payload, trust.trust_list, NOW)
    except InvalidCardError as error:
        assert error.reason in CARD_REASONS
        return
    assert verified == original, f"accepted a different card from {payload!r}"


def list_outcome(token, trust):
    try:
        verified = verify_trust_list(token, trust.root.public_key(), NOW)
    except InvalidTrustListError as error:
        assert error.reason in TRUST_LIST_REASONS
        return
    assert verified == trust.trust_list, f"accepted a different trust list from {token!r}"


# --- cards -------------------------------------------------------------------


@PROPERTY
@given(data=st.data())
def test_mutated_card_token_is_rejected_or_unchanged(trust, token, data):
    original = verify_card(token, trust.trust_list, NOW)
    mutated = token
    for _ in range(data.draw(st.integers(1, 3))):
        mutated = mutate(data.draw, mutated)
    card_outcome(mutated, trust, original)
    card_outcome(mutated.encode("utf-8", "surrogatepass"), trust, original)


@PROPERTY
@given(data=st.data())
def test_mutated_numeric_qr_text_is_rejected_or_unchanged(trust, token, data):
    original = verify_card(token, trust.trust_list, NOW)
    mutated = mutate(data.draw, qr_text(token), st.sampled_from("0123456789"))
    card_outcome(mutated, trust, original)


@PROPERTY
@given(data=st.data())
def test_qr_text_with_a_flipped_digit_is_rejected(trust, token, data):
    text = qr_text(token)
    index = data.draw(st.integers(0, len(text) - 1))
    digit = data.draw(st.sampled_from("0123456789").filter(lambda d: d != text[index]))
    with pytest.raises(InvalidCardError):
        verify_card(text[:index] + digit + text[index + 1 :], trust.trust_list, NOW)


@pytest.mark.parametrize("order", [order for order in itertools.product(range(3), repeat=3) if order != (0, 1, 2)])
def test_card_token_with_segments_swapped_or_repeated_is_rejected(trust, token, order):
    parts = token.split(".")
    with pytest.raises(InvalidCardError):
        verify_card(".".join(parts[i] for i in order), trust.trust_list, NOW)


@PROPERTY
@given(order=st.lists(st.integers(0, 2), max_size=5))
def test_card_token_rebuilt_from_its_segments_is_rejected_or_unchanged(trust, token, order):
    parts = token.split(".")
    card_outcome(".".join(parts[i] for i in order), trust, verify_card(token, trust.trust_list, NOW))


@PROPERTY
@given(text=st.text(max_size=900))
def test_arbitrary_text_raises_only_invalid_card_error(trust, text):
    with pytest.raises(InvalidCardError):
        verify_card(text, trust.trust_list, NOW)


@PROPERTY
@given(payload=st.binary(max_size=900))
def test_arbitrary_bytes_raise_only_invalid_card_error(trust, payload):
    with pytest.raises(InvalidCardError):
        verify_card(payload, trust.trust_list, NOW)


@PROPERTY
@given(digits=st.text(alphabet="0123456789", max_size=900))
def test_arbitrary_digits_raise_only_invalid_card_error(trust, digits):
    with pytest.raises(InvalidCardError):
        verify_card(digits, trust.trust_list, NOW)


def _headers(kids):
    members = st.sampled_from(["alg", "kid", "typ", "crit", "b64", "jku", "jwk", "x5u", "zip", "cty"])
    values = st.one_of(st.sampled_from(["EdDSA", "none", "HS256", "kia", "kia-tl", *kids]), JSON_VALUES)
    return st.dictionaries(members, values, max_size=5)


@PROPERTY
@given(data=st.data())
def test_compact_jws_with_arbitrary_header_raises_only_invalid_card_error(trust, token, data):
    header = data.draw(_headers([key.kid for _, key in trust.signers]))
    claims = token.split(".")[1]
    signature = b64url(data.draw(st.binary(min_size=0, max_size=64)))
    with pytest.raises(InvalidCardError):
        verify_card(f"{b64url(json.dumps(header).encode())}.{claims}.{signature}", trust.trust_list, NOW)


# --- trust lists ---------------------------------------------------------------


@PROPERTY
@given(data=st.data())
def test_mutated_trust_list_is_rejected_or_unchanged(trust, data):
    list_outcome(mutate(data.draw, trust.token), trust)


@PROPERTY
@given(text=st.one_of(st.text(max_size=600), st.binary(max_size=600)))
def test_arbitrary_input_raises_only_invalid_trust_list_error(trust, text):
    with pytest.raises(InvalidTrustListError):
        verify_trust_list(text, trust.root.public_key(), NOW)


@PROPERTY
@given(data=st.data())
def test_trust_list_with_arbitrary_header_raises_only_invalid_trust_list_error(trust, data):
    header = data.draw(_headers([]))
    claims = trust.token.split(".")[1]
    signature = b64url(data.draw(st.binary(max_size=64)))
    with pytest.raises(InvalidTrustListError):
        verify_trust_list(f"{b64url(json.dumps(header).encode())}.{claims}.{signature}", trust.root.public_key(), NOW)

"""The scan path's shortcut: a card in the office's own header layout is checked
with Ed25519 directly (jws.split_compact), everything else through pyjwt.  Both
must accept and refuse the same tokens, with the same errors."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import card as card_module
from keys import errors, jws, verify_card
from keys.card import token_from_payload
from tests.factories import NOW, b64url, b64url_decode_lenient, card_header, forge_token, make_card, make_trust

PROPERTY = settings(derandomize=True, max_examples=300, deadline=None, database=None)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Surrogates are left out: pyjwt cannot even encode them (the scan path
# never hands it one: token_from_payload refuses anything outside base64url).
CHARACTERS = st.one_of(st.sampled_from(ALPHABET + "=+/.  \t\n%"), st.characters(blacklist_categories=("Cs",)))


@pytest.fixture(scope="module")
def trust():
    return make_trust()


@pytest.fixture(scope="module")
def token(trust):
    return trust.issue(make_card())


def outcome(function, *args):
    """What ``function`` returned, or the class of the card error it raised."""
    try:
        return function(*args)
    except errors.InvalidCardError as error:
        return type(error)


def respelled(segment: str) -> str:
    """``segment`` with its last character's lowest bit flipped."""
    return segment[:-1] + ALPHABET[ALPHABET.index(segment[-1]) ^ 1] if segment[-1] in ALPHABET else segment


@st.composite
def mutated_after_header(draw, token):
    """``token`` with up to three edits after its (untouched) header segment."""
    header, _, rest = token.partition(".")
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(("replace", "insert", "delete", "respell")))
        if kind == "respell":
            parts = rest.split(".")
            index = draw(st.integers(0, len(parts) - 1))
            parts[index] = respelled(parts[index]) if parts[index] else parts[index]
            rest = ".".join(parts)
            continue
        if not rest and kind != "insert":
            continue
        index = draw(st.integers(0, len(rest) if kind == "insert" else len(rest) - 1))
        character = "" if kind == "delete" else draw(CHARACTERS)
        rest = rest[:index] + character + rest[index + (kind != "insert") :]
    return f"{header}.{rest}"


# --- which path a card takes -------------------------------------------------


def test_card_in_the_office_layout_never_reaches_pyjwt(trust, token, monkeypatch):
    def refuse(*args):
        raise AssertionError("pyjwt was asked to verify a card in the office layout")

    monkeypatch.setattr(jws, "verify", refuse)
    assert verify_card(token, trust.trust_list, NOW).card == make_card()


def test_card_in_another_header_layout_is_verified_by_pyjwt(trust):
    # Another JOSE implementation may order the header differently; it still verifies.
    private, key = trust.signer
    header = json.dumps({"typ": "kia", "kid": key.kid, "alg": "EdDSA"}, separators=(",", ":")).encode()
    reordered = forge_token(header, make_card().claims(), private.sign)
    assert verify_card(reordered, trust.trust_list, NOW).card == make_card()


def test_key_pinned_to_another_algorithm_never_takes_the_ed25519_shortcut():
    # A header spelled exactly as the office would write it for a key pinned to
    # ES256 is looked up, but only a key pinned to EdDSA is checked with Ed25519.
    private, key = make_trust().signer
    es256_key = dataclasses.replace(key, alg="ES256")
    trust = make_trust(signers=[(private, es256_key)])
    forged = forge_token(card_header(key.kid, alg="ES256"), make_card().claims(), private.sign)
    assert trust.trust_list.keys_for_card_header(forged.partition(".")[0]) == (es256_key,)
    with pytest.raises(errors.AlgorithmNotAllowed):
        verify_card(forged, trust.trust_list, NOW)


# --- jws.split_compact -------------------------------------------------------


def test_split_compact_gives_what_pyjwt_decodes(token):
    payload, signing_input, _, signature = jws._JWS._load(token)
    assert jws.split_compact(token) == (signing_input, payload, signature)


def test_split_compact_decodes_every_length_of_segment():
    for length in range(8):
        data = bytes(range(200, 200 + length))
        assert jws.split_compact(f"h.{b64url(data)}.{b64url(data[::-1])}") == (
            f"h.{b64url(data)}".encode(),
            data,
            data[::-1],
        )


def _segments(token):
    return token.split(".")


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda h, p, s: f"{h}.{p}.{s}==", id="padded-signature"),
        pytest.param(lambda h, p, s: f"{h}.{p}=.{s}", id="padded-payload"),
        pytest.param(lambda h, p, s: f"{h}.{p}.{respelled(s)}", id="leftover-bits-in-signature"),
        pytest.param(lambda h, p, s: f"{h}.{p}.{s}AAA", id="signature-length-1-mod-4"),
        pytest.param(lambda h, p, s: f"{h}.{p}{'A' * ((1 - len(p)) % 4)}.{s}", id="payload-length-1-mod-4"),
        pytest.param(lambda h, p, s: f"{h}.{p}.{s[:-1]}+", id="standard-base64-plus"),
        pytest.param(lambda h, p, s: f"{h}.{p[:4]}/{p[5:]}.{s}", id="standard-base64-slash"),
        pytest.param(lambda h, p, s: f"{h}.{p[:4]} {p[5:]}.{s}", id="space"),
        pytest.param(lambda h, p, s: f"{h}.{p}.{s}\n", id="trailing-newline"),
        pytest.param(lambda h, p, s: f"{h}.{p[:4]}\u0410{p[5:]}.{s}", id="cyrillic-a"),
        pytest.param(lambda h, p, s: f"{h}.{p[:4]}\uff21{p[5:]}.{s}", id="fullwidth-a"),
        pytest.param(lambda h, p, s: f"{h[:3]}=\u00e9{h[3:]}.{p}.{s}", id="header-not-base64url"),
        pytest.param(lambda h, p, s: f"{h}.{p}", id="two-segments"),
        pytest.param(lambda h, p, s: f"{h}.{p}.{s}.{s}", id="four-segments"),
    ],
)
def test_split_compact_refuses_what_is_not_canonical_base64url(token, spoil):
    with pytest.raises(ValueError):
        jws.split_compact(spoil(*_segments(token)))


@pytest.mark.parametrize("length", [1, 2, 4, 5, 7, 8])
@pytest.mark.parametrize("position", ["payload", "signature"])
def test_split_compact_refuses_leftover_bits(length, position):
    # Respelled, the segment still reads the same bytes to a lenient decoder.
    segment = b64url(bytes(range(100, 100 + length)))
    assert b64url_decode_lenient(respelled(segment)) == b64url_decode_lenient(segment)
    jws.split_compact(f"h.{segment}.{segment}")
    spoiled = f"h.{respelled(segment)}.{segment}" if position == "payload" else f"h.{segment}.{respelled(segment)}"
    with pytest.raises(ValueError):
        jws.split_compact(spoiled)


# --- the shortcut and pyjwt agree ----------------------------------------------


@PROPERTY
@given(data=st.data())
def test_shortcut_and_pyjwt_agree_on_mutated_payload_and_signature(trust, token, data):
    mutated = data.draw(mutated_after_header(token))
    keys = trust.trust_list.keys_for_card_header(mutated.partition(".")[0])
    shortcut = outcome(card_module._verify_office_layout, mutated, keys)
    pyjwt = outcome(card_module._verify_signature, mutated, keys)
    if shortcut != pyjwt:
        # pyjwt tolerates "=" padding (the scan path refuses it before either runs).
        assert shortcut is errors.CardMalformed and "=" in mutated, (mutated, shortcut, pyjwt)


@PROPERTY
@given(data=st.data())
def test_verify_card_and_the_pyjwt_path_agree_on_mutated_tokens(trust, token, data):
    mutated = token
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(mutated) - 1))
        kind = data.draw(st.sampled_from(("replace", "insert", "delete", "respell")))
        if kind == "respell":
            mutated = mutated[:index] + respelled(mutated[: index + 1])[-1:] + mutated[index + 1 :]
        else:
            character = "" if kind == "delete" else data.draw(CHARACTERS)
            mutated = mutated[:index] + character + mutated[index + (kind != "insert") :]

    def through_pyjwt(payload):
        checked = token_from_payload(payload)
        key, signed = card_module._verify_signature(checked, card_module._candidate_keys(checked, trust.trust_list))
        return card_module._parse_claims(signed), key.kid

    def verified(payload):
        result = verify_card(payload, trust.trust_list, NOW)
        return result.card, result.kid

    assert outcome(verified, mutated) == outcome(through_pyjwt, mutated), mutated

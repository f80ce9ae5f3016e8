"""Card tokens: issue_card -> verify_card, and every attack on verify_card."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from keys import (
    CARD_REASONS,
    CLOCK_SKEW_LEEWAY,
    MAX_PAYLOAD_LENGTH,
    MAX_TOKEN_LENGTH,
    TRUST_LIST_TYP,
    IssuingKey,
    VerifiedCard,
    build_trust_list,
    errors,
    issue_card,
    jws,
    qr_text,
    token_from_payload,
    verify_card,
    verify_trust_list,
)
from keys.revocation import RevokedSerials
from keys.serial import check_character, serial_from_value
from tests.factories import (
    DAY,
    NOW,
    SERIAL,
    UNDER_FIVE_BIRTH_DATE,
    b64url,
    b64url_decode_lenient,
    card_header,
    forge_token,
    make_card,
    make_issuing_key,
    make_trust,
)

# The order of the Ed25519 group (RFC 8032): a canonical S is below it.
GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493


def assert_rejected(payload, trust_list, error, reason, now=NOW):
    """verify_card raises exactly ``error`` carrying ``reason``."""
    return assert_rejected_as(payload, trust_list, {error: reason}, now)


def assert_rejected_as(payload, trust_list, expected, now=NOW):
    """verify_card raises one of ``expected`` (error class -> reason), with its reason."""
    with pytest.raises(errors.InvalidCardError) as info:
        verify_card(payload, trust_list, now)
    assert type(info.value) in expected, info.value
    assert info.value.reason == expected[type(info.value)]
    assert info.value.reason in CARD_REASONS
    return info.value


# An empty segment may be refused by its form or by what comes next.
MALFORMED_OR = {errors.CardMalformed: "malformed"}


def segments(token):
    return token.split(".")


def with_segment(token, index, value):
    parts = segments(token)
    parts[index] = value
    return ".".join(parts)


@pytest.fixture
def trust():
    return make_trust()


@pytest.fixture
def card():
    return make_card()


@pytest.fixture
def token(trust, card):
    return trust.issue(card)


# --- round trip --------------------------------------------------------------


@pytest.mark.parametrize("form", [str, bytes], ids=["str", "bytes"])
@pytest.mark.parametrize("encode", [lambda t: t, qr_text], ids=["token", "qr-numeric"])
def test_issued_card_verifies(trust, card, token, form, encode):
    payload = encode(token)
    payload = payload.encode("ascii") if form is bytes else payload

    verified = verify_card(payload, trust.trust_list, NOW)

    assert verified == VerifiedCard(card, trust.signer[1].kid)
    assert verified.card.serial == SERIAL
    assert verified.kid == trust.signer[1].kid


def test_token_of_a_normal_card_is_242_characters(token):
    # header {"alg":"EdDSA","kid":"XXXX","typ":"kia"}: 40 bytes -> 54 characters;
    # claims {"sub":"8 chars","reg":4 digits,"bm":6 digits,"iat":10 digits,"exp":10 digits}:
    # 75 bytes -> 100 characters; Ed25519 signature: 64 bytes -> 86 characters;
    # plus two dots.  Every character counts on the printed QR.
    assert [len(part) for part in segments(token)] == [54, 100, 86]
    assert len(token) == 242


def test_qr_text_is_two_digits_per_character(token):
    text = qr_text(token)

    assert text.isdigit() and len(text) == 2 * len(token)
    assert text == "".join(f"{ord(char) - ord('-'):02d}" for char in token)
    assert token_from_payload(text) == token


@pytest.mark.parametrize("character", [",", "{", "\u00e9", " "])
def test_qr_text_refuses_a_character_no_pair_stands_for(token, character):
    with pytest.raises(errors.CardMalformed):
        qr_text(token[:10] + character + token[10:])


def test_surrounding_whitespace_from_a_scanner_is_ignored(trust, card, token):
    assert verify_card(f"  {token}\r\n", trust.trust_list, NOW).card == card
    assert verify_card(f"{qr_text(token)}\n".encode(), trust.trust_list, NOW).card == card


def test_card_verifies_when_two_issuing_keys_share_a_kid(card):
    # Kids are 4 characters and may collide: every key with the kid is tried.
    (first_private, first), (second_private, second) = make_issuing_key(), make_issuing_key()
    first, second = (dataclasses.replace(key, kid="AAAA") for key in (first, second))
    trust_list = build_trust_list(1, [first, second], RevokedSerials(), NOW)

    for private in (first_private, second_private):
        assert verify_card(issue_card(card, private, "AAAA"), trust_list, NOW) == VerifiedCard(card, "AAAA")


# --- size --------------------------------------------------------------------


def test_payload_over_max_payload_length_is_too_large(trust):
    assert_rejected("1" * (MAX_PAYLOAD_LENGTH + 1), trust.trust_list, errors.CardTooLarge, "too_large")
    assert_rejected(b"A" * (MAX_PAYLOAD_LENGTH + 1), trust.trust_list, errors.CardTooLarge, "too_large")


def test_token_over_max_token_length_is_too_large(trust, token):
    # Within MAX_PAYLOAD_LENGTH, but longer than any token once read as text.
    for length in (MAX_TOKEN_LENGTH + 1, MAX_PAYLOAD_LENGTH):
        padded = token + "A" * (length - len(token))
        assert_rejected(padded, trust.trust_list, errors.CardTooLarge, "too_large")


def test_numeric_payload_of_the_longest_token_is_not_too_large(trust, token):
    longest = token + "A" * (MAX_TOKEN_LENGTH - len(token))  # a valid-looking form, a bad signature
    assert len(qr_text(longest)) == MAX_PAYLOAD_LENGTH
    with pytest.raises(errors.InvalidCardError) as info:
        verify_card(qr_text(longest), trust.trust_list, NOW)
    assert info.value.reason != "too_large"


def test_ten_megabyte_payload_is_refused_before_parsing(trust, token):
    huge = token + "." + "A" * 10_000_000
    started = time.perf_counter()
    assert_rejected(huge, trust.trust_list, errors.CardTooLarge, "too_large")
    assert_rejected(huge.encode(), trust.trust_list, errors.CardTooLarge, "too_large")
    assert time.perf_counter() - started < 0.5


def test_full_trust_list_presented_as_a_card_is_too_large(trust):
    assert len(trust.token) > MAX_TOKEN_LENGTH
    assert_rejected(trust.token, trust.trust_list, errors.CardTooLarge, "too_large")


# --- form --------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "   ",
        "hello, cashier",
        "https://example.org/kia?card=1",
        "eyJhbGciOiJFZERTQSJ9",
        "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0",  # two segments
        "a.b.c.d",  # four segments
        "a.b.c.d.e",  # five: JWE compact
        "eyJh+GciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.AAAA",  # standard base64, not url-safe
        "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.AA/A",
        "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.AAAA==",  # padding
        "eyJhbGciOiJFZERTQSJ9.eyJzd WIiOiIxIn0.AAAA",
        "ey\u0410hbGciOiJFZERTQSJ9.e30.AAAA",  # a Cyrillic A
        "123",  # odd number of digits
        "1" * 10,  # digits of characters outside base64url
        "...",
        "W10.e30.AAAA",  # [] header
        "bnVsbA.e30.AAAA",  # null header
    ],
)
def test_text_that_is_not_a_compact_jws_is_malformed(trust, payload):
    assert_rejected(payload, trust.trust_list, errors.CardMalformed, "malformed")


@pytest.mark.parametrize("payload", [b"\xff\xfe", "caf\u00e9".encode(), b"\x00" * 20])
def test_bytes_that_are_not_ascii_are_malformed(trust, payload):
    assert_rejected(payload, trust.trust_list, errors.CardMalformed, "malformed")


def test_jws_general_json_serialization_is_malformed(trust, token):
    header, payload, signature = segments(token)
    general = json.dumps({"payload": payload, "signatures": [{"protected": header, "signature": signature}]})
    assert len(general) <= MAX_TOKEN_LENGTH
    assert_rejected(general, trust.trust_list, errors.CardMalformed, "malformed")
    assert_rejected(" " + general, trust.trust_list, errors.CardMalformed, "malformed")


def test_jws_flattened_json_serialization_is_malformed(trust, token):
    header, payload, signature = segments(token)
    flattened = json.dumps({"payload": payload, "protected": header, "signature": signature})
    assert_rejected(flattened, trust.trust_list, errors.CardMalformed, "malformed")
    assert_rejected(flattened.encode(), trust.trust_list, errors.CardMalformed, "malformed")


# --- algorithm ---------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signed", [False, True], ids=["empty-signature", "with-signature"])
def test_alg_none_in_any_letter_case_is_rejected(trust, card, alg, signed):
    private, key = trust.signer
    forged = forge_token(card_header(key.kid, alg=alg), card.claims(), private.sign if signed else None)
    expected = {errors.AlgorithmNotAllowed: "algorithm_not_allowed"}
    assert_rejected_as(forged, trust.trust_list, expected if signed else {**expected, **MALFORMED_OR})


def _hmac_secrets(key: IssuingKey) -> dict[str, bytes]:
    raw = key.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {
        "raw": raw,
        "pem": key.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        "jwk-json": json.dumps(key.to_jwk()).encode(),
        "jwk-json-compact": json.dumps(key.to_jwk(), separators=(",", ":")).encode(),
        "x": b64url(raw).encode(),
    }


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("secret_form", ["raw", "pem", "jwk-json", "jwk-json-compact", "x"])
def test_hmac_signed_with_the_issuing_public_key_is_rejected(trust, card, alg, secret_form):
    # Algorithm confusion: the public key, known to everyone, used as an HMAC secret.
    _, key = trust.signer
    secret = _hmac_secrets(key)[secret_form]
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    forged = forge_token(card_header(key.kid, alg=alg), card.claims(), lambda m: hmac.new(secret, m, digest).digest())
    assert_rejected(forged, trust.trust_list, errors.AlgorithmNotAllowed, "algorithm_not_allowed")


@pytest.mark.parametrize("alg", ["eddsa", "EDDSA", "Ed25519", "ES256", "RS256", "PS256", ""])
def test_algorithm_other_than_the_pinned_one_is_rejected(trust, card, alg):
    private, key = trust.signer
    forged = forge_token(card_header(key.kid, alg=alg), card.claims(), private.sign)
    assert_rejected(forged, trust.trust_list, errors.AlgorithmNotAllowed, "algorithm_not_allowed")


# --- kid -----------------------------------------------------------------------


def test_unknown_kid_is_rejected(trust, card):
    stranger_private, stranger = make_issuing_key()
    assert stranger.kid != trust.signer[1].kid
    assert_rejected(
        issue_card(card, stranger_private, stranger.kid), trust.trust_list, errors.UnknownIssuingKey, "unknown_key"
    )


def test_token_signed_by_attacker_key_with_genuine_kid_is_rejected(trust, card):
    attacker = Ed25519PrivateKey.generate()
    forged = issue_card(card, attacker, trust.signer[1].kid)
    assert_rejected(forged, trust.trust_list, errors.CardSignatureInvalid, "bad_signature")


@pytest.mark.parametrize(
    "kid",
    ["../../etc/passwd", "..%2f", "..%2f..%2fetc%2fpasswd", "' OR 1=1 --", "'; DROP TABLE keys; --", "", "\u0000"],
)
def test_kid_injection_attempts_are_unknown_keys(trust, card, kid):
    private, _ = trust.signer
    forged = forge_token(card_header(kid), card.claims(), private.sign)
    assert_rejected(forged, trust.trust_list, errors.UnknownIssuingKey, "unknown_key")


def test_kid_that_differs_only_in_case_is_unknown(card):
    private, key = make_issuing_key()
    trust = make_trust(signers=[(private, dataclasses.replace(key, kid="AbCd"))])
    assert_rejected(issue_card(card, private, "aBcD"), trust.trust_list, errors.UnknownIssuingKey, "unknown_key")


@pytest.mark.parametrize("kid", [1234, None, ["AAAA"], {"kid": "AAAA"}, True])
def test_kid_that_is_not_a_string_is_rejected_as_a_card_error(trust, card, kid):
    # pyjwt raises InvalidTokenError (not DecodeError) for such a header.
    private, _ = trust.signer
    forged = forge_token(card_header(kid), card.claims(), private.sign)
    with pytest.raises(errors.InvalidCardError) as info:
        verify_card(forged, trust.trust_list, NOW)
    assert info.value.reason in ("malformed", "bad_header", "unknown_key")


# --- header members and typ ----------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["exp"], "exp": 1},
        {"crit": ["b64"], "b64": True},
        {"crit": ["kia-x"]},
        {"crit": []},
        {"crit": "b64"},
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"x5c": ["MIIB"]},
        {"b64": True},
        {"zip": "DEF"},
        {"cty": "JWT"},
        {"nonce": "x"},
    ],
    ids=lambda extra: "+".join(extra),
)
def test_extra_header_members_are_rejected(trust, card, extra):
    private, key = trust.signer
    forged = forge_token({**card_header(key.kid), **extra}, card.claims(), private.sign)
    expected = {errors.CardHeaderInvalid: "bad_header"}
    # pyjwt judges crit itself while reading the header: malformed is a fair answer too.
    assert_rejected_as(forged, trust.trust_list, {**expected, **MALFORMED_OR} if "crit" in extra else expected)


def test_embedded_jwk_of_the_attackers_key_is_rejected(trust, card):
    attacker = Ed25519PrivateKey.generate()
    x = b64url(attacker.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    header = {**card_header(trust.signer[1].kid), "jwk": {"kty": "OKP", "crv": "Ed25519", "x": x}}
    forged = forge_token(header, card.claims(), attacker.sign)
    assert len(forged) <= MAX_TOKEN_LENGTH  # so that the header itself is judged
    assert_rejected(forged, trust.trust_list, errors.CardHeaderInvalid, "bad_header")


def test_unencoded_payload_b64_false_is_rejected(trust, card):
    # RFC 7797: with b64 false the signature covers the raw payload; never for cards.
    private, key = trust.signer
    header = {**card_header(key.kid), "b64": False, "crit": ["b64"]}
    header_segment = b64url(json.dumps(header, separators=(",", ":")).encode())
    payload = json.dumps(card.claims(), separators=(",", ":"))
    signature = private.sign(f"{header_segment}.{payload}".encode())
    detached = f"{header_segment}..{b64url(signature)}"
    with pytest.raises(errors.InvalidCardError) as info:
        verify_card(detached, trust.trust_list, NOW)
    assert info.value.reason in ("bad_header", "malformed")


def test_header_without_alg_is_rejected(trust, card):
    private, key = trust.signer
    forged = forge_token({"kid": key.kid, "typ": "kia"}, card.claims(), private.sign)
    assert_rejected(forged, trust.trust_list, errors.CardHeaderInvalid, "bad_header")


@pytest.mark.parametrize("typ", ["JWT", "jwt", "KIA", "kia-tl", "kia-tl-delta", "application/kia", "", None])
def test_wrong_typ_is_rejected(trust, card, typ):
    private, key = trust.signer
    header = {"alg": "EdDSA", "kid": key.kid, "typ": typ}
    forged = forge_token(header, card.claims(), private.sign)
    assert_rejected(forged, trust.trust_list, errors.CardWrongType, "wrong_type")


def test_missing_typ_is_rejected(trust, card):
    private, key = trust.signer
    forged = forge_token({"alg": "EdDSA", "kid": key.kid}, card.claims(), private.sign)
    assert_rejected(forged, trust.trust_list, errors.CardWrongType, "wrong_type")


def test_trust_list_typed_jws_signed_by_an_issuing_key_is_not_a_card(trust, card):
    private, key = trust.signer
    confused = jws.sign(card.claims(), private, key.kid, TRUST_LIST_TYP)
    assert_rejected(confused, trust.trust_list, errors.CardWrongType, "wrong_type")


def test_card_presented_as_a_trust_list_is_wrong_type(trust, token):
    with pytest.raises(errors.TrustListWrongType) as info:
        verify_trust_list(token, trust.root.public_key(), NOW)
    assert info.value.reason == "trust_list_wrong_type"


# --- tampering -----------------------------------------------------------------


def test_reordered_header_with_the_original_signature_is_rejected(trust, card, token):
    _, key = trust.signer
    header = b64url(json.dumps({"typ": "kia", "kid": key.kid, "alg": "EdDSA"}, separators=(",", ":")).encode())
    assert_rejected(with_segment(token, 0, header), trust.trust_list, errors.CardSignatureInvalid, "bad_signature")


def test_header_with_whitespace_and_the_original_signature_is_rejected(trust, token):
    _, key = trust.signer
    header = b64url(json.dumps(card_header(key.kid)).encode())  # ", " and ": " separators
    assert_rejected(with_segment(token, 0, header), trust.trust_list, errors.CardSignatureInvalid, "bad_signature")


def test_header_pointing_at_another_listed_key_is_rejected(card):
    first, second = make_issuing_key(), make_issuing_key()
    trust = make_trust(signers=[first, second])
    token = trust.issue(card, first)
    other_header = b64url(json.dumps(card_header(second[1].kid), separators=(",", ":")).encode())
    assert_rejected(
        with_segment(token, 0, other_header), trust.trust_list, errors.CardSignatureInvalid, "bad_signature"
    )


def _changed_claims(card):
    other_serial = serial_from_value(0x7654321)
    return {
        "sub": other_serial,
        "reg": card.region + 1,
        "bm": card.birth_month + 1,
        "iat": card.issued_at + 1,
        "exp": card.expires_at + 365 * DAY,
    }


@pytest.mark.parametrize("claim", ["sub", "reg", "bm", "iat", "exp"])
def test_each_claim_changed_with_the_original_signature_is_rejected(trust, card, token, claim):
    claims = {**card.claims(), claim: _changed_claims(card)[claim]}
    tampered = with_segment(token, 1, b64url(json.dumps(claims, separators=(",", ":")).encode()))
    assert_rejected(tampered, trust.trust_list, errors.CardSignatureInvalid, "bad_signature")


@pytest.mark.parametrize("bit", [0, 1, 7, 8, 100, 255, 256, 300, 504, 511])
def test_signature_bit_flip_is_rejected(trust, token, bit):
    signature = bytearray(b64url_decode_lenient(segments(token)[2]))
    signature[bit // 8] ^= 1 << (bit % 8)
    tampered = with_segment(token, 2, b64url(bytes(signature)))
    assert_rejected(tampered, trust.trust_list, errors.CardSignatureInvalid, "bad_signature")


@pytest.mark.parametrize("length", [0, 32, 63, 65, 128])
def test_signature_of_the_wrong_length_is_rejected(trust, token, length):
    signature = (b64url_decode_lenient(segments(token)[2]) * 2)[:length]
    tampered = with_segment(token, 2, b64url(signature))
    expected = {errors.CardSignatureInvalid: "bad_signature"}
    assert_rejected_as(tampered, trust.trust_list, {**expected, **MALFORMED_OR} if length == 0 else expected)


def test_signature_with_s_not_below_the_group_order_is_rejected(trust, token):
    # Malleability: S + L verifies under a lax implementation (RFC 8032 5.1.7 says reject).
    signature = b64url_decode_lenient(segments(token)[2])
    s = int.from_bytes(signature[32:], "little")
    malleable = s + GROUP_ORDER
    assert malleable < 2**256  # fits the 32 bytes of S
    tampered = with_segment(token, 2, b64url(signature[:32] + malleable.to_bytes(32, "little")))
    assert_rejected(tampered, trust.trust_list, errors.CardSignatureInvalid, "bad_signature")


def test_signature_of_a_swapped_token_is_rejected(trust, card):
    # A genuine signature of another card cannot be grafted onto this one.
    other = trust.issue(dataclasses.replace(card, serial=serial_from_value(42)))
    token = trust.issue(card)
    grafted = with_segment(token, 2, segments(other)[2])
    assert_rejected(grafted, trust.trust_list, errors.CardSignatureInvalid, "bad_signature")


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _with_leftover_bits(segment):
    """The same bytes spelled with different unused trailing bits."""
    last = _ALPHABET.index(segment[-1])
    respelled = segment[:-1] + _ALPHABET[last ^ 1]
    assert b64url_decode_lenient(respelled) == b64url_decode_lenient(segment)
    return respelled


def test_leftover_base64_bits_in_the_signature_are_malformed(trust, token):
    assert len(segments(token)[2]) % 4 != 0  # 86 characters: 4 bits unused
    tampered = with_segment(token, 2, _with_leftover_bits(segments(token)[2]))
    assert_rejected(tampered, trust.trust_list, errors.CardMalformed, "malformed")


def test_leftover_base64_bits_in_the_header_are_malformed(trust, token):
    tampered = with_segment(token, 0, _with_leftover_bits(segments(token)[0]))
    assert_rejected(tampered, trust.trust_list, errors.CardMalformed, "malformed")


# --- claims ------------------------------------------------------------------


def _bad_claims(card):
    claims = card.claims()
    wrong_check = SERIAL[:-1] + ("0" if check_character(SERIAL[:-1]) != "0" else "1")
    cases = {f"missing-{name}": {k: v for k, v in claims.items() if k != name} for name in claims}
    cases.update(
        {
            "extra-name": {**claims, "name": "Budi"},
            "extra-nik": {**claims, "nik": "3372011405180001"},
            "sub-bad-check-character": {**claims, "sub": wrong_check},
            "sub-lowercase": {**claims, "sub": SERIAL.lower()},
            "sub-int": {**claims, "sub": 1234567},
            "sub-too-long": {**claims, "sub": SERIAL + "0"},
            "reg-string": {**claims, "reg": "3372"},
            "reg-province-only": {**claims, "reg": 3300},
            "reg-unknown-province": {**claims, "reg": 9999},
            "reg-bool": {**claims, "reg": True},
            "bm-month-13": {**claims, "bm": 201813},
            "bm-month-0": {**claims, "bm": 201800},
            "bm-string": {**claims, "bm": "201805"},
            "bm-float": {**claims, "bm": 201805.0},
            "iat-float": {**claims, "iat": float(card.issued_at)},
            "iat-string": {**claims, "iat": str(card.issued_at)},
            "iat-bool": {**claims, "iat": True},
            "iat-negative": {**claims, "iat": -1},
            "exp-null": {**claims, "exp": None},
            "exp-huge": {**claims, "exp": 2**40},
            "exp-equals-iat": {**claims, "exp": card.issued_at},
            "exp-before-iat": {**claims, "exp": card.issued_at - 1},
        }
    )
    return cases


@pytest.mark.parametrize("case", sorted(_bad_claims(make_card())))
def test_bad_claims_signed_by_a_genuine_key_are_rejected(trust, card, case):
    private, key = trust.signer
    forged = jws.sign(_bad_claims(card)[case], private, key.kid, "kia")
    assert_rejected(forged, trust.trust_list, errors.CardClaimsInvalid, "bad_claims")


@pytest.mark.parametrize("payload", [b"not json", b"[1,2,3]", b'"sub"', b"null", b"{", b"\xff"])
def test_payload_that_is_not_a_claims_object_is_rejected(trust, payload):
    private, key = trust.signer
    forged = forge_token(card_header(key.kid), payload, private.sign)
    assert_rejected(forged, trust.trust_list, errors.CardClaimsInvalid, "bad_claims")


# --- time, key state and revocation ------------------------------------------


def test_under_five_card_expires_at_the_fifth_birthday(trust):
    card = make_card(birth_date=UNDER_FIVE_BIRTH_DATE)
    token = trust.issue(card)
    assert card.for_under_five

    last_moment = card.expires_at + CLOCK_SKEW_LEEWAY - 1
    assert verify_card(token, trust.trust_list, last_moment).card == card
    error = assert_rejected(token, trust.trust_list, errors.CardExpired, "expired", now=last_moment + 1)
    assert error.serial == card.serial


def test_card_after_the_seventeenth_birthday_has_aged_out(trust, card, token):
    assert not card.for_under_five

    last_moment = card.expires_at + CLOCK_SKEW_LEEWAY - 1
    assert verify_card(token, trust.trust_list, last_moment).card == card
    assert_rejected(token, trust.trust_list, errors.CardAgedOut, "aged_out", now=last_moment + 1)
    assert_rejected(token, trust.trust_list, errors.CardAgedOut, "aged_out", now=card.expires_at + 400 * DAY)


def test_card_issued_in_the_future_beyond_the_leeway_is_not_yet_valid(trust, card, token):
    assert_rejected(
        token, trust.trust_list, errors.CardNotYetValid, "not_yet_valid", now=card.issued_at - CLOCK_SKEW_LEEWAY - 1
    )


def test_card_issued_in_the_future_within_the_leeway_is_accepted(trust, card, token):
    assert verify_card(token, trust.trust_list, card.issued_at - CLOCK_SKEW_LEEWAY).card == card


def test_revoked_card_is_rejected(card):
    trust = make_trust(revoked=[card.serial])
    error = assert_rejected(trust.issue(card), trust.trust_list, errors.CardRevoked, "card_revoked")
    assert error.serial == card.serial


def test_other_cards_are_not_affected_by_a_revocation(card):
    trust = make_trust(revoked=[serial_from_value(1), serial_from_value(2**35 - 1)])
    assert verify_card(trust.issue(card), trust.trust_list, NOW).card == card


def test_retired_keys_card_is_accepted_and_revoked_keys_card_is_rejected(card):
    private, key = make_issuing_key()
    token = issue_card(card, private, key.kid)

    retired = make_trust(signers=[(private, key.retire(NOW + DAY))])
    assert verify_card(token, retired.trust_list, NOW + 2 * DAY).card == card

    revoked = make_trust(signers=[(private, key.revoke(NOW + DAY))])
    error = assert_rejected(token, revoked.trust_list, errors.IssuingKeyRevoked, "key_revoked", now=NOW + 2 * DAY)
    assert error.kid == key.kid


def test_retired_then_revoked_keys_card_is_rejected(card):
    private, key = make_issuing_key()
    trust = make_trust(signers=[(private, key.retire(NOW + DAY).revoke(NOW + 2 * DAY))])
    assert_rejected(issue_card(card, private, key.kid), trust.trust_list, errors.IssuingKeyRevoked, "key_revoked")


def test_card_issued_after_its_keys_retirement_is_rejected(card):
    # A stolen retired key must not mint new cards.
    private, key = make_issuing_key()
    trust = make_trust(signers=[(private, key.retire(NOW - CLOCK_SKEW_LEEWAY - 1))])
    error = assert_rejected(
        issue_card(card, private, key.kid), trust.trust_list, errors.IssuingKeyNotValid, "key_not_valid"
    )
    assert error.kid == key.kid


def test_card_issued_just_within_leeway_of_retirement_is_accepted(card):
    private, key = make_issuing_key()
    trust = make_trust(signers=[(private, key.retire(NOW - CLOCK_SKEW_LEEWAY))])
    assert verify_card(issue_card(card, private, key.kid), trust.trust_list, NOW).card == card


def test_card_issued_before_its_key_was_created_is_rejected(card):
    private, key = make_issuing_key(now=NOW + CLOCK_SKEW_LEEWAY + 1)
    trust = make_trust(signers=[(private, key)])
    assert_rejected(issue_card(card, private, key.kid), trust.trust_list, errors.IssuingKeyNotValid, "key_not_valid")


def test_card_of_a_key_no_longer_in_the_trust_list_is_unknown(card):
    old, new = make_issuing_key(), make_issuing_key()
    trust = make_trust(signers=[new])
    assert_rejected(trust.issue(card, old), trust.trust_list, errors.UnknownIssuingKey, "unknown_key")


def test_every_card_reason_is_a_documented_code():
    leaves = [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.InvalidCardError) and not cls.__name__.startswith("_")
    ]
    assert {cls.reason for cls in leaves} <= set(CARD_REASONS)
    assert set(CARD_REASONS) - {cls.reason for cls in leaves} == {"accepted"}

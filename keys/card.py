"""The card token (v1): a compact JWS printed as a QR code and written to NFC.

Header: exactly ``alg`` (EdDSA), ``kid`` and ``typ`` (``kia``).  Claims, in
this order and nothing else: ``sub`` (card serial), ``reg`` (region code),
``bm`` (birth year and month, YYYYMM), ``iat`` and ``exp`` (end of
eligibility).  No name, no NIK, no birth day.

On the QR the token is written in numeric mode, each character as two digits
(``ord(c) - 45``, as SMART Health Cards do): numeric mode packs 3.33 bits a
digit, so the 242-character token takes version 12 at error correction Q
where byte mode would need version 14.  ``token_from_payload`` accepts both
the digits and the plain token.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import operator
import re
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import jws
from .eligibility import (
    ELIGIBILITY_ENDS_AT,
    age_category,
    age_from_birth_month,
    is_valid_birth_month,
    is_valid_region,
    last_eligible_day,
    region_timezone,
)
from .errors import (
    AlgorithmNotAllowed,
    CardAgedOut,
    CardClaimsInvalid,
    CardExpired,
    CardHeaderInvalid,
    CardMalformed,
    CardNotYetValid,
    CardRevoked,
    CardSignatureInvalid,
    CardTooLarge,
    CardWrongType,
    InvalidCardError,
    IssuingKeyNotValid,
    IssuingKeyRevoked,
    UnknownIssuingKey,
)
from .jwk import EDDSA, is_valid_kid
from .jws import CARD_TYP
from .lifecycle import IssuingKey, KeyState
from .serial import is_valid_serial
from .trustlist import TrustList

CLAIM_NAMES = ("sub", "reg", "bm", "iat", "exp")
_CLAIM_SET = frozenset(CLAIM_NAMES)
_claim_values = operator.itemgetter(*CLAIM_NAMES)
# A genuine token is about 242 characters; nothing larger is parsed.
MAX_TOKEN_LENGTH = 400
MAX_PAYLOAD_LENGTH = 2 * MAX_TOKEN_LENGTH  # the numeric QR form doubles it
# The NFC Forum external type of the one NDEF record a card's tag holds.
NDEF_RECORD_TYPE = "urn:nfc:ext:dukcapil.go.id:kia"
# Clock skew allowed between the office and a terminal, on iat and exp.
CLOCK_SKEW_LEEWAY = 300
_NUMERIC_OFFSET = 45  # ord("-"), the lowest base64url character
_NUMERIC_PAIRS = 78  # "00" to "77" stand for "-" to "z"
# Numeric QR text is decoded in C: bytes.fromhex reads each decimal pair "ab"
# as the byte 16a+b, and this table maps that byte to chr(10a+b+45).  Every
# other byte maps to "!", which the token pattern then refuses.
_NUMERIC_TABLE = bytes(
    (10 * (byte >> 4) + (byte & 15) + _NUMERIC_OFFSET)
    if (byte >> 4) < 10 and (byte & 15) < 10 and 10 * (byte >> 4) + (byte & 15) < _NUMERIC_PAIRS
    else ord("!")
    for byte in range(256)
)
# The other way, by str.translate in C: each character "-" to "z" to its pair
# (a Python loop formatting each character took 0.18 ms of a card's 2.5).
_NUMERIC_PAIR_OF = {_NUMERIC_OFFSET + pair: f"{pair:02d}" for pair in range(_NUMERIC_PAIRS)}
_COMPACT_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclasses.dataclass(frozen=True)
class Card:
    """What a card token says about a card; never who the child is."""

    serial: str
    region: int
    birth_month: int
    issued_at: int
    expires_at: int

    def claims(self) -> dict[str, Any]:
        return {
            "sub": self.serial,
            "reg": self.region,
            "bm": self.birth_month,
            "iat": self.issued_at,
            "exp": self.expires_at,
        }

    def local_date(self, now: int) -> dt.date:
        return dt.datetime.fromtimestamp(now, region_timezone(self.region)).date()

    def age_at(self, now: int) -> int:
        return age_from_birth_month(self.birth_month, self.local_date(now))

    def age_category_at(self, now: int) -> str:
        return age_category(self.age_at(now))

    def last_eligible_day(self) -> dt.date:
        return last_eligible_day(self.expires_at, self.region)

    @property
    def for_under_five(self) -> bool:
        """An under-5 card ends long before the 17th birthday year."""
        expiry_year = dt.datetime.fromtimestamp(self.expires_at, region_timezone(self.region)).year
        return expiry_year - self.birth_month // 100 < ELIGIBILITY_ENDS_AT - 1


@dataclasses.dataclass(frozen=True)
class VerifiedCard:
    card: Card
    kid: str


def issue_card(card: Card, signing_key: Ed25519PrivateKey, kid: str) -> str:
    """Sign ``card`` as a compact JWS card token."""
    return jws.sign(card.claims(), signing_key, kid, CARD_TYP)


def qr_text(token: str) -> str:
    """The numeric-mode QR content for ``token``: two digits a character.

    Raises CardMalformed for a character outside "-" to "z", which no pair
    stands for (and no token holds).
    """
    text = token.translate(_NUMERIC_PAIR_OF)
    if len(text) != 2 * len(token):  # a character without a pair was left as it was
        raise CardMalformed("the token holds a character that numeric QR text cannot carry")
    return text


def token_from_payload(payload: str | bytes) -> str:
    """The compact token in a scanned payload (numeric QR text or the token).

    Checks the size before anything else.  Raises CardTooLarge or
    CardMalformed.
    """
    if len(payload) > MAX_PAYLOAD_LENGTH:
        raise CardTooLarge("the payload is larger than any card")
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("ascii")
        except UnicodeDecodeError:
            raise CardMalformed("the payload is not text") from None
    text = payload.strip()
    if text.isascii() and text.isdigit():
        if len(text) % 2:
            raise CardMalformed("the numeric payload has an odd number of digits")
        text = bytes.fromhex(text).translate(_NUMERIC_TABLE).decode("ascii")
    if len(text) > MAX_TOKEN_LENGTH:
        raise CardTooLarge("the token is larger than any card")
    if text.startswith("{"):
        raise CardMalformed("the JSON serialization of JWS is not a card; cards are compact JWS")
    if not _COMPACT_TOKEN.fullmatch(text):
        raise CardMalformed("the payload is not a compact JWS card token")
    return text


def verify_card(
    payload: str | bytes, trust: TrustList, now: int, *, leeway: int = CLOCK_SKEW_LEEWAY
) -> VerifiedCard:
    """Verify a scanned card against ``trust`` at time ``now`` (POSIX seconds).

    The checks run in this order: size, form, header (typ, members, kid, the
    algorithm pinned for the key), signature, claims, key state and signing
    period, revocation, validity in time.  Raises a leaf of InvalidCardError.
    """
    token = token_from_payload(payload)
    office_layout = trust.keys_for_card_header(token.partition(".")[0])
    if office_layout and office_layout[0].alg == EDDSA:
        key, signed_payload = _verify_office_layout(token, office_layout)
    else:
        key, signed_payload = _verify_signature(token, _candidate_keys(token, trust))
    card = _parse_claims(signed_payload)
    if key.state is KeyState.REVOKED:
        raise IssuingKeyRevoked(key.kid)
    if not key.signed_within_period(card.issued_at, leeway):
        raise IssuingKeyNotValid(key.kid)
    if card.serial in trust.revoked:
        raise CardRevoked(card.serial)
    if card.issued_at > now + leeway:
        raise CardNotYetValid(card.serial)
    if now >= card.expires_at + leeway:
        raise CardExpired(card.serial) if card.for_under_five else CardAgedOut(card.serial)
    return VerifiedCard(card, key.kid)


def _candidate_keys(token: str, trust: TrustList) -> tuple[IssuingKey, ...]:
    """The keys that may have signed ``token``, or the reason there are none."""
    try:
        header = jws.unverified_header(token, CARD_TYP)
    except jws.HeaderProblem as problem:
        error, text = _HEADER_ERRORS[problem.kind]
        raise error(text) from None
    kid = header["kid"]
    keys = trust.keys_with_kid(kid) if is_valid_kid(kid) else ()
    if not keys:
        raise UnknownIssuingKey("no issuing key in the trust list has the card's kid")
    pinned = tuple(key for key in keys if key.alg == header["alg"])
    if not pinned:
        raise AlgorithmNotAllowed("the card names an algorithm its issuing key does not use")
    return pinned


_HEADER_ERRORS: dict[str, tuple[type[InvalidCardError], str]] = {
    jws.HeaderProblem.MALFORMED: (CardMalformed, "the token header is not base64url JSON"),
    jws.HeaderProblem.WRONG_TYPE: (CardWrongType, "the token is not a KIA card (wrong typ)"),
    jws.HeaderProblem.BAD_MEMBERS: (CardHeaderInvalid, "the card header must hold exactly alg, kid and typ"),
}


def _verify_office_layout(token: str, keys: tuple[IssuingKey, ...]) -> tuple[IssuingKey, bytes]:
    """The scan path: the header is, byte for byte, the one the office writes
    for these keys, whose pinned algorithm is EdDSA; so nothing in it needs
    parsing and each key checks the signature with Ed25519 directly.
    """
    try:
        signing_input, signed_payload, signature = jws.split_compact(token)
    except ValueError:
        raise _malformed() from None
    for key in keys:  # short kids may collide: try each key with the kid
        try:
            key.public_key.verify(signature, signing_input)
        except InvalidSignature:
            continue
        return key, signed_payload
    raise _bad_signature()


def _verify_signature(token: str, keys: tuple[IssuingKey, ...]) -> tuple[IssuingKey, bytes]:
    """Any other header that passed _candidate_keys: pyjwt checks it all again."""
    for key in keys:  # short kids may collide: try each key with the kid
        try:
            return key, jws.verify(token, key.public_key, key.alg)
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidAlgorithmError:
            raise AlgorithmNotAllowed("the card names an algorithm its issuing key does not use") from None
        except jwt.DecodeError:
            raise _malformed() from None
    raise _bad_signature()


def _malformed() -> CardMalformed:
    return CardMalformed("the token is not a well-formed compact JWS")


def _bad_signature() -> CardSignatureInvalid:
    return CardSignatureInvalid("the card's signature does not verify")


def _parse_claims(payload: bytes) -> Card:
    try:  # UTF-8 as RFC 8259 requires; json.loads would also guess UTF-16 or 32
        claims = json.loads(payload.decode("utf-8"))
    except ValueError:
        raise CardClaimsInvalid("the card's claims are not JSON") from None
    if not isinstance(claims, dict) or claims.keys() != _CLAIM_SET:
        raise CardClaimsInvalid("the card must hold exactly the claims sub, reg, bm, iat and exp")
    serial, region, birth_month, issued_at, expires_at = _claim_values(claims)
    if not is_valid_serial(serial):
        raise CardClaimsInvalid("the card's serial is not valid")
    if not is_valid_region(region):
        raise CardClaimsInvalid("the card's region code is not valid")
    if not is_valid_birth_month(birth_month):
        raise CardClaimsInvalid("the card's birth month is not valid")
    if not (_is_time(issued_at) and _is_time(expires_at) and issued_at < expires_at):
        raise CardClaimsInvalid("the card's iat and exp are not valid times")
    return Card(serial, region, birth_month, issued_at, expires_at)


def _is_time(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**40

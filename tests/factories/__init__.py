"""Small test-data factories shared by every test of the project.

This module: times, regions, birth dates, cards and trust lists, the actor
tests change the office as.  ``tests.factories.offices``: an office (its
home and database) with its partners, services and people.  Keys are
generated at run time and never stored.  Time is fixed: ``NOW`` is
2026-11-22T03:00:00Z (10:00 WIB), so every test is deterministic.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuer.audit import Actor
from keys import (
    Card,
    IssuingKey,
    RevokedSerials,
    TrustList,
    build_trust_list,
    card_validity,
    issue_card,
    sign_trust_list,
)
from keys.serial import serial_from_value

NOW = 1795316400  # 2026-11-22T03:00:00Z
DAY = 24 * 3600
SURAKARTA = 3372  # Central Java, WIB (UTC+7)
BALANGAN = 6311  # South Kalimantan, WITA (UTC+8)
JAYAPURA = 9171  # Papua, WIT (UTC+9)
BIRTH_DATE = dt.date(2018, 5, 14)  # 8 years old at NOW: a card that ends at 17
UNDER_FIVE_BIRTH_DATE = dt.date(2023, 3, 10)  # 3 years old at NOW: a card that ends at 5
SERIAL = serial_from_value(0x1234567)
WIB = dt.timezone(dt.timedelta(hours=7))
ACTOR = Actor("petugas", "127.0.0.1")  # who makes the changes that tests make through the services

Signer = tuple[Ed25519PrivateKey, IssuingKey]


def utc(timestamp: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def born_turning(age: int, days_after: int, now: int) -> dt.date:
    """The birth date of a child who turns ``age`` ``days_after`` days after ``now``'s day in WIB.

    Tests that meet a birthday take it from their own ``now`` this way, never
    from a fixed date that the calendar will one day pass.
    """
    birthday = dt.datetime.fromtimestamp(now, WIB).date() + dt.timedelta(days=days_after)
    if (birthday.month, birthday.day) == (2, 29):  # a birthday every year, not every fourth
        birthday += dt.timedelta(days=1)
    return birthday.replace(year=birthday.year - age)


def aged(years: int, today: dt.date) -> dt.date:
    """The birth date of a child ``years`` years and 100 days old on ``today``: far from any birthday."""
    return born_turning(years, -100, int(dt.datetime.combine(today, dt.time(12), WIB).timestamp()))


# A child in Surakarta who turns 5 three days after NOW (on 2026-11-25): the under-5 card
# ends at 00:00 WIB that day.
TURNS_FIVE_SOON = born_turning(5, 3, NOW)


def make_issuing_key(now: int = NOW - 30 * DAY) -> Signer:
    """A fresh active issuing key created at ``now``, with its private half."""
    private = Ed25519PrivateKey.generate()
    return private, IssuingKey.new(private.public_key(), now)


def make_card(
    *,
    serial: str = SERIAL,
    birth_date: dt.date = BIRTH_DATE,
    region: int = SURAKARTA,
    now: int = NOW,
    age: int | None = None,
) -> Card:
    """The card the office would issue at ``now`` for a child born on ``birth_date``.

    With ``age``, the child is that many years (and 100 days) old at ``now``
    instead: what a test on the real clock gives, so the card's age category
    never changes with the date the test runs on.
    """
    if age is not None:
        birth_date = aged(age, dt.datetime.fromtimestamp(now, WIB).date())
    validity = card_validity(birth_date, region, utc(now))
    return Card(
        serial=serial,
        region=region,
        birth_month=birth_date.year * 100 + birth_date.month,
        issued_at=validity.issued_at,
        expires_at=validity.expires_at,
    )


@dataclasses.dataclass(frozen=True)
class Trust:
    """A root key, the trust list it signed, and the issuing keys listed in it."""

    root: Ed25519PrivateKey
    trust_list: TrustList
    token: str
    signers: list[Signer]

    @property
    def signer(self) -> Signer:
        return self.signers[-1]

    def issue(self, card: Card | None = None, signer: Signer | None = None) -> str:
        """A card token for ``card`` signed by ``signer`` (default: the newest key)."""
        private, key = signer or self.signer
        return issue_card(card or make_card(), private, key.kid)


def make_trust(
    now: int = NOW,
    *,
    signers: Sequence[Signer] | None = None,
    revoked: Iterable[str] = (),
    seq: int = 1,
    root: Ed25519PrivateKey | None = None,
) -> Trust:
    """A trust list issued at ``now`` (one fresh issuing key unless given) and its JWS."""
    root = root or Ed25519PrivateKey.generate()
    signers = list(signers) if signers is not None else [make_issuing_key()]
    trust_list = build_trust_list(seq, [key for _, key in signers], RevokedSerials.from_serials(revoked), now)
    return Trust(root, trust_list, sign_trust_list(trust_list, root), signers)


# --- hand-built tokens, for the attacks a JOSE library refuses to produce ---


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode_lenient(text: str) -> bytes:
    """Decode base64url ignoring leftover bits (as a sloppy decoder would)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def forge_token(
    header: dict[str, Any] | bytes,
    claims: dict[str, Any] | bytes,
    sign: Callable[[bytes], bytes] | None = None,
    signature: bytes = b"",
) -> str:
    """A compact JWS built by hand: ``sign`` maps the signing input to a signature."""
    header_bytes = header if isinstance(header, bytes) else compact_json(header)
    claims_bytes = claims if isinstance(claims, bytes) else compact_json(claims)
    signing_input = f"{b64url(header_bytes)}.{b64url(claims_bytes)}"
    if sign is not None:
        signature = sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url(signature)}"


def card_header(kid: str, *, alg: str = "EdDSA", typ: str = "kia") -> dict[str, Any]:
    return {"alg": alg, "kid": kid, "typ": typ}

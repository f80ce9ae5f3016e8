"""A partner terminal as the office sees it, for sync tests (docs/sync-protocol.md).

``SimulatedTerminal`` holds an Ed25519 key, the id and audience it got at
enrolment, and its redemption log with the hash chain.  It builds what a
real terminal sends: enrolment requests, batches ``{records, checkpoint}``
for a sequence range, and a fresh sync token for every request.  Tests
change a record, a checkpoint or a token claim to play an attack.

The office side of a test (a home with a partner and a service) is built by
tests.factories.offices.  The API reads the real clock, so times here
default to ``int(time.time())``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuer.issuing_keys import KeyUnlock
from issuer.storage.store import IssuerHome
from issuer.sync_ingest import Ack, fold, ingest, intake
from issuer.terminals import ENROLMENT_CODE_LIFETIME, enroll, register_terminal
from keys import kid_for, public_jwk
from keys.chain import (
    GENESIS,
    SYNC_TOKEN_TYP,
    Checkpoint,
    Redemption,
    chain_hashes,
    sign_checkpoint,
    sign_sync_token,
)
from keys.jwk import public_key_bytes
from keys.serial import serial_from_value
from tests.factories import ACTOR, DAY, forge_token
from tests.factories.offices import SERVICE, UNLOCK, clock

# --- the terminal ----------------------------------------------------------


def decision(seq: int, at: int, cards: Sequence[tuple[str, str]] = ()) -> Redemption:
    """The terminal's ``seq``-th decision: mostly accepted, now and then refused or stale.

    An accepted scan is of one of ``cards`` (serial, age category), in turn,
    as an honest terminal's would be; without cards, of a serial the office
    never issued.  A refusal carries no amounts, as verifier.decision's.
    """
    readable = seq % 11 != 0
    accepted = readable and seq % 7 != 0
    serial, category = cards[seq % len(cards)] if cards else (
        serial_from_value(seq), "5-12" if seq % 3 else "13-16")
    price = SERVICE.prices[category] if accepted else 0
    discount = price // 2 if accepted else 0
    return Redemption(
        seq=seq,
        at=at,
        serial=serial if readable else None,
        accepted=accepted,
        reason="accepted" if accepted else "card_revoked" if readable else "malformed",
        service=SERVICE.code,
        category=category if readable else None,
        price=price,
        discount=discount,
        paid=price - discount,
        flags=("stale",) if seq % 13 == 0 else (),
    )


class SimulatedTerminal:
    """A terminal's key, its enrolment, and its chained log of redemptions."""

    def __init__(self, key: Ed25519PrivateKey | None = None, cards: Sequence[tuple[str, str]] = ()) -> None:
        self.key = key or Ed25519PrivateKey.generate()
        self.cards = list(cards)  # (serial, age category) of the cards children show here
        self.terminal_id = ""
        self.audience = ""
        self.root_jwk: dict[str, Any] = {}
        self.config = ""
        self.records: list[Redemption] = []

    @property
    def kid(self) -> str:
        return kid_for(self.key.public_key())

    @property
    def public_jwk(self) -> dict[str, Any]:
        return public_jwk(self.key.public_key())

    def enrolment_request(self, code: str) -> dict[str, Any]:
        return {"code": code, "public_jwk": self.public_jwk}

    def enrolled(self, answer: Mapping[str, Any]) -> SimulatedTerminal:
        """Keep what the office answered to the enrolment request."""
        self.terminal_id, self.audience = answer["terminal_id"], answer["audience"]
        self.root_jwk, self.config = answer["root_jwk"], answer["config"]
        return self

    # the log

    def log(self, count: int, at: int | None = None) -> list[Redemption]:
        """Decide ``count`` more scans, one second apart from ``at``."""
        start = clock() - count if at is None else at
        new = [decision(len(self.records) + n, start + n, self.cards) for n in range(1, count + 1)]
        self.records.extend(new)
        return new

    def rewrite(self, seq: int, **changes: Any) -> Redemption:
        """Change a logged record (a tampered or forked log); the chain follows."""
        self.records[seq - 1] = dataclasses.replace(self.records[seq - 1], **changes)
        return self.records[seq - 1]

    def chain(self) -> list[bytes]:
        """``hash_seq`` after every record, as the office must recompute it."""
        return chain_hashes(GENESIS, self.records)

    # what goes over the wire

    def checkpoint(self, seq: int, *, digest: bytes | None = None, terminal: str | None = None,
                   key: Ed25519PrivateKey | None = None, at: int | None = None) -> str:
        signer = key or self.key
        checkpoint = Checkpoint(terminal or self.terminal_id, seq, self.chain()[seq - 1] if digest is None else digest,
                                clock() if at is None else at)
        return sign_checkpoint(checkpoint, signer, kid_for(signer.public_key()))

    def batch(self, first: int, last: int, *, checkpoint: str | None = None) -> dict[str, Any]:
        """The request body for records ``first``..``last`` with a checkpoint after ``last``."""
        return {
            "records": [record.to_json() for record in self.records[first - 1:last]],
            "checkpoint": self.checkpoint(last) if checkpoint is None else checkpoint,
        }

    def token(self, *, now: int | None = None, lifetime: int = 120, terminal: str | None = None,
              audience: str | None = None, key: Ed25519PrivateKey | None = None) -> str:
        """A fresh sync token (new jti), as the terminal makes one for every request."""
        signer = key or self.key
        return sign_sync_token(terminal or self.terminal_id, audience or self.audience, signer,
                               kid_for(signer.public_key()), clock() if now is None else now, lifetime)

    def claims(self, now: int | None = None, **changes: Any) -> dict[str, Any]:
        """The claims of a fresh token, with ``changes``, for hand-built tokens."""
        issued = clock() if now is None else now
        return {"iss": self.terminal_id, "aud": self.audience, "iat": issued, "exp": issued + 120,
                "jti": secrets.token_urlsafe(16)} | changes

    def signed_token(self, claims: Mapping[str, Any], **header: Any) -> str:
        """A token over ``claims`` signed with the terminal's key (header members may be changed)."""
        return forge_token({"alg": "EdDSA", "kid": self.kid, "typ": SYNC_TOKEN_TYP} | header, dict(claims),
                           sign=self.key.sign)

    def hmac_token(self, claims: Mapping[str, Any]) -> str:
        """HS256 keyed with the terminal's public key: the algorithm-confusion attack."""
        secret = public_key_bytes(self.key.public_key())
        return forge_token({"alg": "HS256", "kid": self.kid, "typ": SYNC_TOKEN_TYP}, dict(claims),
                           sign=lambda data: hmac.new(secret, data, hashlib.sha256).digest())

    def unsigned_token(self, claims: Mapping[str, Any]) -> str:
        return forge_token({"alg": "none", "kid": self.kid, "typ": SYNC_TOKEN_TYP}, dict(claims))

    def bearer(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token() if token is None else token}"}


# --- a terminal of an office opened in-process ---------------------------------


def enrolled_terminal(home: IssuerHome, partner_id: int, now: int, unlock: KeyUnlock = UNLOCK,
                      cards: Sequence[tuple[str, str]] = ()) -> SimulatedTerminal:
    """A terminal registered by the officer and enrolled with its own key at ``now``, as at the partner's counter."""
    registration = register_terminal(home, partner_id, "Kasir 1", now, by=ACTOR)
    terminal = SimulatedTerminal(cards=cards)
    enrolment = enroll(home, unlock, registration.enrolment_code, terminal.public_jwk, now, by=ACTOR)
    return terminal.enrolled(dataclasses.asdict(enrolment))


def send(home: IssuerHome, terminal: SimulatedTerminal, decisions: Sequence[Redemption], now: int) -> Ack:
    """Log ``decisions`` at the terminal (numbered in turn) and sync them to the office in one batch."""
    first = len(terminal.records) + 1
    terminal.records.extend(dataclasses.replace(item, seq=first + n) for n, item in enumerate(decisions))
    body = terminal.batch(first, len(terminal.records))
    ack = ingest(home, terminal.token(now=now), body["records"], body["checkpoint"], now)
    assert (ack.acknowledged, ack.stored) == (len(terminal.records), len(decisions))
    return ack


def journalled(home: IssuerHome, token: str, records: Sequence[object], checkpoint: str, now: int) -> Ack:
    """``ingest``'s work as a service with KIA_SYNC_INTAKE=journal and ``kia issuer intake fold`` do it between them.

    The batch is acknowledged into the journal, then the whole journal is folded.
    """
    body = json.dumps({"records": list(records), "checkpoint": checkpoint}).encode()
    ack = intake(home, token, records, checkpoint, body, now)
    while fold(home, 100):
        pass
    return ack


def expired_registration_time() -> int:
    """A registration time whose enrolment code expired a day ago."""
    return clock() - ENROLMENT_CODE_LIFETIME - DAY

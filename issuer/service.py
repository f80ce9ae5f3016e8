"""Issuing operations on an office home: keys, cards, revocation, trust lists.

Each function takes its ports (the home, the time, how to unlock private
keys), holds the home's lock for the whole operation and saves the state
once, at the end.  Cards are recorded before their files are drawn, so a
crash while drawing leaves every signed card on record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import (
    CLOCK_SKEW_LEEWAY,
    DEFAULT_TRUST_LIST_VALIDITY,
    Card,
    IssuingKey,
    KeyLifecycleError,
    RevokedSerials,
    active_key,
    build_trust_list,
    card_validity,
    issue_card,
    jwks,
    kid_for,
    new_serial,
    public_jwk,
    replace_key,
    rotate,
    sign_delta,
    sign_trust_list,
)
from keys.eligibility import birth_month
from keys.keystore import read_private_key, write_private_key
from keys.serial import normalize_serial

from .batch import ChildRequest
from .errors import CardAlreadyRevoked, HomeExists, IssuerError, UnknownCard
from .store import CardRecord, IssuerHome, IssuerState, KeyEntry

MAX_REASON_LENGTH = 200


@dataclasses.dataclass(frozen=True)
class KeyUnlock:
    """How to open private key files: a passphrase, or the development switch."""

    passphrase: bytes | None
    allow_unencrypted_for_development: bool = False

    def write(self, home: IssuerHome, name: str, key: Ed25519PrivateKey) -> str:
        write_private_key(
            home.key_path(name),
            key,
            self.passphrase,
            allow_unencrypted_for_development=self.allow_unencrypted_for_development,
        )
        return f"keys/{name}"

    def read(self, home: IssuerHome, relative: str) -> Ed25519PrivateKey:
        return read_private_key(
            home.path / relative,
            self.passphrase,
            allow_unencrypted_for_development=self.allow_unencrypted_for_development,
        )


@dataclasses.dataclass(frozen=True)
class IssuedCard:
    request: ChildRequest
    record: CardRecord


@dataclasses.dataclass(frozen=True)
class TrustListExport:
    seq: int
    trust_list: Path
    root_jwk: Path
    jwks: Path
    delta: Path | None


def init_home(home: IssuerHome, unlock: KeyUnlock, now: int) -> IssuerState:
    """Create a home with a new root key and a first issuing key."""
    with home.locked(create=True):
        if home.exists():
            raise HomeExists(f"{home.path} already holds an issuer home; it is never overwritten")
        root = Ed25519PrivateKey.generate()
        root_file = unlock.write(home, "root.key", root)
        state = _empty_state()
        state.root_kid, state.root_jwk, state.root_file = (
            kid_for(root.public_key()),
            public_jwk(root.public_key()),
            root_file,
        )
        state.keys.append(_new_issuing_key(home, unlock, now))
        home.create(state)
        return state


def _empty_state() -> IssuerState:
    return IssuerState(root_kid="", root_jwk={}, root_file="", keys=[], cards={})


def _new_issuing_key(home: IssuerHome, unlock: KeyUnlock, now: int) -> KeyEntry:
    private = Ed25519PrivateKey.generate()
    key = IssuingKey.new(private.public_key(), now)
    return KeyEntry(key, unlock.write(home, f"issuing-{key.kid}-{now}.key", private))


def issue_cards(
    home: IssuerHome, unlock: KeyUnlock, requests: Iterable[ChildRequest], now: dt.datetime
) -> list[IssuedCard]:
    """Sign a card for each request with the active key and record them all."""
    with home.locked():
        state = home.load()
        key = active_key([entry.key for entry in state.keys])
        entry = next(entry for entry in state.keys if entry.key is key)
        private = unlock.read(home, entry.file)
        issued = []
        for request in requests:
            validity = card_validity(request.birth_date, request.region, now)
            serial = _unused_serial(state)
            born = birth_month(request.birth_date)
            card = Card(serial, request.region, born, validity.issued_at, validity.expires_at)
            record = CardRecord(
                serial=serial,
                region=card.region,
                birth_month=card.birth_month,
                issued_at=card.issued_at,
                expires_at=card.expires_at,
                kid=key.kid,
                token=issue_card(card, private, key.kid),
            )
            state.cards[serial] = record
            issued.append(IssuedCard(request, record))
        home.save(state)
        return issued


def _unused_serial(state: IssuerState) -> str:
    while (serial := new_serial()) in state.cards:
        pass
    return serial


def revoke_card(home: IssuerHome, serial: str, reason: str, now: int) -> CardRecord:
    """Revoke a card; it is listed in the next exported trust list."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON_LENGTH or any(ord(char) < 32 for char in reason):
        raise IssuerError(f"give a reason of 1 to {MAX_REASON_LENGTH} characters on one line")
    with home.locked():
        state = home.load()
        record = state.cards.get(normalize_serial(serial))
        if record is None:
            raise UnknownCard("no card with that serial was issued from this home")
        if record.revoked_at is not None:
            raise CardAlreadyRevoked(f"card {record.serial} is already revoked")
        record.revoked_at, record.revocation_reason = now, reason
        home.save(state)
        return record


def rotate_issuing_key(home: IssuerHome, unlock: KeyUnlock, now: int) -> IssuingKey:
    """Make a new active issuing key; the previous active key is retired."""
    with home.locked():
        state = home.load()
        entry = _new_issuing_key(home, unlock, now)
        rotated = rotate([e.key for e in state.keys], entry.key.public_key, now)
        files = [e.file for e in state.keys] + [entry.file]
        state.keys = [KeyEntry(key, file) for key, file in zip(rotated, files, strict=True)]
        home.save(state)
        return rotated[-1]


def change_issuing_key(home: IssuerHome, kid: str, change: str, now: int) -> IssuingKey:
    """Retire (stops signing, still verifies) or revoke (nothing verifies) a key."""
    if change not in ("retire", "revoke"):
        raise ValueError(change)
    with home.locked():
        state = home.load()
        changed = replace_key([e.key for e in state.keys], kid, change, now)
        state.keys = [KeyEntry(key, e.file) for key, e in zip(changed, state.keys, strict=True)]
        home.save(state)
        return next(key for key in changed if key.kid == kid)


def export_trust_list(
    home: IssuerHome,
    unlock: KeyUnlock,
    now: int,
    out_dir: Path,
    *,
    since: int | None = None,
    validity: dt.timedelta = DEFAULT_TRUST_LIST_VALIDITY,
) -> TrustListExport:
    """Sign and write the next trust list, root.jwk and jwks.json.

    Revoked cards are listed until they would have expired anyway.  With
    ``since``, a delta from that earlier sequence is written too.
    """
    with home.locked():
        state = home.load()
        if since is not None and not 1 <= since <= state.trust_list_seq:
            raise IssuerError(
                f"there is no trust list of sequence {since}; the latest is {state.trust_list_seq}"
            )
        seq = state.trust_list_seq + 1
        for record in state.cards.values():
            if record.revoked_at is None:
                continue
            current = record.expires_at + CLOCK_SKEW_LEEWAY > now
            if current and record.listed_seq is None:
                record.listed_seq = seq
            elif not current and record.listed_seq is not None and record.unlisted_seq is None:
                record.unlisted_seq = seq
        trust_list = build_trust_list(seq, [e.key for e in state.keys], _revoked_at(state, seq), now, validity)
        root = unlock.read(home, state.root_file)
        if kid_for(root.public_key()) != state.root_kid:
            raise KeyLifecycleError("the root key file does not match the home's root key")
        signed = sign_trust_list(trust_list, root)
        delta = None if since is None else sign_delta(since, _revoked_at(state, since), trust_list, root)
        # The sequence is spent before anything is published: a list that
        # left this machine is never followed by another with its number.
        state.trust_list_seq = seq
        home.save(state)
        out_dir.mkdir(parents=True, exist_ok=True)
        export = TrustListExport(seq, out_dir / "trustlist.jws", out_dir / "root.jwk", out_dir / "jwks.json", None)
        _write_text(export.trust_list, signed)
        _write_text(export.root_jwk, _json(state.root_jwk))
        _write_text(export.jwks, _json(jwks([key.to_jwk() for key in trust_list.keys])))
        if delta is not None:
            delta_path = out_dir / f"trustlist-delta-{since}-{seq}.jws"
            _write_text(delta_path, delta)
            export = dataclasses.replace(export, delta=delta_path)
        return export


def _revoked_at(state: IssuerState, seq: int) -> RevokedSerials:
    return RevokedSerials.from_serials(r.serial for r in state.cards.values() if r.listed_at(seq))


def _json(value: object) -> str:
    return json.dumps(value, indent=2) + "\n"


def _write_text(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="ascii")
    temporary.replace(path)

"""Issuing operations on an office: keys, cards, revocation, trust lists.

Each function takes its ports (the office home, the time, how to unlock
private keys) and does its work in one database transaction; a change
records its audit event, with the ``Actor`` who made it, in that same
transaction.  Trust-list
files are written after the transaction that spends their sequence number
commits, so no two published lists ever share one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keys import (
    CLOCK_SKEW_LEEWAY,
    DEFAULT_TRUST_LIST_VALIDITY,
    Card,
    IssuingKey,
    KeyLifecycleError,
    RevokedSerials,
    TrustList,
    active_key,
    build_trust_list,
    card_validity,
    issue_card,
    kid_for,
    new_serial,
    public_jwk,
    replace_key,
    rotate,
    sign_delta,
    sign_trust_list,
)
from keys.eligibility import birth_month
from keys.keystore import passphrase_from_env, read_private_key, root_passphrase_from_env, write_private_key
from keys.serial import normalize_serial

from .audit import Actor
from .audit import record as audit
from .batch import ChildRequest, RowError
from .errors import CardAlreadyRevoked, HomeExists, Invalid, Refused, UnknownCard
from .models import BatchRow, CardRow, Child, IssuingKeyRow, Office, TrustListDeltaRow, TrustListRow
from .store import CardRecord, IssuerHome, card_record, issuing_key, key_row

MAX_REASON_LENGTH = 200
ROOT_KEY_FILE = "root.key"
DELTA_WINDOW = 30  # trust lists back from which a delta is kept


@dataclasses.dataclass(frozen=True)
class KeyUnlock:
    """How to open private key files: passphrases, or the development switch.

    ``passphrase`` opens the issuing keys.  ``root_passphrase`` opens the root
    key; None means the same passphrase as the issuing keys (homes made before
    the root key had its own).
    """

    passphrase: bytes | None = dataclasses.field(repr=False)  # never in a log or a traceback's locals
    allow_unencrypted_for_development: bool = False
    root_passphrase: bytes | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def from_env(cls, *, issuing: bool = True, root: bool = False) -> KeyUnlock:
        """Passphrases from the environment, read when a key is needed, never kept in config.

        ``issuing``: KIA_KEY_PASSPHRASE(_FILE).  ``root``: KIA_ROOT_KEY_PASSPHRASE(_FILE),
        falling back to KIA_KEY_PASSPHRASE(_FILE).  Raises PassphraseMissing.
        """
        return cls(passphrase_from_env() if issuing else None,
                   root_passphrase=root_passphrase_from_env() if root else None)

    def _passphrase(self, root: bool) -> bytes | None:
        return self.root_passphrase if root and self.root_passphrase is not None else self.passphrase

    def write(self, home: IssuerHome, name: str, key: Ed25519PrivateKey, *, root: bool = False) -> str:
        write_private_key(
            home.key_path(name),
            key,
            self._passphrase(root),
            allow_unencrypted_for_development=self.allow_unencrypted_for_development,
        )
        return f"keys/{name}"

    def read(self, home: IssuerHome, relative: str, *, root: bool = False) -> Ed25519PrivateKey:
        return self.read_file(home.path / relative, root=root)

    def read_file(self, path: Path, *, root: bool = False) -> Ed25519PrivateKey:
        """A key file anywhere: the offline machine that signs trust lists holds no home."""
        return read_private_key(
            path, self._passphrase(root), allow_unencrypted_for_development=self.allow_unencrypted_for_development
        )


@dataclasses.dataclass(frozen=True)
class OfficeKeys:
    root_kid: str
    issuing_kid: str


@dataclasses.dataclass(frozen=True)
class IssuedCard:
    request: ChildRequest
    record: CardRecord


@dataclasses.dataclass(frozen=True)
class Issuance:
    cards: list[IssuedCard]
    rejected: list[RowError]
    batch_id: int | None = None


@dataclasses.dataclass(frozen=True)
class TrustListExport:
    seq: int
    trust_list: Path
    root_jwk: Path
    jwks: Path
    delta: Path | None


def init_home(home: IssuerHome, unlock: KeyUnlock, now: int, *, by: Actor) -> OfficeKeys:
    """Create an office: its database, a root key and a first issuing key."""
    if home.legacy_state_path.is_file():
        raise HomeExists(f"{home.path} holds a first-version home; run 'kia issuer db upgrade --home {home.path}'")
    if home.exists():
        raise HomeExists(f"{home.path} already holds an issuer home; it is never overwritten")
    if home.key_path(ROOT_KEY_FILE).exists():
        raise HomeExists(f"{home.path}/keys holds keys of an interrupted init; move that folder away and run again")
    home.prepare()
    if home.database_holds_an_office():
        raise HomeExists("the database already holds an office; give each office its own database")
    root = Ed25519PrivateKey.generate()
    root_file = unlock.write(home, ROOT_KEY_FILE, root, root=True)
    private = Ed25519PrivateKey.generate()
    key = IssuingKey.new(private.public_key(), now)
    key_file = unlock.write(home, f"issuing-{key.kid}-{now}.key", private)
    with home.database.transaction() as session:
        session.add(
            Office(
                id=1,
                root_kid=kid_for(root.public_key()),
                root_jwk=public_jwk(root.public_key()),
                root_key_file=root_file,
                trust_list_seq=0,
            )
        )
        session.add(key_row(key, key_file))
        audit(session, by, "office_init", f"root {kid_for(root.public_key())}, key {key.kid}", now)
    home.write_marker(kid_for(root.public_key()))
    return OfficeKeys(kid_for(root.public_key()), key.kid)


def issue_cards(
    home: IssuerHome,
    unlock: KeyUnlock,
    requests: Sequence[ChildRequest],
    now: dt.datetime,
    *,
    channel: str = "counter",
    source: str | None = None,
    refused: Sequence[RowError] = (),
    by: Actor,
) -> Issuance:
    """Sign a card for each request with the active key, and record child and card.

    A request whose NIK already has a card, or comes twice, is refused (a
    lost card is replaced, not issued twice).  School and clinic batches are
    recorded as a batch in state ``submitted``, counting the rows the
    caller's checks ``refused`` too; ``Issuance.rejected`` lists them all.
    """
    with home.transaction() as session:
        key, private = active_signer(session, home, unlock)
        taken = _niks_with_cards(session, [r.nik for r in requests if r.nik])
        accepted, rejected = [], list(refused)
        for request in requests:
            if request.nik and request.nik in taken:
                message = "a card was already issued for this nik; replace it instead"
                rejected.append(RowError(request.line, "nik", message, request.external_id))
                continue
            if request.nik:
                taken.add(request.nik)
            accepted.append(request)
        rejected.sort(key=lambda error: error.line)
        batch = None
        if channel != "counter":
            batch = BatchRow(
                channel=channel,
                source=source,
                state="submitted",
                submitted_at=int(now.timestamp()),
                rows_accepted=len(accepted),
                rows_rejected=len(rejected),
            )
            session.add(batch)
        rows = [
            _card_row(request, serial, key, private, now, batch)
            for request, serial in zip(accepted, _unused_serials(session, len(accepted)), strict=True)
        ]
        session.add_all(rows)
        try:
            session.flush()
        except IntegrityError:
            # Another issuance took one of these NIKs meanwhile; the database's
            # message would carry the child's data, so it goes nowhere.
            raise Refused("another issuance recorded one of these children just now; submit again") from None
        stamp = int(now.timestamp())
        if batch is None:
            for row in rows:
                audit(session, by, "card_issue", row.serial, stamp)
        else:
            audit(session, by, "batch_issue", f"batch {batch.id}: {len(rows)} cards", stamp)
        issued = [IssuedCard(request, card_record(row)) for request, row in zip(accepted, rows, strict=True)]
        return Issuance(issued, rejected, batch.id if batch else None)


def _card_row(
    request: ChildRequest,
    serial: str,
    key: IssuingKey,
    private: Ed25519PrivateKey,
    now: dt.datetime,
    batch: BatchRow | None,
) -> CardRow:
    child = Child(
        birth_date=request.birth_date,
        region=request.region,
        name=request.name,
        nik=request.nik,
        school=request.school,
        created_at=int(now.timestamp()),
    )
    return _signed_card(child, serial, key, private, now, batch)


def _signed_card(
    child: Child, serial: str, key: IssuingKey, private: Ed25519PrivateKey, now: dt.datetime, batch: BatchRow | None
) -> CardRow:
    """A new card row for ``child``, its token signed by ``key`` with the KIA validity at ``now``."""
    validity = card_validity(child.birth_date, child.region, now)
    card = Card(serial, child.region, birth_month(child.birth_date), validity.issued_at, validity.expires_at)
    return CardRow(
        serial=serial,
        child=child,
        batch=batch,
        region=card.region,
        birth_month=card.birth_month,
        issued_at=card.issued_at,
        expires_at=card.expires_at,
        kid=key.kid,
        token=issue_card(card, private, key.kid),
        state="active",
    )


def active_signer(session: Session, home: IssuerHome, unlock: KeyUnlock) -> tuple[IssuingKey, Ed25519PrivateKey]:
    rows = session.scalars(select(IssuingKeyRow).where(IssuingKeyRow.state == "active")).all()
    key = active_key([issuing_key(row) for row in rows])
    row = next(row for row in rows if row.kid == key.kid and row.created_at == key.created_at)
    return key, unlock.read(home, row.key_file)


def _niks_with_cards(session: Session, niks: list[str]) -> set[str]:
    if not niks:
        return set()
    with_cards = select(Child.nik).join(CardRow, CardRow.child_id == Child.id).where(Child.nik.in_(niks))
    return {nik for nik in session.scalars(with_cards) if nik is not None}


def _unused_serials(session: Session, count: int) -> list[str]:
    """``count`` fresh serials that no card has (35 random bits make clashes rare, not impossible)."""
    serials: set[str] = set()
    while len(serials) < count:
        wanted = {new_serial() for _ in range(count - len(serials))} - serials
        taken = set(session.scalars(select(CardRow.serial).where(CardRow.serial.in_(wanted))))
        serials |= wanted - taken
    return list(serials)


def revoke_card(home: IssuerHome, serial: str, reason: str, now: int, *, by: Actor) -> CardRecord:
    """Revoke a card; it is listed in the next exported trust list."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON_LENGTH or any(ord(char) < 32 for char in reason):
        raise Invalid(f"give a reason of 1 to {MAX_REASON_LENGTH} characters on one line")
    with home.transaction() as session:
        row = session.get(CardRow, normalize_serial(serial), with_for_update=True)
        if row is None:
            raise UnknownCard("no card with that serial was issued from this office")
        if row.revoked_at is not None:
            raise CardAlreadyRevoked(f"card {row.serial} is already revoked")
        row.revoked_at, row.revocation_reason, row.state = now, reason, "revoked"
        audit(session, by, "card_revoke", row.serial, now)
        return card_record(row)


def replace_card(home: IssuerHome, unlock: KeyUnlock, serial: str, now: dt.datetime, *, by: Actor) -> CardRecord:
    """A lost or damaged card: the old one is revoked as replaced, a new serial issued to the same child."""
    stamp = int(now.timestamp())
    with home.transaction() as session:
        old = session.get(CardRow, normalize_serial(serial), with_for_update=True)
        if old is None:
            raise UnknownCard("no card with that serial was issued from this office")
        if old.state != "active":
            raise CardAlreadyRevoked(f"card {old.serial} is {old.state}; only an active card is replaced")
        if old.child is None:
            raise Refused(f"card {old.serial} came from the first version without the child's record; "
                              "issue a new card at the counter and revoke this one")
        key, private = active_signer(session, home, unlock)
        (serial_value,) = _unused_serials(session, 1)
        new = _signed_card(old.child, serial_value, key, private, now, None)
        session.add(new)
        session.flush()
        old.state, old.revoked_at, old.revocation_reason, old.replaced_by = "replaced", stamp, "replaced", new.serial
        audit(session, by, "card_replace", f"{old.serial} -> {new.serial}", stamp)
        return card_record(new)


def mark_expired(home: IssuerHome, now: int, *, by: Actor) -> int:
    """Active cards whose eligibility ended by ``now`` become ``expired``; returns how many.

    One UPDATE (an index holds the active cards' expiry), so a daily run on
    millions of cards touches only the day's few.  Running it again changes
    nothing.  Every run is one audit event with the count, and no serials.
    """
    with home.transaction() as session:
        result = session.execute(
            update(CardRow).where(CardRow.state == "active", CardRow.expires_at <= now).values(state="expired"),
            execution_options={"synchronize_session": False},
        )
        count = int(result.rowcount)  # type: ignore[attr-defined]
        audit(session, by, "cards_mark_expired", f"{count} cards", now)
        return count


def rotate_issuing_key(home: IssuerHome, unlock: KeyUnlock, now: int, *, by: Actor) -> IssuingKey:
    """Make a new active issuing key; the previous active key is retired."""
    with home.transaction() as session:
        rows = list(session.scalars(select(IssuingKeyRow).order_by(IssuingKeyRow.id)))
        private = Ed25519PrivateKey.generate()
        rotated = rotate([issuing_key(row) for row in rows], private.public_key(), now)
        for row, key in zip(rows, rotated, strict=False):
            row.state, row.retired_at = key.state.value, key.retired_at
        new_key = rotated[-1]
        session.add(key_row(new_key, unlock.write(home, f"issuing-{new_key.kid}-{now}.key", private)))
        audit(session, by, "key_rotate", new_key.kid, now)
        return new_key


def change_issuing_key(home: IssuerHome, kid: str, change: str, now: int, *, by: Actor) -> IssuingKey:
    """Retire (stops signing, still verifies) or revoke (nothing verifies) a key."""
    with home.transaction() as session:
        rows = list(session.scalars(select(IssuingKeyRow).order_by(IssuingKeyRow.id)))
        changed = replace_key([issuing_key(row) for row in rows], kid, change, now)
        for row, key in zip(rows, changed, strict=True):
            row.state, row.retired_at, row.revoked_at = key.state.value, key.retired_at, key.revoked_at
        audit(session, by, f"key_{change}", kid, now)
        return next(key for key in changed if key.kid == kid)


def export_trust_list(
    home: IssuerHome,
    unlock: KeyUnlock,
    now: int,
    out_dir: Path,
    *,
    since: int | None = None,
    validity: dt.timedelta = DEFAULT_TRUST_LIST_VALIDITY,
    by: Actor,
) -> TrustListExport:
    """Sign and write the next trust list, root.jwk and jwks.json, on a machine that holds the root key.

    Revoked cards are listed until they would have expired anyway.  With
    ``since``, a delta from that earlier sequence is written too.  Without
    the root key at hand, use issuer.trustlists (prepare, sign offline, import).
    """
    with home.transaction() as session:
        office = session.get_one(Office, 1, with_for_update=True)
        if since is not None and not 1 <= since <= office.trust_list_seq:
            raise Invalid(f"there is no trust list of sequence {since}; the latest is {office.trust_list_seq}")
        seq = office.trust_list_seq + 1
        keys, revoked = next_list_content(session, now)
        trust_list = build_trust_list(seq, keys, revoked, now, validity)
        root = unlock.read(home, office.root_key_file, root=True)
        if kid_for(root.public_key()) != office.root_kid:
            raise KeyLifecycleError("the root key file does not match the office's root key")
        # Deltas from the recent sequences, so that the service can answer
        # any terminal that synced within DELTA_WINDOW lists without a full list.
        deltas = {old: sign_delta(old, revoked_at(session, old), trust_list, root) for old in delta_window(seq)}
        signed = sign_trust_list(trust_list, root)
        publish(session, office, trust_list, signed, deltas, now)
        audit(session, by, "trust_list_export", f"seq {seq}", now)
        delta = None
        if since is not None:
            delta = deltas.get(since) or sign_delta(since, revoked_at(session, since), trust_list, root)
        root_jwk = office.root_jwk
    return write_published(out_dir, trust_list, signed, root_jwk, None if delta is None else (since, delta))


def delta_window(seq: int) -> range:
    """The earlier sequences from which the service keeps a delta to list ``seq``."""
    return range(max(1, seq - DELTA_WINDOW), seq)


def _listable(now: int) -> ColumnElement[bool]:
    """Revoked cards that the next list carries: not yet expired (with leeway), and never dropped."""
    return and_(
        CardRow.revoked_at.is_not(None),
        CardRow.expires_at + CLOCK_SKEW_LEEWAY > now,
        CardRow.unlisted_seq.is_(None),
    )


def next_list_content(session: Session, now: int) -> tuple[list[IssuingKey], RevokedSerials]:
    """The issuing keys and revoked serials of the office's next list, as of ``now``."""
    keys = [issuing_key(row) for row in session.scalars(select(IssuingKeyRow).order_by(IssuingKeyRow.id))]
    return keys, RevokedSerials.from_serials(session.scalars(select(CardRow.serial).where(_listable(now))))


def publish(
    session: Session, office: Office, trust_list: TrustList, signed: str, deltas: dict[int, str], now: int
) -> None:
    """Record a signed list and its deltas for the API; each revoked card notes the list that first carried it.

    ``now`` is the time the list's content was taken (next_list_content).
    """
    seq = office.trust_list_seq + 1
    if trust_list.seq != seq:
        raise Refused(f"the next trust list is sequence {seq}, not {trust_list.seq}")
    current = CardRow.expires_at + CLOCK_SKEW_LEEWAY > now
    session.execute(update(CardRow).where(_listable(now), CardRow.listed_seq.is_(None)).values(listed_seq=seq))
    session.execute(
        update(CardRow)
        .where(CardRow.listed_seq.is_not(None), CardRow.unlisted_seq.is_(None), ~current)
        .values(unlisted_seq=seq)
    )
    office.trust_list_seq = seq
    session.add(TrustListRow(seq=seq, issued_at=trust_list.issued_at, expires_at=trust_list.expires_at,
                             revoked_count=len(trust_list.revoked), jws=signed))
    session.flush()
    session.add_all(TrustListDeltaRow(from_seq=old, seq=seq, jws=jws) for old, jws in deltas.items())


def write_published(
    out_dir: Path, trust_list: TrustList, signed: str, root_jwk: dict[str, Any], delta: tuple[int, str] | None
) -> TrustListExport:
    """Write trustlist.jws, root.jwk, jwks.json (and a delta) for terminals and auditors."""
    out_dir.mkdir(parents=True, exist_ok=True)
    seq = trust_list.seq
    export = TrustListExport(seq, out_dir / "trustlist.jws", out_dir / "root.jwk", out_dir / "jwks.json", None)
    _write_text(export.trust_list, signed)
    _write_text(export.root_jwk, _json(root_jwk))
    _write_text(export.jwks, _json(trust_list.published_jwks()))
    if delta is not None:
        since, text = delta
        delta_path = out_dir / f"trustlist-delta-{since}-{seq}.jws"
        _write_text(delta_path, text)
        export = dataclasses.replace(export, delta=delta_path)
    return export


def revoked_at(session: Session, seq: int) -> RevokedSerials:
    """The revoked serials that the trust list of sequence ``seq`` carried."""
    listed = select(CardRow.serial).where(
        CardRow.listed_seq <= seq, (CardRow.unlisted_seq.is_(None)) | (CardRow.unlisted_seq > seq)
    )
    return RevokedSerials.from_serials(session.scalars(listed))


# --- reading --------------------------------------------------------------


def card(home: IssuerHome, serial: str) -> CardRecord:
    with home.transaction() as session:
        row = session.get(CardRow, normalize_serial(serial))
        if row is None:
            raise UnknownCard("no card with that serial was issued from this office")
        return card_record(row)


def issuing_keys(home: IssuerHome) -> list[IssuingKey]:
    with home.transaction() as session:
        return [issuing_key(row) for row in session.scalars(select(IssuingKeyRow).order_by(IssuingKeyRow.id))]


def trust_list_seq(home: IssuerHome) -> int:
    with home.transaction() as session:
        return session.get_one(Office, 1).trust_list_seq


def latest_published(home: IssuerHome) -> tuple[int, str] | None:
    """The sequence and signed text of the latest published trust list."""
    with home.transaction() as session:
        row = session.scalars(
            select(TrustListRow).where(TrustListRow.jws.is_not(None)).order_by(TrustListRow.seq.desc()).limit(1)
        ).first()
        return None if row is None or row.jws is None else (row.seq, row.jws)


def latest_published_seq(home: IssuerHome) -> int:
    with home.transaction() as session:
        return session.scalar(select(func.coalesce(func.max(TrustListRow.seq), 0))) or 0


def published_delta(home: IssuerHome, since: int, seq: int) -> str | None:
    with home.transaction() as session:
        row = session.get(TrustListDeltaRow, (since, seq))
        return None if row is None else row.jws


def card_count(home: IssuerHome) -> int:
    with home.transaction() as session:
        return session.scalar(select(func.count()).select_from(CardRow)) or 0


def _json(value: object) -> str:
    return json.dumps(value, indent=2) + "\n"


def _write_text(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="ascii")
    temporary.replace(path)

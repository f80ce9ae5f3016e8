"""Trust lists: what terminals trust, signed by the office's root key and published.

With the root key at hand, ``export_trust_list`` signs and writes the next
list.  Without it, ``prepare_signing`` makes a signing request for the
air-gapped machine (issuer.offline_signing signs it) and ``import_bundle`` checks the
signed bundle against the pinned root key and the office's current state and
publishes it.  Either way ``publish`` records the list and its deltas for the
API; the list files are written after the transaction that spent the
sequence number commits, so no two published lists ever share one.

Every list and delta is signed in both forms (docs/adr/0002): form 1
(``kia-tl``) in ``jws``, form 2 (``kia-tl2``, Golomb-Rice coded) in ``jws2``,
which is None for what was published before migration 0014 or imported from
a bundle signed without it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session

from keys import (
    CLOCK_SKEW_LEEWAY,
    DEFAULT_TRUST_LIST_VALIDITY,
    IssuingKey,
    KeyLifecycleError,
    RevokedSerials,
    TrustList,
    apply_delta,
    build_trust_list,
    kid_for,
    load_public_jwk,
    sign_delta,
    sign_trust_list,
    verify_trust_list,
)
from keys.errors import InvalidTrustListError, TrustListExpired, TrustListSignatureInvalid
from keys.trustlist import form_of, sign_deltas

from . import transparency
from .audit import Actor
from .audit import record as audit
from .errors import (
    BundleOutdated,
    BundleRefused,
    BundleRollback,
    Invalid,
    Refused,
)
from .issuing_keys import KeyUnlock
from .offline_signing import SignedBundle, SigningRequest, fingerprint, same_content
from .storage.models import AuditEvent, CardRow, IssuingKeyRow, Office, TrustListDeltaRow, TrustListRow
from .storage.store import IssuerHome, issuing_key

DELTA_WINDOW = 30  # trust lists back from which a delta is kept


@dataclasses.dataclass(frozen=True)
class TrustListExport:
    seq: int
    trust_list: Path
    root_jwk: Path
    jwks: Path
    delta: Path | None


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
    the root key at hand, use prepare_signing, sign offline (issuer.offline_signing), then import_bundle.
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
        both = {old: sign_deltas(old, revoked_at(session, old), trust_list, root, (1, 2)) for old in delta_window(seq)}
        deltas = {old: tokens[0] for old, tokens in both.items()}
        signed = sign_trust_list(trust_list, root)
        publish(session, office, trust_list, signed, deltas, now, signed2=sign_trust_list(trust_list, root, form=2),
                deltas2={old: tokens[1] for old, tokens in both.items()})
        transparency.record_fact(session, "trust_list", str(seq), now, seq=seq,
                                 jws_sha256=hashlib.sha256(signed.encode()).hexdigest())
        audit(session, by, "trust_list_export", f"seq {seq}", now)
        delta: tuple[int, str] | None = None
        if since is not None:
            delta = (since, deltas.get(since) or sign_delta(since, revoked_at(session, since), trust_list, root))
        root_jwk = office.root_jwk
    return write_published(out_dir, trust_list, signed, root_jwk, delta)


def delta_window(seq: int) -> range:
    """The earlier sequences from which the service keeps a delta to list ``seq``."""
    return range(max(1, seq - DELTA_WINDOW), seq)


def _listable(now: int) -> ColumnElement[bool]:
    """Revoked cards that the next list carries: still refused by their serial alone, and never dropped."""
    return and_(CardRow.revoked_at.is_not(None), _refused_by_serial_only(now), CardRow.unlisted_seq.is_(None))


def _refused_by_serial_only(now: int) -> ColumnElement[bool]:
    """Cards a terminal would still accept but for the list's serials: not yet expired (with leeway), and
    signed by a key that is not revoked.  A revoked key's cards are refused by the key's state, which every
    list carries; listing their serials too would only grow the list (a compromised key's million cards
    replaced).  Kids may collide: a card counts as the revoked key's only when every key of its kid is revoked.
    """
    unrevoked_kids = select(IssuingKeyRow.kid).where(IssuingKeyRow.state != "revoked")
    return and_(CardRow.expires_at + CLOCK_SKEW_LEEWAY > now, CardRow.kid.in_(unrevoked_kids))


def next_list_content(session: Session, now: int) -> tuple[list[IssuingKey], RevokedSerials]:
    """The issuing keys and revoked serials of the office's next list, as of ``now``."""
    keys = [issuing_key(row) for row in session.scalars(select(IssuingKeyRow).order_by(IssuingKeyRow.id))]
    return keys, RevokedSerials.from_serials(session.scalars(select(CardRow.serial).where(_listable(now))))


def publish(
    session: Session,
    office: Office,
    trust_list: TrustList,
    signed: str,
    deltas: dict[int, str],
    now: int,
    *,
    signed2: str | None = None,
    deltas2: dict[int, str] | None = None,
) -> None:
    """Record a signed list and its deltas for the API; each revoked card notes the list that first carried it.

    ``now`` is the time the list's content was taken (next_list_content).
    ``signed2`` and ``deltas2`` are the same in the second form, when signed.
    """
    seq = office.trust_list_seq + 1
    if trust_list.seq != seq:
        raise Refused(f"the next trust list is sequence {seq}, not {trust_list.seq}")
    session.execute(update(CardRow).where(_listable(now), CardRow.listed_seq.is_(None)).values(listed_seq=seq))
    session.execute(
        update(CardRow)
        .where(CardRow.listed_seq.is_not(None), CardRow.unlisted_seq.is_(None), ~_refused_by_serial_only(now))
        .values(unlisted_seq=seq)
    )
    office.trust_list_seq = seq
    session.add(TrustListRow(seq=seq, issued_at=trust_list.issued_at, expires_at=trust_list.expires_at,
                             revoked_count=len(trust_list.revoked), jws=signed, jws2=signed2))
    session.flush()
    second = deltas2 or {}
    session.add_all(
        TrustListDeltaRow(from_seq=old, seq=seq, jws=jws, jws2=second.get(old)) for old, jws in deltas.items()
    )


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


def latest_published_form(home: IssuerHome, form: int) -> tuple[int, str] | None:
    """The latest published list in ``form`` (1 or 2), or in form 1 where form 2 was not signed."""
    with home.transaction() as session:
        row = session.scalars(
            select(TrustListRow).where(TrustListRow.jws.is_not(None)).order_by(TrustListRow.seq.desc()).limit(1)
        ).first()
        if row is None or row.jws is None:
            return None
        return row.seq, (row.jws2 if form == 2 and row.jws2 is not None else row.jws)


def published_head(home: IssuerHome) -> tuple[int, bool] | None:
    """The latest published sequence, and whether it was signed in the second form (no list is read)."""
    with home.transaction() as session:
        row = session.execute(
            select(TrustListRow.seq, TrustListRow.jws2.is_not(None))
            .where(TrustListRow.jws.is_not(None)).order_by(TrustListRow.seq.desc()).limit(1)
        ).first()
        return None if row is None else (row[0], bool(row[1]))


def published_seq(home: IssuerHome) -> int | None:
    """The sequence of the latest published trust list, without reading the list (terminals ask every minute)."""
    with home.transaction() as session:
        return session.scalars(
            select(TrustListRow.seq).where(TrustListRow.jws.is_not(None)).order_by(TrustListRow.seq.desc()).limit(1)
        ).first()


def latest_published_seq(home: IssuerHome) -> int:
    with home.transaction() as session:
        return session.scalar(select(func.coalesce(func.max(TrustListRow.seq), 0))) or 0


def published_delta(home: IssuerHome, since: int, seq: int, form: int = 1) -> str | None:
    """The delta from ``since`` to ``seq`` in ``form``, or in form 1 where form 2 was not signed."""
    with home.transaction() as session:
        row = session.get(TrustListDeltaRow, (since, seq))
        if row is None:
            return None
        return row.jws2 if form == 2 and row.jws2 is not None else row.jws


def _json(value: object) -> str:
    return json.dumps(value, indent=2) + "\n"


def _write_text(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="ascii")
    temporary.replace(path)


@dataclasses.dataclass(frozen=True)
class Imported:
    trust_list: TrustList
    signed: str
    deltas: int
    root_jwk: dict[str, object]


def prepare_signing(home: IssuerHome, now: int, *, by: Actor) -> SigningRequest:
    """What the office's next list must say, for the root key to sign offline.

    Changes nothing but the audit trail, which notes the request's sequence
    and fingerprint (the keys page lists them beside the offline machine's).
    """
    with home.transaction() as session:
        office = session.get_one(Office, 1)
        seq = office.trust_list_seq + 1
        keys, revoked = next_list_content(session, now)
        earlier = {old: revoked_at(session, old) for old in delta_window(seq)}
        request = SigningRequest.build(office.root_kid, seq, now, tuple(keys), revoked, earlier)
        audit(session, by, "trust_list_prepare", f"seq {seq} {fingerprint(request.to_bytes())}", now)
        return request


def import_bundle(home: IssuerHome, data: bytes, now: int, *, by: Actor) -> Imported:
    """Verify a signed bundle and publish its list and deltas.

    Raises issuer.errors.TrustListFileError for a file that is no bundle,
    BundleRefused for a bad signature or an expired list, BundleRollback for
    a list not newer than the office's, and BundleOutdated when the office's
    keys or revoked cards changed since the list was prepared.
    """
    bundle = SignedBundle.from_bytes_unverified(data)
    with home.transaction() as session:
        office = session.get_one(Office, 1, with_for_update=True)
        if form_of(bundle.trust_list) != 1:
            raise BundleRefused("the bundle's list is not of type kia-tl; it is refused")
        trust_list = _verified(bundle.trust_list, office, now)
        _check_sequence(trust_list, bundle, office)
        if not bundle.prepared_at - CLOCK_SKEW_LEEWAY <= trust_list.issued_at <= now + CLOCK_SKEW_LEEWAY:
            raise BundleRefused(
                "the list's issue time is outside the time from preparing to now: check the offline machine's "
                "clock, then prepare and sign again"
            )
        _check_content(session, trust_list, bundle.prepared_at)
        _check_deltas(session, office, trust_list, bundle.deltas, now, form=1)
        if bundle.trust_list2 is not None:
            _check_second_form(trust_list, bundle.trust_list2, office, now)
            _check_deltas(session, office, trust_list, bundle.deltas2, now, form=2)
        publish(session, office, trust_list, bundle.trust_list, bundle.deltas, bundle.prepared_at,
                signed2=bundle.trust_list2, deltas2=bundle.deltas2)
        transparency.record_fact(session, "trust_list", str(trust_list.seq), now, seq=trust_list.seq,
                                 jws_sha256=hashlib.sha256(bundle.trust_list.encode()).hexdigest())
        audit(session, by, "trust_list_import", f"seq {trust_list.seq}", now)
        return Imported(trust_list, bundle.trust_list, len(bundle.deltas), dict(office.root_jwk))


def _verified(token: str, office: Office, now: int) -> TrustList:
    try:
        return verify_trust_list(token, load_public_jwk(office.root_jwk), now)
    except TrustListSignatureInvalid:
        raise BundleRefused("the bundle is not signed by this office's root key; it is refused") from None
    except TrustListExpired:
        raise BundleRefused("the signed list has expired; prepare and sign a new one") from None
    except InvalidTrustListError as exc:
        raise BundleRefused(f"the bundle's trust list is invalid: {exc}") from None


def _check_sequence(trust_list: TrustList, bundle: SignedBundle, office: Office) -> None:
    if trust_list.seq != bundle.seq:
        raise BundleRefused("the bundle's sequence differs from its signed list's; it is refused")
    if trust_list.seq <= office.trust_list_seq:
        raise BundleRollback(
            f"the bundle's list (sequence {trust_list.seq}) is not newer than the office's latest "
            f"({office.trust_list_seq}): it was imported already or another list came first; "
            "prepare again and sign the new request"
        )
    if trust_list.seq != office.trust_list_seq + 1:
        raise BundleRefused(
            f"the office's next list is sequence {office.trust_list_seq + 1}, not {trust_list.seq}; "
            "prepare again and sign the new request"
        )


def _check_content(session: Session, trust_list: TrustList, prepared_at: int) -> None:
    keys, revoked = next_list_content(session, prepared_at)
    changed = []
    if [key.to_jwk() for key in keys] != [key.to_jwk() for key in trust_list.keys]:
        changed.append("an issuing key was added or changed state")
    if revoked != trust_list.revoked:
        changed.append("cards were revoked")
    if changed:
        raise BundleOutdated(
            f"the office changed since this list was prepared ({' and '.join(changed)}); "
            "run 'kia issuer trustlist prepare' again and sign the new request"
        )


def _check_second_form(trust_list: TrustList, token: str, office: Office, now: int) -> None:
    """The bundle's list in the second form must be that form and say exactly what the first form says."""
    if form_of(token) != 2:
        raise BundleRefused("the bundle's second-form list is not of type kia-tl2; it is refused")
    second = _verified(token, office, now)
    if not same_content(second, trust_list):
        raise BundleRefused("the bundle's two forms of the list differ; it is refused")


def _check_deltas(
    session: Session, office: Office, trust_list: TrustList, deltas: dict[int, str], now: int, *, form: int
) -> None:
    """Every delta the service keeps must turn the list it starts from into exactly this list, in its form."""
    wanted = set(delta_window(trust_list.seq))
    if set(deltas) != wanted:
        raise BundleRefused("the bundle's deltas are not those of the signing request; prepare and sign again")
    root = load_public_jwk(office.root_jwk)
    for old, token in deltas.items():
        if form_of(token) != form:
            raise BundleRefused(f"the bundle's delta from sequence {old} is not in form {form}; it is refused")
        start = TrustList(old, trust_list.issued_at, trust_list.expires_at, trust_list.keys, revoked_at(session, old))
        try:
            result = apply_delta(start, token, root, now)
        except InvalidTrustListError as exc:
            raise BundleRefused(f"the bundle's delta from sequence {old} is invalid: {exc}") from None
        if not same_content(result, trust_list):
            raise BundleRefused(f"the bundle's delta from sequence {old} does not lead to its list; it is refused")


@dataclasses.dataclass(frozen=True)
class PreparedRequest:
    """A signing request made for the offline machine, as its audit event records it."""

    at: int
    username: str
    seq: str
    fingerprint: str


def recent_signing_requests(home: IssuerHome, limit: int = 5) -> list[PreparedRequest]:
    """The latest requests prepared, from the web or the command line, newest first."""
    with home.transaction() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "trust_list_prepare")
            .order_by(AuditEvent.id.desc()).limit(limit)
        )
        prepared = []
        for event in events:
            parts = (event.target or "").split(" ")  # "seq N FINGERPRINT", as prepare_signing records it
            seq, fingerprint = (parts[1], parts[2]) if len(parts) == 3 else ("", "")
            prepared.append(PreparedRequest(event.at, event.username, seq, fingerprint))
        return prepared

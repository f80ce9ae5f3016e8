"""Trust lists signed offline: prepare a signing request, import the signed bundle.

The root key never comes to the service.  ``prepare`` writes what the next
list must say; an air-gapped machine signs it (issuer.offline.sign_request);
``import_bundle`` checks the bundle against the pinned root key and the
office's current state and publishes it exactly as
``service.export_trust_list`` does, so terminals fetch it, and its deltas,
from the API.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy.orm import Session

from keys import CLOCK_SKEW_LEEWAY, TrustList, apply_delta, load_public_jwk, verify_trust_list
from keys.errors import InvalidTrustListError, TrustListExpired, TrustListSignatureInvalid

from .audit import Actor
from .audit import record as audit
from .errors import BundleOutdated, BundleRefused, BundleRollback
from .models import Office
from .offline import SignedBundle, SigningRequest, fingerprint, same_content
from .service import delta_window, next_list_content, publish, revoked_at
from .store import IssuerHome


@dataclasses.dataclass(frozen=True)
class Imported:
    trust_list: TrustList
    signed: str
    deltas: int
    root_jwk: dict[str, object]


def prepare(home: IssuerHome, now: int, *, by: Actor) -> SigningRequest:
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
        trust_list = _verified(bundle.trust_list, office, now)
        _check_sequence(trust_list, bundle, office)
        if not bundle.prepared_at - CLOCK_SKEW_LEEWAY <= trust_list.issued_at <= now + CLOCK_SKEW_LEEWAY:
            raise BundleRefused(
                "the list's issue time is outside the time from preparing to now: check the offline machine's "
                "clock, then prepare and sign again"
            )
        _check_content(session, trust_list, bundle.prepared_at)
        _check_deltas(session, office, trust_list, bundle, now)
        publish(session, office, trust_list, bundle.trust_list, bundle.deltas, bundle.prepared_at)
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


def _check_deltas(session: Session, office: Office, trust_list: TrustList, bundle: SignedBundle, now: int) -> None:
    """Every delta the service keeps must turn the list it starts from into exactly this list."""
    wanted = set(delta_window(trust_list.seq))
    if set(bundle.deltas) != wanted:
        raise BundleRefused("the bundle's deltas are not those of the signing request; prepare and sign again")
    root = load_public_jwk(office.root_jwk)
    for old, token in bundle.deltas.items():
        start = TrustList(old, trust_list.issued_at, trust_list.expires_at, trust_list.keys, revoked_at(session, old))
        try:
            result = apply_delta(start, token, root, now)
        except InvalidTrustListError as exc:
            raise BundleRefused(f"the bundle's delta from sequence {old} is invalid: {exc}") from None
        if not same_content(result, trust_list):
            raise BundleRefused(f"the bundle's delta from sequence {old} does not lead to its list; it is refused")

"""Cards of many offices at one terminal: office trust lists vouched for by the national directory.

A terminal pins the national root (keys.directory).  Each office's trust
list is verified under the root the directory lists for that office's
region, and only while the directory trusts the office (``active`` and
within ``valid_from``..``valid_until``): ``verify_office_trust_list``.
``FederatedTrust`` holds those lists and verifies a card as the one office
whose key signed it would: keys.verify_card against that office's own list,
so its key states and its revoked serials apply and no other office's do.

Rules, in the order they run (docs/federation.md):

1. the offices that may have signed the card are those with a key of the
   card's kid (an index by the exact header segment, as TrustList keeps);
   short kids of two offices may collide, so each is tried in region order;
2. an office whose keys do not verify the signature (``unknown_key``,
   ``algorithm_not_allowed``, ``bad_signature``) passes the card to the
   next; any other answer is final, because the signature is that office's
   (or the token is broken for every office alike);
3. a card whose ``reg`` is not the region of the office whose key signed it
   is ``bad_claims``: an office speaks for its own region's cards only.

A partner may accept only some regions (``accept_regions``): the offices of
other regions are left out, and their cards are ``unknown_key`` here.

A card refused after an office's key verified its signature (revoked,
expired, ``bad_claims``...) still says whose key that was:
``signing_region(error)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .card import VerifiedCard, token_from_payload, verify_card
from .directory import TrustDirectory
from .eligibility import is_valid_region
from .errors import (
    AlgorithmNotAllowed,
    CardAgedOut,
    CardClaimsInvalid,
    CardExpired,
    CardNotYetValid,
    CardRevoked,
    CardSignatureInvalid,
    InvalidCardError,
    IssuingKeyNotValid,
    IssuingKeyRevoked,
    KiaError,
    OfficeRootNotListed,
    TrustListSignatureInvalid,
    UnknownIssuingKey,
)
from .jwk import EDDSA, is_valid_kid, public_key_bytes
from .jws import CARD_TYP, header_segment, unverified_header
from .revocation import RevokedSerials
from .trustlist import TrustList, apply_delta, verify_trust_list

# What one office answers when the card is simply not its own: try the next office.
_NOT_THIS_OFFICE = (UnknownIssuingKey, AlgorithmNotAllowed, CardSignatureInvalid)
# What keys.verify_card raises only after a key verified the signature: the refusal is that office's.
_SIGNED_BY_THIS_OFFICE = (CardClaimsInvalid, IssuingKeyRevoked, IssuingKeyNotValid, CardRevoked, CardNotYetValid,
                          CardExpired, CardAgedOut)
# The attribute a refusal of _SIGNED_BY_THIS_OFFICE carries: keys/errors.py's leaves know no offices.
_SIGNING_REGION = "signing_region"
# Verifies nothing: the early checks (size, form, header) of keys.verify_card without an office.
_NO_OFFICE = TrustList(0, 0, 1, (), RevokedSerials())


@dataclasses.dataclass(frozen=True)
class OfficeTrustList:
    """An office's trust list, verified under the root the directory listed for its region."""

    region: int
    root: bytes  # the raw root public key it was verified under
    trust_list: TrustList


def verify_office_trust_list(
    directory: TrustDirectory,
    region: int,
    token: str,
    now: int,
    *,
    accept_expired: bool = False,
    min_seq: int = 0,
) -> OfficeTrustList:
    """Verify the trust list of the office of ``region`` under the root the directory lists for it.

    Raises an OfficeNotTrusted leaf when the directory lists no office for
    ``region`` or does not trust it at ``now`` (suspended, revoked, outside
    its validity), and an InvalidTrustListError leaf as
    keys.verify_trust_list does (a list signed by any other root is
    TrustListSignatureInvalid).  During a root rotation with an overlap, a
    list signed by the root the office is leaving verifies too, until the
    overlap ends (keys.directory.Office.roots_at).
    """
    office = directory.trusted_office(region, now)
    root, trust_list = _under_listed_root(
        office.roots_at(now), lambda key: verify_trust_list(token, key, now, accept_expired=accept_expired,
                                                            min_seq=min_seq))
    return OfficeTrustList(region, root, trust_list)


def apply_office_delta(
    directory: TrustDirectory, held: OfficeTrustList, token: str, now: int, *, accept_expired: bool = False
) -> OfficeTrustList:
    """The office's list after its delta ``token``, checked as verify_office_trust_list checks a full list.

    The list held must be under a root the directory lists for the office
    at ``now``, and so must the delta (during an overlap, either root).
    """
    office = directory.trusted_office(held.region, now)
    if not office.lists_root(held.root, now):
        raise OfficeRootNotListed(held.region)
    root, trust_list = _under_listed_root(
        office.roots_at(now), lambda key: apply_delta(held.trust_list, token, key, now, accept_expired=accept_expired))
    return OfficeTrustList(held.region, root, trust_list)


def _under_listed_root(
    roots: tuple[Ed25519PublicKey, ...], verify: Callable[[Ed25519PublicKey], TrustList]
) -> tuple[bytes, TrustList]:
    """``verify`` under the office's current root, else under the root it is leaving (an overlap), and the
    raw root that verified.  A list no listed root signed raises the current root's TrustListSignatureInvalid."""
    current, *leaving = roots
    try:
        return public_key_bytes(current), verify(current)
    except TrustListSignatureInvalid:
        for key in leaving:
            try:
                return public_key_bytes(key), verify(key)
            except TrustListSignatureInvalid:
                continue
        raise


class FederatedTrust:
    """What a terminal trusts across offices; keys.verify_card's questions, answered per office.

    Built from a verified directory and office lists verified under it; the
    directory is asked again at ``now`` (a newer directory may have
    suspended or revoked an office, or changed its root), and any office it
    does not trust raises its OfficeNotTrusted leaf: build it again without
    that office (``federate`` does).  ``accept_regions`` None accepts every
    region the directory lists.  ``own_region`` is the region of the
    terminal's own office, whose cards are not another office's (None: no
    office here is the terminal's own).
    """

    def __init__(
        self,
        directory: TrustDirectory,
        office_lists: Iterable[OfficeTrustList],
        now: int,
        *,
        accept_regions: Iterable[int] | None = None,
        own_region: int | None = None,
    ) -> None:
        accepted = None if accept_regions is None else frozenset(accept_regions)
        if accepted is not None and not all(is_valid_region(region) for region in accepted):
            raise ValueError("accepted regions are four-digit regency/city codes")
        if own_region is not None and not is_valid_region(own_region):
            raise ValueError("the own region is a four-digit regency/city code")
        offices: dict[int, OfficeTrustList] = {}
        for office_list in office_lists:
            if office_list.region in offices:
                raise ValueError(f"two trust lists for region {office_list.region}")
            office = directory.trusted_office(office_list.region, now)
            if not office.lists_root(office_list.root, now):
                raise OfficeRootNotListed(office_list.region)
            if accepted is None or office_list.region in accepted:
                offices[office_list.region] = office_list
        self.directory = directory
        self.accept_regions = accepted
        self.own_region = own_region
        self.offices: Mapping[int, OfficeTrustList] = {region: offices[region] for region in sorted(offices)}
        self._by_header: dict[str, tuple[OfficeTrustList, ...]] = {}
        self._by_kid: dict[str, tuple[OfficeTrustList, ...]] = {}
        for office_list in self.offices.values():
            for key in office_list.trust_list.keys:
                _add(self._by_kid, key.kid, office_list)
                if key.alg == EDDSA:
                    _add(self._by_header, header_segment(key.kid, CARD_TYP, key.alg), office_list)

    @property
    def regions(self) -> tuple[int, ...]:
        return tuple(self.offices)

    def is_expired(self, now: int) -> bool:
        """Stale when the directory or any office's list is past its expiry."""
        return self.directory.is_expired(now) or any(
            office_list.trust_list.is_expired(now) for office_list in self.offices.values()
        )

    def verify_card(self, payload: str | bytes, now: int) -> VerifiedCard:
        """Verify a scanned card as the office whose key signed it would; raises an InvalidCardError leaf.

        A leaf raised after an office's key verified the signature names that
        office's region: ``signing_region(error)``.
        """
        candidates = self._candidates(payload)
        if not candidates:
            verify_card(payload, _NO_OFFICE, now)  # raises the early check's leaf, or unknown_key
            raise UnknownIssuingKey("no office trusted here has an issuing key with the card's kid")
        first: InvalidCardError | None = None
        for office_list in candidates:
            try:
                verified = verify_card(payload, office_list.trust_list, now)
            except _NOT_THIS_OFFICE as error:
                first = first or error
                continue
            except _SIGNED_BY_THIS_OFFICE as error:
                setattr(error, _SIGNING_REGION, office_list.region)
                raise
            if verified.card.region != office_list.region:
                mismatch = CardClaimsInvalid("the card's region is not that of the office whose key signed it")
                setattr(mismatch, _SIGNING_REGION, office_list.region)
                raise mismatch
            return verified
        assert first is not None
        raise first

    def _candidates(self, payload: str | bytes) -> tuple[OfficeTrustList, ...]:
        """The offices with a key that may have signed the token: by exact header, else by its kid."""
        try:  # a numeric QR payload too: the header is read as verify_card reads it
            token = token_from_payload(payload)
        except InvalidCardError:
            return ()
        by_header = self._by_header.get(token.partition(".")[0])
        if by_header:
            return by_header
        try:
            kid = unverified_header(token, CARD_TYP)["kid"]
        except ValueError:
            return ()
        return self._by_kid.get(kid, ()) if is_valid_kid(kid) else ()


def signing_region(error: InvalidCardError) -> int | None:
    """The region of the office whose key verified the signature of a card ``FederatedTrust.verify_card``
    refused; None when no office's key verified it (or another function refused it)."""
    region = getattr(error, _SIGNING_REGION, None)
    return region if isinstance(region, int) else None


def federate(
    directory: TrustDirectory,
    tokens: Mapping[int, str],
    now: int,
    *,
    accept_regions: Iterable[int] | None = None,
    accept_expired: bool = False,
) -> tuple[FederatedTrust, dict[int, KiaError]]:
    """The federated trust of every office list in ``tokens`` (by region) that verifies at ``now``.

    Returns the trust and, by region, why each other list was refused: the
    caller shows those (an office suspended by the ministry, a list signed
    by a root the directory does not list) rather than stop every region.
    """
    verified, refused = [], {}
    for region, token in tokens.items():
        try:
            verified.append(verify_office_trust_list(directory, region, token, now, accept_expired=accept_expired))
        except KiaError as error:
            refused[region] = error
    return FederatedTrust(directory, verified, now, accept_regions=accept_regions), refused


def _add(index: dict[str, tuple[OfficeTrustList, ...]], name: str, office_list: OfficeTrustList) -> None:
    held = index.get(name, ())
    if not any(office is office_list for office in held):
        index[name] = held + (office_list,)

"""The signed trust list: issuing keys with their states, and revoked serials.

A trust list is a compact JWS with ``typ`` ``kia-tl`` signed by the office's
root key.  Its claims are ``seq`` (one more for every list published),
``iat``, ``exp``, ``keys`` (issuing keys as JWKs with ``state`` and their
times) and ``revoked`` (keys.revocation).  A delta (``typ`` ``kia-tl-delta``)
carries what changed since sequence ``from`` and the digest of the resulting
revoked set, so that applying it gives exactly the full list of that
sequence or fails loudly.  docs/trust-list.md specifies both.

Each comes in two forms (docs/adr/0002): form 1 as above, and form 2,
``typ`` ``kia-tl2`` / ``kia-tl2-delta``, a JWS with an unencoded JSON payload
(RFC 7797) whose revoked serials are Golomb-Rice coded (``{"n", "k", "g"}``).
Verification takes either form, chosen by ``typ`` and then checked strictly
for that form, and gives the same TrustList; a delta of either form applies
to a list held in either.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import jws, signed
from .errors import (
    InvalidTrustListError,
    KeyFileInvalid,
    TrustListDeltaMismatch,
    TrustListExpired,
    TrustListMalformed,
    TrustListRollback,
    TrustListSignatureInvalid,
    TrustListWrongType,
)
from .jwk import jwks, kid_for
from .jws import CARD_TYP, TRUST_LIST2_DELTA_TYP, TRUST_LIST2_TYP, TRUST_LIST_DELTA_TYP, TRUST_LIST_TYP
from .lifecycle import IssuingKey, KeyState
from .revocation import RevokedSerials

MAX_TRUST_LIST_LENGTH = 16 * 1024 * 1024  # characters; 1M revoked serials take about 4 MB
DEFAULT_TRUST_LIST_VALIDITY = dt.timedelta(days=30)
_LIST_CLAIMS = frozenset({"seq", "iat", "exp", "keys", "revoked"})
_DELTA_CLAIMS = frozenset({"from", "seq", "iat", "exp", "keys", "add", "del", "sha256"})
FORMS = (1, 2)  # form 1: base64url JSON, zlib'd gaps; form 2: unencoded JSON, Golomb-Rice code


def form_of(token: object) -> int:
    """The form a signed list or delta says it is in (by its ``typ``), NOT verified: 2 or 1."""
    if isinstance(token, bytes):
        token = token[:2048].decode("ascii", "replace")
    if isinstance(token, str):
        header = signed.unverified_header(token[: token.find(".")] if "." in token[:2048] else "")
        if header is not None and header.get("typ") in (TRUST_LIST2_TYP, TRUST_LIST2_DELTA_TYP):
            return 2
    return 1


@dataclasses.dataclass(frozen=True, eq=True)
class TrustList:
    """A verified trust list: what a terminal trusts at one sequence number."""

    seq: int
    issued_at: int
    expires_at: int
    keys: tuple[IssuingKey, ...]
    revoked: RevokedSerials
    _by_kid: dict[str, tuple[IssuingKey, ...]] = dataclasses.field(
        init=False, repr=False, compare=False, hash=False
    )
    _by_card_header: dict[str, tuple[IssuingKey, ...]] = dataclasses.field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        by_kid: dict[str, tuple[IssuingKey, ...]] = {}
        for key in self.keys:
            by_kid[key.kid] = by_kid.get(key.kid, ()) + (key,)
        object.__setattr__(self, "_by_kid", by_kid)
        # The exact header segment the office writes for each kid: a card in
        # that layout needs no header parsing on the scan path.
        by_header = {
            jws.header_segment(kid, CARD_TYP, key.alg): tuple(k for k in keys if k.alg == key.alg)
            for kid, keys in by_kid.items()
            for key in keys
        }
        object.__setattr__(self, "_by_card_header", by_header)

    def keys_with_kid(self, kid: str) -> tuple[IssuingKey, ...]:
        return self._by_kid.get(kid, ())

    def keys_for_card_header(self, segment: str) -> tuple[IssuingKey, ...]:
        return self._by_card_header.get(segment, ())

    def is_expired(self, now: int) -> bool:
        return now >= self.expires_at

    def published_jwks(self) -> dict[str, Any]:
        """The issuing keys whose cards may still verify, as a JWKS for other JOSE implementations.

        A revoked key is left out: a JOSE library knows nothing of key states,
        and nothing that key signed may verify.  Revoked cards are only in the
        list itself (docs/trust-list.md says what a third party must check).
        """
        return jwks([key.to_jwk() for key in self.keys if key.state is not KeyState.REVOKED])

    def claims(self, form: int = 1) -> dict[str, Any]:
        """The claims of the signed list in ``form`` (only ``revoked`` differs between the forms)."""
        return {
            "seq": self.seq,
            "iat": self.issued_at,
            "exp": self.expires_at,
            "keys": [key.to_jwk() for key in self.keys],
            "revoked": self.revoked.encode_compact() if form == 2 else self.revoked.encode(),
        }


def sign_trust_list(trust_list: TrustList, root_key: Ed25519PrivateKey, *, form: int = 1) -> str:
    """The list signed by the root key, in ``form`` 1 (``kia-tl``) or 2 (``kia-tl2``)."""
    kid = kid_for(root_key.public_key())
    if form == 2:
        return jws.sign_unencoded(jws.canonical_json(trust_list.claims(form=2)), root_key, kid, TRUST_LIST2_TYP)
    _check_form(form)
    return jws.sign(trust_list.claims(), root_key, kid, TRUST_LIST_TYP)


def sign_delta(
    old_seq: int, old_revoked: RevokedSerials, new: TrustList, root_key: Ed25519PrivateKey, *, form: int = 1
) -> str:
    """A delta that turns the list at ``old_seq`` into ``new``, in ``form`` 1 or 2."""
    return sign_deltas(old_seq, old_revoked, new, root_key, (form,))[0]


def sign_deltas(
    old_seq: int, old_revoked: RevokedSerials, new: TrustList, root_key: Ed25519PrivateKey, forms: Sequence[int]
) -> list[str]:
    """The delta from ``old_seq`` to ``new`` in each of ``forms``, the changes computed once."""
    if new.seq <= old_seq:
        raise ValueError("a delta must lead to a later sequence")
    added, removed = old_revoked.changes_to(new.revoked)
    kid = kid_for(root_key.public_key())
    tokens = []
    for form in forms:
        _check_form(form)
        encode = RevokedSerials.encode_compact if form == 2 else RevokedSerials.encode
        claims = {
            "from": old_seq,
            "seq": new.seq,
            "iat": new.issued_at,
            "exp": new.expires_at,
            "keys": [key.to_jwk() for key in new.keys],
            "add": encode(added),
            "del": encode(removed),
            "sha256": new.revoked.digest(),
        }
        if form == 2:
            tokens.append(jws.sign_unencoded(jws.canonical_json(claims), root_key, kid, TRUST_LIST2_DELTA_TYP))
        else:
            tokens.append(jws.sign(claims, root_key, kid, TRUST_LIST_DELTA_TYP))
    return tokens


def _check_form(form: int) -> None:
    if form not in FORMS:
        raise ValueError(f"a trust list's form is 1 or 2, not {form!r}")


def verify_trust_list(
    token: str,
    root_key: Ed25519PublicKey,
    now: int,
    *,
    accept_expired: bool = False,
    min_seq: int = 0,
) -> TrustList:
    """Verify a full trust list against the pinned root key.

    Raises a leaf of InvalidTrustListError.  An expired list raises
    TrustListExpired unless ``accept_expired`` is set: terminals keep working
    on a stale list and say so (DESIGN section 5).  A list older than
    ``min_seq`` (the sequence a terminal already holds) raises
    TrustListRollback.
    """
    form = form_of(token)
    claims = _verified_claims(token, root_key, form, _LIST_CLAIMS)
    del token  # a caller that holds no reference of its own frees it before the serials are decoded
    if claims["seq"] < min_seq:
        raise TrustListRollback(f"the trust list (sequence {claims['seq']}) is older than the one held ({min_seq})")
    trust_list = _parse(claims, _decoded_revoked(claims.pop("revoked"), form))
    _check_current(trust_list, now, accept_expired)
    return trust_list


def apply_delta(
    old: TrustList, token: str, root_key: Ed25519PublicKey, now: int, *, accept_expired: bool = False
) -> TrustList:
    """The list that ``token`` (a delta from ``old.seq``) leads to.

    Raises TrustListRollback if the delta does not start at ``old.seq`` and
    TrustListDeltaMismatch if the result differs from the office's list.
    Either form of delta applies to a list held from either form.
    """
    form = form_of(token)
    claims = _verified_claims(token, root_key, form, _DELTA_CLAIMS, delta=True)
    if claims["seq"] <= claims["from"]:
        raise TrustListMalformed("a delta must lead to a later sequence than it starts from")
    if claims["from"] != old.seq:
        raise TrustListRollback(
            f"the delta starts at sequence {claims['from']!r} but this list is at {old.seq}; fetch the full list"
        )
    added, removed = _decoded_revoked(claims["add"], form, "delta"), _decoded_revoked(claims["del"], form, "delta")
    if any(not old.revoked.contains_value(value) for value in removed) or any(
        old.revoked.contains_value(value) for value in added
    ):
        raise TrustListDeltaMismatch("the delta does not fit this list; fetch the full list")
    revoked = old.revoked.difference(removed).union(added)
    trust_list = _parse(claims, revoked)
    if revoked.digest() != claims["sha256"]:
        raise TrustListDeltaMismatch("the revoked serials after the delta differ from the office's; fetch a full list")
    _check_current(trust_list, now, accept_expired)
    return trust_list


def _verified_claims(
    token: object, root_key: Ed25519PublicKey, form: int, names: frozenset[str], *, delta: bool = False
) -> dict[str, Any]:
    try:
        if form == 2:
            typ = TRUST_LIST2_DELTA_TYP if delta else TRUST_LIST2_TYP
            return signed.verified_unencoded_claims(token, root_key, typ, names, MAX_TRUST_LIST_LENGTH, "trust list")
        typ = TRUST_LIST_DELTA_TYP if delta else TRUST_LIST_TYP
        return signed.verified_claims(token, root_key, typ, names, MAX_TRUST_LIST_LENGTH, "trust list")
    except signed.Problem as problem:
        raise _PROBLEMS[problem.kind](str(problem)) from None


def _decoded_revoked(encoded: object, form: int, what: str = "trust list") -> RevokedSerials:
    try:
        return RevokedSerials.decode_compact(encoded, consume=True) if form == 2 else RevokedSerials.decode(encoded)
    except ValueError as exc:
        raise TrustListMalformed(f"the {what}'s revoked serials are malformed: {exc}") from None


_PROBLEMS: dict[str, type[InvalidTrustListError]] = {
    signed.Problem.MALFORMED: TrustListMalformed,
    signed.Problem.WRONG_TYPE: TrustListWrongType,
    signed.Problem.BAD_SIGNATURE: TrustListSignatureInvalid,
}


def _parse(claims: dict[str, Any], revoked: RevokedSerials) -> TrustList:
    try:
        if not isinstance(claims["keys"], list):
            raise ValueError("keys must be a list")
        keys = tuple(IssuingKey.from_jwk(jwk) for jwk in claims["keys"])
    except (ValueError, KeyFileInvalid) as exc:
        raise TrustListMalformed(f"the trust list is malformed: {exc}") from None
    if claims["exp"] <= claims["iat"]:
        raise TrustListMalformed("the trust list expires before it is issued")
    return TrustList(claims["seq"], claims["iat"], claims["exp"], keys, revoked)


def _check_current(trust_list: TrustList, now: int, accept_expired: bool) -> None:
    if trust_list.is_expired(now) and not accept_expired:
        raise TrustListExpired(
            f"the trust list (sequence {trust_list.seq}) expired; fetch a new one from the office"
        )


def build_trust_list(
    seq: int,
    keys: Sequence[IssuingKey],
    revoked: RevokedSerials,
    now: int,
    validity: dt.timedelta = DEFAULT_TRUST_LIST_VALIDITY,
) -> TrustList:
    return TrustList(seq, now, now + int(validity.total_seconds()), tuple(keys), revoked)

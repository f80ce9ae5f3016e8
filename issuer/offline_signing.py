"""Trust lists signed on an air-gapped machine: the signing request and the signed bundle.

The service writes a **signing request** (``kia issuer trustlist prepare``):
the next sequence, the issuing keys with their states, the revoked serials,
and for each recent sequence what a delta from it must add and remove.  The
offline machine, holding only the root key file and its passphrase, or the
root key's HSM and its key reference (no home, no database), signs it into
a **bundle** (``kia issuer trustlist sign``): the full list and the deltas.
The service imports the bundle after checking it against the pinned root
key and its own state (issuer.trust_lists).  The bundle holds the list and
deltas in both forms (docs/adr/0002): ``trust_list`` and ``jws`` in the
first, ``trust_list2`` and ``jws2`` in the second; a bundle signed by an
older offline machine has the first only, and imports as such.

Plain Python on keys/: no Flask, no database.  Time is an argument.  Both
files are JSON read through strict pydantic models (unknown members, wrong
types and oversized files are refused).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from keys import (
    CLOCK_SKEW_LEEWAY,
    DEFAULT_TRUST_LIST_VALIDITY,
    IssuingKey,
    RevokedSerials,
    TrustList,
    build_trust_list,
    ceremony,
    kid_for,
    sign_trust_list,
)
from keys.ceremony import MIN_FINGERPRINT_HEX as MIN_FINGERPRINT_HEX
from keys.ceremony import fingerprint as fingerprint
from keys.errors import KeyFileInvalid
from keys.trustlist import MAX_TRUST_LIST_LENGTH, sign_deltas

from .errors import TrustListFileError

REQUEST_KIND = "kia-trust-list-request"
BUNDLE_KIND = "kia-trust-list-bundle"
FORMAT_VERSION = 1
# A request or bundle holds one full list (at most 16 MiB) and small deltas.
MAX_FILE_LENGTH = 2 * MAX_TRUST_LIST_LENGTH
MAX_DELTAS = 64

_Seq = Annotated[int, Field(strict=True, ge=1, lt=2**31)]
_Time = Annotated[int, Field(strict=True, ge=0, lt=2**40)]
_Kid = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_-]{1,16}$")]
_Hex = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9a-f]{64}$")]
_Jws = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_.-]+$", max_length=MAX_TRUST_LIST_LENGTH)]
# The second form's payload is JSON itself: printable ASCII (keys.signed checks the rest).
_Jws2 = Annotated[str, StringConstraints(strict=True, pattern=r"^[\x20-\x7e]+$", max_length=MAX_TRUST_LIST_LENGTH)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Compact(_Strict):
    n: Annotated[int, Field(strict=True, ge=0, lt=2**31)]
    z: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_-]*$", max_length=MAX_TRUST_LIST_LENGTH)]


class _DeltaBaseModel(_Strict):
    from_: _Seq = Field(alias="from")
    add: _Compact
    remove: _Compact = Field(alias="del")


class _RequestModel(_Strict):
    kind: Literal["kia-trust-list-request"]
    version: Literal[1]
    root_kid: _Kid
    seq: _Seq
    prepared_at: _Time
    keys: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=256)]
    revoked: _Compact
    deltas: Annotated[list[_DeltaBaseModel], Field(max_length=MAX_DELTAS)]


class _SignedDeltaModel(_Strict):
    from_: _Seq = Field(alias="from")
    jws: _Jws
    jws2: _Jws2 | None = None


class _BundleModel(_Strict):
    kind: Literal["kia-trust-list-bundle"]
    version: Literal[1]
    request_sha256: _Hex
    prepared_at: _Time
    seq: _Seq
    trust_list: _Jws
    trust_list2: _Jws2 | None = None
    deltas: Annotated[list[_SignedDeltaModel], Field(max_length=MAX_DELTAS)]


@dataclasses.dataclass(frozen=True)
class DeltaBase:
    """What a delta from ``from_seq`` to the requested list adds and removes."""

    from_seq: int
    added: RevokedSerials
    removed: RevokedSerials


@dataclasses.dataclass(frozen=True)
class SigningRequest:
    """What the service asks the root key to sign: the content of list ``seq``."""

    root_kid: str
    seq: int
    prepared_at: int
    keys: tuple[IssuingKey, ...]
    revoked: RevokedSerials
    deltas: tuple[DeltaBase, ...]

    @classmethod
    def build(
        cls,
        root_kid: str,
        seq: int,
        prepared_at: int,
        keys: tuple[IssuingKey, ...],
        revoked: RevokedSerials,
        earlier: dict[int, RevokedSerials],
    ) -> SigningRequest:
        """The request for list ``seq``, with a delta base from each ``earlier`` sequence's revoked set."""
        new = set(revoked)
        deltas = tuple(
            DeltaBase(old, RevokedSerials(new - set(serials)), RevokedSerials(set(serials) - new))
            for old, serials in sorted(earlier.items())
        )
        return cls(root_kid, seq, prepared_at, keys, revoked, deltas)

    def to_bytes(self) -> bytes:
        """The request file, in one canonical form (its SHA-256 is the fingerprint)."""
        document = {
            "kind": REQUEST_KIND,
            "version": FORMAT_VERSION,
            "root_kid": self.root_kid,
            "seq": self.seq,
            "prepared_at": self.prepared_at,
            "keys": [key.to_jwk() for key in self.keys],
            "revoked": self.revoked.encode(),
            "deltas": [
                {"from": base.from_seq, "add": base.added.encode(), "del": base.removed.encode()}
                for base in self.deltas
            ],
        }
        return _canonical(document)

    @classmethod
    def from_bytes(cls, data: bytes) -> SigningRequest:
        """Parse and check a request file; raises TrustListFileError."""
        model = _parse(_RequestModel, data, REQUEST_KIND, "a trust-list signing request (kia issuer trustlist prepare)")
        try:
            keys = tuple(IssuingKey.from_jwk(jwk) for jwk in model.keys)
            revoked = RevokedSerials.decode(model.revoked.model_dump())
            deltas = tuple(
                DeltaBase(base.from_, RevokedSerials.decode(base.add.model_dump()),
                          RevokedSerials.decode(base.remove.model_dump()))
                for base in model.deltas
            )
        except (ValueError, KeyFileInvalid) as exc:
            raise TrustListFileError(f"the signing request is malformed: {exc}") from None
        froms = [base.from_seq for base in deltas]
        if froms != sorted(set(froms)) or any(old >= model.seq for old in froms):
            raise TrustListFileError("the signing request's deltas must start at distinct earlier sequences")
        for base in deltas:
            # A delta adds serials of the new list and removes serials that are not in it.
            if any(not revoked.contains_value(value) for value in base.added) or any(
                revoked.contains_value(value) for value in base.removed
            ):
                raise TrustListFileError(f"the signing request's delta from {base.from_seq} does not fit its list")
        return cls(model.root_kid, model.seq, model.prepared_at, keys, revoked, deltas)


@dataclasses.dataclass(frozen=True)
class SignedBundle:
    """The signed list and deltas, as carried back from the offline machine (not yet verified)."""

    request_sha256: str
    prepared_at: int
    seq: int
    trust_list: str
    deltas: dict[int, str]
    trust_list2: str | None = None
    deltas2: dict[int, str] = dataclasses.field(default_factory=dict)

    def to_bytes(self) -> bytes:
        document: dict[str, Any] = {
            "kind": BUNDLE_KIND,
            "version": FORMAT_VERSION,
            "request_sha256": self.request_sha256,
            "prepared_at": self.prepared_at,
            "seq": self.seq,
            "trust_list": self.trust_list,
            "deltas": [
                {"from": old, "jws": jws} | ({"jws2": self.deltas2[old]} if old in self.deltas2 else {})
                for old, jws in sorted(self.deltas.items())
            ],
        }
        if self.trust_list2 is not None:
            document["trust_list2"] = self.trust_list2
        return _canonical(document)

    @classmethod
    def from_bytes_unverified(cls, data: bytes) -> SignedBundle:
        """Parse a bundle file; its signatures are checked by issuer.trust_lists.import_bundle."""
        model = _parse(_BundleModel, data, BUNDLE_KIND, "a signed trust-list bundle (kia issuer trustlist sign)")
        deltas = {delta.from_: delta.jws for delta in model.deltas}
        if len(deltas) != len(model.deltas):
            raise TrustListFileError("the bundle holds two deltas from the same sequence")
        deltas2 = {delta.from_: delta.jws2 for delta in model.deltas if delta.jws2 is not None}
        if (model.trust_list2 is None and deltas2) or (model.trust_list2 is not None and len(deltas2) != len(deltas)):
            raise TrustListFileError("the bundle holds the second form of some of its list and deltas only")
        return cls(model.request_sha256, model.prepared_at, model.seq, model.trust_list, deltas,
                   model.trust_list2, deltas2)


def check_fingerprint(request_file: bytes, expected: str) -> None:
    """Raise TrustListFileError unless ``expected`` (spaces allowed) starts the request's fingerprint."""
    ceremony.check_fingerprint(request_file, expected, TrustListFileError)


def sign_request(
    request_file: bytes,
    root: Ed25519PrivateKey,
    now: int,
    validity: dt.timedelta = DEFAULT_TRUST_LIST_VALIDITY,
) -> tuple[SigningRequest, SignedBundle]:
    """Sign the requested list and a delta from each earlier sequence with the root key (a file's or an HSM's).

    Refuses (TrustListFileError) a request of another office's root key, and
    a clock behind the service's (a list issued before it was prepared).
    """
    request = SigningRequest.from_bytes(request_file)
    root_kid = kid_for(root.public_key())
    if root_kid != request.root_kid:
        raise TrustListFileError(
            f"this root key (kid {root_kid}) is not the office's root key (kid {request.root_kid}); "
            "use the office's root.key"
        )
    if now < request.prepared_at - CLOCK_SKEW_LEEWAY:
        raise TrustListFileError(
            "this machine's clock is behind the time the request was prepared; set the clock and sign again"
        )
    trust_list = build_trust_list(request.seq, request.keys, request.revoked, now, validity)
    both = {
        base.from_seq: sign_deltas(base.from_seq, base_revoked(base, request.revoked), trust_list, root, (1, 2))
        for base in request.deltas
    }
    bundle = SignedBundle(fingerprint(request_file), request.prepared_at, request.seq,
                          sign_trust_list(trust_list, root), {old: tokens[0] for old, tokens in both.items()},
                          sign_trust_list(trust_list, root, form=2), {old: tokens[1] for old, tokens in both.items()})
    return request, bundle


def base_revoked(base: DeltaBase, new: RevokedSerials) -> RevokedSerials:
    """The revoked serials of sequence ``base.from_seq``: the new ones, less what was added, plus what was removed."""
    return new.difference(base.added).union(base.removed)


def same_content(left: TrustList, right: TrustList) -> bool:
    """Whether two lists say the same: sequence, times, keys with states, revoked serials."""
    return (left.seq, left.issued_at, left.expires_at, left.revoked) == (
        right.seq, right.issued_at, right.expires_at, right.revoked
    ) and [key.to_jwk() for key in left.keys] == [key.to_jwk() for key in right.keys]


def _canonical(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, separators=(",", ":"), sort_keys=True) + "\n").encode("ascii")


def _parse(model: type[_RequestModel] | type[_BundleModel], data: bytes, kind: str, what: str) -> Any:
    if len(data) > MAX_FILE_LENGTH:
        raise TrustListFileError(f"the file is larger than {what} can be")
    try:
        document = json.loads(data)
    except ValueError:
        raise TrustListFileError(f"the file is not {what}: it is not JSON") from None
    if not isinstance(document, dict) or document.get("kind") != kind:
        raise TrustListFileError(f"the file is not {what}")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "file"
        raise TrustListFileError(f"the file is not {what}: {where}: {first['msg']}") from None

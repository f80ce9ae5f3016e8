"""Other regions' cards used at this office's partners, as figures their home offices may fetch (ADR 0003).

A federated terminal names a foreign card's home region in its record
(``home``).  Surakarta wants to know how its cards are used in Jakarta (the
programme's reach, an argument for coverage) without Jakarta sending it a
serial or a time: children's data stays where it is.  So an office answers
a home office with figures only, per local day, partner kind and KLA
cluster: accepted scans, gross and discount, of records not held.  A cell of
fewer than ``SMALL_COUNT`` scans says only that (``scans`` None, money
withheld), so no one child's trip can be read from them.

The answer is a JWS (``typ`` ``kia-visits``) signed by the answering
office's active issuing key, which its root-signed trust list vouches for
and the national directory vouches for that root: the home office checks it
as a terminal checks a card of that region (``take``), and keeps it as
signed.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import jwt
from sqlalchemy import and_, func, select

from keys import jws
from keys.audit_thresholds import VISITS_SMALL_COUNT
from keys.directory import TrustDirectory
from keys.eligibility import is_valid_region
from keys.errors import KiaError
from keys.federation import verify_office_trust_list
from keys.lifecycle import KeyState
from keys.visits import VISITS_TYP, VisitsMalformed, checked_form

from . import federation
from .audit import Actor
from .audit import record as audit
from .errors import Invalid, Refused
from .issuing_keys import KeyUnlock, active_signer
from .retention import month_text
from .storage.models import Partner, ReceivedVisits, RedemptionRow
from .storage.store import IssuerHome

SMALL_COUNT = VISITS_SMALL_COUNT  # cells of fewer accepted scans give no count and no money
MAX_VISITS_BYTES = 4 << 20


class VisitsRefused(Invalid):
    """Figures that do not verify, or are not for this office."""


@dataclasses.dataclass(frozen=True)
class Cell:
    day: int  # YYYYMMDD, the partner's local day
    kind: str  # the partner's kind (cinema, pool, ...)
    cluster: str  # its KLA cluster
    scans: int | None  # accepted scans; None: fewer than SMALL_COUNT
    gross: int | None  # rupiah before the discount; None with scans
    discount: int | None


def cells(home: IssuerHome, region: int, month: int) -> list[Cell]:
    """The figures of ``region``'s cards accepted and not held at this office's partners in ``month``."""
    with home.transaction() as session:
        rows = session.execute(
            select(RedemptionRow.day, Partner.kind, Partner.cluster, func.count(), func.sum(RedemptionRow.price),
                   func.sum(RedemptionRow.discount))
            .join(Partner, Partner.id == RedemptionRow.partner_id)
            .where(and_(RedemptionRow.home == region, RedemptionRow.month == month, RedemptionRow.accepted,
                        RedemptionRow.held.is_(False)))
            .group_by(RedemptionRow.day, Partner.kind, Partner.cluster)
            .order_by(RedemptionRow.day, Partner.kind, Partner.cluster)
        ).all()
    return [Cell(day, kind, cluster, *((int(count), int(gross), int(discount)) if count >= SMALL_COUNT
                                       else (None, None, None)))
            for day, kind, cluster, count, gross, discount in rows]


def signed_visits(home: IssuerHome, unlock: KeyUnlock, region: int, month: int, now: int) -> str:
    """The figures of ``region``'s cards in ``month``, signed by this office's active issuing key."""
    if not is_valid_region(region):
        raise Invalid("home is a four-digit region code")
    found = [dataclasses.asdict(cell) for cell in cells(home, region, month)]
    with home.transaction() as session:
        held = federation.held_directory(session)
        if held is None or held.own_region is None:
            raise Refused("this office holds no national directory listing it, so it cannot say which region it is")
        if held.own_region == region:
            raise Invalid("those are this office's own cards")
        key, private = active_signer(session, home, unlock)
    claims = {"from": held.own_region, "home": region, "month": month, "iat": now, "cells": found}
    return jws.sign(claims, private, key.kid, VISITS_TYP)


def take(home: IssuerHome, token: str, trust_list: str, now: int, *, by: Actor,
         region: int | None = None, month: int | None = None) -> tuple[int, int, list[Cell]]:
    """Check and keep the figures another office signed of this office's cards; (region, month, cells).

    ``trust_list`` is the answering office's published trust list: its key
    must have signed the figures, under the root the national directory
    this office holds lists for that region.  ``region`` and ``month``,
    when given, are what was asked: figures of another office or month are refused.
    """
    if len(token) > MAX_VISITS_BYTES:
        raise VisitsRefused("that is larger than any month's figures")
    with home.transaction() as session:
        held = federation.held_directory(session)
        if held is None or held.own_region is None:
            raise Refused("take a national directory that lists this office first: kia issuer federation directory")
        claims = _verified(token, trust_list, held.directory, now)
        if region is not None and claims["from"] != region:
            raise VisitsRefused(f"the figures were signed by region {claims['from']}'s office, not {region}'s")
        if month is not None and claims["month"] != month:
            raise VisitsRefused(f"the figures are of {month_text(claims['month'])}, not {month_text(month)}")
        if claims["home"] != held.own_region:
            raise VisitsRefused(f"these figures are of region {claims['home']}'s cards, not this office's")
        found = [Cell(**cell) for cell in claims["cells"]]
        row = session.get(ReceivedVisits, (claims["from"], claims["month"]))
        if row is not None and row.issued_at > claims["iat"]:
            raise VisitsRefused("the office holds newer figures of that month from that office")
        if row is None:
            row = ReceivedVisits(region=claims["from"], month=claims["month"])
            session.add(row)
        row.jws, row.cells, row.issued_at, row.taken_at = token, claims["cells"], claims["iat"], now
        audit(session, by, "visits_take", f"{claims['from']} {month_text(claims['month'])}", now)
    return claims["from"], claims["month"], found


def received(home: IssuerHome, month: int | None = None) -> list[dict[str, Any]]:
    """The figures other offices signed of this office's cards, per office and month."""
    with home.transaction() as session:
        query = select(ReceivedVisits).order_by(ReceivedVisits.month, ReceivedVisits.region)
        if month is not None:
            query = query.where(ReceivedVisits.month == month)
        return [{"region": row.region, "month": month_text(row.month), "issued_at": row.issued_at,
                 "cells": row.cells} for row in session.scalars(query)]


@dataclasses.dataclass(frozen=True)
class Elsewhere:
    """A month of this office's cards used at another office's partners, as that office signed it."""

    region: int  # the office that signed the figures
    month: int  # YYYYMM
    scans: int  # accepted scans in the cells that give them
    withheld_cells: int  # days, kinds and clusters with fewer than SMALL_COUNT scans, not counted in scans
    gross: int
    discount: int


def elsewhere(home: IssuerHome, first_month: int, last_month: int) -> list[Elsewhere]:
    """The figures other offices signed of this office's cards, one row per office and month."""
    with home.transaction() as session:
        rows = session.scalars(select(ReceivedVisits).where(ReceivedVisits.month.between(first_month, last_month))
                               .order_by(ReceivedVisits.month, ReceivedVisits.region)).all()
        return [Elsewhere(row.region, row.month, _total(row.cells, "scans"),
                          sum(cell["scans"] is None for cell in row.cells), _total(row.cells, "gross"),
                          _total(row.cells, "discount"))
                for row in rows]


def _total(found: list[dict[str, Any]], name: str) -> int:
    """A figure summed over cells, the withheld ones (None) left out."""
    return sum(cell[name] or 0 for cell in found)


def _verified(token: str, trust_list: str, directory: TrustDirectory, now: int) -> dict[str, Any]:
    try:
        header = jws.unverified_header(token, VISITS_TYP)
        unverified = json.loads(jws.split_compact(token)[1])
        region = unverified["from"]
        if not is_valid_region(region):
            raise ValueError("from")
        office_list = verify_office_trust_list(directory, region, trust_list, now, accept_expired=True)
    except (KiaError, ValueError, KeyError, TypeError, jwt.InvalidTokenError) as exc:
        raise VisitsRefused(f"the figures or the office's trust list do not verify: {exc}") from None
    payload = None
    for key in office_list.trust_list.keys_with_kid(str(header.get("kid"))):
        if key.state is KeyState.REVOKED:
            continue
        try:
            payload = jws.verify(token, key.public_key, key.alg)
            break
        except (jwt.InvalidTokenError, KiaError):
            continue
    if payload is None:
        raise VisitsRefused(f"the figures are not signed by a valid issuing key of region {region}'s office")
    return _checked(json.loads(payload), region)


def _checked(claims: Any, region: int) -> dict[str, Any]:
    try:
        checked = checked_form(claims)
    except VisitsMalformed as exc:
        raise VisitsRefused(str(exc)) from None
    if checked["from"] != region:
        raise VisitsRefused("the figures' claims are not those of kia-visits")
    if any(cell["scans"] is not None and cell["scans"] < SMALL_COUNT for cell in checked["cells"]):
        raise VisitsRefused("a cell's figures are malformed, or a small count was not withheld")
    return checked

"""Figures of other regions' cards used at this office's partners, for their home offices (issuer.visits)."""

from __future__ import annotations

from flask import Response, current_app
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from keys.errors import KeyStoreError

from .. import visits
from ..current import now, office
from ..errors import IssuerError
from ..issuing_keys import KeyUnlock
from ..retention import parse_month
from . import bp, error, parsed_query

JOSE = "application/jose"


class VisitsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    home: int = Field(ge=1101, le=9799)
    month: str = Field(pattern=r"^\d{4}-\d{2}$")


@bp.get("/federation/visits")
def visits_of() -> ResponseReturnValue:
    """A month's figures of region ``home``'s cards at this office's partners, signed (typ kia-visits).

    Unauthenticated, like the trust list: figures only, small counts withheld.
    """
    query = parsed_query(VisitsQuery)
    if not isinstance(query, VisitsQuery):
        return query
    try:
        token = visits.signed_visits(office(current_app), KeyUnlock.from_env(), query.home, parse_month(query.month),
                                     now())
    except KeyStoreError:
        current_app.logger.error("cannot open the issuing key to sign visit figures")
        return error(503, "signing_unavailable", "the office cannot sign figures now; try again later")
    except IssuerError as exc:
        return error(exc.http_status, "visits_refused", str(exc))
    return Response(token, mimetype=JOSE, headers={"Cache-Control": "no-cache"})

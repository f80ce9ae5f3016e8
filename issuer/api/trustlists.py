"""Trust lists for terminals: the latest signed list, or a delta since N."""

from __future__ import annotations

from flask import Response, current_app
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from .. import trust_lists
from ..current import office
from . import bp, error, parsed_query

JOSE = "application/jose"


class TrustListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: int | None = Field(default=None, ge=0, le=2**31 - 1)


@bp.get("/trustlist")
def trust_list() -> ResponseReturnValue:
    """The latest full list; with ``since=N``, the delta from N when one is kept."""
    query = parsed_query(TrustListQuery)
    if not isinstance(query, TrustListQuery):
        return query
    home = office(current_app)
    latest = trust_lists.latest_published(home)
    if latest is None:
        return error(404, "no_trust_list", "the office has not published a trust list yet")
    seq, jws = latest
    if query.since is None:
        return _jose(jws, seq)
    if query.since == seq:
        return Response(status=204, headers={"X-KIA-Trust-List-Seq": str(seq)})
    if query.since > seq:
        return error(409, "ahead_of_office", f"sequence {query.since} is newer than the office's latest ({seq})")
    delta = trust_lists.published_delta(home, query.since, seq)
    if delta is None:
        return error(404, "no_delta", f"no delta is kept from sequence {query.since}; fetch the full list")
    response = _jose(delta, seq)
    response.headers["X-KIA-Delta-From"] = str(query.since)
    return response


def _jose(body: str, seq: int) -> Response:
    response = Response(body, mimetype=JOSE)
    response.headers["X-KIA-Trust-List-Seq"] = str(seq)
    response.headers["Cache-Control"] = "no-cache"
    return response

"""Trust lists for terminals: the latest signed list, or a delta since N."""

from __future__ import annotations

from flask import Response, current_app, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from .. import trust_lists
from ..current import office
from . import bp, error, parsed_query
from .terminals import poll_hint

JOSE = "application/jose"


class TrustListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: int | None = Field(default=None, ge=0, le=2**31 - 1)


@bp.get("/trustlist")
def trust_list() -> ResponseReturnValue:
    """The latest full list; with ``since=N``, the delta from N when one is kept.

    ``If-None-Match: "tl-N"`` for the latest sequence N answers 304; so does
    ``since`` at the latest sequence without it (204, as before issue 14).
    Neither reads a list: only the latest sequence is looked up.
    """
    query = parsed_query(TrustListQuery)
    if not isinstance(query, TrustListQuery):
        return query
    home = office(current_app)
    seq = trust_lists.published_seq(home)
    if seq is None:
        return error(404, "no_trust_list", "the office has not published a trust list yet")
    tag = trust_list_tag(seq)
    if _matches(request.headers.get("If-None-Match"), tag):
        return _headed(Response(status=304), seq)
    if query.since == seq:
        return _headed(Response(status=204), seq)
    if query.since is not None and query.since > seq:
        return error(409, "ahead_of_office", f"sequence {query.since} is newer than the office's latest ({seq})")
    if query.since is None:
        latest = trust_lists.latest_published(home)  # the newest again: one may have come since
        if latest is None:
            return error(404, "no_trust_list", "the office has not published a trust list yet")
        return _jose(latest[1], latest[0])
    delta = trust_lists.published_delta(home, query.since, seq)
    if delta is None:
        return error(404, "no_delta", f"no delta is kept from sequence {query.since}; fetch the full list")
    response = _jose(delta, seq)
    response.headers["X-KIA-Delta-From"] = str(query.since)
    return response


def trust_list_tag(seq: int) -> str:
    """The ETag of the answers that bring a terminal to list ``seq`` (a published list never changes)."""
    return f'"tl-{seq}"'


def _matches(if_none_match: str | None, tag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 section 13.1.2)."""
    if not if_none_match:
        return False
    return any(item.strip().removeprefix("W/") in (tag, "*") for item in if_none_match.split(","))


def _headed(response: Response, seq: int) -> Response:
    response.headers["X-KIA-Trust-List-Seq"] = str(seq)
    response.headers["ETag"] = trust_list_tag(seq)
    response.headers["Cache-Control"] = "no-cache"
    response.headers.update(poll_hint())
    return response


def _jose(body: str, seq: int) -> Response:
    return _headed(Response(body, mimetype=JOSE), seq)

"""Trust lists for terminals: the latest signed list, or a delta since N, in form 1 or (``form=2``) form 2.

Form 2 (``kia-tl2``, docs/adr/0002) is served only to a terminal that asks for
it; where a list or delta was not signed in form 2 the answer is form 1, and
the terminal tells which it got by the token's ``typ``.  A request without
``form`` gets exactly the answers it got before issue 14.
"""

from __future__ import annotations

from flask import Response, current_app, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from keys.trustlist import form_of

from .. import trust_lists
from ..current import office
from . import bp, error, parsed_query
from .terminals import poll_hint

JOSE = "application/jose"


class TrustListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: int | None = Field(default=None, ge=0, le=2**31 - 1)
    form: int = Field(default=1, ge=1, le=2)  # 2: the Golomb-Rice form (docs/adr/0002) where it was signed


@bp.get("/trustlist")
def trust_list() -> ResponseReturnValue:
    """The latest full list; with ``since=N``, the delta from N when one is kept; ``form=2``, in form 2.

    ``If-None-Match: "tl-N"`` (``"tl2-N"`` for form 2) for the latest sequence N
    answers 304; so does ``since`` at the latest sequence without it (204, as
    before issue 14).  Neither reads a list: only the latest sequence (and,
    for form 2, whether it was signed in form 2) is looked up.
    """
    query = parsed_query(TrustListQuery)
    if not isinstance(query, TrustListQuery):
        return query
    home = office(current_app)
    head = trust_lists.published_head(home) if query.form == 2 else None
    seq = head[0] if head is not None else trust_lists.published_seq(home)
    if seq is None:
        return error(404, "no_trust_list", "the office has not published a trust list yet")
    # The tag of the form this office holds list seq in: ETags differ per form.
    tag = trust_list_tag(seq, 2 if head is not None and head[1] else 1)
    if _matches(request.headers.get("If-None-Match"), tag):
        return _headed(Response(status=304), seq, tag)
    if query.since == seq:
        return _headed(Response(status=204), seq, tag)
    if query.since is not None and query.since > seq:
        return error(409, "ahead_of_office", f"sequence {query.since} is newer than the office's latest ({seq})")
    if query.since is None:
        latest = trust_lists.latest_published_form(home, query.form)  # the newest again: one may have come since
        if latest is None:
            return error(404, "no_trust_list", "the office has not published a trust list yet")
        return _jose(latest[1], latest[0])
    delta = trust_lists.published_delta(home, query.since, seq, query.form)
    if delta is None:
        return error(404, "no_delta", f"no delta is kept from sequence {query.since}; fetch the full list")
    response = _jose(delta, seq)
    response.headers["X-KIA-Delta-From"] = str(query.since)
    return response


def trust_list_tag(seq: int, form: int = 1) -> str:
    """The ETag of the answers in ``form`` that bring a terminal to list ``seq`` (a published list never changes)."""
    return f'"tl-{seq}"' if form == 1 else f'"tl{form}-{seq}"'


def _matches(if_none_match: str | None, tag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 section 13.1.2)."""
    if not if_none_match:
        return False
    return any(item.strip().removeprefix("W/") in (tag, "*") for item in if_none_match.split(","))


def _headed(response: Response, seq: int, tag: str) -> Response:
    response.headers["X-KIA-Trust-List-Seq"] = str(seq)
    response.headers["ETag"] = tag
    response.headers["Cache-Control"] = "no-cache"
    response.headers.update(poll_hint())
    return response


def _jose(body: str, seq: int) -> Response:
    form = form_of(body)
    return _headed(Response(body, mimetype=JOSE), seq, trust_list_tag(seq, form))

"""The transparency log, public: its checkpoint, C2SP tiles and entry bundles, proofs and entries.

Under /api/v1/log, the prefix a C2SP tlog-tiles client is given: ``checkpoint``
(text, never cached long), ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``
(bytes, immutable).  For clients that would rather not fetch tiles, the
office also answers proofs (hashes in base64, as in checkpoints) and finds
the entry of a fact (``kind`` and ``ref``: a record's ``terminal#seq``, a serial, a kid).
"""

from __future__ import annotations

import base64

from flask import Response, current_app, jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from keys.tiles import TileInvalid, parse_path

from .. import transparency, witnessing
from ..current import office
from . import bp, error, parsed_query

IMMUTABLE = "public, max-age=31536000, immutable"
SIZE = Field(ge=0, le=2**63 - 1)


@bp.get("/log/checkpoint")
def checkpoint() -> ResponseReturnValue:
    latest = transparency.latest_checkpoint(office(current_app))
    if latest is None:
        return error(404, "no_checkpoint", "the office has not signed a checkpoint of its log yet")
    response = Response(latest.note, content_type="text/plain; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache, max-age=5"
    return response


@bp.get("/log/key")
def key() -> ResponseReturnValue:
    """The log's origin and checkpoint verifier key, and the witnesses that cosign its checkpoints."""
    home = office(current_app)
    log_key = transparency.log_key(home)
    return jsonify(origin=log_key.origin, verifier_key=log_key.verifier_key,
                   witnesses=[{"name": w.name, "verifier_key": w.verifier_key} for w in witnessing.witnesses(home)])


@bp.get("/log/tile/<path:rest>")
def tile(rest: str) -> ResponseReturnValue:
    try:
        wanted = parse_path(f"tile/{rest}")
        with office(current_app).transaction() as session:
            data = transparency.tile(session, wanted)
    except TileInvalid as exc:
        return error(404, "no_tile", str(exc))
    response = Response(data, content_type="application/octet-stream")
    response.headers["Cache-Control"] = IMMUTABLE
    return response


class InclusionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = SIZE
    size: int = SIZE


class ConsistencyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    old: int = SIZE
    size: int = SIZE


class EntryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern=r"^[a-z_]{1,24}$")
    ref: str = Field(min_length=1, max_length=100)


@bp.get("/log/proof/inclusion")
def inclusion() -> ResponseReturnValue:
    query = parsed_query(InclusionQuery)
    if not isinstance(query, InclusionQuery):
        return query
    with office(current_app).transaction() as session:
        proof = transparency.inclusion(session, query.index, query.size)
    return jsonify(index=query.index, size=query.size, proof=_b64(proof))


@bp.get("/log/proof/consistency")
def consistency() -> ResponseReturnValue:
    query = parsed_query(ConsistencyQuery)
    if not isinstance(query, ConsistencyQuery):
        return query
    with office(current_app).transaction() as session:
        proof = transparency.consistency(session, query.old, query.size)
    return jsonify(old=query.old, size=query.size, proof=_b64(proof))


@bp.get("/log/entry")
def entry() -> ResponseReturnValue:
    query = parsed_query(EntryQuery)
    if not isinstance(query, EntryQuery):
        return query
    with office(current_app).transaction() as session:
        index = transparency.entry_index(session, query.kind, query.ref)
        data = transparency.entry(session, index)
    return jsonify(index=index, entry=base64.b64encode(data).decode("ascii"))


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(value).decode("ascii") for value in hashes]

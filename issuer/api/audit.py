"""The audit export over HTTP, for auditors' tools (``kia audit export``; docs/audit.md).

Every request authenticates with HTTP Basic: the username and password of a
person of the office.  Auditors and admins export any partner or all of
them; a partner manager only their own partner, without the findings'
evidence.  Each export is in the audit trail.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Literal

from flask import Response, current_app, jsonify, request, send_file
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from kia.audit_export_format import FORMATS, zip_export

from .. import audit_export, people
from ..audit import Actor
from ..current import now, office
from ..errors import TooManySignIns
from ..people import Person
from . import bp, error, parsed_query

REALM = 'Basic realm="KIA audit", charset="UTF-8"'
EXPORTERS = ("auditor", "admin", "partner_manager")


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_: dt.date = Field(alias="from")
    to: dt.date
    partner: int | None = Field(default=None, ge=1, le=2**31 - 1)
    format: Literal["csv", "parquet", "both"] = "csv"


def _challenge(message: str) -> Response:
    response = jsonify(error="unauthorized", message=message)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = REALM
    return response


def _person() -> Person | Response:
    """The person whose username and password came with the request, or a 401 asking for them."""
    given = request.authorization
    if given is None or given.type != "basic" or not given.username or given.password is None:
        return _challenge("give an auditor's username and password (HTTP Basic)")
    try:
        found = people.authenticate_person(office(current_app), given.username, given.password,
                                           request.remote_addr, now(), via="api")
    except TooManySignIns as refused:
        response = jsonify(error="too_many_sign_ins", message=str(refused))
        response.status_code = 429
        response.headers["Retry-After"] = str(refused.retry_after)
        return response
    if found is None:
        return _challenge("wrong username or password")
    return found


@bp.get("/audit/export")
def export() -> ResponseReturnValue:
    """The export of a period as a zip: manifest.json, the tables, figures.json."""
    person = _person()
    if isinstance(person, Response):
        return person
    if person.role not in EXPORTERS:
        return error(403, "forbidden", "the audit export is for auditors, admins and partner managers")
    query = parsed_query(ExportQuery)
    if not isinstance(query, ExportQuery):
        return query
    partner, manager = query.partner, person.role == "partner_manager"
    if manager:
        if partner not in (None, person.partner_id):
            return error(403, "forbidden", "a partner manager exports only their own partner's records")
        partner = person.partner_id
    formats = FORMATS if query.format == "both" else (query.format,)
    with tempfile.TemporaryDirectory(prefix="kia-audit-") as folder:
        audit_export.write_export(office(current_app), Path(folder, "export"), query.from_, query.to, partner,
                                  formats, now(), by=Actor(person.username, request.remote_addr, person.id),
                                  redact_evidence=manager)
        zip_export(Path(folder, "export"), Path(folder, "export.zip"))
        # Open before the folder goes: the zip is read from the open file, and nothing is left behind.
        archive = Path(folder, "export.zip").open("rb")  # noqa: SIM115 (the response closes it)
    name = f"kia-audit-{query.from_:%Y%m%d}-{query.to:%Y%m%d}{'' if partner is None else f'-partner-{partner}'}.zip"
    response = send_file(archive, mimetype="application/zip", as_attachment=True, download_name=name)
    response.content_length = os.fstat(archive.fileno()).st_size  # a file object tells send_file no size
    return response

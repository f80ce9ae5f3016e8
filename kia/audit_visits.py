"""``kia audit visits``: an office's figures of another region's cards, recomputed from its audit export.

An office answers a home office with figures of that region's cards used at
its partners (issuer.visits, ADR 0003): per partner-local day, partner kind
and KLA cluster, the accepted records naming that ``home`` and not held,
with counts under ``VISITS_SMALL_COUNT`` withheld.  An auditor holding the
office's audit export of the whole month recomputes every cell from the
records, whose chains ``kia audit verify`` checks, and compares: a figure
the office made up, or a record it left out, shows as a difference.

The figures' signature is not checked here (the home office checks it when
it takes them, ``kia issuer federation visits-fetch``): this checks that
what was signed is what the records say.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from keys import jws
from keys.audit_thresholds import VISITS_SMALL_COUNT
from keys.errors import KiaError
from keys.visits import VISITS_TYP, VisitsMalformed, checked_form

from .audit_export_format import MalformedExport, open_export, read_table

Key = tuple[int, str, str]  # day (YYYYMMDD), partner kind, KLA cluster


class VisitsNotChecked(KiaError):
    """The figures or the export cannot be compared: not kia-visits, or not an export of the whole month."""

    exit_code = 2


@dataclasses.dataclass(frozen=True)
class CellDifference:
    day: int
    kind: str
    cluster: str
    signed: dict[str, int | None] | None  # None: the figures have no such cell
    recomputed: dict[str, int | None] | None  # None: the records give no such cell


@dataclasses.dataclass(frozen=True)
class VisitsCheck:
    answering: int  # the region of the office that signed the figures
    home: int
    month: int
    cells: int  # cells recomputed from the records
    differences: list[CellDifference]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_visits(directory: Path, token: str) -> VisitsCheck:
    """Compare the signed figures ``token`` with the cells the export's records give; raises VisitsNotChecked."""
    claims = _claims(token)
    month, home = claims["month"], claims["home"]
    manifest = open_export(directory)
    first, last = dt.date(month // 100, month % 100, 1), dt.date(
        month // 100, month % 100, calendar.monthrange(month // 100, month % 100)[1])
    if manifest.partner is not None or not (manifest.start <= first.isoformat() and last.isoformat() <= manifest.end):
        raise VisitsNotChecked(f"the export covers {manifest.start} to {manifest.end}"
                               f"{'' if manifest.partner is None else f' for partner {manifest.partner}'}: "
                               "the figures need every partner's records of the whole month")
    partners = {row["partner_id"]: row for row in read_table(directory, manifest, "partners")}
    regions = {row["region"] for row in partners.values()}
    if regions and claims["from"] not in regions:
        raise VisitsNotChecked(f"the figures were signed by region {claims['from']}'s office, and this export's "
                               f"partners are of {', '.join(map(str, sorted(regions)))}")
    counted: dict[Key, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in read_table(directory, manifest, "redemptions"):
        if row.get("home") != home or row["day"] // 100 != month or not row["accepted"] or row["held"]:
            continue
        partner = partners.get(row["partner_id"])
        if partner is None:
            raise MalformedExport(f"record {row['terminal_id']}#{row['seq']} names partner {row['partner_id']}, "
                                  "which the export does not list")
        figures = counted[(row["day"], partner["kind"], partner["cluster"])]
        figures[0], figures[1], figures[2] = figures[0] + 1, figures[1] + row["price"], figures[2] + row["discount"]
    recomputed = {key: _shown(*figures) for key, figures in counted.items()}
    signed = {(cell["day"], cell["kind"], cell["cluster"]): {name: cell[name] for name in ("scans", "gross",
                                                                                       "discount")}
              for cell in claims["cells"]}
    differences = [CellDifference(day, kind, cluster, signed.get((day, kind, cluster)),
                                  recomputed.get((day, kind, cluster)))
                   for day, kind, cluster in sorted(set(signed) | set(recomputed))
                   if signed.get((day, kind, cluster)) != recomputed.get((day, kind, cluster))]
    return VisitsCheck(claims["from"], home, month, len(recomputed), differences)


def _shown(scans: int, gross: int, discount: int) -> dict[str, int | None]:
    if scans < VISITS_SMALL_COUNT:
        return {"scans": None, "gross": None, "discount": None}
    return {"scans": scans, "gross": gross, "discount": discount}


def _claims(token: str) -> dict[str, Any]:
    try:
        jws.unverified_header(token.strip(), VISITS_TYP)
        claims = json.loads(jws.split_compact(token.strip())[1])
    except (KiaError, ValueError) as exc:
        raise VisitsNotChecked(f"that is not a kia-visits JWS: {exc}") from None
    try:
        return checked_form(claims)
    except VisitsMalformed as exc:
        raise VisitsNotChecked(str(exc)) from None

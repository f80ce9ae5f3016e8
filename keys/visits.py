"""The form of an office's signed figures of another region's cards (``kia-visits``, ADR 0003).

One reading for the office that takes them (issuer.visits) and the auditor
who recomputes them (kia.audit_visits): exactly the claims ``from``,
``home``, ``month``, ``iat`` and ``cells``; each cell exactly ``day`` (in the
month), ``kind`` and ``cluster`` (short words), and ``scans``, ``gross`` and
``discount``, whole numbers or all three null (a small count withheld).
What the figures say is each reader's to check.
"""

from __future__ import annotations

from typing import Any

from .eligibility import is_valid_region

VISITS_TYP = "kia-visits"
CLAIMS = frozenset({"from", "home", "month", "iat", "cells"})
CELL = frozenset({"day", "kind", "cluster", "scans", "gross", "discount"})
WORD = 40  # a partner kind or cluster code, as the office keeps them
COUNTS = ("scans", "gross", "discount")


class VisitsMalformed(ValueError):
    """The figures are not of the form of kia-visits; the message says which part."""


def checked_form(claims: object) -> dict[str, Any]:
    """``claims`` when they are of the documented form; raises VisitsMalformed."""
    if not isinstance(claims, dict) or set(claims) != CLAIMS:
        raise VisitsMalformed("the figures' claims are not those of kia-visits")
    month = claims["month"]
    if not (isinstance(month, int) and 190001 <= month <= 999912 and 1 <= month % 100 <= 12
            and isinstance(claims["iat"], int) and is_valid_region(claims["home"])
            and is_valid_region(claims["from"]) and isinstance(claims["cells"], list)):
        raise VisitsMalformed("the figures' month, time or home region are malformed")
    for cell in claims["cells"]:
        if not _is_cell(cell, month):
            raise VisitsMalformed("a cell of the figures is malformed, or of another month")
        counts = [cell[name] for name in COUNTS]
        if counts != [None, None, None] and not all(_is_count(value) for value in counts):
            raise VisitsMalformed("a cell's figures are malformed")
    return claims


def _is_cell(cell: object, month: int) -> bool:
    """A cell's members, its day in ``month``, and a kind and cluster that are short words."""
    return (isinstance(cell, dict) and set(cell) == CELL and isinstance(cell["day"], int)
            and cell["day"] // 100 == month and 1 <= cell["day"] % 100 <= 31
            and all(isinstance(cell[name], str) and 0 < len(cell[name]) <= WORD for name in ("kind", "cluster")))


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0

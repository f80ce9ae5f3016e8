"""Finding a child's card from a parent's NIK or the child's name, at the office's counter.

The answer is the minimum a counter needs (serial, state, region, issue day;
for a name, the matched name partly masked), at most MAX_RESULTS cards.
Each search is audited in its own transaction, saying how it searched and
how many cards it found, never what it searched for: the audit trail holds
no child's NIK or name.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select

from .audit import Actor
from .audit import record as audit
from .errors import Invalid
from .storage.models import CardRow, Child
from .storage.store import IssuerHome

MAX_RESULTS = 20
MIN_NAME_LENGTH = 3  # fewer letters match half the city
MAX_NAME_LENGTH = 100
NIK_LENGTH = 16
BY = ("nik", "name")


@dataclasses.dataclass(frozen=True)
class FoundCard:
    serial: str
    state: str
    region: int
    issued_at: int
    masked_name: str | None  # a name search's match, partly masked; None for a NIK search


@dataclasses.dataclass(frozen=True)
class Found:
    cards: list[FoundCard]
    more: bool  # more cards matched than MAX_RESULTS: the search should be narrower


def check_search(by: str, text: str) -> str:
    """The search text as it is matched; Invalid saying what to fix (never repeating the text)."""
    if by not in BY:
        raise Invalid("search by nik or by name")
    text = text.strip()
    if by == "nik":
        if len(text) != NIK_LENGTH or not text.isdigit():
            raise Invalid("a NIK is 16 digits")
        return text
    if len(text) > MAX_NAME_LENGTH:
        raise Invalid(f"a name is searched with at most {MAX_NAME_LENGTH} characters")
    if len(text) < MIN_NAME_LENGTH:
        raise Invalid(f"write at least {MIN_NAME_LENGTH} letters of the name")
    return text


def search_cards(home: IssuerHome, by: str, text: str, now: int, *, by_whom: Actor) -> Found:
    """Cards of the children whose NIK is ``text`` exactly, or whose name contains it (any case).

    The newest card first.  Raises Invalid for a NIK that is not 16 digits or a
    name shorter than MIN_NAME_LENGTH.  Audited as ``card_search`` with the
    kind of search and the count only.
    """
    wanted = check_search(by, text)
    query = (select(CardRow.serial, CardRow.state, CardRow.region, CardRow.issued_at, Child.name)
             .join(Child, Child.id == CardRow.child_id)
             .order_by(CardRow.issued_at.desc(), CardRow.serial)
             .limit(MAX_RESULTS + 1))
    if by == "nik":
        query = query.where(Child.nik == wanted)
    else:
        query = query.where(func.lower(Child.name).contains(wanted.lower(), autoescape=True))
    with home.transaction() as session:
        rows = session.execute(query).all()
        shown = rows[:MAX_RESULTS]
        count = f"{len(shown)}+" if len(rows) > MAX_RESULTS else str(len(shown))
        plural = "" if count == "1" else "s"
        audit(session, by_whom, "card_search", f"card search by {by}: {count} result{plural}", now)
    cards = [FoundCard(row.serial, row.state, row.region, row.issued_at,
                       mask_name(row.name) if by == "name" and row.name else None) for row in shown]
    return Found(cards, len(rows) > MAX_RESULTS)


def mask_name(name: str) -> str:
    """Each word's first two letters, the rest as dots: ``Budi Santoso`` -> ``Bu•• Sa•••••``.

    Enough for the officer to tell the matches apart with the parent at the
    counter; not the whole name on a screen others may see.
    """
    return " ".join(word[:2] + "•" * max(0, len(word) - 2) for word in name.split())

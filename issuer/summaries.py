"""Daily summaries of redemptions, kept in the transaction that changes them.

Reports sum these instead of scanning redemptions (issuer.reports), so a
report costs the days and services it covers, not the records.  One row per
(partner, local day, service, category) counts, as reports.Figures means them:

- ``scans``: every record;
- ``accepted``, ``gross``, ``discount``, ``net``, ``flagged``: accepted
  records no check holds (``gross`` is the price, ``net`` what was paid);
- ``held``: accepted records a check holds, until an auditor releases them.

Ingest adds each batch (``add_records``), aggregated first so that the
batch makes one upsert with one row per summary key; an auditor's decision
moves a record between ``held`` and revenue (``move_record``).  The same
rows, keyed by month, keep RedemptionSummaryMonth, so a report sums whole
months from twelve rows a year instead of 365; summed over services and
categories they keep RedemptionPartnerDay and RedemptionPartnerMonth, one
row per partner and day or month, which every report but one per service
reads; and the programme's day, in 16 stripes by partner
(RedemptionProgrammeDay), so a report of the programme by day reads a few
rows a day, with the day's programme cards.

Unique cards cannot be summed, so the distinct cards are kept too: a
counted record (accepted, not held, with a serial, on a known day) puts its
card in the sets of its partner, of the programme, of its partner's kind,
cluster and region, and of its service, for its month and its day
(RedemptionCard: a row per scope, month and card, a bit per day).  A card
new to a set bumps RedemptionCardCount (RedemptionServiceCardCount for a
service), the count a report reads.  The counts of sets shared by partners
are kept per partner (the partner whose record first put the card in the
set), so no two partners' ingests update one row.
Sets only grow: an auditor only ever moves a held record into revenue,
never one out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .storage.models import (
    PROGRAMME,
    PROGRAMME_STRIPES,
    SUMMARY_FIGURES,
    Partner,
    RedemptionCard,
    RedemptionCardCount,
    RedemptionCardEdge,
    RedemptionPartnerDay,
    RedemptionPartnerMonth,
    RedemptionProgrammeDay,
    RedemptionServiceCardCount,
    RedemptionSummary,
    RedemptionSummaryMonth,
    ReportScope,
)

# Every table kept here from redemptions, so that tests which store redemptions anew can clear them together.
TABLES = (RedemptionSummary, RedemptionSummaryMonth, RedemptionPartnerDay, RedemptionPartnerMonth,
          RedemptionProgrammeDay, RedemptionCard, RedemptionCardCount, RedemptionCardEdge, RedemptionServiceCardCount,
          ReportScope)
COUNTS = SUMMARY_FIGURES
NO_CATEGORY = ""

Key = tuple[int, int, str, str]  # partner, day, service, category


def count(total: list[int], record: Mapping[str, Any]) -> None:
    """Add one redemption (a mapping of RedemptionRow's columns) to ``total``, figures in COUNTS order."""
    total[0] += 1
    if not record["accepted"]:
        return
    if record["held"]:
        total[5] += 1
        return
    total[1] += 1
    total[2] += record["price"]
    total[3] += record["discount"]
    total[4] += record["paid"]
    if record["flagged"]:
        total[6] += 1


def key(record: Mapping[str, Any]) -> Key:
    return record["partner_id"], record["day"], record["service"], record["category"] or NO_CATEGORY


def counted(record: Mapping[str, Any]) -> bool:
    """Whether ``record`` counts towards unique cards (and revenue): accepted, not held, a card, a known day."""
    return bool(record["accepted"] and not record["held"] and record["serial"] is not None and record["day"])


def add_records(session: Session, records: Iterable[Mapping[str, Any]]) -> None:
    """Count new redemptions (mappings of RedemptionRow's columns) into their summaries and card sets."""
    totals: dict[Key, list[int]] = {}
    cards: list[Mapping[str, Any]] = []
    for record in records:
        found = key(record)
        total = totals.get(found)
        if total is None:
            total = totals[found] = [0] * len(COUNTS)
        count(total, record)
        if counted(record):
            cards.append(record)
    _upsert(session, totals)
    _add_cards(session, cards)


def move_record(session: Session, record: Mapping[str, Any], held: bool) -> None:
    """Follow a record whose ``held`` becomes ``held`` (an auditor's decision): call before changing it."""
    before, after = [0] * len(COUNTS), [0] * len(COUNTS)
    count(before, record)
    count(after, {**record, "held": held})
    change = [new - old for new, old in zip(after, before, strict=True)]
    if any(change):
        _upsert(session, {key(record): change})
    if not held and counted({**record, "held": False}):
        _add_cards(session, [record])


def _upsert(session: Session, totals: Mapping[Key, Sequence[int]]) -> None:
    if not totals:
        return
    months: dict[Key, list[int]] = {}
    for (partner, day, service, category), total in totals.items():
        month = months.setdefault((partner, day // 100, service, category), [0] * len(COUNTS))
        for index, value in enumerate(total):
            month[index] += value
    # Keys in one order, so two batches of one partner lock its summaries in the same order (no deadlock).
    _add(session, RedemptionSummary, ("partner_id", "day", "service", "category"), COUNTS,
         [{"partner_id": partner, "day": day, "month": day // 100, "service": service, "category": category,
           **dict(zip(COUNTS, totals[(partner, day, service, category)], strict=True))}
          for partner, day, service, category in sorted(totals)])
    _add(session, RedemptionSummaryMonth, ("partner_id", "month", "service", "category"), COUNTS,
         [{"partner_id": partner, "month": month, "service": service, "category": category,
           **dict(zip(COUNTS, months[(partner, month, service, category)], strict=True))}
          for partner, month, service, category in sorted(months)])
    # The same over services and categories: a row per partner and day, and per partner and month.
    for model, period, summed in ((RedemptionPartnerDay, "day", totals), (RedemptionPartnerMonth, "month", months)):
        partners: dict[tuple[int, int], list[int]] = {}
        for (partner, when, _, _), total in summed.items():
            figures = partners.setdefault((partner, when), [0] * len(COUNTS))
            for index, value in enumerate(total):
                figures[index] += value
        rows = [{"partner_id": partner, period: when, **dict(zip(COUNTS, partners[(partner, when)], strict=True))}
                for partner, when in sorted(partners)]
        if period == "day":
            for row in rows:
                row["month"] = row["day"] // 100
        _add(session, model, ("partner_id", period), COUNTS, rows)
    # And the programme's day, in its partner's stripe.
    stripes: dict[tuple[int, int], list[int]] = {}
    for (partner, day, _, _), total in totals.items():
        figures = stripes.setdefault((day, partner % PROGRAMME_STRIPES), [0] * len(COUNTS))
        for index, value in enumerate(total):
            figures[index] += value
    _add(session, RedemptionProgrammeDay, ("day", "stripe"), COUNTS,
         [{"day": day, "stripe": stripe, "month": day // 100, **dict(zip(COUNTS, stripes[(day, stripe)], strict=True))}
          for day, stripe in sorted(stripes)])


def _add_cards(session: Session, records: Sequence[Mapping[str, Any]]) -> None:
    """Put the cards of counted ``records`` in their sets; count the cards new to a month or a day.

    A record's card goes in six sets, each for its month and for its day: its
    partner's, the programme's, its partner's kind's, cluster's and region's,
    and its service's, kept as one RedemptionCard row per scope and month
    with a bit per day.  One statement per day in the batch (a terminal's
    batch is nearly always one day): each row is inserted, or updated when
    the day's bit is missing.  A row so changed was new to the day; with the
    day's bit alone it was new to the month; otherwise it may have moved the
    card's first or last counted day of the month (RedemptionCardEdge).  The
    statement answers with those changes grouped (``_Added``), so the counts
    cost the groups, not the cards.  A card new to a set shared by partners
    is counted under the lowest partner of the batch that put it there.

    A card already in its partner's set for the day is already in the
    programme's, kind's, cluster's and region's for it (all are added
    together), so on PostgreSQL only its service's set takes it again: a bus
    ride home costs two rows, not six.
    """
    if not records:
        return
    sets = _sets_of(session, records)
    by_day: dict[int, list[Mapping[str, Any]]] = {}
    for record in records:
        by_day.setdefault(record["day"], []).append(record)
    counts: dict[tuple[int, int], list[int]] = {}  # (partner, period): figures in CARD_COUNTS order
    service_counts: dict[tuple[int, str, int], int] = {}
    edges: dict[tuple[int, int, int], list[int]] = {}  # (scope, day, partner): [firsts, lasts]

    def move(partner: int, scope: int, day: int, which: int, cards: int, before: int | None) -> None:
        """``cards``' first (``which`` 0) or last (1) counted day of the month is now ``day``, not ``before``."""
        edges.setdefault((scope, day, partner), [0, 0])[which] += cards
        if before is not None:
            edges.setdefault((scope, before, partner), [0, 0])[which] -= cards

    def bump(partner: int, scope: int, period: int, cards: int) -> None:
        role = sets.role[scope]
        if isinstance(role, str):
            service_counts[partner, role, period] = service_counts.get((partner, role, period), 0) + cards
        else:
            counts.setdefault((partner, period), [0] * len(CARD_COUNTS))[role] += cards

    postgres = session.connection().dialect.name == "postgresql"
    if postgres and len(by_day) > 1:
        # A row of a month may change on two of the batch's days, and another partner's batch may change it on
        # others: the batch locks all its rows first, in the order ADD_CARDS_POSTGRESQL takes them in a month
        # (partners' sets, then the others), so that two such batches cannot deadlock.
        rows = sorted({(day // 100, scope <= PROGRAMME, scope, serial) for day, day_records in by_day.items()
                       for scope, serial in _members(sets, day_records)})
        session.execute(LOCK_CARDS_POSTGRESQL, {"months": [month for month, _, _, _ in rows],
                                                "scopes": [scope for _, _, scope, _ in rows],
                                                "serials": [serial for _, _, _, serial in rows]})
    for day in sorted(by_day):
        month_start = day - day % 100
        added = (_add_day_postgresql if postgres else _add_day_sqlite)(session, sets, day, by_day[day])
        for scope, partner, first, last, cards in added:
            bump(partner, scope, day, cards)
            if first == last == NEW_TO_MONTH:
                bump(partner, scope, day // 100, cards)
                move(partner, scope, day, 0, cards, None)
                move(partner, scope, day, 1, cards, None)
                continue
            if first is not None:
                move(partner, scope, day, 0, cards, month_start + first)
            if last is not None:
                move(partner, scope, day, 1, cards, month_start + last)
    _add(session, RedemptionCardCount, ("partner_id", "period"), CARD_COUNTS,
         [{"partner_id": partner, "period": period, **dict(zip(CARD_COUNTS, figures, strict=True))}
          for (partner, period), figures in sorted(counts.items())])
    programme: dict[tuple[int, int], int] = {}  # (day, stripe): cards new to the programme that day
    for (partner, period), figures in counts.items():
        if period < 1_000_000:  # a month (YYYYMM), not a day (YYYYMMDD)
            continue
        key = (period, partner % PROGRAMME_STRIPES)
        programme[key] = programme.get(key, 0) + figures[PROGRAMME_CARDS]
    _add(session, RedemptionProgrammeDay, ("day", "stripe"), ("cards",),
         [{"day": day, "stripe": stripe, "month": day // 100, "cards": cards}
          for (day, stripe), cards in sorted(programme.items()) if cards])
    _add(session, RedemptionCardEdge, ("scope", "day", "partner_id"), ("firsts", "lasts"),
         [{"scope": scope, "day": day, "partner_id": partner, "firsts": firsts, "lasts": lasts}
          for (scope, day, partner), (firsts, lasts) in sorted(edges.items())])
    _add(session, RedemptionServiceCardCount, ("partner_id", "service", "period"), ("cards",),
         [{"partner_id": partner, "service": service, "period": period, "cards": cards}
          for (partner, service, period), cards in sorted(service_counts.items())])


# What one day's statement changed, grouped: (scope, partner it is counted under, first, last, cards).  ``first``
# is the card's first counted day of the month (1 to 31) before this day when this day comes before it, else
# None; ``last`` likewise its last when this day comes after it.  Both NEW_TO_MONTH: the month had no day before.
_Added = Sequence[tuple[int, int, int | None, int | None, int]]
NEW_TO_MONTH = 0


def _members(sets: _Sets, records: Sequence[Mapping[str, Any]]) -> dict[tuple[int, str], int]:
    """The rows ``records`` (of one day) put cards in: {(scope, serial): the lowest partner that puts it there}."""
    owners: dict[tuple[int, str], int] = {}
    for record in records:
        serial, partner = record["serial"], record["partner_id"]
        for scope in (*sets.of_partner[partner], sets.of_service[partner, record["service"]]):
            owner = owners.get((scope, serial))
            if owner is None or partner < owner:
                owners[scope, serial] = partner
    return owners


def _add_day_postgresql(session: Session, sets: _Sets, day: int, records: Sequence[Mapping[str, Any]]) -> _Added:
    """One day's cards into their sets on PostgreSQL: the records go as arrays, the database makes the rows."""
    of_partners = [(partner, scope) for partner, scopes in sets.of_partner.items() for scope in scopes
                   if scope != partner]
    return session.execute(ADD_CARDS_POSTGRESQL, {
        "month": day // 100, "bit": 1 << (day % 100 - 1),
        "serials": [record["serial"] for record in records],
        "partners": [record["partner_id"] for record in records],
        "services": [sets.of_service[record["partner_id"], record["service"]] for record in records],
        "of_partners": [partner for partner, _ in of_partners], "of_scopes": [scope for _, scope in of_partners],
    }).all()


def _add_day_sqlite(session: Session, sets: _Sets, day: int, records: Sequence[Mapping[str, Any]]) -> _Added:
    """One day's cards into their sets on SQLite: the rows made here, the changed ones grouped as on PostgreSQL."""
    owners = _members(sets, records)
    bit = 1 << (day % 100 - 1)
    changed = session.execute(_add_cards_statement(), [
        {"scope": scope, "month": day // 100, "serial": serial, "days": bit}
        for scope, serial in sorted(owners)]).all()
    groups: dict[tuple[int, int, int | None, int | None], int] = {}
    for scope, serial, days in changed:
        before = days & ~bit  # the card's days in the month before this one: bit d - 1 for day d
        if not before:
            first: int | None = NEW_TO_MONTH
            last: int | None = NEW_TO_MONTH
        else:
            first = (before & -before).bit_length() if before & (bit - 1) == 0 else None
            last = before.bit_length() if before < bit else None
        found = (scope, owners[scope, serial], first, last)
        groups[found] = groups.get(found, 0) + 1
    return [(*found, cards) for found, cards in groups.items()]


CARD_COUNTS = ("partner_cards", "programme_cards", "kind_cards", "cluster_cards", "region_cards")
PROGRAMME_CARDS = CARD_COUNTS.index("programme_cards")


@dataclasses.dataclass
class _Sets:
    """The card sets of a batch's records: scopes by partner and by (partner, service), and each scope's role
    (its figure's index in CARD_COUNTS, or the service's code)."""

    of_partner: dict[int, tuple[int, ...]]
    of_service: dict[tuple[int, str], int]
    role: dict[int, int | str]


def _sets_of(session: Session, records: Sequence[Mapping[str, Any]]) -> _Sets:
    """The sets ``records`` go in, their ReportScope rows made where missing."""
    partners = session.execute(select(Partner.id, Partner.kind, Partner.cluster, Partner.region).where(
        Partner.id.in_({record["partner_id"] for record in records}))).all()
    shared = {partner: (("kind", 0, kind), ("cluster", 0, cluster), ("region", 0, str(region)))
              for partner, kind, cluster, region in partners}
    services = {(record["partner_id"], record["service"]) for record in records}
    wanted = {*(key for keys in shared.values() for key in keys),
              *(("service", partner, service) for partner, service in services)}
    ids = _scope_ids(session, wanted)
    if len(ids) < len(wanted):  # new kinds, clusters, regions or services: made once, by whichever batch comes first
        made = _insert_for(session)(ReportScope).on_conflict_do_nothing(index_elements=["what", "partner_id", "name"])
        session.execute(made, [{"what": what, "partner_id": partner, "name": name}
                               for what, partner, name in sorted(wanted - ids.keys())])
        ids = _scope_ids(session, wanted)
    role: dict[int, int | str] = {PROGRAMME: 1}
    of_partner = {}
    for partner, keys in shared.items():
        role[partner] = 0
        of_partner[partner] = (partner, PROGRAMME, *(-ids[key] for key in keys))
        for index, key in enumerate(keys, start=2):
            role[-ids[key]] = index
    of_service = {}
    for partner, service in services:
        scope = of_service[partner, service] = -ids["service", partner, service]
        role[scope] = service
    return _Sets(of_partner, of_service, role)


def _scope_ids(session: Session, keys: set[tuple[str, int, str]]) -> dict[tuple[str, int, str], int]:
    found = session.execute(select(ReportScope.what, ReportScope.partner_id, ReportScope.name, ReportScope.id).where(
        tuple_(ReportScope.what, ReportScope.partner_id, ReportScope.name).in_(sorted(keys))))
    return {(what, partner, name): scope for what, partner, name, scope in found}


# One day's cards into their sets (as _add_cards says), answered grouped as _Added.  First each card into its
# partner's set; then into the sets its partner shares with others (programme, kind, cluster, region) only the cards
# new to the partner's day: a card already there is in those for the day too, as they are always added together.
# Service sets take every card (a card seen at a service may be new to another of the partner's).  Rows go in one
# order, partners' sets then the others, each by scope and serial, so that two batches that share cards take
# their rows' locks in one order (no deadlock; LOCK_CARDS_POSTGRESQL keeps it).  A day's bit is 1 << (day - 1); a
# month's days fit in 31 bits, so a bit string of 31 gives the first and last day set.
ADD_CARDS_POSTGRESQL = text(
    "WITH batch AS (SELECT serial, partner, service FROM unnest(CAST(:serials AS text[]), "
    "CAST(:partners AS integer[]), CAST(:services AS integer[])) AS batch (serial, partner, service)), "
    "own AS (INSERT INTO redemption_cards (scope, month, serial, days) "
    "SELECT DISTINCT partner, CAST(:month AS integer), serial COLLATE \"C\", CAST(:bit AS integer) FROM batch "
    "ORDER BY partner, serial COLLATE \"C\" "
    "ON CONFLICT (scope, month, serial) DO UPDATE SET days = redemption_cards.days | excluded.days "
    "WHERE redemption_cards.days & excluded.days = 0 "
    "RETURNING scope, serial, days & ~ CAST(:bit AS integer) AS before), "
    "members AS (SELECT scope, serial, min(partner) AS partner FROM ("
    "SELECT shared.scope, own.serial, own.scope AS partner FROM own JOIN unnest(CAST(:of_partners AS integer[]), "
    "CAST(:of_scopes AS integer[])) AS shared (partner, scope) ON shared.partner = own.scope "
    "UNION ALL SELECT service, serial, partner FROM batch) AS every GROUP BY scope, serial), "
    "others AS (INSERT INTO redemption_cards (scope, month, serial, days) "
    "SELECT scope, :month, serial, :bit FROM members ORDER BY scope, serial COLLATE \"C\" "
    "ON CONFLICT (scope, month, serial) DO UPDATE SET days = redemption_cards.days | excluded.days "
    "WHERE redemption_cards.days & excluded.days = 0 "
    "RETURNING scope, serial, days & ~ CAST(:bit AS integer) AS before), "
    "changed AS (SELECT scope, scope AS partner, before FROM own UNION ALL "
    "SELECT others.scope, members.partner, others.before FROM others JOIN members "
    "ON members.scope = others.scope AND members.serial = others.serial), "
    "grouped AS (SELECT scope, partner, before, CAST(CAST(before AS bit(31)) AS text) AS bits FROM changed) "
    "SELECT scope, partner, "
    "CASE WHEN before = 0 THEN 0 WHEN before & (:bit - 1) = 0 THEN 32 - length(rtrim(bits, '0')) END AS first, "
    "CASE WHEN before = 0 THEN 0 WHEN before < :bit THEN length(ltrim(bits, '0')) END AS last, "
    "count(*) AS cards FROM grouped GROUP BY 1, 2, 3, 4"
)


# The batch's rows made (with no day yet) or locked, in the order given; its days are set later in the transaction.
LOCK_CARDS_POSTGRESQL = text(
    "INSERT INTO redemption_cards (scope, month, serial, days) "
    "SELECT scope, month, serial, 0 FROM unnest(CAST(:scopes AS integer[]), CAST(:months AS integer[]), "
    "CAST(:serials AS text[])) WITH ORDINALITY AS cards (scope, month, serial, position) ORDER BY position "
    "ON CONFLICT (scope, month, serial) DO UPDATE SET days = redemption_cards.days"
)


def _add_cards_statement() -> Any:
    """The card sets' upsert on SQLite, as ADD_CARDS_POSTGRESQL: a row inserted, or its day's bit added."""
    table: Any = RedemptionCard.__table__
    statement = sqlite.insert(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c.scope, table.c.month, table.c.serial],
        set_={"days": table.c.days.op("|")(statement.excluded.days)},
        where=table.c.days.op("&")(statement.excluded.days) == 0,
    ).returning(table.c.scope, table.c.serial, table.c.days)


def _add(session: Session, model: Any, keys: Sequence[str], figures: Sequence[str],
         rows: Sequence[Mapping[str, Any]]) -> None:
    """Upsert ``rows`` into ``model``: a new key is inserted, a known one has ``figures`` added to it."""
    if not rows:
        return
    # One statement with its rows as parameters: compiled once and cached, sent as one batch by the driver.
    # Core, on the table: the ORM's bulk insert would cost more in Python than the database's work.
    table = model.__table__
    statement = _insert_for(session)(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c[name] for name in keys],
        set_={name: table.c[name] + statement.excluded[name] for name in figures},
    )
    session.execute(statement, rows)


def _insert_for(session: Session) -> Any:
    return postgresql.insert if session.connection().dialect.name == "postgresql" else sqlite.insert

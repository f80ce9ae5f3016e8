"""The statistical pass: patterns no single record shows, raised as alarms for an auditor to review.

issuer.redemption_checks holds a record that cannot be true.  Some abuse is
made of records that each could be: a cashier who scans four hundred cards on
a day that usually has ten, a terminal whose cards are seen at no other
partner, a burst of scans just before closing.  These are the indicators
Italy's 18app audit used to find improper redemptions.  They prove nothing on
their own, so this pass holds no record: it raises one alarm per finding,
with its evidence, for an auditor to look into.  It runs as a scheduled job
(``kia issuer anomalies``, daily), over accepted records that no check held.

Thresholds (docs/audit.md):

- ``volume_spike``: a terminal's accepted scans on a local day exceed
  ``SPIKE_FACTOR`` times the median of its previous ``HISTORY_DAYS`` days with
  scans, and at least ``SPIKE_MIN`` scans;
- ``cards_seen_nowhere_else``: of at least ``LONER_MIN_CARDS`` cards a terminal
  accepted in the period, at least ``LONER_SHARE`` were accepted at no other
  partner, while at the other terminals with that many cards the median share
  is at most ``LONER_SHARE - LONER_MARGIN`` (many children visit one partner
  only; a terminal is raised when it stands out from the programme);
- ``closing_burst``: on a day a terminal was in use for more than
  ``BURST_MIN_SPAN`` seconds, at least ``BURST_MIN`` of its accepted scans, and
  at least ``BURST_SHARE`` of them, fall in the last ``BURST_WINDOW`` seconds
  before its last scan (a cinema filling for one show is not a burst).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import and_, func, select

from keys.audit_thresholds import (
    BURST_MIN,
    BURST_MIN_SPAN,
    BURST_SHARE,
    BURST_WINDOW,
    HISTORY_DAYS,
    LONER_MARGIN,
    LONER_MIN_CARDS,
    LONER_SHARE,
    SPIKE_FACTOR,
    SPIKE_MIN,
)

from .audit import Actor
from .audit import record as audit
from .reports import bucket
from .storage.models import Alarm, RedemptionRow, on_days
from .storage.store import IssuerHome

KINDS = ("volume_spike", "cards_seen_nowhere_else", "closing_burst")


@dataclasses.dataclass(frozen=True)
class Anomaly:
    kind: str
    terminal_id: str
    partner_id: int
    detail: str


def find_anomalies(home: IssuerHome, start: dt.date, end: dt.date) -> list[Anomaly]:
    """The anomalies among accepted, unheld records of local days ``start`` to ``end``."""
    counted = and_(RedemptionRow.accepted.is_(True), RedemptionRow.held.is_(False))
    first, last = bucket(start - dt.timedelta(days=HISTORY_DAYS), "day"), bucket(end, "day")
    with home.transaction() as session:
        daily = session.execute(
            select(RedemptionRow.terminal_id, RedemptionRow.partner_id, RedemptionRow.day, func.count())
            .where(counted, on_days(first, last))
            .group_by(RedemptionRow.terminal_id, RedemptionRow.partner_id, RedemptionRow.day)
        ).all()
        in_period = on_days(bucket(start, "day"), last)
        cards = session.execute(
            select(RedemptionRow.terminal_id, RedemptionRow.partner_id, RedemptionRow.serial)
            .where(counted, in_period, RedemptionRow.serial.is_not(None)).distinct()
        ).all()
        scans = session.execute(
            select(RedemptionRow.terminal_id, RedemptionRow.partner_id, RedemptionRow.day, RedemptionRow.at)
            .where(counted, in_period)
        ).all()
    return (_volume_spikes(daily, bucket(start, "day"))
            + _cards_seen_nowhere_else(cards)
            + _closing_bursts(scans))


def raise_alarms(home: IssuerHome, start: dt.date, end: dt.date, now: int, *, by: Actor) -> list[Anomaly]:
    """Run the pass and record each anomaly as an alarm, and the run in the audit trail."""
    found = find_anomalies(home, start, end)
    with home.transaction() as session:
        for anomaly in found:
            session.add(Alarm(at=now, kind=anomaly.kind, terminal_id=anomaly.terminal_id,
                              partner_id=anomaly.partner_id, detail=anomaly.detail[:500]))
        audit(session, by, "anomaly_pass", f"{start.isoformat()}..{end.isoformat()}: {len(found)} alarms", now)
    return found


def _volume_spikes(daily: Sequence[tuple[str, int, int, int]], first_day: int) -> list[Anomaly]:
    by_terminal: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    for terminal_id, partner_id, day, count in daily:
        by_terminal[(terminal_id, partner_id)].append((day, count))
    found = []
    for (terminal_id, partner_id), days in sorted(by_terminal.items()):
        days.sort()
        for index, (day, count) in enumerate(days):
            if day < first_day:
                continue
            history = [earlier for _, earlier in days[max(0, index - HISTORY_DAYS):index]]
            if not history:
                continue
            usual = statistics.median(history)
            if count >= SPIKE_MIN and count > SPIKE_FACTOR * usual:
                found.append(Anomaly("volume_spike", terminal_id, partner_id,
                                     f"{count} accepted scans on {day}, against a median of {usual:g} "
                                     f"over its previous {len(history)} days with scans"))
    return found


def _cards_seen_nowhere_else(cards: Sequence[tuple[str, int, str | None]]) -> list[Anomaly]:
    partners_of: dict[str, set[int]] = defaultdict(set)
    per_terminal: dict[tuple[str, int], set[str]] = defaultdict(set)
    for terminal_id, partner_id, serial in cards:
        if serial is None:
            continue
        partners_of[serial].add(partner_id)
        per_terminal[(terminal_id, partner_id)].add(serial)
    alone = {terminal: sum(1 for serial in serials if partners_of[serial] == {terminal[1]})
             for terminal, serials in per_terminal.items() if len(serials) >= LONER_MIN_CARDS}
    share = {terminal: alone[terminal] / len(per_terminal[terminal]) for terminal in alone}
    found = []
    for (terminal_id, partner_id), serials in sorted(per_terminal.items()):
        others = [value for terminal, value in share.items() if terminal[1] != partner_id]
        if ((terminal_id, partner_id) in share and share[(terminal_id, partner_id)] >= LONER_SHARE and others
                and statistics.median(others) <= LONER_SHARE - LONER_MARGIN):
            count = alone[(terminal_id, partner_id)]
            found.append(Anomaly("cards_seen_nowhere_else", terminal_id, partner_id,
                                 f"{count} of its {len(serials)} cards were accepted at no other partner; "
                                 f"elsewhere the median share is {statistics.median(others):.0%}"))
    return found


def _closing_bursts(scans: Sequence[tuple[str, int, int, int]]) -> list[Anomaly]:
    per_day: dict[tuple[str, int, int], list[int]] = defaultdict(list)
    for terminal_id, partner_id, day, at in scans:
        per_day[(terminal_id, partner_id, day)].append(at)
    found = []
    for (terminal_id, partner_id, day), times in sorted(per_day.items()):
        if len(times) < BURST_MIN or max(times) - min(times) <= BURST_MIN_SPAN:
            continue
        closing = max(times)
        late = sum(1 for at in times if at > closing - BURST_WINDOW)
        if late >= BURST_SHARE * len(times):
            found.append(Anomaly("closing_burst", terminal_id, partner_id,
                                 f"{late} of {len(times)} accepted scans on {day} came in the "
                                 f"{BURST_WINDOW // 60} minutes before its last scan"))
    return found

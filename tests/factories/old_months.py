"""An office whose cinema synced real batches in four months: what retention removes and keeps.

A Surakarta cinema's terminal syncs a day's scans (every card once) on 100,
70, 40 and 5 days before ``NOW`` (22 November 2026): in August, September,
October and November 2026; in August also a serial the office never issued,
which its checks hold.  The office must have been founded at least 130 days
before NOW.
"""

from __future__ import annotations

import dataclasses

from issuer.storage.store import IssuerHome
from keys.serial import serial_from_value
from tests.factories import DAY, NOW
from tests.factories.audit_data import accepted
from tests.factories.offices import SERVICE, add_partner, add_service, issued_cards
from tests.terminal_sim import SimulatedTerminal, enrolled_terminal, send

# Days before NOW (22 November 2026, 10:00 WIB) on which the terminal syncs a day's scans: their months.
DAYS_BEFORE = {100: 202608, 70: 202609, 40: 202610, 5: 202611}
CARDS = 6
KEPT_FROM = 202610


def synced_months(office: IssuerHome) -> tuple[SimulatedTerminal, int]:
    """The terminal, after syncing each day's scans (every card once) and, in August, a serial never issued."""
    partner = add_partner(office)
    add_service(office, partner, now=NOW - 125 * DAY)
    cards = issued_cards(office, CARDS, NOW - 120 * DAY)
    terminal = enrolled_terminal(office, partner, NOW - 110 * DAY)
    for days in DAYS_BEFORE:
        opening = NOW - days * DAY
        batch = [accepted(opening + n * 900, card, SERVICE) for n, card in enumerate(cards)]
        if days == 100:
            batch.append(dataclasses.replace(accepted(opening + 7_200, cards[0], SERVICE),
                                             serial=serial_from_value(987_654)))
        send(office, terminal, batch, opening + 4 * 3600)
    return terminal, partner

"""``kia issuer``: the office's commands (DESIGN section 9), one module per concept.

    common        the --home and key options, the clock, JSON output
    office        init, serve, db upgrade
    cards         card issue | revoke | mark-expired
    batches       batch list | advance
    institutions  institution add | list | account
    keys          key rotate | retire | revoke | list
    trust_lists   trustlist export | prepare | sign | import
    partners      partner add | service | list
    terminals     terminal register | suspend | activate | retire
    people        user add
    reports       report figures | partners | coverage, coverage set
    quarantine    quarantine list | release | confirm, anomalies
    log           log init | key | publish | witness-add | witnesses | write-tiles
"""

from __future__ import annotations

import click

from . import (
    batches,
    cards,
    institutions,
    keys,
    log,
    office,
    partners,
    people,
    quarantine,
    reports,
    terminals,
    trust_lists,
)


@click.group()
def issuer() -> None:
    """Office (Disdukcapil): keys, cards, revocation, trust lists."""


for command in (office.init, cards.card, keys.key, trust_lists.trustlist, office.serve, office.db, partners.partner,
                terminals.terminal, reports.report, reports.coverage, people.user, batches.batch,
                quarantine.quarantine, quarantine.anomalies, log.log, institutions.institution):
    issuer.add_command(command)

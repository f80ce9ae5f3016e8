"""``kia issuer``: the office's commands (DESIGN section 9), one module per concept.

    common        the --home and key options, the clock, JSON output
    office        init, serve, db upgrade | partitions | prune
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
    intake        intake fold | status (the sync journal, KIA_SYNC_INTAKE=journal)
"""

from __future__ import annotations

import click

from kia.cli import LazyGroup

# Each command's module is imported when the command is named (kia.cli.LazyGroup).
_COMMANDS = {
    "init": ("office", "init"),
    "serve": ("office", "serve"),
    "db": ("office", "db"),
    "card": ("cards", "card"),
    "batch": ("batches", "batch"),
    "institution": ("institutions", "institution"),
    "key": ("keys", "key"),
    "trustlist": ("trust_lists", "trustlist"),
    "partner": ("partners", "partner"),
    "terminal": ("terminals", "terminal"),
    "user": ("people", "user"),
    "report": ("reports", "report"),
    "coverage": ("reports", "coverage"),
    "quarantine": ("quarantine", "quarantine"),
    "anomalies": ("quarantine", "anomalies"),
    "log": ("log", "log"),
    "federation": ("federation", "federation_group"),
    "intake": ("intake", "intake"),
}


@click.group(
    cls=LazyGroup, lazy={name: (f"{__name__}.{module}", attr, "issuer") for name, (module, attr) in _COMMANDS.items()}
)
def issuer() -> None:
    """Office (Disdukcapil): keys, cards, revocation, trust lists."""

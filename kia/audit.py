"""``kia audit``: read-only checks for auditors."""

from __future__ import annotations

import json
from pathlib import Path

import click

from keys.times import iso_utc_or_none
from verifier.cli import load_trust, parse_at


@click.group()
def audit() -> None:
    """Auditors: verify what the office publishes (read-only)."""


@audit.command("trustlist")
@click.option("--trust-anchor", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--at", "at", metavar="ISO-8601", help="Check as at this time instead of now.")
@click.argument("trust_list", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def trustlist(trust_anchor: Path, at: str | None, trust_list: Path) -> None:
    """Verify TRUST_LIST against the root key and print what it says.

    Exits 2 if the list is not signed by the anchor or is malformed.
    """
    now = parse_at(at)
    trust, expired = load_trust(trust_anchor, trust_list, now)
    summary = {
        "signature": "valid",
        "seq": trust.seq,
        "issued_at": iso_utc_or_none(trust.issued_at),
        "expires_at": iso_utc_or_none(trust.expires_at),
        "expired": expired,
        "revoked_cards": len(trust.revoked),
        "issuing_keys": [
            {
                "kid": key.kid,
                "state": key.state.value,
                "created_at": iso_utc_or_none(key.created_at),
                "retired_at": iso_utc_or_none(key.retired_at),
                "revoked_at": iso_utc_or_none(key.revoked_at),
            }
            for key in trust.keys
        ],
    }
    click.echo(json.dumps(summary, indent=2))

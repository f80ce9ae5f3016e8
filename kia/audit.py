"""``kia audit``: read-only checks for auditors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from keys import load_public_jwk, verify_trust_list
from keys.errors import KeyFileInvalid


def _iso(timestamp: int | None) -> str | None:
    return None if timestamp is None else dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat()


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
    moment = dt.datetime.fromisoformat(at) if at else dt.datetime.now(dt.UTC)
    now = int(moment.timestamp())
    try:
        root = load_public_jwk(json.loads(trust_anchor.read_text(encoding="utf-8")))
    except ValueError as exc:
        raise KeyFileInvalid(f"cannot read the trust anchor {trust_anchor.name}: {exc}") from None
    trust = verify_trust_list(trust_list.read_text(encoding="ascii", errors="replace"), root, now, accept_expired=True)
    summary = {
        "signature": "valid",
        "seq": trust.seq,
        "issued_at": _iso(trust.issued_at),
        "expires_at": _iso(trust.expires_at),
        "expired": trust.is_expired(now),
        "revoked_cards": len(trust.revoked),
        "issuing_keys": [
            {
                "kid": key.kid,
                "state": key.state.value,
                "created_at": _iso(key.created_at),
                "retired_at": _iso(key.retired_at),
                "revoked_at": _iso(key.revoked_at),
            }
            for key in trust.keys
        ],
    }
    click.echo(json.dumps(summary, indent=2))

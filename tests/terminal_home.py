"""An enrolled terminal home built from test keys, without an office server.

``enrolled_home`` writes what enrolment would have written (identity,
pinned root key, trust list, signed rules, terminal key) so that the app,
the sync client and the staff screen can be tested against a real home on
disk.  Everything is signed with keys made at run time.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import jws, public_jwk
from verifier.config import CONFIG_TYP
from verifier.home import Identity, TerminalHome
from verifier.terminal import Terminal

from .factories import DAY, SURAKARTA, Trust

TERMINAL_ID = "T-TEST0001"
RULES = {
    "code": "bioskop-reguler",
    "name": "Bioskop reguler",
    "prices": {"0-4": 0, "5-12": 40_000, "13-16": 50_000},
    "discount": {"kind": "percent", "value": 50},
    "daily_limit": 2,
    "passback_seconds": 600,
}


CONFIG_LIFETIME = 30 * DAY


def signed_config(trust: Trust, now: int, *, services: list[dict] | None = None, mou_until: str | None = None,
                  terminal_id: str = TERMINAL_ID, expires_at: int | None = None) -> str:
    """The partner's rules as the office signs them at ``now`` (its version), valid 30 days unless
    ``expires_at`` says otherwise; the MoU runs a year past ``now`` unless given."""
    private, key = trust.signer
    if mou_until is None:
        mou_until = (dt.datetime.fromtimestamp(now, dt.UTC).date() + dt.timedelta(days=365)).isoformat()
    claims = {
        "tid": terminal_id,
        "partner": {"id": 1, "name": "Bioskop Solo Paragon", "kind": "cinema", "cluster": "education_culture",
                    "region": SURAKARTA},
        "version": now,
        "iat": now,
        "exp": now + CONFIG_LIFETIME if expires_at is None else expires_at,
        "mou_until": mou_until,
        "services": [RULES] if services is None else services,
    }
    return jws.sign(claims, private, key.kid, CONFIG_TYP)


def enrolled_home(path: Path, trust: Trust, now: int, *, server: str = "http://127.0.0.1:9",
                  config: str | None = None) -> tuple[TerminalHome, Ed25519PrivateKey]:
    home = TerminalHome(path)
    key = home.create_key(None, unencrypted_for_development=True)
    identity = Identity(TERMINAL_ID, "kia-office:test", server, home.key_id(key), now)
    home.save_full_trust_list(trust.token)
    home.save_config(config or signed_config(trust, now))
    home.save_enrolment(identity, public_jwk(trust.root.public_key()))
    return home, key


def open_terminal(path: Path, trust: Trust, now: int, **options: object) -> Terminal:
    home, key = enrolled_home(path, trust, now, **options)  # type: ignore[arg-type]
    return Terminal.open(home, key, now)

"""The partner's rules as the office signed them for this terminal.

The configuration is a compact JWS, ``typ`` ``kia-config``, signed by an
issuing key of the office (docs/sync-protocol.md).  The terminal already
trusts those keys through the root-signed trust list, so it checks the
signature against the list it holds, with the algorithm pinned per key, and
refuses a configuration made for another terminal or signed by a revoked key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import jwt

from keys import TrustList, jws
from keys.eligibility import is_valid_region
from keys.errors import KiaError
from keys.lifecycle import KeyState

from .decision import ConfigInvalid, Service

CONFIG_TYP = "kia-config"
_CLAIMS = frozenset({"tid", "partner", "version", "iat", "mou_until", "services"})
_MAX_CONFIG_LENGTH = 256 * 1024


@dataclasses.dataclass(frozen=True)
class TerminalConfig:
    terminal_id: str
    partner_name: str
    partner_kind: str
    region: int | None
    version: int
    issued_at: int
    mou_until: dt.date
    services: tuple[Service, ...]

    def service(self, code: str | None = None) -> Service | None:
        """The service this terminal sells: ``code``, or the partner's first one.

        None when the partner has no rules (its agreement is not in force).
        """
        if code is None:
            return self.services[0] if self.services else None
        return next((service for service in self.services if service.code == code), None)


def verify_config(token: str, trust: TrustList, terminal_id: str) -> TerminalConfig:
    """The verified configuration; raises ConfigInvalid with one sentence."""
    if not isinstance(token, str) or len(token) > _MAX_CONFIG_LENGTH:
        raise ConfigInvalid("the terminal configuration is not a compact JWS")
    try:
        header = jws.unverified_header(token, CONFIG_TYP)
    except jws.HeaderProblem:
        raise ConfigInvalid("the terminal configuration is not a kia-config JWS") from None
    payload = _verified_payload(token, trust, str(header["kid"]))
    try:
        claims: Any = json.loads(payload)
    except ValueError:
        raise ConfigInvalid("the terminal configuration's claims are not JSON") from None
    if not isinstance(claims, dict) or set(claims) != _CLAIMS:
        raise ConfigInvalid(f"the terminal configuration holds exactly {', '.join(sorted(_CLAIMS))}")
    if claims["tid"] != terminal_id:
        raise ConfigInvalid("the configuration was made for another terminal")
    partner = claims["partner"]
    try:
        mou_until = dt.date.fromisoformat(claims["mou_until"])
        name, kind = str(partner["name"]), str(partner["kind"])
        region = partner.get("region")
        if region is not None and not is_valid_region(region):
            raise ValueError("the partner's region is not a province or regency code")
        version, issued_at = int(claims["version"]), int(claims["iat"])
        services = tuple(Service.from_json(value) for value in claims["services"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigInvalid(f"the terminal configuration is malformed: {exc}") from None
    return TerminalConfig(terminal_id, name, kind, region, version, issued_at, mou_until, services)


def _verified_payload(token: str, trust: TrustList, kid: str) -> bytes:
    keys = [key for key in trust.keys_with_kid(kid) if key.state is not KeyState.REVOKED]
    for key in keys:  # short kids may collide: try each key with the kid
        try:
            return jws.verify(token, key.public_key, key.alg)
        except (jwt.InvalidTokenError, KiaError):
            continue
    raise ConfigInvalid("the terminal configuration is not signed by a valid issuing key of the office")

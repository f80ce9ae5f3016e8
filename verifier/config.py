"""The partner's rules as the office signed them for this terminal.

The configuration is a compact JWS, ``typ`` ``kia-config``, signed by an
issuing key of the office (docs/sync-protocol.md).  The terminal already
trusts those keys through the root-signed trust list, so it checks the
signature against the list it holds, with the algorithm pinned per key, and
refuses a configuration made for another terminal or signed by a revoked key.

A configuration the office sends (at enrolment, at each sync) must also be
fresh: ``accept_config`` refuses one past its ``exp`` by the terminal's
clock, and one whose ``version`` is lower than the held one's, so a
replaying proxy cannot bring back older rules.  The held configuration
stays in force after either refusal.
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
_CLAIMS = frozenset({"tid", "partner", "version", "iat", "exp", "mou_until", "services"})
# Configurations signed before expiry existed lack ``exp``: still read from the home
# (a terminal offline since keeps working), never taken from the office.
_LEGACY_CLAIMS = _CLAIMS - {"exp"}


class ConfigRefused(ConfigInvalid):
    """A configuration that verifies but must not replace the one held; ``code`` names why."""

    code = "config_refused"


class ConfigOlder(ConfigRefused):
    """The configuration's version is lower than the held one's: a replayed old configuration."""

    code = "config_older"


class ConfigExpired(ConfigRefused):
    """The configuration is past its expiry, or carries none."""

    code = "config_expired"
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
    expires_at: int | None = None  # None only for a held configuration signed before expiry existed

    def service(self, code: str | None = None) -> Service | None:
        """The service this terminal sells: ``code``, or the partner's first one.

        None when the partner has no rules (its agreement is not in force).
        """
        if code is None:
            return self.services[0] if self.services else None
        return next((service for service in self.services if service.code == code), None)


def accept_config(token: str, trust: TrustList, terminal_id: str, now: int,
                  held: TerminalConfig | None) -> TerminalConfig:
    """A configuration from the office, verified and fresh enough to replace ``held``.

    ``now`` is the terminal's own clock (never the office's ``Date``, which a
    proxy could set).  Raises ConfigInvalid when it does not verify,
    ConfigExpired when it is past its ``exp`` (or has none), ConfigOlder when
    its version is lower than the held one's.
    """
    config = verify_config(token, trust, terminal_id)
    if config.expires_at is None or config.expires_at <= now:
        raise ConfigExpired("the office sent rules that have expired; the rules held stay in use "
                            "(check the terminal's clock, then call the office)")
    if held is not None and config.version < held.version:
        raise ConfigOlder(f"the office sent older rules (version {config.version}) than those held "
                          f"(version {held.version}); the rules held stay in use (call the office)")
    return config


def verify_config(token: str, trust: TrustList, terminal_id: str) -> TerminalConfig:
    """The verified configuration, whatever its age; raises ConfigInvalid with one sentence.

    For a configuration from the office use ``accept_config``, which also refuses old ones.
    """
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
    if not isinstance(claims, dict) or set(claims) not in (_CLAIMS, _LEGACY_CLAIMS):
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
        version, issued_at = _integer(claims["version"]), _integer(claims["iat"])
        expires_at = _integer(claims["exp"]) if "exp" in claims else None
        services = tuple(Service.from_json(value) for value in claims["services"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigInvalid(f"the terminal configuration is malformed: {exc}") from None
    return TerminalConfig(terminal_id, name, kind, region, version, issued_at, mou_until, services, expires_at)


def _integer(value: object) -> int:
    """A JSON integer claim (not a float, string or boolean)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("version, iat and exp are integers")
    return value


def _verified_payload(token: str, trust: TrustList, kid: str) -> bytes:
    keys = [key for key in trust.keys_with_kid(kid) if key.state is not KeyState.REVOKED]
    for key in keys:  # short kids may collide: try each key with the kid
        try:
            return jws.verify(token, key.public_key, key.alg)
        except (jwt.InvalidTokenError, KiaError):
            continue
    raise ConfigInvalid("the terminal configuration is not signed by a valid issuing key of the office")

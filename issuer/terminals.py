"""Partners' terminals: registration, enrolment, states, their signed rules and their tokens.

An officer registers a terminal and hands its one-time enrolment code to the
partner; ``enroll`` turns the code and the terminal's public key into an
active terminal; ``terminal_config`` signs the partner's rules for it;
``authenticate_terminal`` checks the signed token of each request
(docs/sync-protocol.md), spending its jti once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import secrets
import weakref
from typing import Any

from sqlalchemy import JSON, Integer, String, column, delete, select, text, update
from sqlalchemy.orm import Session

from keys import active_key, jws, kid_for, load_public_jwk, thumbprint
from keys.chain import (
    MAX_SYNC_TOKEN_LIFETIME,
    SYNC_CLOCK_LEEWAY,
    InvalidSyncToken,
    verify_sync_token,
)
from keys.errors import KeyFileInvalid
from keys.jwk import b64url_encode
from keys.serial import ALPHABET

from . import transparency
from .audit import Actor
from .audit import record as audit
from .errors import (
    EnrolmentRefused,
    Invalid,
    MouNotInForce,
    PartnerNotFound,
    Refused,
    TerminalNotFound,
    TerminalSuspended,
)
from .issuing_keys import KeyUnlock, active_signer
from .partners import mou_active, service_rules
from .storage.models import (
    IssuingKeyRow,
    Office,
    Partner,
    PartnerService,
    SyncTokenSeen,
    Terminal,
    TerminalStateChange,
)
from .storage.store import IssuerHome, issuing_key

CONFIG_TYP = "kia-config"
# A terminal refuses a configuration past its expiry, so a replayed old one cannot live
# for ever; terminals fetch a fresh one at every sync (docs/sync-protocol.md).
CONFIG_LIFETIME = 30 * 86400
CONFIG_DIGEST_BYTES = 16  # 128 bits tell one configuration's content from another's
CONTACT_RESOLUTION = 300  # seconds: an idle pull refreshes a terminal's last sync once in five minutes at most
ENROLMENT_CODE_LIFETIME = 7 * 86400
STATE_VERBS = {"active": "activate", "suspended": "suspend", "retired": "retire"}  # audit actions
_CODE_GROUPS, _CODE_GROUP_LENGTH = 3, 4


@dataclasses.dataclass(frozen=True)
class Enrolment:
    terminal_id: str
    audience: str
    root_jwk: dict[str, Any]
    config: str


def _audience(session: Session) -> str:
    """The audience terminals name in their sync tokens: this office."""
    return _audience_of(session.get_one(Office, 1).root_kid)


def _audience_of(root_kid: str) -> str:
    return f"kia-office:{root_kid}"


def enroll(home: IssuerHome, unlock: KeyUnlock, code: str, public_jwk: object, now: int, *, by: Actor) -> Enrolment:
    """Activate the terminal that ``code`` was made for, with the terminal's public key."""
    try:
        public_key = load_public_jwk(public_jwk)
    except KeyFileInvalid as exc:
        raise EnrolmentRefused(f"the terminal key is not usable: {exc}") from None
    refused = EnrolmentRefused("the enrolment code is unknown, used or expired; ask the office for a new one")
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": public_jwk["x"], "kid": kid_for(public_key)}  # type: ignore[index]
    hashed = code_hash(code)
    with home.transaction() as session:
        # Spend the code first, in one conditional UPDATE: of requests racing with one code, the
        # database lets exactly one match (SQLite serialises writers; PostgreSQL re-checks the
        # WHERE after the winner commits).  A refusal below rolls the spending back.
        spent = session.execute(
            update(Terminal)
            .where(Terminal.enrolment_code_hash == hashed, Terminal.state == "pending",
                   Terminal.enrolment_expires_at > now)
            .values(state="active", enrolled_at=now, enrolment_code_hash=None)
            .returning(Terminal.id)
            .execution_options(synchronize_session=False)
        ).scalars().all()
        if len(spent) != 1:
            raise refused
        terminal = session.get_one(Terminal, spent[0], populate_existing=True)
        enrolled = session.scalars(select(Terminal.public_jwk).where(Terminal.public_jwk.is_not(None)))
        if any(row == jwk for row in enrolled):
            raise EnrolmentRefused("this key already belongs to another terminal; make a new key")
        terminal.public_jwk = jwk
        session.add(TerminalStateChange(terminal_id=terminal.id, at=now, state="active"))
        transparency.record_fact(session, "terminal_enrolled", terminal.id, now, terminal=terminal.id,
                                 partner=terminal.partner_id, jwk=jwk)
        audit(session, by, "terminal_enrol", terminal.id, now)
        office = session.get_one(Office, 1)
        config = _signed_config(session, home, unlock, terminal, now)
        return Enrolment(terminal.id, _audience(session), office.root_jwk, config)


def terminal_config(home: IssuerHome, unlock: KeyUnlock, terminal_id: str, now: int) -> str:
    """The terminal's configuration, freshly signed (as every sync got it before issue 14)."""
    with home.transaction() as session:
        return _signed_config(session, home, unlock, session.get_one(Terminal, terminal_id), now)


@dataclasses.dataclass(frozen=True)
class ConfigAnswer:
    """What the office answers a configuration pull: a signed token, or None when the held one is current."""

    token: str | None
    tag: str  # the ETag: the configuration's version and a digest of what it says (config_tag)


def current_config(home: IssuerHome, unlock: KeyUnlock, terminal_id: str, now: int,
                   if_none_match: str | None) -> ConfigAnswer:
    """The terminal's configuration, signed only when the one it holds is no longer current.

    ``if_none_match`` is the request's If-None-Match: when it names a
    configuration saying what the office would sign now, signed less than
    half of CONFIG_LIFETIME ago, the answer carries no token (304) and
    nothing is signed.  Otherwise a configuration is signed with version
    ``now``, as every pull got before (docs/sync-protocol.md).  The tag
    needs no cache: any worker, on any machine, judges it alike.
    """
    with home.transaction() as session:
        terminal = session.get_one(Terminal, terminal_id)
        _note_contact(terminal, now)
        content, kid = _config_content(session, terminal, now), _active_kid(session)
        digest = config_digest(content, kid)
        held = _held_version(if_none_match, digest)
        if held is not None and now - CONFIG_LIFETIME // 2 < held <= now + SYNC_CLOCK_LEEWAY:
            return ConfigAnswer(None, config_tag(held, digest))
        return ConfigAnswer(_sign_config(session, home, unlock, content, now), config_tag(now, digest))


def _note_contact(terminal: Terminal, now: int) -> None:
    """An authenticated pull is a sync too: a terminal with nothing to push is not offline.

    The partner page warns of a terminal silent for a day (its ``last_sync_at``),
    which only a push set before, so a terminal at a quiet counter looked offline
    while it polled every minute.  Written at most every CONTACT_RESOLUTION, so
    that most idle polls write nothing.
    """
    if terminal.last_sync_at is None or now - terminal.last_sync_at >= CONTACT_RESOLUTION:
        terminal.last_sync_at = now


def config_digest(content: dict[str, Any], kid: str) -> str:
    """A digest of what a configuration says (everything but its times) and of the key that signs it."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return b64url_encode(hashlib.sha256(f"{kid}\n{canonical}".encode("ascii")).digest()[:CONFIG_DIGEST_BYTES])


def config_tag(version: int, digest: str) -> str:
    """The strong ETag of the configuration of ``version`` saying ``digest``: its bytes follow from both
    (JSON made alike, Ed25519 signatures deterministic)."""
    return f'"{version}.{digest}"'


def _held_version(if_none_match: str | None, digest: str) -> int | None:
    """The version of the newest configuration named in If-None-Match that says ``digest``, if any."""
    versions = []
    for tag in (if_none_match or "").split(","):
        version, _, said = tag.strip().removeprefix("W/").strip('"').partition(".")
        if said == digest and version.isdigit() and len(version) <= 12:
            versions.append(int(version))
    return max(versions, default=None)


def _signed_config(session: Session, home: IssuerHome, unlock: KeyUnlock, terminal: Terminal, now: int) -> str:
    """The partner's rules for ``terminal``, signed by the active issuing key."""
    return _sign_config(session, home, unlock, _config_content(session, terminal, now), now)


def _config_content(session: Session, terminal: Terminal, now: int) -> dict[str, Any]:
    """What the terminal's configuration says, without its times: the partner, its rules, its MoU.

    A partner whose MoU is not in force gets no services.
    """
    partner = session.get_one(Partner, terminal.partner_id)
    services = session.scalars(
        select(PartnerService).where(PartnerService.partner_id == partner.id).order_by(PartnerService.code)
    )
    in_force = mou_active(partner, now)
    return {
        "tid": terminal.id,
        "partner": {"id": partner.id, "name": partner.name, "kind": partner.kind, "cluster": partner.cluster,
                    "region": partner.region},  # the terminal counts days in the region's time zone
        "mou_until": partner.mou_end.isoformat(),
        "services": [service_rules(row).to_json() for row in services] if in_force else [],
    }


def _active_kid(session: Session) -> str:
    """The kid of the issuing key that signs now (a rotation makes every configuration new)."""
    return active_key([issuing_key(row) for row in
                       session.scalars(select(IssuingKeyRow).where(IssuingKeyRow.state == "active"))]).kid


def _sign_config(session: Session, home: IssuerHome, unlock: KeyUnlock, content: dict[str, Any], now: int) -> str:
    claims = {**content, "version": now, "iat": now, "exp": now + CONFIG_LIFETIME}
    key, private = active_signer(session, home, unlock)
    return jws.sign(claims, private, key.kid, CONFIG_TYP)


def authenticate_terminal(home: IssuerHome, token: str, now: int) -> str:
    """The terminal a sync token proves, its jti spent in a transaction of its own.

    A token is good for one request, whatever becomes of that request: the
    jti is committed before the request's own work starts.  Raises
    InvalidSyncToken, or TerminalSuspended for a suspended terminal.

    One round trip reads the terminal's key and state and the office's
    audience and spends the jti, for an active or suspended terminal only
    (on PostgreSQL one statement; on SQLite two, in process); the token is
    then verified in full before that transaction commits, so a token that
    fails any check spends nothing.  Nothing is cached between requests:
    the database stays the one truth for every worker and machine, and a
    suspension counts from the next request (docs/sync-protocol.md).
    """
    claimed = _claimed_unverified(token)
    if claimed is None:  # not even well-formed: no query; verify_sync_token says what is wrong
        verify_sync_token(token, lambda _: None, "", now)
        raise InvalidSyncToken("the sync token is not a terminal's token")
    terminal_id, jti, expires_at = claimed
    kept_until = min(expires_at, now + MAX_SYNC_TOKEN_LIFETIME) + SYNC_CLOCK_LEEWAY
    with home.transaction() as session:
        found = _read_and_spend(session, terminal_id, jti, kept_until)
        if found is None:
            raise InvalidSyncToken("the sync token names no active terminal")
        state, jwk, root_kid, spent = found
        key = load_public_jwk(jwk)
        claims = verify_sync_token(token, lambda named: key if named == terminal_id else None,
                                   _audience_of(root_kid), now)  # raises: the jti's spending is rolled back
        if (claims.terminal, claims.jti, claims.expires_at) != claimed:
            raise InvalidSyncToken("the sync token is not a terminal's token")
        if not spent:
            raise InvalidSyncToken("this sync token was already used; make a new one for every request")
        if _cleanup_due(home, now):
            forget_spent_jtis(session, now)
    if state == "suspended":
        raise TerminalSuspended("the office has suspended this terminal; call the office")
    return terminal_id


# Database-safe words, checked before a claim read unverified reaches a query (PostgreSQL refuses
# NUL in text); verify_sync_token checks the exact forms before anything commits.
_QUERYABLE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_MAX_TOKEN_CHARS = 2048  # as verify_sync_token


def _claimed_unverified(token: object) -> tuple[str, str, int] | None:
    """The terminal, jti and exp a token claims, NOT verified; None when they are not plainly there."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS:
        return None
    try:
        claims = json.loads(jws.split_compact(token)[1])
    except (ValueError, RecursionError):  # also binascii.Error, UnicodeDecodeError, JSONDecodeError
        return None
    if not isinstance(claims, dict):
        return None
    terminal_id, jti, expires_at = claims.get("iss"), claims.get("jti"), claims.get("exp")
    if not (isinstance(terminal_id, str) and _QUERYABLE.fullmatch(terminal_id) and isinstance(jti, str)
            and _QUERYABLE.fullmatch(jti) and type(expires_at) is int and abs(expires_at) < 2**62):
        return None
    return terminal_id, jti, expires_at


# PostgreSQL: the terminal's key and state, the office's audience and the jti's spending in one
# statement.  A data-modifying WITH runs once, to completion; ON CONFLICT waits for a racing
# request with the same jti and inserts nothing once that one commits.
_READ_AND_SPEND_POSTGRESQL = text("""
    WITH terminal AS (
        SELECT terminals.state, terminals.public_jwk, office.root_kid FROM terminals, office
        WHERE terminals.id = :terminal_id AND office.id = 1
          AND terminals.state IN ('active', 'suspended') AND terminals.public_jwk IS NOT NULL),
    spent AS (
        INSERT INTO sync_tokens_seen (jti, terminal_id, expires_at)
        SELECT :jti, :terminal_id, :kept_until FROM terminal
        ON CONFLICT (jti) DO NOTHING RETURNING jti)
    SELECT state, public_jwk, root_kid, (SELECT count(*) FROM spent) AS spent FROM terminal
""").columns(column("state", String), column("public_jwk", JSON), column("root_kid", String),
             column("spent", Integer))
_READ_TERMINAL = text("""
    SELECT terminals.state, terminals.public_jwk, office.root_kid FROM terminals, office
    WHERE terminals.id = :terminal_id AND office.id = 1
      AND terminals.state IN ('active', 'suspended') AND terminals.public_jwk IS NOT NULL
""").columns(column("state", String), column("public_jwk", JSON), column("root_kid", String))
_SPEND = text("INSERT INTO sync_tokens_seen (jti, terminal_id, expires_at) VALUES (:jti, :terminal_id, :kept_until) "
              "ON CONFLICT (jti) DO NOTHING")


def _read_and_spend(session: Session, terminal_id: str, jti: str,
                    kept_until: int) -> tuple[str, dict[str, Any], str, bool] | None:
    """(state, public JWK, root kid, whether this request spent the jti) for an active or suspended
    terminal, or None (unknown, pending or retired: nothing spent)."""
    values = {"terminal_id": terminal_id, "jti": jti, "kept_until": kept_until}
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(_READ_AND_SPEND_POSTGRESQL, values).one_or_none()
        return None if row is None else (row.state, row.public_jwk, row.root_kid, row.spent == 1)
    found = session.execute(_READ_TERMINAL, values).one_or_none()  # SQLite: in process, no round trip
    if found is None:
        return None
    spent = session.execute(_SPEND, values).rowcount == 1  # type: ignore[attr-defined]
    return found.state, found.public_jwk, found.root_kid, spent


# Each worker forgets expired jtis at most once a minute of its clock, not at every request.  Only
# rows whose tokens every worker already refuses as expired are deleted, so how often this runs
# never lets a replay through; it only bounds the table.
JTI_CLEANUP_INTERVAL = 60
_last_cleanup: weakref.WeakKeyDictionary[IssuerHome, int] = weakref.WeakKeyDictionary()


def _cleanup_due(home: IssuerHome, now: int) -> bool:
    last = _last_cleanup.get(home)
    if last is not None and last <= now < last + JTI_CLEANUP_INTERVAL:
        return False
    _last_cleanup[home] = now
    return True


def forget_spent_jtis(session: Session, now: int) -> int:
    """Delete the jtis of tokens that can no longer be used (past exp and the clock leeway); how many."""
    forgotten = session.execute(delete(SyncTokenSeen).where(SyncTokenSeen.expires_at < now - SYNC_CLOCK_LEEWAY))
    return int(forgotten.rowcount)  # type: ignore[attr-defined]


@dataclasses.dataclass(frozen=True)
class Registration:
    terminal_id: str
    enrolment_code: str  # shown once; only its hash is kept
    expires_at: int
    root_fingerprint: str  # handed over with the code: the terminal checks the office's root key by it


MAX_OVERRIDE_REASON = 80  # the reason fits whole in the audit event's target, beside the terminal's id


def register_terminal(home: IssuerHome, partner_id: int, name: str, now: int, *, by: Actor,
                      mou_override: str | None = None) -> Registration:
    """Register a terminal for a partner and make its one-time enrolment code.

    A partner whose MoU is not in force on its local day (ended, or not yet
    started) gets no terminal: raises MouNotInForce, unless ``mou_override``
    gives the reason to register one anyway (a renewal being signed), which
    the audit trail keeps beside the terminal.
    """
    if not 0 < len(name.strip()) <= 200:
        raise Invalid("the terminal's name is 1 to 200 characters")
    reason = " ".join((mou_override or "").split())
    if mou_override is not None and not 0 < len(reason) <= MAX_OVERRIDE_REASON:
        raise Invalid(f"the reason for registering outside the MoU is 1 to {MAX_OVERRIDE_REASON} characters")
    code = "-".join(
        "".join(secrets.choice(ALPHABET) for _ in range(_CODE_GROUP_LENGTH)) for _ in range(_CODE_GROUPS)
    )
    terminal_id = "T-" + "".join(secrets.choice(ALPHABET) for _ in range(8))
    with home.transaction() as session:
        partner = session.get(Partner, partner_id)
        if partner is None:
            raise PartnerNotFound(f"there is no partner {partner_id}")
        outside = not mou_active(partner, now)
        if outside and not reason:
            raise MouNotInForce(f"partner {partner_id}'s MoU runs {partner.mou_start.isoformat()} to "
                                f"{partner.mou_end.isoformat()}: renew it first, or register with an override "
                                "and its reason")
        session.add(
            Terminal(
                id=terminal_id,
                partner_id=partner_id,
                name=name.strip(),
                state="pending",
                created_at=now,
                enrolment_code_hash=code_hash(code),
                enrolment_expires_at=now + ENROLMENT_CODE_LIFETIME,
                acknowledged_seq=0,
                chain_hash="0" * 64,
            )
        )
        transparency.record_fact(session, "terminal_registered", terminal_id, now, terminal=terminal_id,
                                 partner=partner_id)
        audit(session, by, "terminal_register", terminal_id, now)
        if outside:
            audit(session, by, "terminal_register_mou_override", f"{terminal_id}: {reason}", now)
        fingerprint = root_fingerprint(session)
    return Registration(terminal_id, code, now + ENROLMENT_CODE_LIFETIME, fingerprint)


def root_fingerprint(session: Session) -> str:
    """The office's root key as terminals check it at enrolment: its RFC 7638 thumbprint (base64url)."""
    return thumbprint(load_public_jwk(session.get_one(Office, 1).root_jwk))


def office_root(home: IssuerHome) -> dict[str, Any]:
    """The office's root public JWK, which terminals pin at enrolment."""
    with home.transaction() as session:
        return dict(session.get_one(Office, 1).root_jwk)


def code_hash(code: str) -> str:
    """The hash kept for an enrolment code, forgiving case, spaces and dashes."""
    normalized = code.strip().upper().replace("-", "").replace(" ", "")
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


class TerminalStateRefused(Refused):
    """A retired terminal never comes back, and one never enrolled can only be retired."""


def set_terminal_state(home: IssuerHome, terminal_id: str, state: str, now: int, *, by: Actor) -> None:
    """Suspend, reactivate or retire a terminal (a retired one never comes back)."""
    if state not in STATE_VERBS:
        raise Invalid("a terminal is set active, suspended or retired")
    with home.transaction() as session:
        terminal = session.get(Terminal, terminal_id, with_for_update=True)
        if terminal is None:
            raise TerminalNotFound(f"there is no terminal {terminal_id}")
        if terminal.state == "retired" or (state != "retired" and terminal.public_jwk is None):
            raise TerminalStateRefused(f"terminal {terminal_id} is {terminal.state} and cannot become {state}")
        terminal.state = state
        if terminal.public_jwk is not None:  # a code never used has no history to keep
            session.add(TerminalStateChange(terminal_id=terminal_id, at=now, state=state))
        transparency.record_fact(session, "terminal_state", terminal_id, now, terminal=terminal_id, state=state)
        audit(session, by, f"terminal_{STATE_VERBS[state]}", terminal_id, now)


# --- reading ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TerminalRecord:
    """A terminal as the partner page lists it (never its key or enrolment code)."""

    id: str
    partner_id: int
    name: str
    state: str
    enrolled_at: int | None
    acknowledged_seq: int
    last_sync_at: int | None


def terminals_of(home: IssuerHome, partner_id: int) -> list[TerminalRecord]:
    with home.transaction() as session:
        rows = session.scalars(select(Terminal).where(Terminal.partner_id == partner_id).order_by(Terminal.id))
        return [TerminalRecord(row.id, row.partner_id, row.name, row.state, row.enrolled_at, row.acknowledged_seq,
                               row.last_sync_at) for row in rows]

"""People who sign in, their roles, and the events of their sessions.

Roles: ``admin`` (everything, and people), ``officer`` (cards, partners,
terminals, keys), ``partner_manager`` (only their own partner's terminals,
redemptions and revenue), ``auditor`` (reads everything, changes nothing),
``institution`` (a school's or clinic's account: only its own institution's
batches).
Passwords are hashed with Argon2id (argon2-cffi) and rehashed on sign-in
when the parameters change.

Guessing is throttled before any password is hashed, with the counts kept
in the database so that every worker sees them: ``ACCOUNT_LOCK_FAILURES``
wrong passwords for one username within ``FAILURE_WINDOW`` lock that account
(audited as ``sign_in_locked``), ``ADDRESS_FAILURES`` from one address
refuse that address, each until enough failures leave the window.

A sign-in opens a session kept by the office (``sign_in_sessions``); its
cookie carries a random token of which the office keeps only the SHA-256.
Signing out ends that session; a password reset or disabling a person ends
all of theirs, so a copied cookie stops working at once.

Every change to a person is audited in the transaction that makes it; no
password ever reaches a log, an audit event or an error message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from .audit import USERNAME_LENGTH, Actor
from .audit import record as audit
from .errors import AccountLocked, AddressThrottled, Invalid, Refused, UnknownUser
from .storage.models import ROLES, Institution, Partner, SignInFailure, SignInSession, User
from .storage.store import IssuerHome

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200
FAILURE_WINDOW = 15 * 60  # seconds in which wrong passwords are counted
ACCOUNT_LOCK_FAILURES = 10  # for one username, from anywhere: the account is locked
ADDRESS_FAILURES = 30  # from one address, whichever usernames: the address is refused
SESSION_LIFETIME = 12 * 3600  # a session ends this long after its sign-in, however busy
_HASHER = PasswordHasher()  # argon2-cffi's defaults (RFC 9106's low-memory profile); tests use cheaper ones
_dummy: tuple[PasswordHasher, str] | None = None


def _dummy_hash() -> str:
    """Verified against when the username is unknown, so that both cases take as long.

    Made with the hasher in use on first need (never at import: every kia command would pay for it).
    """
    global _dummy
    if _dummy is None or _dummy[0] is not _HASHER:
        _dummy = (_HASHER, _HASHER.hash("not a real password, only for timing"))
    return _dummy[1]


@dataclasses.dataclass(frozen=True)
class Person:
    id: int
    username: str
    role: str
    partner_id: int | None
    session_id: str = ""  # the token of the session signed in with, which its cookie carries
    institution_id: int | None = None  # the school or clinic an institution account acts for

    @property
    def can_change(self) -> bool:
        return self.role in ("admin", "officer")

    def may_see_partner(self, partner_id: int) -> bool:
        return self.role != "partner_manager" or self.partner_id == partner_id

    def may_see_institution(self, institution_id: int | None) -> bool:
        """Office staff see every institution; an institution's account only its own."""
        return self.role != "institution" or (institution_id is not None and self.institution_id == institution_id)


def _person(user: User) -> Person:
    return Person(user.id, user.username, user.role, user.partner_id, institution_id=user.institution_id)


def _check_role(session: Session, role: str, partner_id: int | None, institution_id: int | None = None) -> None:
    if role not in ROLES:
        raise Invalid(f"the role is one of: {', '.join(ROLES)}")
    if (role == "partner_manager") != (partner_id is not None):
        raise Invalid("a partner manager needs a partner, and only a partner manager has one")
    if (role == "institution") != (institution_id is not None):
        raise Invalid("a school's or clinic's account needs its institution, and only such an account has one")
    if partner_id is not None and session.get(Partner, partner_id) is None:
        raise Invalid(f"there is no partner {partner_id}")
    if institution_id is not None and session.get(Institution, institution_id) is None:
        raise Invalid(f"there is no institution {institution_id}")


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise Invalid(f"a password is {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")


class UsernameTaken(Refused):
    """Another person already signs in with that username."""


class OwnAccount(Refused):
    """An admin may not disable their own account or change their own role."""


class LastAdmin(Refused):
    """The change would leave the office without an active admin."""


def create_user(home: IssuerHome, username: str, password: str, role: str, partner_id: int | None, now: int, *,
                by: Actor, institution_id: int | None = None) -> Person:
    username = username.strip().lower()
    if not (3 <= len(username) <= 64 and username.replace(".", "").replace("_", "").replace("-", "").isalnum()):
        raise Invalid("a username is 3 to 64 letters, digits, dots, dashes or underscores")
    _check_password(password)
    with home.transaction() as session:
        _check_role(session, role, partner_id, institution_id)
        if session.scalars(select(User.id).where(User.username == username)).first() is not None:
            raise UsernameTaken(f"the username {username} is taken")
        user = User(username=username, password_hash=_HASHER.hash(password), role=role, partner_id=partner_id,
                    institution_id=institution_id, active=True, created_at=now)
        session.add(user)
        session.flush()
        audit(session, by, "user_add", f"{username}: {role}" + _of(None, institution_id), now)
        return _person(user)


@dataclasses.dataclass(frozen=True)
class Account:
    """A person as the user pages list them (never their password hash)."""

    id: int
    username: str
    role: str
    partner_id: int | None
    partner_name: str | None
    active: bool
    created_at: int
    institution_id: int | None = None
    institution_name: str | None = None


def accounts(home: IssuerHome) -> list[Account]:
    with home.transaction() as session:
        rows = session.execute(
            select(User, Partner.name, Institution.name).outerjoin(Partner, Partner.id == User.partner_id)
            .outerjoin(Institution, Institution.id == User.institution_id).order_by(User.username)
        )
        return [Account(user.id, user.username, user.role, user.partner_id, name, user.active, user.created_at,
                        user.institution_id, institution) for user, name, institution in rows]


def _of(partner_id: int | None, institution_id: int | None) -> str:
    """The audit target's tail naming whose account it is."""
    if partner_id is not None:
        return f" of partner {partner_id}"
    return f" of institution {institution_id}" if institution_id is not None else ""


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id, with_for_update=True)
    if user is None:
        raise UnknownUser("there is no such person")
    return user


def _lock_admins(session: Session) -> list[int]:
    """The active admins' ids, locked until the transaction ends, before anything else is read.

    Two admins disabling each other at once must not both count two admins.
    PostgreSQL locks the rows, in id order so that two such changes cannot
    deadlock, and re-reads them once the other change commits.  SQLite has no
    row locks: a write that changes nothing takes its one write lock first,
    so the second change waits and then counts what the first left.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(User).where(User.role == "admin").values(active=User.active)
                        .execution_options(synchronize_session=False))
    admins = select(User.id).where(User.role == "admin", User.active.is_(True)).order_by(User.id)
    return list(session.scalars(admins.with_for_update()).all())


def _keep_an_admin(user: User, admins: list[int], by: Actor) -> None:
    """Refuse a change that would leave the office without an active admin, or lock the admin out.

    ``admins`` are the active admins as ``_lock_admins`` locked them.
    """
    if user.id == by.user_id:
        raise OwnAccount("you cannot disable yourself or change your own role; ask another admin")
    if user.id in admins and len(admins) <= 1:
        raise LastAdmin("this is the last active admin; make another admin first")


def change_role(home: IssuerHome, user_id: int, role: str, partner_id: int | None, now: int, *,
                by: Actor, institution_id: int | None = None) -> Person:
    with home.transaction() as session:
        admins = _lock_admins(session) if role != "admin" else []
        user = _user(session, user_id)
        _check_role(session, role, partner_id, institution_id)
        if role != "admin":
            _keep_an_admin(user, admins, by)
        user.role, user.partner_id, user.institution_id = role, partner_id, institution_id
        target = f"{user.username}: {role}" + _of(partner_id, institution_id)
        audit(session, by, "user_role", target, now)
        return _person(user)


def set_active(home: IssuerHome, user_id: int, active: bool, now: int, *, by: Actor) -> Person:
    """Enable or disable a person; disabling ends all their sessions at once."""
    with home.transaction() as session:
        admins = [] if active else _lock_admins(session)
        user = _user(session, user_id)
        if not active:
            _keep_an_admin(user, admins, by)
            _end_all_sessions(session, user.id)
        user.active = active
        audit(session, by, "user_enable" if active else "user_disable", user.username, now)
        return _person(user)


def reset_password(home: IssuerHome, user_id: int, password: str, now: int, *, by: Actor) -> Person:
    """Give a person a new password; all their sessions end, and a lock on their account is lifted."""
    _check_password(password)
    with home.transaction() as session:
        user = _user(session, user_id)
        user.password_hash = _HASHER.hash(password)
        _end_all_sessions(session, user.id)
        session.execute(delete(SignInFailure).where(SignInFailure.username == user.username))
        audit(session, by, "user_password_reset", user.username, now)
        return _person(user)


# --- signing in: throttled before hashing ------------------------------------------------


def authenticate_person(home: IssuerHome, username: str, password: str, remote_addr: str | None, now: int, *,
                        via: str | None = None) -> Person | None:
    """The person if the password is theirs and they are active; None otherwise, the failure counted and audited.

    Raises AccountLocked or AddressThrottled (TooManySignIns, with the seconds
    to wait) before hashing anything when too many wrong passwords came lately
    for this username or from this address.  ``via`` names the way in for the
    audit trail (``api`` for the audit export; None for the pages).
    """
    name, address = username.strip().lower()[:USERNAME_LENGTH], remote_addr or "?"
    with home.transaction() as session:
        _refuse_if_throttled(session, name, address, now)
        user = session.scalars(select(User).where(User.username == name)).first()
        stored = user.password_hash if user is not None else None
    # Hashed outside the transaction: PostgreSQL's connections are not held for the length of a hash.
    try:
        _HASHER.verify(stored or _dummy_hash(), password)
        right = user is not None and user.active
    except (VerificationError, InvalidHashError):
        right = False
    with home.transaction() as session:
        if user is None or not right:
            _count_failure(session, Actor(name, address), via, now)
            return None
        if _HASHER.check_needs_rehash(user.password_hash):
            session.execute(update(User).where(User.id == user.id).values(password_hash=_HASHER.hash(password)))
        return _person(user)


def _refuse_if_throttled(session: Session, name: str, address: str, now: int) -> None:
    wait = _wait(session, SignInFailure.username == name, ACCOUNT_LOCK_FAILURES, now)
    if wait:
        raise AccountLocked(f"this account is locked after {ACCOUNT_LOCK_FAILURES} wrong passwords; try again in "
                            f"{_minutes(wait)} minutes, or ask an admin to reset its password", wait)
    wait = _wait(session, SignInFailure.remote_addr == address, ADDRESS_FAILURES, now)
    if wait:
        raise AddressThrottled(f"too many wrong passwords from this address; try again in {_minutes(wait)} minutes",
                               wait)


def _wait(session: Session, which: ColumnElement[bool], limit: int, now: int) -> int:
    """Seconds until fewer than ``limit`` failures that match ``which`` remain in the window; 0 if fewer now."""
    recent = session.scalars(select(SignInFailure.at).where(which, SignInFailure.at > now - FAILURE_WINDOW)
                             .order_by(SignInFailure.at.desc()).limit(limit)).all()
    return max(1, recent[-1] + FAILURE_WINDOW - now) if len(recent) >= limit else 0


def _minutes(seconds: int) -> int:
    return -(-seconds // 60)


def _count_failure(session: Session, tried: Actor, via: str | None, now: int) -> None:
    """Count and audit a wrong password; the failure that reaches the limit locks the account, audited too."""
    session.execute(delete(SignInFailure).where(SignInFailure.at <= now - FAILURE_WINDOW))  # counted no more
    session.add(SignInFailure(at=now, username=tried.username, remote_addr=tried.remote_addr))
    audit(session, tried, "sign_in_failed", via, now)
    session.flush()
    failures = session.scalar(select(func.count()).where(SignInFailure.username == tried.username,
                                                         SignInFailure.at > now - FAILURE_WINDOW))
    if failures == ACCOUNT_LOCK_FAILURES:
        audit(session, tried, "sign_in_locked", f"{failures} wrong passwords in {FAILURE_WINDOW // 60} minutes", now)


# --- sessions, kept by the office -------------------------------------------------------------


def _session_row_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _end_all_sessions(session: Session, user_id: int) -> None:
    session.execute(delete(SignInSession).where(SignInSession.user_id == user_id))


def start_session(home: IssuerHome, person: Person, now: int, *, by: Actor) -> Person:
    """Open a session for ``person`` who just signed in (audited); the result carries its token.

    The right password also clears the account's count of wrong ones.
    """
    token = secrets.token_urlsafe(32)
    with home.transaction() as session:
        session.execute(delete(SignInSession).where(SignInSession.created_at <= now - SESSION_LIFETIME))
        session.execute(delete(SignInFailure).where(SignInFailure.username == person.username))
        session.add(SignInSession(id=_session_row_id(token), user_id=person.id, created_at=now))
        audit(session, by, "sign_in", None, now)
    return dataclasses.replace(person, session_id=token)


def session_person(home: IssuerHome, token: str, now: int) -> Person | None:
    """The active person whose open session ``token`` names; None once it ended or its person was disabled."""
    with home.transaction() as session:
        user = session.scalars(
            select(User).join(SignInSession, SignInSession.user_id == User.id)
            .where(SignInSession.id == _session_row_id(token), SignInSession.created_at > now - SESSION_LIFETIME,
                   User.active.is_(True))
        ).first()
        return dataclasses.replace(_person(user), session_id=token) if user is not None else None


def end_session(home: IssuerHome, token: str, now: int, *, by: Actor) -> None:
    """Sign out: the session named by ``token`` ends, whoever holds a copy of its cookie (audited)."""
    with home.transaction() as session:
        session.execute(delete(SignInSession).where(SignInSession.id == _session_row_id(token)))
        audit(session, by, "sign_out", None, now)

"""People who sign in, their roles, and the events of their sessions.

Roles: ``admin`` (everything, and people), ``officer`` (cards, partners,
terminals, keys), ``partner_manager`` (only their own partner's terminals,
redemptions and revenue), ``auditor`` (reads everything, changes nothing).
Passwords are hashed with Argon2id (argon2-cffi) and rehashed on sign-in
when the parameters change.  A person's sessions name a digest of their
password hash (``Person.session_key``), so a new password ends them.
Every change to a person is audited in the transaction that makes it; no
password ever reaches a log, an audit event or an error message.
"""

from __future__ import annotations

import dataclasses
import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from .audit import Actor
from .audit import record as audit
from .errors import Invalid, Refused, UnknownUser
from .storage.models import ROLES, Partner, User
from .storage.store import IssuerHome

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200
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
    session_key: str = ""  # changes with the password: a reset ends the person's sessions

    @property
    def can_change(self) -> bool:
        return self.role in ("admin", "officer")

    def may_see_partner(self, partner_id: int) -> bool:
        return self.role != "partner_manager" or self.partner_id == partner_id


def _person(user: User) -> Person:
    return Person(user.id, user.username, user.role, user.partner_id, session_key(user.password_hash))


def session_key(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("ascii")).hexdigest()[:16]


def _check_role(session: Session, role: str, partner_id: int | None) -> None:
    if role not in ROLES:
        raise Invalid(f"the role is one of: {', '.join(ROLES)}")
    if (role == "partner_manager") != (partner_id is not None):
        raise Invalid("a partner manager needs a partner, and only a partner manager has one")
    if partner_id is not None and session.get(Partner, partner_id) is None:
        raise Invalid(f"there is no partner {partner_id}")


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise Invalid(f"a password is {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")


def create_user(home: IssuerHome, username: str, password: str, role: str, partner_id: int | None, now: int, *,
                by: Actor) -> Person:
    username = username.strip().lower()
    if not (3 <= len(username) <= 64 and username.replace(".", "").replace("_", "").replace("-", "").isalnum()):
        raise Invalid("a username is 3 to 64 letters, digits, dots, dashes or underscores")
    _check_password(password)
    with home.transaction() as session:
        _check_role(session, role, partner_id)
        if session.scalars(select(User.id).where(User.username == username)).first() is not None:
            raise Refused(f"the username {username} is taken")
        user = User(username=username, password_hash=_HASHER.hash(password), role=role, partner_id=partner_id,
                    active=True, created_at=now)
        session.add(user)
        session.flush()
        audit(session, by, "user_add", f"{username}: {role}", now)
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


def accounts(home: IssuerHome) -> list[Account]:
    with home.transaction() as session:
        rows = session.execute(
            select(User, Partner.name).outerjoin(Partner, Partner.id == User.partner_id).order_by(User.username)
        )
        return [Account(user.id, user.username, user.role, user.partner_id, name, user.active, user.created_at)
                for user, name in rows]


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id, with_for_update=True)
    if user is None:
        raise UnknownUser("there is no such person")
    return user


def _keep_an_admin(session: Session, user: User, by: Actor) -> None:
    """Refuse a change that would leave the office without an active admin, or lock the admin out."""
    if user.id == by.user_id:
        raise Refused("you cannot disable yourself or change your own role; ask another admin")
    if user.role == "admin" and user.active:
        admins = session.scalars(select(User.id).where(User.role == "admin", User.active.is_(True))).all()
        if len(admins) <= 1:
            raise Refused("this is the last active admin; make another admin first")


def change_role(home: IssuerHome, user_id: int, role: str, partner_id: int | None, now: int, *,
                by: Actor) -> Person:
    with home.transaction() as session:
        user = _user(session, user_id)
        _check_role(session, role, partner_id)
        if role != "admin":
            _keep_an_admin(session, user, by)
        user.role, user.partner_id = role, partner_id
        target = user.username + (f": {role}" if partner_id is None else f": {role} of partner {partner_id}")
        audit(session, by, "user_role", target, now)
        return _person(user)


def set_active(home: IssuerHome, user_id: int, active: bool, now: int, *, by: Actor) -> Person:
    """Enable or disable a person; a disabled person's sessions end at their next request."""
    with home.transaction() as session:
        user = _user(session, user_id)
        if not active:
            _keep_an_admin(session, user, by)
        user.active = active
        audit(session, by, "user_enable" if active else "user_disable", user.username, now)
        return _person(user)


def reset_password(home: IssuerHome, user_id: int, password: str, now: int, *, by: Actor) -> Person:
    """Give a person a new password; their open sessions end."""
    _check_password(password)
    with home.transaction() as session:
        user = _user(session, user_id)
        user.password_hash = _HASHER.hash(password)
        audit(session, by, "user_password_reset", user.username, now)
        return _person(user)


def authenticate_person(home: IssuerHome, username: str, password: str) -> Person | None:
    """The person if the password is theirs and they are active; None otherwise."""
    with home.transaction() as session:
        user = session.scalars(select(User).where(User.username == username.strip().lower())).first()
        try:
            _HASHER.verify(user.password_hash if user else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or not user.active:
            return None
        if _HASHER.check_needs_rehash(user.password_hash):
            user.password_hash = _HASHER.hash(password)
        return _person(user)


def active_person(home: IssuerHome, user_id: int) -> Person | None:
    with home.transaction() as session:
        user = session.get(User, user_id)
        return _person(user) if user is not None and user.active else None


def record_session_event(home: IssuerHome, by: Actor, action: str, target: str | None, now: int) -> None:
    """An event that changes no record of the office: a sign-in, a failed one, a sign-out."""
    with home.transaction() as session:
        audit(session, by, action, target, now)

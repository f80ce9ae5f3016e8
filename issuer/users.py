"""People who sign in, their roles, and the audit trail.

Roles: ``admin`` (everything, and people), ``officer`` (cards, partners,
terminals, keys), ``partner_manager`` (only their own partner's terminals,
redemptions and revenue), ``auditor`` (reads everything, changes nothing).
Passwords are hashed with Argon2id (argon2-cffi) and rehashed on sign-in
when the parameters change.
"""

from __future__ import annotations

import dataclasses

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import IssuerError
from .models import ROLES, AuditEvent, Partner, User
from .store import IssuerHome

MIN_PASSWORD_LENGTH = 12
_HASHER = PasswordHasher()
# Verified against when the username is unknown, so both cases take as long.
_DUMMY_HASH = _HASHER.hash("not a real password, only for timing")


@dataclasses.dataclass(frozen=True)
class Person:
    id: int
    username: str
    role: str
    partner_id: int | None

    @property
    def can_change(self) -> bool:
        return self.role in ("admin", "officer")

    def may_see_partner(self, partner_id: int) -> bool:
        return self.role != "partner_manager" or self.partner_id == partner_id


def _person(user: User) -> Person:
    return Person(user.id, user.username, user.role, user.partner_id)


def create_user(home: IssuerHome, username: str, password: str, role: str, partner_id: int | None, now: int) -> Person:
    username = username.strip().lower()
    if not (3 <= len(username) <= 64 and username.replace(".", "").replace("_", "").replace("-", "").isalnum()):
        raise IssuerError("a username is 3 to 64 letters, digits, dots, dashes or underscores")
    if role not in ROLES:
        raise IssuerError(f"the role is one of: {', '.join(ROLES)}")
    if (role == "partner_manager") != (partner_id is not None):
        raise IssuerError("a partner manager needs --partner, and only a partner manager has one")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise IssuerError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    with home.transaction() as session:
        if partner_id is not None and session.get(Partner, partner_id) is None:
            raise IssuerError(f"there is no partner {partner_id}")
        if session.scalars(select(User.id).where(User.username == username)).first() is not None:
            raise IssuerError(f"the username {username} is taken")
        user = User(username=username, password_hash=_HASHER.hash(password), role=role, partner_id=partner_id,
                    active=True, created_at=now)
        session.add(user)
        session.flush()
        return _person(user)


def authenticate(home: IssuerHome, username: str, password: str) -> Person | None:
    """The person if the password is theirs and they are active; None otherwise."""
    with home.transaction() as session:
        user = session.scalars(select(User).where(User.username == username.strip().lower())).first()
        try:
            _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or not user.active:
            return None
        if _HASHER.check_needs_rehash(user.password_hash):
            user.password_hash = _HASHER.hash(password)
        return _person(user)


def person(home: IssuerHome, user_id: int) -> Person | None:
    with home.transaction() as session:
        user = session.get(User, user_id)
        return _person(user) if user is not None and user.active else None


def audit(session: Session, who: str, action: str, target: str | None, remote_addr: str | None, now: int) -> None:
    """Record a change in the audit trail, in the same transaction as the change."""
    session.add(AuditEvent(at=now, username=who, action=action, target=target, remote_addr=remote_addr))


def record(home: IssuerHome, who: str, action: str, target: str | None, remote_addr: str | None, now: int) -> None:
    with home.transaction() as session:
        audit(session, who, action, target, remote_addr, now)

"""The audit trail: who changed what, when and from where.

Every service function that changes the office takes the ``Actor`` making
the change and records its event in the same transaction as the change, so
a change and its event commit together or not at all, whichever shell (a
page, the command line, a terminal's request) asked for it.
"""

from __future__ import annotations

import dataclasses
import getpass

from sqlalchemy.orm import Session

from .storage.models import AuditEvent

USERNAME_LENGTH = 64
TARGET_LENGTH = 100

# Every action the office records, in one place: the trail's pages name each one in words
# (issuer/web/words/audit_actions.py), and ``record`` refuses any other.
ACTIONS = (
    # the office, its keys and its transparency log
    "office_init", "key_rotate", "key_retire", "key_revoke", "log_init", "witness_add",
    "trust_list_export", "trust_list_prepare", "trust_list_import",
    # people and signing in
    "user_add", "user_role", "user_enable", "user_disable", "user_password_reset",
    "sign_in", "sign_in_failed", "sign_in_locked", "sign_out",
    # partners, institutions, agreements and terminals
    "partner_create", "service_rules", "partner_regions",
    "institution_create", "agreement_create", "agreement_renew", "agreement_amend",
    "terminal_enrol", "terminal_register", "terminal_register_mou_override",
    "terminal_activate", "terminal_suspend", "terminal_retire",
    # cards and batches
    "card_issue", "card_revoke", "card_replace", "card_qr", "cards_mark_expired", "card_search",
    "batch_issue", "batch_submit", "batch_verified", "batch_printed", "batch_print_again", "batch_handed_over",
    # the auditor's work
    "record_release", "record_confirm", "anomaly_pass", "audit_export",
    # retention
    "records_prune",
    # federation: the national root and directory the office checks other regions' cards against
    "national_root_pin", "national_directory_take", "visits_take",
)


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who makes a change: a person signed in to the pages, the command line, or a terminal.

    ``user_id`` is set for a signed-in person (checks such as "not yourself"
    need it); ``remote_addr`` is the client's address, or ``local`` for the
    command line.
    """

    username: str
    remote_addr: str | None
    user_id: int | None = None

    @classmethod
    def command_line(cls) -> Actor:
        """The operating-system user running ``kia issuer`` on the office's machine."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (a bare container)
            user = "?"
        return cls(f"cli:{user}"[:USERNAME_LENGTH], "local")

    @classmethod
    def terminal(cls, terminal_id: str, remote_addr: str | None) -> Actor:
        return cls(f"terminal:{terminal_id}"[:USERNAME_LENGTH], remote_addr)


def record(session: Session, by: Actor, action: str, target: str | None, now: int) -> None:
    """Add the event of a change to ``session``, the transaction that makes the change.

    ``action`` is one of ``ACTIONS``; any other is a mistake in the code, refused before it reaches the trail.
    """
    if action not in ACTIONS:
        raise ValueError(f"{action!r} is not an audit action (issuer.audit.ACTIONS)")
    session.add(AuditEvent(at=now, username=by.username[:USERNAME_LENGTH], action=action,
                           target=None if target is None else target[:TARGET_LENGTH], remote_addr=by.remote_addr))

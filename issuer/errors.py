"""The office's errors: one tree, whose families map once to HTTP statuses and exit codes.

    IssuerError
    ├── Invalid     the input is invalid                 400, exit 1
    ├── NotFound    no such card, person, partner...     404, exit 1
    ├── Refused     the office's state refuses it        409, exit 1
    └── Unavailable the office cannot work now           503, exit 2
                    (no home, home busy, database down)

A shell catches a family to answer and lets the message explain: every
message is a sentence for the person, with no child's personal data in it.
"""

from __future__ import annotations

from keys.chain import SyncError
from keys.errors import KiaError


class IssuerError(KiaError):
    """An operation of the office cannot be done as asked; the family says why."""

    http_status = 400
    exit_code = 1


class Invalid(IssuerError):
    """The input is not what the operation takes; the message says what it takes."""


class NotFound(IssuerError):
    """What the request names does not exist at this office."""

    http_status = 404


class Refused(IssuerError):
    """The request is well formed, but the office's state refuses it."""

    http_status = 409


class Unavailable(IssuerError):
    """The office cannot work now: its home or database is missing, busy or unreachable."""

    http_status = 503
    exit_code = 2


# --- the home and the database ----------------------------------------------------


class HomeNotFound(Unavailable):
    """The folder is not an issuer home; run 'kia issuer init --home DIR' first."""


class HomeBusy(Unavailable):
    """Another kia command is working on this home; try again when it ends."""


class DatabaseUnavailable(Unavailable):
    """The office's database cannot be reached; check KIA_DATABASE_URL."""


class DatabaseConflict(Unavailable):
    """The database undid this change because another changed the same rows at once (a deadlock or a
    serialization failure); nothing of it was kept, and the same request can be sent again."""


class HomeExists(Refused):
    """The folder already holds an issuer home; it is never overwritten."""


class LegacyHomeInvalid(Invalid):
    """A first-version kia-issuer.json that cannot be imported."""


# --- cards and batches --------------------------------------------------------------


class UnknownCard(NotFound):
    """No card with that serial was issued from this home."""


class CardAlreadyRevoked(Refused):
    """The card is already revoked."""


class BatchFileError(Invalid):
    """The batch CSV cannot be read at all (as opposed to a bad row): fix the file, exit 2."""

    exit_code = 2


class BatchNotFound(NotFound):
    """No batch with that number."""


# --- people, partners, terminals --------------------------------------------------


class UnknownUser(NotFound):
    """No person with that id."""


class TooManySignIns(Refused):
    """Too many wrong passwords lately: sign-in is refused, before any password is checked, for ``retry_after`` s."""

    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AddressThrottled(TooManySignIns):
    """Too many wrong passwords from this address, whichever usernames they named."""


class AccountLocked(TooManySignIns):
    """Too many wrong passwords for this account, from anywhere: it is locked for a while."""


class PartnerNotFound(NotFound):
    """No partner with that id."""


class TerminalNotFound(NotFound):
    """No terminal with that id."""


class PartnerExists(Refused):
    """A partner of that name already works in that region: its agreement is renewed, never re-added."""

    def __init__(self, message: str, partner_id: int) -> None:
        super().__init__(message)
        self.partner_id = partner_id


class AgreementNotFound(NotFound):
    """No agreement (or no version, or no document) with that number, or none for that partner or institution."""


class MouNotInForce(Refused):
    """The partner's agreement has ended or not started: terminals are registered only with an override."""


class EnrolmentRefused(Refused):
    """The enrolment code is unknown, used or expired."""


class TerminalSuspended(Refused, SyncError):
    """The office has suspended this terminal."""

    http_status = 403


class SyncRefused(Refused, SyncError):
    """A batch the office does not store: a gap, a fork or a chain that does not match.

    ``code`` is the API's error code; ``acknowledged`` the last sequence the office holds.
    """

    def __init__(self, code: str, message: str, acknowledged: int) -> None:
        super().__init__(message)
        self.code, self.acknowledged = code, acknowledged


class JournalDamaged(Refused):
    """A batch in the sync journal no longer matches what was checked on its arrival (ADR 0005)."""


# --- quarantine ---------------------------------------------------------------------


class RecordNotFound(NotFound):
    """No stored redemption with that terminal and sequence."""


# --- trust lists signed offline ----------------------------------------------------


class TrustListFileError(Invalid):
    """A signing request or signed bundle that is not of the documented form."""


class BundleRefused(Refused):
    """A signed bundle that the office does not publish; the message says what to do next."""


class BundleRollback(BundleRefused):
    """The bundle's list is not newer than the office's latest."""


class BundleOutdated(BundleRefused):
    """The office changed (a card revoked, a key changed) since the list was prepared."""

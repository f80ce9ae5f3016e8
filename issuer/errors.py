"""Errors of the office's issuing service; all are KiaError."""

from __future__ import annotations

from keys.errors import KiaError


class IssuerError(KiaError):
    """An issuing operation cannot be done as asked."""


class HomeNotFound(IssuerError):
    """The folder is not an issuer home; run 'kia issuer init --home DIR' first."""


class HomeExists(IssuerError):
    """The folder already holds an issuer home; it is never overwritten."""


class HomeBusy(IssuerError):
    """Another kia command is working on this home; try again when it ends."""


class DatabaseUnavailable(IssuerError):
    """The office's database cannot be reached; check KIA_DATABASE_URL."""


class LegacyHomeInvalid(IssuerError):
    """A first-version kia-issuer.json that cannot be imported."""


class UnknownCard(IssuerError):
    """No card with that serial was issued from this home."""


class CardAlreadyRevoked(IssuerError):
    """The card is already revoked."""


class BatchFileError(IssuerError):
    """The batch CSV cannot be read at all (as opposed to a bad row)."""

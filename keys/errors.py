"""One exception tree for the crypto core.

Callers catch a family (``InvalidCardError``) to reject and the leaf to
explain.  Every card and trust-list failure carries a ``reason`` code from the
closed set ``REASONS``; docs/reasons.md documents each one.  Messages never
carry children's personal data: at most a card serial or a key id.
"""

from __future__ import annotations

# The closed set of reason codes a card decision can carry.  "accepted" is the
# only code that is not an error.
CARD_REASONS: tuple[str, ...] = (
    "accepted",
    "too_large",
    "malformed",
    "bad_header",
    "wrong_type",
    "unknown_key",
    "algorithm_not_allowed",
    "bad_signature",
    "key_revoked",
    "key_not_valid",
    "bad_claims",
    "not_yet_valid",
    "expired",
    "aged_out",
    "card_revoked",
)

TRUST_LIST_REASONS: tuple[str, ...] = (
    "trust_list_malformed",
    "trust_list_wrong_type",
    "trust_list_bad_signature",
    "trust_list_expired",
    "trust_list_rollback",
    "trust_list_delta_mismatch",
)

REASONS: tuple[str, ...] = CARD_REASONS + TRUST_LIST_REASONS


class KiaError(Exception):
    """Base of every error raised by this project's crypto core."""


# --- cards -----------------------------------------------------------------


class InvalidCardError(KiaError):
    """The card token must be rejected; ``reason`` says why."""

    reason: str = "malformed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__ or self.reason)


class CardTooLarge(InvalidCardError):
    """The scanned payload is larger than any genuine card token."""

    reason = "too_large"


class CardMalformed(InvalidCardError):
    """The payload is not a compact JWS card token."""

    reason = "malformed"


class CardHeaderInvalid(InvalidCardError):
    """The token header holds members other than alg, kid and typ."""

    reason = "bad_header"


class CardWrongType(InvalidCardError):
    """The token's typ is not the card type (for example a trust list)."""

    reason = "wrong_type"


class UnknownIssuingKey(InvalidCardError):
    """No issuing key in the trust list has the token's kid."""

    reason = "unknown_key"


class AlgorithmNotAllowed(InvalidCardError):
    """The header names an algorithm other than the one pinned for the key."""

    reason = "algorithm_not_allowed"


class CardSignatureInvalid(InvalidCardError):
    """The signature does not verify with any key of that kid."""

    reason = "bad_signature"


class IssuingKeyRevoked(InvalidCardError):
    """The card was signed by a revoked (compromised) issuing key."""

    reason = "key_revoked"

    def __init__(self, kid: str) -> None:
        self.kid = kid
        super().__init__(f"issuing key {kid} is revoked")


class IssuingKeyNotValid(InvalidCardError):
    """The card claims an issue time outside its key's signing period."""

    reason = "key_not_valid"

    def __init__(self, kid: str) -> None:
        self.kid = kid
        super().__init__(f"the card's issue time is outside the signing period of key {kid}")


class CardClaimsInvalid(InvalidCardError):
    """The signed claims are missing, extra, or of the wrong type."""

    reason = "bad_claims"


class _CardStateError(InvalidCardError):
    def __init__(self, serial: str, message: str) -> None:
        self.serial = serial
        super().__init__(message)


class CardNotYetValid(_CardStateError):
    """The card's issue time is in the future beyond the allowed clock skew."""

    reason = "not_yet_valid"

    def __init__(self, serial: str) -> None:
        super().__init__(serial, f"card {serial} is not valid yet")


class CardExpired(_CardStateError):
    """An under-5 card past the child's 5th birthday: a new card is needed."""

    reason = "expired"

    def __init__(self, serial: str) -> None:
        super().__init__(serial, f"card {serial} has expired")


class CardAgedOut(_CardStateError):
    """The child has turned 17: the card no longer gives eligibility."""

    reason = "aged_out"

    def __init__(self, serial: str) -> None:
        super().__init__(serial, f"card {serial} has reached the end of eligibility (age 17)")


class CardRevoked(_CardStateError):
    """The office has revoked this card (lost, replaced or withdrawn)."""

    reason = "card_revoked"

    def __init__(self, serial: str) -> None:
        super().__init__(serial, f"card {serial} is revoked")


# --- trust lists -----------------------------------------------------------


class InvalidTrustListError(KiaError):
    """The trust list (or delta) must not be used; ``reason`` says why."""

    reason: str = "trust_list_malformed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__ or self.reason)


class TrustListMalformed(InvalidTrustListError):
    """The trust list is not a well-formed signed list."""

    reason = "trust_list_malformed"


class TrustListWrongType(InvalidTrustListError):
    """The JWS's typ is not a trust list (for example a card token)."""

    reason = "trust_list_wrong_type"


class TrustListSignatureInvalid(InvalidTrustListError):
    """The trust list is not signed by the pinned root key."""

    reason = "trust_list_bad_signature"


class TrustListExpired(InvalidTrustListError):
    """The trust list is past its expiry; fetch a new one from the office."""

    reason = "trust_list_expired"


class TrustListRollback(InvalidTrustListError):
    """The list is older than, or does not follow, the one already held."""

    reason = "trust_list_rollback"


class TrustListDeltaMismatch(InvalidTrustListError):
    """Applying the delta does not give the office's list: fetch a full list."""

    reason = "trust_list_delta_mismatch"


# --- key storage and lifecycle ----------------------------------------------


class KeyStoreError(KiaError):
    """A private key could not be stored or loaded."""


class PassphraseMissing(KeyStoreError):
    """Neither KIA_KEY_PASSPHRASE nor KIA_KEY_PASSPHRASE_FILE is set."""


class PassphraseTooShort(KeyStoreError):
    """The passphrase is shorter than MIN_PASSPHRASE_LENGTH characters."""


class PassphraseWrong(KeyStoreError):
    """The passphrase does not open the key file."""


class UnencryptedKeyRefused(KeyStoreError):
    """Writing or reading an unencrypted private key needs the development flag."""


class KeyFileInvalid(KeyStoreError):
    """The key file is missing, unreadable or not an Ed25519 PKCS#8 key."""


class KeyLifecycleError(KiaError):
    """A key operation is not allowed in the key's current state."""


class NotEligible(KiaError):
    """The child cannot hold a KIA (not born yet, or 17 or older)."""


# --- national trust directory (federation) ----------------------------------

# Why a national trust directory, or one office's place in it, is refused
# (docs/federation.md).  Apart from the card and trust-list codes: these
# never reach a card decision.
DIRECTORY_REASONS: tuple[str, ...] = (
    "directory_malformed",
    "directory_wrong_type",
    "directory_bad_signature",
    "directory_expired",
    "directory_rollback",
    "directory_delta_mismatch",
    "office_unknown",
    "office_root_not_listed",
    "office_suspended",
    "office_revoked",
    "office_not_valid",
)


class InvalidDirectoryError(KiaError):
    """The national trust directory (or delta) must not be used; ``reason`` says why."""

    reason: str = "directory_malformed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__ or self.reason)


class DirectoryMalformed(InvalidDirectoryError):
    """The directory is not a well-formed signed directory."""

    reason = "directory_malformed"


class DirectoryWrongType(InvalidDirectoryError):
    """The JWS's typ is not a trust directory (for example an office's trust list)."""

    reason = "directory_wrong_type"


class DirectorySignatureInvalid(InvalidDirectoryError):
    """The directory is not signed by the pinned national root key."""

    reason = "directory_bad_signature"


class DirectoryExpired(InvalidDirectoryError):
    """The directory is past its expiry; fetch a new one."""

    reason = "directory_expired"


class DirectoryRollback(InvalidDirectoryError):
    """The directory is older than, or does not follow, the one already held."""

    reason = "directory_rollback"


class DirectoryDeltaMismatch(InvalidDirectoryError):
    """Applying the delta does not give the national directory: fetch a full one."""

    reason = "directory_delta_mismatch"


class OfficeNotTrusted(KiaError):
    """The directory does not vouch for this office now; ``region`` names it."""

    reason: str = "office_unknown"

    def __init__(self, region: int, message: str) -> None:
        self.region = region
        super().__init__(message)


class OfficeNotInDirectory(OfficeNotTrusted):
    """The directory lists no office for this region."""

    reason = "office_unknown"

    def __init__(self, region: int) -> None:
        super().__init__(region, f"the national directory lists no office for region {region}")


class OfficeRootNotListed(OfficeNotTrusted):
    """The office's trust list was verified under a root the directory does not list (any more)."""

    reason = "office_root_not_listed"

    def __init__(self, region: int) -> None:
        super().__init__(region, f"the trust list of region {region} is signed by a root the directory does not list")


class OfficeSuspended(OfficeNotTrusted):
    """The ministry has suspended this office's root key."""

    reason = "office_suspended"

    def __init__(self, region: int) -> None:
        super().__init__(region, f"the office of region {region} is suspended in the national directory")


class OfficeRevoked(OfficeNotTrusted):
    """The ministry has revoked this office's root key: nothing under it is trusted."""

    reason = "office_revoked"

    def __init__(self, region: int) -> None:
        super().__init__(region, f"the office root of region {region} is revoked in the national directory")


class OfficeNotValid(OfficeNotTrusted):
    """The office's root key is outside its validity period at this time."""

    reason = "office_not_valid"

    def __init__(self, region: int) -> None:
        super().__init__(region, f"the office root of region {region} is not valid at this time")

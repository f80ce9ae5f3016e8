"""Signing on an air-gapped machine: the request's fingerprint, which a person carries across.

The online machine writes a signing request and prints its fingerprint, the
SHA-256 of the file.  The signer types at least its first
``MIN_FINGERPRINT_HEX`` hex characters on the offline machine, which signs
only a request whose own fingerprint starts with them: a request changed on
its way, or another one, is never signed.  Used by the offices' trust lists
(issuer.offline_signing) and the ministry's directory (kia.national), each
with its own error.
"""

from __future__ import annotations

import hashlib
import re

# The signer types (or pastes) at least this many hex characters of the request's SHA-256.
MIN_FINGERPRINT_HEX = 20


def fingerprint(request_file: bytes) -> str:
    """The request's SHA-256 in hex: shown by prepare, checked before signing."""
    return hashlib.sha256(request_file).hexdigest()


def check_fingerprint(request_file: bytes, expected: str, refusal: type[Exception]) -> None:
    """Raise ``refusal`` (the caller's error) unless ``expected`` (spaces, colons and dashes allowed) is long
    enough to tell and starts the request's fingerprint; its message says what to do."""
    given = re.sub(r"[\s:-]", "", expected).lower()
    if len(given) < MIN_FINGERPRINT_HEX or not re.fullmatch(r"[0-9a-f]+", given):
        raise refusal(
            f"give at least the first {MIN_FINGERPRINT_HEX} hex characters of the fingerprint that prepare printed"
        )
    if not fingerprint(request_file).startswith(given):
        raise refusal(
            "the request file's fingerprint differs from the one prepare printed: the file was changed "
            "or is another one; do not sign it, prepare it again"
        )

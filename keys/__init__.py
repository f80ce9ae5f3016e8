"""The crypto core: issuing-key lifecycle, card tokens and the signed trust list.

Imports only the standard library, cryptography and pyjwt.  The safe entry
points are few: ``issue_card`` and ``verify_card`` for cards,
``sign_trust_list``, ``verify_trust_list``, ``sign_delta`` and
``apply_delta`` for trust lists.  Every failure raises a leaf of
``KiaError``; card and trust-list failures carry a ``reason`` from
``REASONS``.
"""

from .card import (
    CLAIM_NAMES,
    CLOCK_SKEW_LEEWAY,
    MAX_PAYLOAD_LENGTH,
    MAX_TOKEN_LENGTH,
    NDEF_RECORD_TYPE,
    Card,
    VerifiedCard,
    issue_card,
    qr_text,
    token_from_payload,
    verify_card,
)
from .eligibility import card_validity
from .errors import (
    CARD_REASONS,
    REASONS,
    TRUST_LIST_REASONS,
    InvalidCardError,
    InvalidTrustListError,
    KeyLifecycleError,
    KeyStoreError,
    KiaError,
    NotEligible,
)
from .jwk import EDDSA, jwks, kid_for, load_jwks, load_public_jwk, public_jwk, thumbprint
from .jws import CARD_TYP, TRUST_LIST_DELTA_TYP, TRUST_LIST_TYP
from .lifecycle import IssuingKey, KeyState, active_key, replace_key, rotate
from .revocation import RevokedSerials
from .serial import is_valid_serial, new_serial
from .trustlist import (
    DEFAULT_TRUST_LIST_VALIDITY,
    TrustList,
    apply_delta,
    build_trust_list,
    sign_delta,
    sign_trust_list,
    verify_trust_list,
)

__all__ = [
    "CARD_REASONS",
    "CARD_TYP",
    "CLAIM_NAMES",
    "CLOCK_SKEW_LEEWAY",
    "DEFAULT_TRUST_LIST_VALIDITY",
    "EDDSA",
    "MAX_PAYLOAD_LENGTH",
    "MAX_TOKEN_LENGTH",
    "NDEF_RECORD_TYPE",
    "REASONS",
    "TRUST_LIST_DELTA_TYP",
    "TRUST_LIST_REASONS",
    "TRUST_LIST_TYP",
    "Card",
    "InvalidCardError",
    "InvalidTrustListError",
    "IssuingKey",
    "KeyLifecycleError",
    "KeyState",
    "KeyStoreError",
    "KiaError",
    "NotEligible",
    "RevokedSerials",
    "TrustList",
    "VerifiedCard",
    "active_key",
    "apply_delta",
    "build_trust_list",
    "card_validity",
    "is_valid_serial",
    "issue_card",
    "jwks",
    "kid_for",
    "load_jwks",
    "load_public_jwk",
    "new_serial",
    "public_jwk",
    "qr_text",
    "replace_key",
    "rotate",
    "sign_delta",
    "sign_trust_list",
    "thumbprint",
    "token_from_payload",
    "verify_card",
    "verify_trust_list",
]

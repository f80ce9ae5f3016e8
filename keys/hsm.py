"""Issuing and root keys held in an HSM, through PKCS#11 (python-pkcs11).

The private key is generated on the token and never leaves it: sensitive,
not extractable, stored on the token.  This module opens a token, generates
an Ed25519 key pair on it, finds a key by label, reads its public half and
signs with CKM_EDDSA (pure Ed25519, as Debian's SoftHSM 2.6 and current HSMs
do).  ``sign_jws`` writes a compact JWS byte for byte in the layout of
keys.jws.sign, so that verify_card and verify_trust_list accept what an HSM
key signed exactly as they accept a software key's.

python-pkcs11 is imported only when a token is opened: it comes with the
``hsm`` extra, and keys/ needs nothing but cryptography and pyjwt otherwise.
The user PIN is an argument or ``KIA_HSM_PIN``; it is never stored, logged
or put in an error message.  docs/hsm.md describes the key ceremonies.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import jws
from .card import Card
from .errors import KeyStoreError
from .jwk import b64url_encode, kid_for
from .jws import CARD_TYP, TRUST_LIST_TYP
from .trustlist import TrustList

if TYPE_CHECKING:
    import pkcs11
    from pkcs11.types import Key, SignMixin

PIN_ENV = "KIA_HSM_PIN"
# CKA_EC_PARAMS of an Ed25519 key: the curve OID 1.3.101.112 (RFC 8410), or,
# from tokens that predate PKCS#11 3.0, the PrintableString "edwards25519".
ED25519_PARAMS = bytes.fromhex("06032b6570")
_ED25519_PARAMS_BY_NAME = b"\x13\x0cedwards25519"
_KEY_ID_LENGTH = 16
_SELF_TEST_MESSAGE = b"kia hsm key self-test"


class HsmError(KeyStoreError):
    """The HSM could not be used for this key."""


class HsmUnavailable(HsmError):
    """python-pkcs11 is missing, or the PKCS#11 module cannot be loaded."""


class HsmTokenNotFound(HsmError):
    """No token (or more than one) has the label asked for."""


class HsmPinRefused(HsmError):
    """The token refused the user PIN, or the PIN is locked."""


class HsmKeyNotFound(HsmError):
    """No key pair on the token has the label asked for."""


class HsmKeyExists(HsmError):
    """A key with that label is already on the token; keys are never replaced."""


class HsmKeyUnsuitable(HsmError):
    """The key is not Ed25519, its halves do not match, or it could be read off the token."""


class RawSigner(Protocol):
    """Anything that signs bytes with Ed25519: an HsmKey, or an Ed25519PrivateKey."""

    def sign(self, data: bytes) -> bytes: ...


def pin_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The user PIN from ``KIA_HSM_PIN``; raises HsmPinRefused when it is unset."""
    env = os.environ if environ is None else environ
    pin = env.get(PIN_ENV)
    if not pin:
        raise HsmPinRefused(f"set {PIN_ENV} to the token's user PIN")
    return pin


def public_key_from_ec_point(ec_point: bytes) -> Ed25519PublicKey:
    """The Ed25519 public key in a CKA_EC_POINT value.

    PKCS#11 3.0 wraps the 32 key bytes in a DER OCTET STRING (04 20 ...);
    some tokens give the bare 32 bytes.  Raises HsmKeyUnsuitable otherwise.
    """
    if len(ec_point) == 34 and ec_point[:2] == b"\x04\x20":
        ec_point = ec_point[2:]
    if len(ec_point) != 32:
        raise HsmKeyUnsuitable("the key's CKA_EC_POINT is not an Ed25519 public key")
    return Ed25519PublicKey.from_public_bytes(ec_point)


@dataclasses.dataclass(frozen=True)
class HsmKey:
    """An Ed25519 key pair on a token: the public half read, the private half a handle."""

    label: str
    key_id: bytes
    public_key: Ed25519PublicKey
    _private: SignMixin = dataclasses.field(repr=False, compare=False)

    @property
    def kid(self) -> str:
        return kid_for(self.public_key)

    def sign(self, data: bytes) -> bytes:
        """The Ed25519 signature of ``data``, made on the token (CKM_EDDSA)."""
        import pkcs11

        return bytes(self._private.sign(data, mechanism=pkcs11.Mechanism.EDDSA))


class HsmToken:
    """A logged-in session on one token; use it as a context manager.

    PKCS#11 logs in per application, not per session: open one HsmToken per
    token at a time in a process.
    """

    def __init__(self, session: pkcs11.Session, token_label: str) -> None:
        self._session = session
        self.token_label = token_label

    def __enter__(self) -> HsmToken:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Log out and close the session."""
        self._session.close()

    def generate_ed25519_key(self, label: str) -> HsmKey:
        """A new Ed25519 key pair generated on the token under ``label``.

        The private key is stored on the token, sensitive and not extractable:
        no one can read it, not even with the PIN.  Raises HsmKeyExists when
        ``label`` is taken.
        """
        import pkcs11
        from pkcs11 import Attribute

        if not label:
            raise ValueError("a key on the token needs a label")
        if list(self._session.get_objects({Attribute.LABEL: label})):
            raise HsmKeyExists(f"the token already holds a key labelled {label!r}; keys are never replaced")
        key_id = secrets.token_bytes(_KEY_ID_LENGTH)
        public, private = self._session.generate_keypair(
            pkcs11.KeyType.EC_EDWARDS,
            0,
            mechanism=pkcs11.Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
            store=True,
            label=label,
            id=key_id,
            public_template={
                Attribute.EC_PARAMS: ED25519_PARAMS,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.VERIFY: True,
            },
            private_template={
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SIGN: True,
            },
        )
        return _checked_key(label, key_id, public, private)

    def find_key(self, label: str) -> HsmKey:
        """The Ed25519 key pair labelled ``label`` on the token.

        Raises HsmKeyNotFound when there is none (or more than one), and
        HsmKeyUnsuitable when it is not an Ed25519 key that never left the token.
        """
        import pkcs11
        from pkcs11 import Attribute, ObjectClass

        try:
            private = self._session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
        except pkcs11.NoSuchKey:
            raise HsmKeyNotFound(f"no private key labelled {label!r} on token {self.token_label!r}") from None
        except pkcs11.MultipleObjectsReturned:
            raise HsmKeyNotFound(
                f"more than one private key is labelled {label!r}; give each key its own label"
            ) from None
        key_id = bytes(private[Attribute.ID])
        try:
            public = self._session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=key_id, label=label)
        except (pkcs11.NoSuchKey, pkcs11.MultipleObjectsReturned):
            raise HsmKeyNotFound(
                f"the public half of key {label!r} (the same label and CKA_ID) is not on the token"
            ) from None
        return _checked_key(label, key_id, public, private)


def open_token(module: str, token_label: str, pin: str | None = None) -> HsmToken:
    """Log in to the token labelled ``token_label`` through the PKCS#11 ``module``.

    ``pin`` defaults to ``KIA_HSM_PIN``.  Raises HsmUnavailable, HsmTokenNotFound
    or HsmPinRefused; no message carries the PIN.
    """
    pkcs11 = _import_pkcs11()
    pin = pin_from_env() if pin is None else pin
    try:
        library = pkcs11.lib(module)
    except pkcs11.PKCS11Error:
        raise HsmUnavailable(
            f"cannot load the PKCS#11 module {module}; check that the HSM's library is installed"
        ) from None
    try:
        token = library.get_token(token_label=token_label)
    except pkcs11.NoSuchToken:
        raise HsmTokenNotFound(f"no token labelled {token_label!r} in {module}") from None
    except pkcs11.MultipleTokensReturned:
        raise HsmTokenNotFound(
            f"more than one token is labelled {token_label!r}; give each token its own label"
        ) from None
    try:
        session = token.open(rw=True, user_pin=pin)
    except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange):
        raise HsmPinRefused(f"token {token_label!r} refused the user PIN; check {PIN_ENV}") from None
    except (pkcs11.PinLocked, pkcs11.PinExpired):
        raise HsmPinRefused(
            f"the user PIN of token {token_label!r} is locked or expired; the security officer must reset it"
        ) from None
    except pkcs11.UserAlreadyLoggedIn:
        raise HsmError(f"token {token_label!r} is already open in this process; close it first") from None
    return HsmToken(session, token_label)


def sign_jws(claims: dict[str, Any], signer: RawSigner, kid: str, typ: str) -> str:
    """A compact JWS of ``claims`` signed by ``signer``, in exactly keys.jws.sign's layout."""
    signing_input = f"{jws.header_segment(kid, typ)}.{b64url_encode(jws.canonical_json(claims))}"
    return f"{signing_input}.{b64url_encode(signer.sign(signing_input.encode('ascii')))}"


def issue_card(card: Card, key: HsmKey) -> str:
    """Sign ``card`` as a card token with an issuing key on the token."""
    return sign_jws(card.claims(), key, key.kid, CARD_TYP)


def sign_trust_list(trust_list: TrustList, root: HsmKey) -> str:
    """Sign ``trust_list`` with a root key on the token."""
    return sign_jws(trust_list.claims(), root, root.kid, TRUST_LIST_TYP)


def _import_pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:
        raise HsmUnavailable(
            "python-pkcs11 is not installed; install the project with its hsm extra (kia-verification[hsm])"
        ) from None
    return pkcs11


def _checked_key(label: str, key_id: bytes, public: Key, private: Key) -> HsmKey:
    """The key pair, once it is shown to be Ed25519, matching, and never readable."""
    import pkcs11
    from pkcs11 import Attribute

    if private.key_type != pkcs11.KeyType.EC_EDWARDS or bytes(public[Attribute.EC_PARAMS]) not in (
        ED25519_PARAMS,
        _ED25519_PARAMS_BY_NAME,
    ):
        raise HsmKeyUnsuitable(f"key {label!r} is not an Ed25519 key")
    # ALWAYS_SENSITIVE and NEVER_EXTRACTABLE: the token vouches that no one ever read the key.
    never_readable = private[Attribute.SENSITIVE] and private[Attribute.ALWAYS_SENSITIVE]
    never_extracted = not private[Attribute.EXTRACTABLE] and private[Attribute.NEVER_EXTRACTABLE]
    if not (never_readable and never_extracted and private[Attribute.TOKEN]):
        raise HsmKeyUnsuitable(
            f"key {label!r} is not a sensitive, non-extractable token key generated on the token; generate a new one"
        )
    public_key = public_key_from_ec_point(bytes(public[Attribute.EC_POINT]))
    key = HsmKey(label, key_id, public_key, cast("SignMixin", private))
    try:  # a public object that is not the private key's half would publish a key nothing verifies under
        key.public_key.verify(key.sign(_SELF_TEST_MESSAGE), _SELF_TEST_MESSAGE)
    except InvalidSignature:
        raise HsmKeyUnsuitable(f"the public and private halves of key {label!r} do not match") from None
    return key

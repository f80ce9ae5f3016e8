"""Issuing and root keys held in an HSM, through PKCS#11 (python-pkcs11).

The private key is generated on the token and never leaves it: sensitive,
not extractable, stored on the token.  This module opens a token, generates
an Ed25519 key pair on it, finds a key by label, reads its public half and
signs with CKM_EDDSA (pure Ed25519, as Debian's SoftHSM 2.6 and current HSMs
do).  An ``HsmKey`` is an Ed25519PrivateKey whose private bytes cannot be
read, so everything that signs with a key (keys.jws.sign: cards, trust
lists and their deltas, terminal configurations) signs with it unchanged.

An office names a key on a token with a **key reference**, a small JSON file
(``<name>.pkcs11.json``: module, token label, key label, CKA_ID, kid; no
secret) kept where an encrypted key file would be; keys.keystore opens either.
A process opens one logged-in session per token, lazily, and keeps it
(``signing_key``); the sessions are keyed on the process id, so a forked
worker (gunicorn) never uses a session its parent opened.

python-pkcs11 is imported only when a token is opened: it comes with the
``hsm`` extra, and keys/ needs nothing but cryptography and pyjwt otherwise.
The user PIN is an argument or ``KIA_HSM_PIN``; it is never stored, logged
or put in an error message.  docs/hsm.md describes the key ceremonies.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import durable
from .card import Card
from .card import issue_card as _issue_card
from .errors import KeyStoreError
from .jwk import kid_for
from .trustlist import TrustList
from .trustlist import sign_trust_list as _sign_trust_list

if TYPE_CHECKING:
    import pkcs11
    from pkcs11.types import Key, SignMixin

PIN_ENV = "KIA_HSM_PIN"
MODULE_ENV = "KIA_PKCS11_MODULE"
TOKEN_ENV = "KIA_HSM_TOKEN"  # noqa: S105 (a variable name, not a secret)
REFERENCE_SUFFIX = ".pkcs11.json"
REFERENCE_KIND = "kia-pkcs11-key"
REFERENCE_FILE_MODE = 0o600
MAX_REFERENCE_LENGTH = 4096
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


class HsmKey(Ed25519PrivateKey):
    """An Ed25519 key pair on a token: the public half read, the private half a handle.

    It is an Ed25519PrivateKey so that every signing function takes it as it
    takes a software key; the private bytes are not readable (``private_bytes``
    raises), because the token never gives them out.
    """

    def __init__(self, label: str, key_id: bytes, public: Ed25519PublicKey, private: SignMixin,
                 lock: threading.RLock) -> None:
        self.label = label
        self.key_id = key_id
        self._public = public
        self._private = private
        self._lock = lock  # a session does one thing at a time (threads of a threaded server)

    @property
    def kid(self) -> str:
        return kid_for(self._public)

    def public_key(self) -> Ed25519PublicKey:
        return self._public

    def sign(self, data: bytes | bytearray | memoryview) -> bytes:
        """The Ed25519 signature of ``data``, made on the token (CKM_EDDSA)."""
        import pkcs11

        with self._lock:
            return bytes(self._private.sign(bytes(data), mechanism=pkcs11.Mechanism.EDDSA))

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,  # noqa: A002 (cryptography's name)
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> bytes:
        self._never_leaves()

    def private_bytes_raw(self) -> bytes:
        self._never_leaves()

    def _never_leaves(self) -> NoReturn:
        raise HsmKeyUnsuitable(f"key {self.label!r} never leaves its token; it signs there and cannot be read")

    def __copy__(self) -> HsmKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> HsmKey:
        return self

    def __repr__(self) -> str:
        return f"HsmKey(label={self.label!r}, kid={self.kid!r})"


class HsmToken:
    """A logged-in session on one token; use it as a context manager.

    PKCS#11 logs in per application, not per session: open one HsmToken per
    token at a time in a process.
    """

    def __init__(self, session: pkcs11.Session, token_label: str) -> None:
        self._session = session
        self.token_label = token_label
        self._lock = threading.RLock()  # shared with the keys found through this session

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
        if not label:
            raise ValueError("a key on the token needs a label")
        with self._lock:
            return self._generate(label)

    def _generate(self, label: str) -> HsmKey:
        import pkcs11
        from pkcs11 import Attribute

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
        return _checked_key(label, key_id, public, private, self._lock)

    def find_key(self, label: str) -> HsmKey:
        """The Ed25519 key pair labelled ``label`` on the token.

        Raises HsmKeyNotFound when there is none (or more than one), and
        HsmKeyUnsuitable when it is not an Ed25519 key that never left the token.
        """
        with self._lock:
            return self._find(label)

    def _find(self, label: str) -> HsmKey:
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
        return _checked_key(label, key_id, public, private, self._lock)


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


def issue_card(card: Card, key: HsmKey) -> str:
    """Sign ``card`` as a card token with an issuing key on the token (keys.issue_card)."""
    return _issue_card(card, key, key.kid)


def sign_trust_list(trust_list: TrustList, root: HsmKey) -> str:
    """Sign ``trust_list`` with a root key on the token (keys.sign_trust_list)."""
    return _sign_trust_list(trust_list, root)


def _import_pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:
        raise HsmUnavailable(
            "python-pkcs11 is not installed; install the project with its hsm extra (kia-verification[hsm])"
        ) from None
    return pkcs11


def _checked_key(label: str, key_id: bytes, public: Key, private: Key, lock: threading.RLock) -> HsmKey:
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
    key = HsmKey(label, key_id, public_key, cast("SignMixin", private), lock)
    try:  # a public object that is not the private key's half would publish a key nothing verifies under
        key.public_key().verify(key.sign(_SELF_TEST_MESSAGE), _SELF_TEST_MESSAGE)
    except InvalidSignature:
        raise HsmKeyUnsuitable(f"the public and private halves of key {label!r} do not match") from None
    return key


@dataclasses.dataclass(frozen=True)
class TokenAddress:
    """Where new keys go: a token, by its label, behind a PKCS#11 module."""

    module: str
    token_label: str

    @classmethod
    def from_options(cls, module: str | None, token_label: str | None,
                     environ: Mapping[str, str] | None = None) -> TokenAddress:
        """The token named by options, else by ``KIA_PKCS11_MODULE`` and ``KIA_HSM_TOKEN``; raises HsmError."""
        env = os.environ if environ is None else environ
        module = module or env.get(MODULE_ENV)
        token_label = token_label or env.get(TOKEN_ENV)
        if not module:
            raise HsmUnavailable(f"name the PKCS#11 module with --pkcs11-module or {MODULE_ENV}")
        if not token_label:
            raise HsmTokenNotFound(f"name the token with --hsm-token or {TOKEN_ENV}")
        return cls(module, token_label)


@dataclasses.dataclass(frozen=True)
class KeyReference:
    """Which key on which token: what an office keeps instead of a key file.  No secret."""

    module: str
    token_label: str
    key_label: str
    key_id: bytes
    kid: str

    @property
    def token(self) -> TokenAddress:
        return TokenAddress(self.module, self.token_label)

    @classmethod
    def of(cls, token: TokenAddress, key: HsmKey) -> KeyReference:
        return cls(token.module, token.token_label, key.label, key.key_id, key.kid)

    def to_bytes(self) -> bytes:
        return (json.dumps({"kind": REFERENCE_KIND, "version": 1, "module": self.module, "token": self.token_label,
                            "label": self.key_label, "id": self.key_id.hex(), "kid": self.kid}, indent=2)
                + "\n").encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> KeyReference:
        """Parse a reference file's content; raises KeyFileInvalid."""
        from .errors import KeyFileInvalid

        try:
            value = json.loads(data.decode("utf-8"))
            if value.pop("kind") != REFERENCE_KIND or value.pop("version") != 1 or set(value) != {
                    "module", "token", "label", "id", "kid"} or not all(isinstance(v, str) for v in value.values()):
                raise ValueError(name)
            return cls(value["module"], value["token"], value["label"], bytes.fromhex(value["id"]), value["kid"])
        except (ValueError, KeyError, AttributeError, TypeError):
            raise KeyFileInvalid(f"key reference {name} is not a PKCS#11 key reference") from None


def is_reference(path: Path) -> bool:
    """Whether ``path`` names a key reference rather than a PKCS#8 key file."""
    return path.name.endswith(REFERENCE_SUFFIX)


def write_reference(path: Path, reference: KeyReference) -> None:
    """Write ``reference`` at ``path``, mode 0600; an existing file is never replaced."""
    from .errors import KeyFileInvalid

    durable.make_folders(path.parent, 0o700)
    try:
        durable.write_new(path, reference.to_bytes(), REFERENCE_FILE_MODE)
    except FileExistsError:
        raise KeyFileInvalid(f"key file {path.name} already exists; keys are never overwritten") from None


def read_reference(path: Path) -> KeyReference:
    """The key reference in ``path``; raises KeyFileInvalid."""
    from .errors import KeyFileInvalid

    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_REFERENCE_LENGTH + 1)
    except OSError as exc:
        raise KeyFileInvalid(f"cannot read key file {path.name}: {exc.strerror}") from None
    if len(data) > MAX_REFERENCE_LENGTH:
        raise KeyFileInvalid(f"key reference {path.name} is not a PKCS#11 key reference")
    return KeyReference.from_bytes(data, path.name)


# This process's logged-in sessions and the keys found through them.  PKCS#11
# handles do not survive fork(): a worker forked after its parent opened a
# token must open its own, so the cache belongs to the process id that filled it.
_cache_lock = threading.Lock()
_cache_pid = os.getpid()
_tokens: dict[TokenAddress, HsmToken] = {}
_keys: dict[KeyReference, HsmKey] = {}


def token_for(address: TokenAddress) -> HsmToken:
    """This process's logged-in session on the token at ``address``, opened on first use.

    The PIN comes from ``KIA_HSM_PIN``.  Raises what open_token raises.
    """
    with _cache_lock:
        _forget_after_fork()
        token = _tokens.get(address)
        if token is None:
            token = _tokens[address] = open_token(address.module, address.token_label)
        return token


def signing_key(reference: KeyReference) -> HsmKey:
    """The key that ``reference`` names, through this process's session on its token.

    Raises HsmKeyUnsuitable when the key labelled so is not the one the
    reference recorded (another CKA_ID or public key), and what find_key raises.
    """
    token = token_for(reference.token)
    with _cache_lock:
        key = _keys.get(reference)
    if key is None:
        key = token.find_key(reference.key_label)
        if key.key_id != reference.key_id or key.kid != reference.kid:
            raise HsmKeyUnsuitable(
                f"the key labelled {reference.key_label!r} on token {reference.token_label!r} is not key "
                f"{reference.kid}; the token's keys were changed"
            )
        with _cache_lock:
            _keys[reference] = key
    return key


def generate_key(address: TokenAddress, role: str) -> HsmKey:
    """A new Ed25519 key pair on the token at ``address``, labelled for its ``role`` and a random suffix."""
    return token_for(address).generate_ed25519_key(f"kia-{role}-{secrets.token_hex(6)}")


def close_sessions() -> None:
    """Log out of every token this process opened (handles inherited over fork are left alone)."""
    with _cache_lock:
        _forget_after_fork()
        opened = list(_tokens.values())
        _tokens.clear()
        _keys.clear()
    for token in opened:
        token.close()


def _forget_after_fork() -> None:
    """In a forked child, drop the parent's handles unclosed and start each library afresh."""
    global _cache_pid
    if _cache_pid == os.getpid():
        return
    modules = {address.module for address in _tokens}
    _tokens.clear()
    _keys.clear()
    _cache_pid = os.getpid()
    if modules:
        pkcs11 = _import_pkcs11()
        for module in modules:  # PKCS#11 2.40 section 6.7.7: a child calls C_Initialize anew
            pkcs11.lib(module).reinitialize()

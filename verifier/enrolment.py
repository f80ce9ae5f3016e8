"""Enrolment: a new terminal registers its key with the office (docs/sync-protocol.md).

The terminal sends the one-time code and its public key; the office answers
the terminal id, the audience for sync tokens, its root key and the signed
rules.  The root key is pinned from then on, so it is never taken on the
server's word: before the code is sent, the office's root key
(``GET /api/v1/terminals/root``) must match either a root.jwk the office
handed over by another channel, or the root key's **fingerprint**, which the
office prints with each enrolment code and a person can read out.  The
enrolment answer must then carry that same key.  Nothing is written until the
trust list and the rules verify under that root, so a failed enrolment can
simply be retried.

The fingerprint is the RFC 7638 JWK thumbprint of the root public key:
SHA-256 over ``{"crv":"Ed25519","kty":"OKP","x":...}``, base64url without
padding (43 characters; its first 4 are the root kid).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from keys import kid_for, load_public_jwk, public_jwk, thumbprint, verify_trust_list
from keys.errors import KeyFileInvalid
from keys.jwk import public_key_bytes

from .config import accept_config
from .errors import VerifierError
from .home import Identity, TerminalHome
from .sync import OfficeClient, OfficeUnreachable

# How the root key is checked: the trust anchor itself, or its fingerprint.
RootPin = Ed25519PublicKey | str


class EnrolmentFailed(VerifierError):
    """The office refused the enrolment, or answered something that does not verify."""


def root_fingerprint(key: Ed25519PublicKey) -> str:
    """The fingerprint people compare: the key's RFC 7638 thumbprint, base64url (43 characters)."""
    return thumbprint(key)


def office_root(client: OfficeClient) -> Ed25519PublicKey:
    """The root key the office says it has; to be checked against a pin before it is believed."""
    answer = client.request("GET", "/api/v1/terminals/root")
    body = answer.json()
    if answer.status != 200 or not isinstance(body, dict):
        raise OfficeUnreachable(f"the office did not give its root key (HTTP {answer.status}); check --server")
    try:
        return load_public_jwk(body.get("root_jwk"))
    except KeyFileInvalid as exc:
        raise EnrolmentFailed(f"the office's root key is unusable: {exc}") from None


def check_root(root: Ed25519PublicKey, pin: RootPin) -> None:
    """Raise EnrolmentFailed unless ``root`` is the pinned key or has the pinned fingerprint."""
    if isinstance(pin, str):
        if root_fingerprint(root) != pin.strip():
            raise EnrolmentFailed(f"the office's root key has the fingerprint {root_fingerprint(root)}, not the one "
                                  "given; do not use this server, and check the fingerprint with the office")
    elif public_key_bytes(root) != public_key_bytes(pin):
        raise EnrolmentFailed("the office answered with another root key than the trust anchor given; "
                              "do not use this server")


def enroll_terminal(home: TerminalHome, client: OfficeClient, key: Ed25519PrivateKey, code: str, now: int,
                    root: RootPin) -> dict[str, Any]:
    """Enrol with ``code``, the office's root key checked against ``root`` before the code is sent.

    ``now`` is the terminal's clock.  Raises EnrolmentFailed (nothing sent
    when the root key does not match), OfficeUnreachable, or the errors of
    a trust list or configuration that does not verify.
    """
    check_root(office_root(client), root)
    answer = client.request("POST", "/api/v1/terminals/enroll",
                            body={"code": code, "public_jwk": public_jwk(key.public_key())})
    body = answer.json()
    if answer.status != 201 or not isinstance(body, dict):
        message = body.get("message") if isinstance(body, dict) else None
        raise EnrolmentFailed(f"the office refused the enrolment: {message or f'HTTP {answer.status}'}")
    try:
        terminal_id, audience, root_jwk, config_token = (body["terminal_id"], body["audience"], body["root_jwk"],
                                                         body["config"])
        office_key = load_public_jwk(root_jwk)
    except (KeyError, KeyFileInvalid) as exc:
        raise EnrolmentFailed(f"the office's answer is incomplete or its root key unusable: {exc}") from None
    check_root(office_key, root)  # the answer's key, not only the one shown before
    listing = client.request("GET", "/api/v1/trustlist")
    if listing.status != 200:
        raise OfficeUnreachable(f"the office has no trust list to give (HTTP {listing.status}); retry later")
    trust_token = listing.body.decode("ascii", errors="replace")
    trust = verify_trust_list(trust_token, office_key, now, accept_expired=True)
    config = accept_config(config_token, trust, terminal_id, now, None)
    identity = Identity(terminal_id, audience, client.server, kid_for(key.public_key()), now)
    home.make_private()
    home.save_full_trust_list(trust_token)
    home.save_config(config_token)
    home.save_enrolment(identity, root_jwk)
    return {
        "terminal_id": terminal_id,
        "partner": config.partner_name,
        "services": [service.code for service in config.services],
        "trust_list_seq": trust.seq,
        "root_kid": kid_for(office_key),
        "root_fingerprint": root_fingerprint(office_key),
        "home": str(home.path),
    }

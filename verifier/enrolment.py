"""Enrolment: a new terminal registers its key with the office (docs/sync-protocol.md).

The terminal sends the one-time code and its public key; the office answers
the terminal id, the audience for sync tokens, its root key and the signed
rules.  The root key is pinned from then on; give ``expected_root`` (a
root.jwk the office handed over by another channel) to refuse a server that
answers with another one.  Nothing is written until the trust list and the
rules verify under that root, so a failed enrolment can simply be retried.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from keys import kid_for, load_public_jwk, public_jwk, verify_trust_list
from keys.errors import KeyFileInvalid
from keys.jwk import public_key_bytes

from .config import verify_config
from .errors import VerifierError
from .home import Identity, TerminalHome
from .sync import OfficeClient, OfficeUnreachable


class EnrolmentFailed(VerifierError):
    """The office refused the enrolment, or answered something that does not verify."""


def enroll_terminal(home: TerminalHome, client: OfficeClient, key: Ed25519PrivateKey, code: str, now: int,
                    expected_root: Ed25519PublicKey | None = None) -> dict[str, Any]:
    answer = client.request("POST", "/api/v1/terminals/enroll",
                            body={"code": code, "public_jwk": public_jwk(key.public_key())})
    body = answer.json()
    if answer.status != 201 or not isinstance(body, dict):
        message = body.get("message") if isinstance(body, dict) else None
        raise EnrolmentFailed(f"the office refused the enrolment: {message or f'HTTP {answer.status}'}")
    try:
        terminal_id, audience, root_jwk, config_token = (body["terminal_id"], body["audience"], body["root_jwk"],
                                                         body["config"])
        root = load_public_jwk(root_jwk)
    except (KeyError, KeyFileInvalid) as exc:
        raise EnrolmentFailed(f"the office's answer is incomplete or its root key unusable: {exc}") from None
    if expected_root is not None and public_key_bytes(root) != public_key_bytes(expected_root):
        raise EnrolmentFailed("the office answered with another root key than the trust anchor given; "
                              "do not use this server")
    listing = client.request("GET", "/api/v1/trustlist")
    if listing.status != 200:
        raise OfficeUnreachable(f"the office has no trust list to give (HTTP {listing.status}); retry later")
    trust_token = listing.body.decode("ascii", errors="replace")
    trust = verify_trust_list(trust_token, root, now, accept_expired=True)
    config = verify_config(config_token, trust, terminal_id)
    identity = Identity(terminal_id, audience, client.server, kid_for(key.public_key()), now)
    home.save_full_trust_list(trust_token)
    home.save_config(config_token)
    home.save_enrolment(identity, root_jwk)
    return {
        "terminal_id": terminal_id,
        "partner": config.partner_name,
        "services": [service.code for service in config.services],
        "trust_list_seq": trust.seq,
        "root_kid": kid_for(root),
        "home": str(home.path),
    }

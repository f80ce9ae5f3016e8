"""An independent JOSE implementation (jwcrypto) trusts what the office exports.

The office's own code issues a card and exports jwks.json and root.jwk; only
jwcrypto and those files then verify the card token and the trust list.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from jwcrypto import jwk, jws

from issuer.cards import issue_cards
from issuer.children import ChildRequest
from issuer.issuing_keys import KeyUnlock, change_issuing_key, init_home, rotate_issuing_key
from issuer.storage.store import IssuerHome
from issuer.trust_lists import TrustListExport, export_trust_list
from tests.factories import ACTOR, NOW

UNLOCK = KeyUnlock(b"interop-test-passphrase-000")


@pytest.fixture
def exported(tmp_path: Path) -> tuple[str, TrustListExport]:
    home = IssuerHome(tmp_path / "office")
    init_home(home, UNLOCK, NOW, by=ACTOR)
    (card,) = issue_cards(home, UNLOCK, [ChildRequest(1, dt.date(2016, 8, 17), 3372)], NOW, by=ACTOR).cards
    export = export_trust_list(home, UNLOCK, NOW, tmp_path / "published", by=ACTOR)
    home.close()
    return card.record.token, export


def test_card_token_verifies_with_jwcrypto_and_the_exported_jwks(exported) -> None:
    token, export = exported
    key_set = jwk.JWKSet.from_json(export.jwks.read_text(encoding="ascii"))
    signed = jws.JWS()
    signed.deserialize(token)
    kid = signed.jose_header["kid"]
    signed.verify(key_set.get_key(kid), alg="EdDSA")
    claims = json.loads(signed.payload)
    assert set(claims) == {"sub", "reg", "bm", "iat", "exp"}
    assert claims["reg"] == 3372 and claims["bm"] == 201608


def test_a_card_of_a_revoked_key_finds_no_key_in_the_exported_jwks(tmp_path: Path) -> None:
    # A JOSE library knows no key states: jwks.json must not offer it a key whose cards the terminals refuse.
    home = IssuerHome(tmp_path / "office")
    keys = init_home(home, UNLOCK, NOW, by=ACTOR)
    (card,) = issue_cards(home, UNLOCK, [ChildRequest(1, dt.date(2016, 8, 17), 3372)], NOW, by=ACTOR).cards
    rotated = rotate_issuing_key(home, UNLOCK, NOW + 60, by=ACTOR)
    change_issuing_key(home, keys.issuing_kid, "revoke", NOW + 120, by=ACTOR)
    export = export_trust_list(home, UNLOCK, NOW + 180, tmp_path / "published", by=ACTOR)
    home.close()

    key_set = jwk.JWKSet.from_json(export.jwks.read_text(encoding="ascii"))
    assert [key.get("kid") for key in key_set["keys"]] == [rotated.kid]
    signed = jws.JWS()
    signed.deserialize(card.record.token)
    assert key_set.get_key(signed.jose_header["kid"]) is None


def test_trust_list_verifies_with_jwcrypto_and_the_exported_root_jwk(exported) -> None:
    _, export = exported
    root = jwk.JWK.from_json(export.root_jwk.read_text(encoding="ascii"))
    signed = jws.JWS()
    signed.deserialize(export.trust_list.read_text(encoding="ascii"))
    signed.verify(root, alg="EdDSA")
    assert signed.jose_header["typ"] == "kia-tl"
    assert json.loads(signed.payload)["seq"] == export.seq


def test_jwcrypto_refuses_the_trust_list_under_an_issuing_key(exported) -> None:
    _, export = exported
    (issuing,) = jwk.JWKSet.from_json(export.jwks.read_text(encoding="ascii"))["keys"]
    signed = jws.JWS()
    signed.deserialize(export.trust_list.read_text(encoding="ascii"))
    with pytest.raises(jws.InvalidJWSSignature):
        signed.verify(issuing, alg="EdDSA")

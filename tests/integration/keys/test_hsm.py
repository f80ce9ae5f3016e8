"""Keys held in a PKCS#11 token (keys.hsm), on a fresh SoftHSM token.

Each test module gets its own token in a temporary folder
(tests.factories.softhsm); the system's token folder is never touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import CARD_TYP, IssuingKey, hsm, jws, verify_card, verify_trust_list
from tests.factories import DAY, NOW, make_card, make_trust
from tests.factories.softhsm import SoftHsm, softhsm_token

softhsm = pytest.fixture(scope="module")(softhsm_token)


@pytest.fixture
def token(softhsm: SoftHsm) -> Iterator[hsm.HsmToken]:
    with hsm.open_token(softhsm.module, softhsm.token_label, softhsm.pin) as opened:
        yield opened


def test_card_signed_on_the_token_verifies(token: hsm.HsmToken) -> None:
    key = token.generate_ed25519_key("issuing-card")
    issuing = IssuingKey.new(key.public_key(), NOW - 30 * DAY)
    trust = make_trust(signers=[(key, issuing)])  # the HSM key stands where a private key would
    card = make_card()

    token_text = hsm.issue_card(card, key)

    verified = verify_card(token_text, verify_trust_list(trust.token, trust.root.public_key(), NOW), NOW)
    assert verified.card == card and verified.kid == key.kid == issuing.kid
    # The same header and payload bytes as the office's software signing writes.
    software = jws.sign(card.claims(), Ed25519PrivateKey.generate(), key.kid, CARD_TYP)
    assert token_text.rsplit(".", 1)[0] == software.rsplit(".", 1)[0]


def test_trust_list_signed_by_a_root_key_on_the_token_verifies(token: hsm.HsmToken) -> None:
    root = token.generate_ed25519_key("root")
    issuing = token.generate_ed25519_key("issuing-under-root")
    trust = make_trust(signers=[(issuing, IssuingKey.new(issuing.public_key(), NOW - 30 * DAY))])

    listed = verify_trust_list(hsm.sign_trust_list(trust.trust_list, root), root.public_key(), NOW)

    assert listed == trust.trust_list
    assert verify_card(hsm.issue_card(make_card(), issuing), listed, NOW).kid == issuing.kid


def test_trust_list_signed_on_the_token_does_not_verify_under_another_root(token: hsm.HsmToken) -> None:
    from keys.errors import TrustListSignatureInvalid

    root = token.generate_ed25519_key("root-other")
    trust = make_trust()
    with pytest.raises(TrustListSignatureInvalid):
        verify_trust_list(hsm.sign_trust_list(trust.trust_list, root), trust.root.public_key(), NOW)


def test_find_key_gives_the_generated_key(token: hsm.HsmToken) -> None:
    generated = token.generate_ed25519_key("issuing-found")

    found = token.find_key("issuing-found")

    assert found.public_key() == generated.public_key() and found.key_id == generated.key_id
    assert len(found.key_id) == 16
    found.public_key().verify(found.sign(b"signed on the token"), b"signed on the token")


def test_private_key_cannot_be_read_off_the_token(token: hsm.HsmToken) -> None:
    import pkcs11
    from pkcs11 import Attribute

    private = token.generate_ed25519_key("issuing-sealed")._private  # the token's handle, as an attacker holds it

    with pytest.raises(pkcs11.AttributeSensitive):
        private[Attribute.VALUE]
    assert private[Attribute.SENSITIVE] and private[Attribute.ALWAYS_SENSITIVE]
    assert not private[Attribute.EXTRACTABLE] and private[Attribute.NEVER_EXTRACTABLE]
    assert private[Attribute.TOKEN]


def test_a_key_that_could_be_read_off_the_token_is_refused(token: hsm.HsmToken) -> None:
    import pkcs11
    from pkcs11 import Attribute

    token._session.generate_keypair(  # as a careless tool would make it
        pkcs11.KeyType.EC_EDWARDS,
        0,
        mechanism=pkcs11.Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
        store=True,
        label="issuing-readable",
        id=b"readable",
        public_template={Attribute.EC_PARAMS: hsm.ED25519_PARAMS},
        private_template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True},
    )
    with pytest.raises(hsm.HsmKeyUnsuitable, match="non-extractable"):
        token.find_key("issuing-readable")


def test_an_existing_label_is_never_replaced(token: hsm.HsmToken) -> None:
    first = token.generate_ed25519_key("issuing-once")

    with pytest.raises(hsm.HsmKeyExists, match="issuing-once"):
        token.generate_ed25519_key("issuing-once")
    assert token.find_key("issuing-once").public_key() == first.public_key()


def test_a_missing_key_label_is_a_clear_error(token: hsm.HsmToken) -> None:
    with pytest.raises(hsm.HsmKeyNotFound, match="no private key labelled 'no-such-key' on token 'kia-test'"):
        token.find_key("no-such-key")


def test_wrong_pin_is_refused_without_repeating_it(softhsm: SoftHsm) -> None:
    wrong = "wrong-pin-7391"
    with pytest.raises(hsm.HsmPinRefused) as info:
        hsm.open_token(softhsm.module, softhsm.token_label, wrong)

    assert "refused the user PIN" in str(info.value)
    for pin in (wrong, softhsm.pin):
        assert pin not in str(info.value) and pin not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_pin_comes_from_the_environment(softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hsm.PIN_ENV, softhsm.pin)
    with hsm.open_token(softhsm.module, softhsm.token_label) as opened:
        assert opened.token_label == softhsm.token_label

    monkeypatch.delenv(hsm.PIN_ENV)
    with pytest.raises(hsm.HsmPinRefused, match=hsm.PIN_ENV):
        hsm.open_token(softhsm.module, softhsm.token_label)


def test_an_unknown_token_is_a_clear_error(softhsm: SoftHsm) -> None:
    with pytest.raises(hsm.HsmTokenNotFound, match="no token labelled 'not-a-token'"):
        hsm.open_token(softhsm.module, "not-a-token", softhsm.pin)


def test_a_missing_module_is_a_clear_error(softhsm: SoftHsm, tmp_path: Path) -> None:
    with pytest.raises(hsm.HsmUnavailable, match="cannot load the PKCS#11 module"):
        hsm.open_token(str(tmp_path / "no-such-module.so"), softhsm.token_label, softhsm.pin)

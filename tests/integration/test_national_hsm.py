"""``kia national init --hsm``: the national root made on a PKCS#11 token (SoftHSM), never in a file.

The ministry's home then holds a key reference (``national-root.pkcs11.json``:
no secret) where the encrypted key would be; ``sign``, ``delta``,
``publish`` and, given the reference, ``sign-request`` sign on the token
with the PIN from KIA_HSM_PIN and no passphrase, and terminals verify what they sign against the pin as before.
The commands run in process (click's runner); the token is a fresh SoftHSM
one, the keys made at run time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from keys import hsm, keystore, load_public_jwk, public_jwk
from keys.directory import OfficeState, verify_directory
from keys.jwk import kid_for
from kia.national import load_state, national, published
from tests.factories.federation import make_office
from tests.factories.federation import run_national as _kia
from tests.factories.softhsm import SoftHsm, softhsm_token

softhsm = pytest.fixture(scope="module")(softhsm_token)
REGION = 6311



@pytest.fixture
def pin_only(softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch) -> Iterator[SoftHsm]:
    """The token's PIN in KIA_HSM_PIN, and no passphrase anywhere: a root on a token needs none."""
    monkeypatch.setenv(hsm.PIN_ENV, softhsm.pin)
    for name in (keystore.PASSPHRASE_ENV, keystore.PASSPHRASE_FILE_ENV, keystore.ROOT_PASSPHRASE_ENV,
                 keystore.ROOT_PASSPHRASE_FILE_ENV):
        monkeypatch.delenv(name, raising=False)
    yield softhsm
    hsm.close_sessions()


def test_a_national_root_on_the_token_signs_directories_that_terminals_verify(pin_only: SoftHsm,
                                                                              tmp_path: Path) -> None:
    home, site = tmp_path / "ministry", tmp_path / "site"
    made = _kia("init", "--home", home, "--hsm", "--pkcs11-module", pin_only.module, "--hsm-token",
                pin_only.token_label)
    office = tmp_path / "root-6311.jwk"
    office.write_text(json.dumps(public_jwk(make_office(REGION).root.public_key())))
    _kia("office-add", "--home", home, "--region", REGION, "--root", office, "--valid-from", "2020-01-01",
         "--valid-until", "2040-01-01")

    first = _kia("publish", "--home", home, "--out", site)
    _kia("office-suspend", "--home", home, "--region", REGION)
    second = _kia("publish", "--home", home, "--out", site)

    pin = load_public_jwk(json.loads((home / "national-root.jwk").read_text()))
    assert kid_for(pin) == made["root_kid"]
    now = published(load_state(home), 2).issued_at
    directory = verify_directory((site / "directory.jws").read_text().strip(), pin, now)
    assert (first["seq"], second["seq"], second["deltas_from"]) == (1, 2, [1])
    office_held = directory.office(REGION)
    assert office_held is not None and office_held.state is OfficeState.SUSPENDED
    # Only a reference in the home: no key file, no PIN; the key on the token cannot be read out.
    assert sorted(path.name for path in home.iterdir()) == ["national-root.jwk", "national-root.pkcs11.json",
                                                             "national.json"]
    reference = (home / "national-root.pkcs11.json").read_text()
    assert pin_only.pin not in reference and json.loads(reference)["kid"] == made["root_kid"]
    root = keystore.read_signing_key(home / "national-root.pkcs11.json", None)
    with pytest.raises(hsm.HsmKeyUnsuitable, match="never leaves its token"):
        root.private_bytes_raw()


def test_a_national_root_on_the_token_signs_a_request_offline(pin_only: SoftHsm, tmp_path: Path) -> None:
    home, site = tmp_path / "ministry", tmp_path / "site"
    _kia("init", "--home", home, "--hsm", "--pkcs11-module", pin_only.module, "--hsm-token", pin_only.token_label)
    office = tmp_path / "root-6311.jwk"
    office.write_text(json.dumps(public_jwk(make_office(REGION).root.public_key())))
    _kia("office-add", "--home", home, "--region", REGION, "--root", office, "--valid-from", "2020-01-01",
         "--valid-until", "2040-01-01")
    request, bundle = tmp_path / "request.json", tmp_path / "bundle.json"
    prepared = _kia("prepare", "--home", home, "--out", request)

    # The offline machine holds the reference and the token; the PIN, and no passphrase, opens it.
    _kia("sign-request", "--root-key", home / "national-root.pkcs11.json", "--in", request, "--out", bundle,
         "--fingerprint", prepared["fingerprint"])
    imported = _kia("import", "--home", home, bundle, "--out", site)

    pin = load_public_jwk(json.loads((home / "national-root.jwk").read_text()))
    directory = verify_directory((site / "directory.jws").read_text().strip(), pin,
                                 published(load_state(home), 1).issued_at)
    assert imported["seq"] == directory.seq == 1 and [office.region for office in directory.offices] == [REGION]


def test_a_root_on_a_token_is_never_written_unencrypted(pin_only: SoftHsm, tmp_path: Path) -> None:
    result = CliRunner().invoke(national, ["init", "--home", str(tmp_path / "ministry"), "--hsm",
                                           "--insecure-dev-unencrypted-keys", "--pkcs11-module", pin_only.module,
                                           "--hsm-token", pin_only.token_label])

    assert result.exit_code == 2 and "do not go together" in result.output
    assert not (tmp_path / "ministry").exists()

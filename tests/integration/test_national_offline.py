"""``kia national prepare | sign-request | import``: the national directory signed on an air-gapped machine.

The ministry's home, the offline machine's folder and the site are real
folders; the commands run in process (click's runner) with the development
flag for the national root (tests/integration/test_national_hsm.py signs a
request on a token).  Offices are the federation factories' (keys made at run time).  The
commands read the real clock, so every check is at the time the directory
was issued.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from keys import keystore, load_public_jwk, public_jwk
from keys.directory import OfficeState, TrustDirectory, apply_directory_delta, verify_directory
from keys.jwk import kid_for
from kia.national import NationalError, load_state, national, publish
from kia.national_offline import DirectoryBundle, DirectoryRequest, sign_request
from tests.factories.federation import make_office
from tests.factories.federation import run_national as _kia

DEV = "--insecure-dev-unencrypted-keys"
REGIONS = (3372, 6311, 9171)


@dataclasses.dataclass(frozen=True)
class Ministry:
    home: Path  # the online machine: state and pin, no root key used
    root_key: Path  # the national root, as the offline machine holds it
    folder: Path

    @property
    def pin(self) -> Ed25519PublicKey:
        return load_public_jwk(json.loads((self.home / "national-root.jwk").read_text()))

    @property
    def site(self) -> Path:
        return self.folder / "site"

    def prepare(self, name: str) -> tuple[Path, dict[str, Any]]:
        request = self.folder / f"request-{name}.json"
        return request, _kia("prepare", "--home", self.home, "--out", request)

    def sign(self, request: Path, fingerprint: str, *extra: object) -> Path:
        bundle = request.with_name(request.name.replace("request", "bundle"))
        _kia("sign-request", "--root-key", self.root_key, "--in", request, "--out", bundle,
             "--fingerprint", fingerprint, DEV, *extra)
        return bundle

    def ceremony(self, name: str) -> dict[str, Any]:
        """Prepare, sign offline and import: the ``import`` answer."""
        request, prepared = self.prepare(name)
        return _kia("import", "--home", self.home, self.sign(request, prepared["fingerprint"]), "--out", self.site)

    def site_directory(self) -> TrustDirectory:
        token = (self.site / "directory.jws").read_text().strip()
        return verify_directory(token, self.pin, load_state(self.home).published[-1].issued_at)


def _add_offices(home: Path, folder: Path) -> None:
    for region in REGIONS:
        root = folder / f"root-{region}.jwk"
        root.write_text(json.dumps(public_jwk(make_office(region).root.public_key())))
        _kia("office-add", "--home", home, "--region", region, "--root", root, "--valid-from", "2020-01-01",
             "--valid-until", "2040-01-01")


@pytest.fixture
def ministry(tmp_path: Path) -> Ministry:
    home, offline = tmp_path / "ministry", tmp_path / "offline"
    _kia("init", "--home", home, DEV)
    _add_offices(home, tmp_path)
    offline.mkdir()
    # The root goes to the air-gapped machine; the online home keeps only the pin.
    root_key = Path(shutil.move(home / "national-root.key", offline / "national-root.key"))
    return Ministry(home, root_key, tmp_path)


def _refused(*args: object) -> str:
    """``kia national ARGS``, which must be refused: the message."""
    result = CliRunner().invoke(national, [str(arg) for arg in args])
    assert isinstance(result.exception, NationalError), result.output
    return str(result.exception)


def test_a_directory_signed_offline_is_the_one_publish_would_sign(ministry: Ministry) -> None:
    state_file = ministry.home / "national.json"
    before = state_file.read_bytes()

    request, prepared = ministry.prepare("1")

    assert state_file.read_bytes() == before  # prepare changes nothing
    data = request.read_bytes()
    assert prepared["fingerprint"] == hashlib.sha256(data).hexdigest()
    assert (prepared["seq"], prepared["offices"], prepared["deltas_from"]) == (1, 3, [])
    document = json.loads(data)
    assert (document["kind"], document["version"], document["root_kid"]) == ("kia-directory-request", 1,
                                                                              kid_for(ministry.pin))
    fingerprint = prepared["fingerprint"]
    bundle = ministry.sign(request, f"{fingerprint[:8]} {fingerprint[8:16]}:{fingerprint[16:24]}")
    assert json.loads(bundle.read_text())["request_sha256"] == fingerprint

    expected = load_state(ministry.home)
    imported = _kia("import", "--home", ministry.home, bundle, "--out", ministry.site)

    directory = ministry.site_directory()
    assert (imported["seq"], imported["offices"], imported["deltas_from"]) == (1, 3, [])
    assert imported["request_sha256"] == fingerprint
    assert directory.expires_at - directory.issued_at == 30 * 86400
    # What publish, at the same time, would have signed and recorded.
    assert publish(expected, directory.issued_at, dt.timedelta(days=30)) == directory
    assert load_state(ministry.home).to_json() == expected.to_json()


def test_after_a_suspension_the_delta_signed_offline_brings_a_terminal_to_the_next_directory(
    ministry: Ministry,
) -> None:
    ministry.ceremony("1")
    first = ministry.site_directory()
    _kia("office-suspend", "--home", ministry.home, "--region", 9171)

    request, prepared = ministry.prepare("2")
    assert prepared["deltas_from"] == [1]
    assert json.loads(request.read_text())["deltas"] == [{"from": 1, "changed": [9171], "removed": []}]
    imported = _kia("import", "--home", ministry.home, ministry.sign(request, prepared["fingerprint"]),
                    "--out", ministry.site)

    second = ministry.site_directory()
    assert (imported["seq"], imported["deltas_from"]) == (2, [1])
    suspended = second.office(9171)
    assert suspended is not None and suspended.state is OfficeState.SUSPENDED
    delta = (ministry.site / "directory-deltas" / "1.jws").read_text().strip()
    assert apply_directory_delta(first, delta, ministry.pin, second.issued_at) == second  # as a terminal does


def test_a_request_changed_on_its_way_is_not_signed(ministry: Ministry) -> None:
    request, prepared = ministry.prepare("1")
    bundle = ministry.folder / "bundle-1.json"
    sign = ["sign-request", "--root-key", ministry.root_key, "--in", request, "--out", bundle, DEV]

    assert "at least the first 20" in _refused(*sign, "--fingerprint", prepared["fingerprint"][:12])
    assert "do not sign it" in _refused(*sign, "--fingerprint", "0" * 64)
    document = json.loads(request.read_text())
    document["offices"] = document["offices"][:2]  # one office left out on the way
    request.write_text(json.dumps(document))
    assert "do not sign it" in _refused(*sign, "--fingerprint", prepared["fingerprint"])
    assert not bundle.exists()


def test_another_root_key_does_not_sign_the_request(ministry: Ministry, tmp_path: Path) -> None:
    other = tmp_path / "other"
    _kia("init", "--home", other, DEV)
    request, prepared = ministry.prepare("1")
    bundle = tmp_path / "bundle-1.json"

    says = _refused("sign-request", "--root-key", other / "national-root.key", "--in", request, "--out", bundle,
                    "--fingerprint", prepared["fingerprint"], DEV)

    assert "is not the national root the request names" in says
    assert not bundle.exists()


def test_a_directory_signed_by_another_key_is_not_imported(ministry: Ministry) -> None:
    request, _ = ministry.prepare("1")
    other = Ed25519PrivateKey.generate()
    genuine = DirectoryRequest.from_bytes(request.read_bytes())
    forged = dataclasses.replace(genuine, root_kid=kid_for(other.public_key()))  # so that the other key signs it
    _, bundle = sign_request(forged.to_bytes(), other, int(time.time()))
    path = ministry.folder / "forged.json"
    path.write_bytes(bundle.to_bytes())
    before = (ministry.home / "national.json").read_bytes()

    says = _refused("import", "--home", ministry.home, path, "--out", ministry.site)

    assert "the bundle's directory is refused" in says and "not signed by the pinned root key" in says
    assert (ministry.home / "national.json").read_bytes() == before
    assert not ministry.site.exists()


def test_a_bundle_prepared_before_the_offices_changed_is_not_imported(ministry: Ministry) -> None:
    request, prepared = ministry.prepare("1")
    bundle = ministry.sign(request, prepared["fingerprint"])
    _kia("office-revoke", "--home", ministry.home, "--region", 6311)  # after prepare: not in the bundle

    says = _refused("import", "--home", ministry.home, bundle, "--out", ministry.site)

    assert "prepare again" in says
    assert load_state(ministry.home).last_seq == 0 and not ministry.site.exists()


def test_a_replayed_bundle_is_not_imported(ministry: Ministry) -> None:
    request, prepared = ministry.prepare("1")
    bundle = ministry.sign(request, prepared["fingerprint"])
    _kia("import", "--home", ministry.home, bundle, "--out", ministry.site)
    site = (ministry.site / "directory.jws").read_bytes()

    says = _refused("import", "--home", ministry.home, bundle, "--out", ministry.site)

    assert "already published" in says
    assert load_state(ministry.home).last_seq == 1 and (ministry.site / "directory.jws").read_bytes() == site


def _tampered(token: str) -> str:
    """The delta with its suspended office made active again, the signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["changed"][0]["state"] = "active"
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda deltas: {1: _tampered(deltas[1])}, "the bundle's delta from sequence 1 is refused"),
        (lambda deltas: {}, "not from the kept ones [1]"),
    ],
    ids=["tampered", "missing"],
)
def test_a_tampered_or_missing_delta_is_not_imported(ministry: Ministry, change: Any, says: str) -> None:
    ministry.ceremony("1")
    _kia("office-suspend", "--home", ministry.home, "--region", 9171)
    request, prepared = ministry.prepare("2")
    path = ministry.sign(request, prepared["fingerprint"])
    bundle = DirectoryBundle.from_bytes_unverified(path.read_bytes())
    path.write_bytes(dataclasses.replace(bundle, deltas=change(bundle.deltas)).to_bytes())

    assert says in _refused("import", "--home", ministry.home, path, "--out", ministry.site)
    assert load_state(ministry.home).last_seq == 1


def test_a_wrong_clock_on_the_offline_machine_is_caught(ministry: Ministry) -> None:
    request, _ = ministry.prepare("1")
    data = request.read_bytes()
    root = keystore.read_private_key(ministry.root_key, None, allow_unencrypted_for_development=True)
    now = int(time.time())

    with pytest.raises(NationalError, match="clock is behind"):
        sign_request(data, root, now - 3600)
    _, ahead = sign_request(data, root, now + 3600)
    path = ministry.folder / "ahead.json"
    path.write_bytes(ahead.to_bytes())
    assert "clock is ahead" in _refused("import", "--home", ministry.home, path, "--out", ministry.site)


def _request(**members: Any) -> bytes:
    document = {"kind": "kia-directory-request", "version": 1, "root_kid": "abcd", "seq": 2, "prepared_at": 0,
                "valid_days": 30, "offices": [], "deltas": [{"from": 1, "changed": [], "removed": [3372]}]}
    return json.dumps(document | members).encode()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"not json", "not JSON"),
        (b"[]", "is not a directory signing request"),
        (_request(kind="kia-directory-bundle"), "is not a directory signing request"),
        (_request(extra=1), "holds exactly"),
        (_request(version=2), "another version"),
        (_request(version=True), "another version"),
        (_request(seq="2"), "seq is not a whole number"),
        (_request(seq=True), "seq is not a whole number"),
        (_request(valid_days=366), "valid_days"),
        (_request(root_kid="a/b"), "root_kid"),
        (_request(offices={}), "offices is not a list"),
        (_request(deltas=[{"from": 2, "changed": [], "removed": []}]), "a delta's from"),
        (_request(deltas=[{"from": 1, "changed": [], "removed": [3372, 3372]}]), "distinct region codes"),
        (_request(deltas=[{"from": 1, "changed": [3372], "removed": []}]), "changes a region not listed"),
        (_request(deltas=[{"from": 1, "changed": [], "removed": [], "sha256": ""}]), "a delta holds exactly"),
        (b'{"kind": "kia-directory-request", "kind": "kia-directory-request"}', "names a member twice"),
        (b" " * (2 * 1024 * 1024 + 1), "larger than"),
    ],
)
def test_a_malformed_request_is_refused(data: bytes, says: str) -> None:
    with pytest.raises(NationalError) as refused:
        DirectoryRequest.from_bytes(data)
    assert says in str(refused.value)


def _bundle(**members: Any) -> bytes:
    document = {"kind": "kia-directory-bundle", "version": 1, "request_sha256": "0" * 64, "directory": "a.b.c",
                "deltas": {"1": "a.b.c"}}
    return json.dumps(document | members).encode()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (_bundle(kind="kia-directory-request"), "is not a signed directory bundle"),
        (_bundle(extra=1), "holds exactly"),
        (_bundle(request_sha256="0" * 63), "request_sha256"),
        (_bundle(directory=7), "directory is not a compact JWS"),
        (_bundle(directory="a.b.c\n"), "directory is not a compact JWS"),
        (_bundle(deltas={"01": "a.b.c"}), "deltas is not an object"),
        (_bundle(deltas=[["1", "a.b.c"]]), "deltas is not an object"),
        (_bundle(deltas={"1": "a.b"}), "the delta from 1 is not a compact JWS"),
    ],
)
def test_a_malformed_bundle_is_refused(data: bytes, says: str) -> None:
    with pytest.raises(NationalError) as refused:
        DirectoryBundle.from_bytes_unverified(data)
    assert says in str(refused.value)

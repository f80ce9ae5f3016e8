"""Trust lists signed on an air-gapped machine: prepare, sign without a database, import (both databases).

The story: the office publishes list 1 with the root key at hand, then
revokes a card; the next list is prepared on the service, signed with only
the root key file, and imported.  Terminals then get it, and its delta,
from the API exactly as after an export.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from issuer import create_app, offline_signing
from issuer.audit import Actor
from issuer.cards import find_card, issue_cards, revoke_card
from issuer.children import ChildRequest
from issuer.errors import BundleOutdated, BundleRefused, BundleRollback
from issuer.issuing_keys import KeyUnlock, rotate_issuing_key
from issuer.storage.models import AuditEvent, CardRow
from issuer.storage.store import IssuerHome
from issuer.trust_lists import export_trust_list, import_bundle, latest_published, prepare_signing, trust_list_seq
from keys import apply_delta, kid_for, load_public_jwk, verify_card, verify_trust_list
from keys.errors import CardRevoked
from tests.factories import ACTOR, DAY, NOW, SURAKARTA
from tests.integration.conftest import RunKia

ISSUING = b"issuing keys passphrase, test only"
ROOT = b"root key passphrase, test only 01"
UNLOCK = KeyUnlock(ISSUING, root_passphrase=ROOT)


@pytest.fixture
def unlock() -> KeyUnlock:
    """The office's root key has a passphrase of its own here."""
    return UNLOCK


def issue(home: IssuerHome, born: dt.date = dt.date(2016, 8, 17)) -> str:
    return issue_cards(home, UNLOCK, [ChildRequest(1, born, SURAKARTA)], NOW,
                       by=ACTOR).cards[0].record.serial


def root_key(home: IssuerHome) -> Ed25519PrivateKey:
    """The root key as the offline machine opens it: a file and its own passphrase."""
    return KeyUnlock(None, root_passphrase=ROOT).read_file(home.key_path("root.key"), root=True)


def signed(home: IssuerHome, prepared_at: int, signed_at: int) -> bytes:
    request = prepare_signing(home, prepared_at, by=ACTOR).to_bytes()
    return offline_signing.sign_request(request, root_key(home), signed_at)[1].to_bytes()


@pytest.fixture
def published_once(office: IssuerHome, tmp_path: Path) -> tuple[str, str]:
    """List 1 exported, then a card revoked: (the revoked serial, a card kept)."""
    lost, kept = issue(office), issue(office)
    export_trust_list(office, UNLOCK, NOW, tmp_path / "1", by=ACTOR)
    revoke_card(office, lost, "hilang", NOW + 60, by=ACTOR)
    return lost, kept


def test_a_list_signed_offline_is_published_and_served_like_an_export(
    office: IssuerHome, published_once: tuple[str, str], tmp_path: Path
) -> None:
    lost, kept = published_once
    imported = import_bundle(office, signed(office, NOW + 120, NOW + 180), NOW + 240, by=ACTOR)

    assert imported.trust_list.seq == 2 == trust_list_seq(office)
    assert latest_published(office) == (2, imported.signed)
    with office.transaction() as session:
        assert session.get_one(CardRow, lost).listed_seq == 2
    root = load_public_jwk(json.loads((tmp_path / "1" / "root.jwk").read_text()))
    first = verify_trust_list((tmp_path / "1" / "trustlist.jws").read_text(), root, NOW + 300)
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True})
    client = app.test_client()
    try:
        full = client.get("/api/v1/trustlist")
        delta = client.get("/api/v1/trustlist?since=1")
    finally:
        app.extensions["kia_home"].close()
    assert full.headers["X-KIA-Trust-List-Seq"] == "2"
    current = verify_trust_list(full.get_data(as_text=True), root, NOW + 300)
    assert delta.status_code == 200 and delta.headers["X-KIA-Delta-From"] == "1"
    assert apply_delta(first, delta.get_data(as_text=True), root, NOW + 300) == current
    with pytest.raises(CardRevoked):
        verify_card(find_card(office, lost).token, current, NOW + 300)
    assert verify_card(find_card(office, kept).token, current, NOW + 300).card.serial == kept


def test_the_signing_request_holds_no_child_data_and_prepare_changes_nothing(
    office: IssuerHome, published_once: tuple[str, str]
) -> None:
    request = prepare_signing(office, NOW + 120, by=ACTOR)
    text = request.to_bytes().decode()
    assert (request.seq, len(request.revoked), [base.from_seq for base in request.deltas]) == (2, 1, [1])
    assert "2016-08-17" not in text and "birth" not in text and "nik" not in text
    assert trust_list_seq(office) == 1
    with office.transaction() as session:
        assert session.scalars(select(CardRow.listed_seq).where(CardRow.revoked_at.is_not(None))).one() is None


def test_a_bundle_imported_twice_is_a_rollback(office: IssuerHome, published_once: tuple[str, str]) -> None:
    bundle = signed(office, NOW + 120, NOW + 180)
    import_bundle(office, bundle, NOW + 240, by=ACTOR)
    with pytest.raises(BundleRollback, match="not newer than the office's latest"):
        import_bundle(office, bundle, NOW + 300, by=ACTOR)
    assert trust_list_seq(office) == 2


def test_a_bundle_overtaken_by_an_export_is_a_rollback(
    office: IssuerHome, published_once: tuple[str, str], tmp_path: Path
) -> None:
    bundle = signed(office, NOW + 120, NOW + 180)
    export_trust_list(office, UNLOCK, NOW + 200, tmp_path / "2", by=ACTOR)
    with pytest.raises(BundleRollback):
        import_bundle(office, bundle, NOW + 240, by=ACTOR)


def test_a_card_revoked_after_preparing_makes_the_bundle_outdated(
    office: IssuerHome, published_once: tuple[str, str]
) -> None:
    _, kept = published_once
    bundle = signed(office, NOW + 120, NOW + 180)
    revoke_card(office, kept, "rusak", NOW + 200, by=ACTOR)
    with pytest.raises(BundleOutdated, match="cards were revoked.*prepare' again"):
        import_bundle(office, bundle, NOW + 240, by=ACTOR)
    assert trust_list_seq(office) == 1  # nothing published, nothing marked
    with office.transaction() as session:
        assert set(session.scalars(select(CardRow.listed_seq).where(CardRow.revoked_at.is_not(None)))) == {None}
    import_bundle(office, signed(office, NOW + 260, NOW + 270), NOW + 280, by=ACTOR)  # prepared again: fine
    assert trust_list_seq(office) == 2


def test_a_key_rotated_after_preparing_makes_the_bundle_outdated(
    office: IssuerHome, published_once: tuple[str, str]
) -> None:
    bundle = signed(office, NOW + 120, NOW + 180)
    rotate_issuing_key(office, UNLOCK, NOW + 200, by=ACTOR)
    with pytest.raises(BundleOutdated, match="issuing key"):
        import_bundle(office, bundle, NOW + 240, by=ACTOR)


def test_a_bundle_signed_by_another_root_key_is_refused(office: IssuerHome, published_once: tuple[str, str]) -> None:
    forger = Ed25519PrivateKey.generate()
    request = dataclasses.replace(prepare_signing(office, NOW + 120, by=ACTOR), root_kid=kid_for(forger.public_key()))
    _, bundle = offline_signing.sign_request(request.to_bytes(), forger, NOW + 180)
    with pytest.raises(BundleRefused, match="not signed by this office's root key"):
        import_bundle(office, bundle.to_bytes(), NOW + 240, by=ACTOR)
    assert trust_list_seq(office) == 1


def test_a_bundle_with_a_delta_of_another_list_is_refused(office: IssuerHome, published_once: tuple[str, str]) -> None:
    _, kept = published_once
    genuine = offline_signing.SignedBundle.from_bytes_unverified(signed(office, NOW + 120, NOW + 180))
    revoke_card(office, kept, "rusak", NOW + 200, by=ACTOR)  # a delta that also revokes this card
    other = offline_signing.SignedBundle.from_bytes_unverified(signed(office, NOW + 210, NOW + 220))
    with office.transaction() as session:  # undo the revocation: the office is back to the genuine state
        row = session.get_one(CardRow, kept)
        row.revoked_at, row.revocation_reason, row.state = None, None, "active"
    spliced = dataclasses.replace(genuine, deltas=other.deltas)
    with pytest.raises(BundleRefused, match="delta from sequence 1"):
        import_bundle(office, spliced.to_bytes(), NOW + 240, by=ACTOR)
    assert trust_list_seq(office) == 1
    import_bundle(office, genuine.to_bytes(), NOW + 240, by=ACTOR)
    assert trust_list_seq(office) == 2


def test_an_expired_bundle_and_a_clock_far_off_are_refused(office: IssuerHome, published_once: tuple[str, str]) -> None:
    request = prepare_signing(office, NOW + 120, by=ACTOR).to_bytes()
    _, short = offline_signing.sign_request(request, root_key(office), NOW + 180, dt.timedelta(days=1))
    with pytest.raises(BundleRefused, match="expired"):
        import_bundle(office, short.to_bytes(), NOW + 2 * DAY, by=ACTOR)
    _, early = offline_signing.sign_request(request, root_key(office), NOW + 120)
    with pytest.raises(BundleRefused, match="clock"):
        import_bundle(office, early.to_bytes(), NOW - 3600, by=ACTOR)  # issued "after" the service's now


def test_the_first_list_can_be_signed_offline_too(office: IssuerHome) -> None:
    issue(office)
    imported = import_bundle(office, signed(office, NOW, NOW + 60), NOW + 120, by=ACTOR)
    assert (imported.trust_list.seq, imported.deltas) == (1, 0)


# --- the ceremony through the real command, with a passphrase for each kind of key ------------------


def test_the_ceremony_through_kia_with_separate_passphrases(
    run_kia: RunKia, kia_env: dict[str, str], tmp_path: Path, issuer_db_url: str | None
) -> None:
    service_env = {name: value for name, value in kia_env.items() if not name.startswith("KIA_")}
    service_env["KIA_KEY_PASSPHRASE"] = ISSUING.decode()
    if issuer_db_url:
        service_env["KIA_DATABASE_URL"] = issuer_db_url
    home = tmp_path / "office"
    root_file = tmp_path / "root-passphrase"
    root_file.write_text(ROOT.decode() + "\n", encoding="utf-8")
    root_file.chmod(0o600)
    init = run_kia("issuer", "init", "--home", home, env=service_env | {"KIA_ROOT_KEY_PASSPHRASE_FILE": str(root_file)})
    assert init.returncode == 0, init.stderr
    assert "WARNING" not in init.stderr
    # The service's passphrase does not open the root key.
    refused = run_kia("issuer", "trustlist", "export", "--home", home, "--out", tmp_path / "x", env=service_env)
    assert refused.returncode == 2 and "passphrase does not open key file root.key" in refused.stderr
    # Rotation signs nothing with the root key: the service's passphrase is enough.
    assert run_kia("issuer", "key", "rotate", "--home", home, env=service_env).returncode == 0

    prepared = run_kia("issuer", "trustlist", "prepare", "--home", home, "--out", tmp_path / "usb" / "request.json",
                       env=service_env)
    assert prepared.returncode == 0, prepared.stderr
    fingerprint = json.loads(prepared.stdout)["fingerprint"]

    # The offline machine: the root key file in a folder of its own, its passphrase, no home, no database.
    offline_dir = tmp_path / "offline"
    offline_dir.mkdir()
    (offline_dir / "root.key").write_bytes((home / "keys" / "root.key").read_bytes())
    offline_env = {name: value for name, value in kia_env.items() if not name.startswith("KIA_")}
    offline_env["KIA_ROOT_KEY_PASSPHRASE_FILE"] = str(root_file)
    sign = ["issuer", "trustlist", "sign", "--root-key", offline_dir / "root.key", "--in",
            tmp_path / "usb" / "request.json", "--out", tmp_path / "usb" / "bundle.json"]
    tampered = run_kia(*sign, "--fingerprint", "0" * 64, env=offline_env, cwd=offline_dir)
    assert tampered.returncode == 1 and "do not sign it" in tampered.stderr
    done = run_kia(*sign, "--fingerprint", f"{fingerprint[:8]} {fingerprint[8:24]}", env=offline_env, cwd=offline_dir)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["seq"] == 1
    assert sorted(path.name for path in offline_dir.iterdir()) == ["root.key"]  # nothing else written there

    imported = run_kia("issuer", "trustlist", "import", "--home", home, tmp_path / "usb" / "bundle.json",
                       "--out", tmp_path / "published", env=service_env)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["seq"] == 1
    audit = run_kia("audit", "trustlist", "--trust-anchor", tmp_path / "published" / "root.jwk",
                    tmp_path / "published" / "trustlist.jws", env=service_env)
    assert audit.returncode == 0 and json.loads(audit.stdout)["seq"] == 1
    again = run_kia("issuer", "trustlist", "import", "--home", home, tmp_path / "usb" / "bundle.json",
                    env=service_env)
    assert again.returncode == 1 and "not newer" in again.stderr
    office = IssuerHome(home, issuer_db_url)
    try:
        with office.transaction() as session:
            actions = [(e.username, e.action) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    finally:
        office.close()
    cli = Actor.command_line().username  # the same user as the commands run by
    assert (cli, "trust_list_prepare") in actions and (cli, "trust_list_import") in actions

"""`kia issuer db upgrade` imports a first-version home (kia-issuer.json) once.

The first version kept an office in HOME/kia-issuer.json (format 1, see
issuer.storage.legacy) next to its encrypted keys in HOME/keys/.  Such a home is
written here by hand from the factories, then upgraded with the real ``kia``
command on SQLite and on PostgreSQL.  ``kia`` reads the real clock, so the
home's times are relative to now.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from issuer.cards import card_count, find_card
from issuer.errors import HomeNotFound
from issuer.issuing_keys import list_issuing_keys
from issuer.storage import migrate
from issuer.storage.store import IssuerHome
from issuer.trust_lists import trust_list_seq
from keys import IssuingKey, issue_card, kid_for, public_jwk
from keys.eligibility import WIB, birthday
from keys.keystore import write_private_key
from keys.serial import serial_from_value
from tests.factories import DAY, Signer, make_card, make_issuing_key
from tests.factories.offices import PASSPHRASE
from tests.integration.conftest import RunKia

TODAY = dt.datetime.now(WIB).date()
# Eight years and a bit: far from any birthday boundary whatever the time zone.
EIGHT = birthday(TODAY, -8) - dt.timedelta(days=100)


@dataclasses.dataclass(frozen=True)
class FirstVersionHome:
    path: Path
    state: dict[str, Any]  # what kia-issuer.json holds
    cards: dict[str, dict[str, Any]]  # retired_key (valid), revoked, active_key (valid)
    keys: list[IssuingKey]  # retired, active

    @property
    def state_file(self) -> Path:
        return self.path / "kia-issuer.json"


def legacy_card(signer: Signer, serial: str, issued_at: int, **changes: Any) -> dict[str, Any]:
    """A card entry of the first version's state file, signed by ``signer``."""
    private, key = signer
    card = make_card(serial=serial, birth_date=EIGHT, now=issued_at)
    entry = {
        **dataclasses.asdict(card),
        "kid": key.kid,
        "token": issue_card(card, private, key.kid),
        "revoked_at": None,
        "revocation_reason": None,
        "listed_seq": None,
        "unlisted_seq": None,
    }
    return {**entry, **changes}


def write_first_version_home(path: Path, now: int) -> FirstVersionHome:
    """An office of the first version: three cards (one revoked and listed in
    trust list 3), a retired and an active issuing key, encrypted key files."""
    passphrase = PASSPHRASE.encode()
    path.mkdir(mode=0o700)
    root = Ed25519PrivateKey.generate()
    retired_private, first_key = make_issuing_key(now - 400 * DAY)
    retired = (retired_private, first_key.retire(now - 100 * DAY))
    active = make_issuing_key(now - 100 * DAY)
    files = {"root": "keys/root.key"}
    write_private_key(path / files["root"], root, passphrase)
    for name, (private, key) in (("retired", retired), ("active", active)):
        files[name] = f"keys/issuing-{key.kid}-{key.created_at}.key"
        write_private_key(path / files[name], private, passphrase)
    cards = {
        "retired_key": legacy_card(retired, serial_from_value(11), now - 200 * DAY),
        "revoked": legacy_card(
            active,
            serial_from_value(22),
            now - 50 * DAY,
            revoked_at=now - 10 * DAY,
            revocation_reason="hilang (lost)",
            listed_seq=3,
        ),
        "active_key": legacy_card(active, serial_from_value(33), now - DAY),
    }
    state = {
        "format": 1,
        "root": {"kid": kid_for(root.public_key()), "jwk": public_jwk(root.public_key()), "file": files["root"]},
        "issuing_keys": [
            {"jwk": key.to_jwk(), "file": files[name]} for name, (_, key) in (("retired", retired), ("active", active))
        ],
        "trust_list_seq": 3,
        "cards": list(cards.values()),
    }
    state_file = path / "kia-issuer.json"
    os.close(os.open(state_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    state_file.write_text(json.dumps(state, separators=(",", ":")), encoding="utf-8")
    os.close(os.open(path / ".lock", os.O_WRONLY | os.O_CREAT, 0o600))
    return FirstVersionHome(path, state, cards, [retired[1], active[1]])


def succeeded(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def office_env(kia_env: dict[str, str], issuer_db_url: str | None) -> dict[str, str]:
    return kia_env if issuer_db_url is None else {**kia_env, "KIA_DATABASE_URL": issuer_db_url}


def test_db_upgrade_imports_a_first_version_home_once_and_the_office_carries_on(
    tmp_path: Path, issuer_db_url: str | None, run_kia: RunKia, kia_env: dict[str, str]
) -> None:
    legacy = write_first_version_home(tmp_path / "office", int(time.time()))
    state_bytes = legacy.state_file.read_bytes()
    env = office_env(kia_env, issuer_db_url)

    def kia(*args: str | Path) -> Any:
        return succeeded(run_kia(*args, cwd=tmp_path, env=env))

    first = kia("issuer", "db", "upgrade", "--home", legacy.path)

    assert (first["imported_cards"], first["revision"]) == (3, migrate.head_revision())
    assert not legacy.state_file.exists()
    assert (legacy.path / "kia-issuer.json.imported").read_bytes() == state_bytes
    home = IssuerHome(tmp_path / "office", issuer_db_url)
    try:
        assert trust_list_seq(home) == 3
        assert [key.to_jwk() for key in list_issuing_keys(home)] == [key.to_jwk() for key in legacy.keys]
        for name, entry in legacy.cards.items():
            record = find_card(home, entry["serial"])
            assert {field: getattr(record, field) for field in entry} == entry, name
            assert record.state == ("revoked" if name == "revoked" else "active")
    finally:
        home.close()

    second = kia("issuer", "db", "upgrade", "--home", legacy.path)

    assert not second["imported_cards"]  # nothing left to import
    assert second["revision"] == migrate.head_revision()
    assert not legacy.state_file.exists()
    assert (legacy.path / "kia-issuer.json.imported").read_bytes() == state_bytes

    # The office carries on: the next trust list follows the imported sequence and
    # still lists the revoked card; both issuing keys still open their files.
    published = tmp_path / "published"
    export = kia("issuer", "trustlist", "export", "--home", legacy.path, "--out", published)
    assert export["seq"] == 4
    new_card = kia(
        "issuer",
        "card",
        "issue",
        "--home",
        legacy.path,
        "--birth-date",
        EIGHT.isoformat(),
        "--region",
        "3372",
        "--out",
        tmp_path / "cards",
    )
    assert new_card["kid"] == legacy.keys[1].kid
    home = IssuerHome(tmp_path / "office", issuer_db_url)
    try:
        assert card_count(home) == 4
        assert find_card(home, legacy.cards["revoked"]["serial"]).listed_seq == 3
    finally:
        home.close()

    def verify(token: str) -> tuple[int, dict[str, Any]]:
        result = run_kia(
            "verifier",
            "verify",
            "--trust-anchor",
            published / "root.jwk",
            "--trust-list",
            published / "trustlist.jws",
            token,
            cwd=tmp_path,
            env=env,
        )
        assert "Traceback" not in result.stderr
        return result.returncode, json.loads(result.stdout)

    code, verdict = verify(legacy.cards["retired_key"]["token"])
    assert (code, verdict["accepted"], verdict["kid"]) == (0, True, legacy.keys[0].kid)
    code, verdict = verify(legacy.cards["revoked"]["token"])
    assert (code, verdict["accepted"], verdict["reason"]) == (1, False, "card_revoked")
    assert verdict["serial"] == legacy.cards["revoked"]["serial"]


def test_a_state_file_of_another_format_is_refused_in_one_line_and_kept(
    tmp_path: Path, issuer_db_url: str | None, run_kia: RunKia, kia_env: dict[str, str]
) -> None:
    legacy = write_first_version_home(tmp_path / "office", int(time.time()))
    legacy.state_file.write_text(json.dumps({**legacy.state, "format": 99}), encoding="utf-8")
    before = legacy.state_file.read_bytes()

    result = run_kia(
        "issuer", "db", "upgrade", "--home", legacy.path, cwd=tmp_path, env=office_env(kia_env, issuer_db_url)
    )

    assert result.returncode not in (0, 70), (result.returncode, result.stderr)  # 70: internal error
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "kia-issuer.json" in result.stderr and "format" in result.stderr
    assert legacy.state_file.read_bytes() == before
    assert not (legacy.path / "kia-issuer.json.imported").exists()
    home = IssuerHome(tmp_path / "office", issuer_db_url)
    with pytest.raises(HomeNotFound, match="kia issuer db upgrade"):
        card_count(home)  # still a first-version home, nothing half-imported
    home.close()

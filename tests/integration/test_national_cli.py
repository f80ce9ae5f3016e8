"""``kia national`` as the ministry runs it, with three offices made by ``kia issuer``.

Surakarta, Balangan and Jayapura each init an office, issue a card and
export their trust list and root (real subprocesses, SQLite homes).  The
ministry lists the three roots, signs a directory, suspends one office,
signs again and a delta.  A terminal pins the national root and decides on
the three cards with one FederatedTrust.  The commands read the real clock,
so dates come from it too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from keys import load_public_jwk
from keys.directory import apply_directory_delta, verify_directory
from keys.eligibility import WIB, birthday
from keys.errors import OfficeSuspended
from keys.federation import federate
from tests.integration.conftest import RunKia
from verifier.decision import NO_HISTORY, Service, decide

REGIONS = (3372, 6311, 9171)  # Surakarta (WIB), Balangan (WITA), Jayapura (WIT)
TODAY = dt.datetime.now(WIB).date()
EIGHT = birthday(TODAY, -8) - dt.timedelta(days=100)
UNTIL = (TODAY + dt.timedelta(days=5 * 365)).isoformat()
SERVICE = Service.from_json({"code": "museum", "name": "Museum", "prices": {"5-12": 10_000},
                             "discount": {"kind": "fixed", "value": 2_500}, "daily_limit": 1,
                             "passback_seconds": 0})


@dataclasses.dataclass
class Ministry:
    folder: Path
    home: Path
    init: dict[str, Any]
    cards: dict[int, str]  # region -> card token
    lists: dict[int, str]  # region -> trust list token
    outputs: dict[str, Any]

    @property
    def pin(self):
        return load_public_jwk(json.loads((self.home / "national-root.jwk").read_text()))


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def ministry(tmp_path_factory: pytest.TempPathFactory, run_kia: RunKia) -> Ministry:
    folder = tmp_path_factory.mktemp("national")
    cards, lists = {}, {}
    for region in REGIONS:
        office = folder / f"office-{region}"
        _json(run_kia("issuer", "init", "--home", office / "home"))
        card = _json(run_kia("issuer", "card", "issue", "--home", office / "home", "--birth-date", EIGHT.isoformat(),
                             "--region", str(region), "--out", office / "cards"))
        cards[region] = card["token"]
        _json(run_kia("issuer", "trustlist", "export", "--home", office / "home", "--out", office / "published"))
        lists[region] = (office / "published" / "trustlist.jws").read_text().strip()

    home = folder / "ministry"
    outputs: dict[str, Any] = {"init": _json(run_kia("national", "init", "--home", home))}
    for region in REGIONS:
        outputs[f"add-{region}"] = _json(run_kia(
            "national", "office-add", "--home", home, "--region", str(region),
            "--root", folder / f"office-{region}" / "published" / "root.jwk", "--valid-until", UNTIL))
    outputs["sign-1"] = _json(run_kia("national", "sign", "--home", home, "--out", folder / "dir" / "directory-1.jws"))
    outputs["suspend"] = _json(run_kia("national", "office-suspend", "--home", home, "--region", "9171"))
    outputs["sign-2"] = _json(run_kia("national", "sign", "--home", home, "--out", folder / "dir" / "directory-2.jws"))
    outputs["delta"] = _json(run_kia("national", "delta", "--home", home, "--from", "1",
                                     "--out", folder / "dir" / "delta-1-2.jws"))
    return Ministry(folder, home, outputs["init"], cards, lists, outputs)


def _directory(ministry: Ministry, name: str) -> str:
    return (ministry.folder / "dir" / name).read_text().strip()


def test_one_terminal_accepts_the_cards_of_three_offices(ministry: Ministry) -> None:
    now = int(time.time())
    directory = verify_directory(_directory(ministry, "directory-1.jws"), ministry.pin, now)
    trust, refused = federate(directory, ministry.lists, now)

    assert refused == {}
    assert trust.regions == REGIONS
    for region, token in ministry.cards.items():
        decision = decide(token, trust, SERVICE, lambda *_: NO_HISTORY, now)
        assert (decision.accepted, decision.reason, decision.paid) == (True, "accepted", 7_500), region


def test_sign_reports_the_sequence_and_offices(ministry: Ministry) -> None:
    assert ministry.outputs["sign-1"]["seq"] == 1 and ministry.outputs["sign-1"]["offices"] == 3
    assert ministry.outputs["sign-2"]["seq"] == 2
    assert ministry.outputs["suspend"]["state"] == "suspended"
    assert ministry.outputs["add-3372"]["root_kid"] == json.loads(
        (ministry.folder / "office-3372" / "published" / "root.jwk").read_text())["kid"]
    assert len(ministry.init["root_kid"]) == 4


def test_delta_turns_the_first_directory_into_the_second(ministry: Ministry) -> None:
    now = int(time.time())
    first = verify_directory(_directory(ministry, "directory-1.jws"), ministry.pin, now)
    second = verify_directory(_directory(ministry, "directory-2.jws"), ministry.pin, now, min_seq=first.seq)

    assert apply_directory_delta(first, _directory(ministry, "delta-1-2.jws"), ministry.pin, now) == second
    assert ministry.outputs["delta"] == {"from": 1, "seq": 2, "changed": [9171], "removed": [],
                                         "delta": str(ministry.folder / "dir" / "delta-1-2.jws")}


def test_suspended_office_cards_are_refused_after_the_next_directory(ministry: Ministry) -> None:
    now = int(time.time())
    directory = verify_directory(_directory(ministry, "directory-2.jws"), ministry.pin, now)
    trust, refused = federate(directory, ministry.lists, now)

    assert type(refused[9171]) is OfficeSuspended
    assert decide(ministry.cards[9171], trust, SERVICE, lambda *_: NO_HISTORY, now).reason == "unknown_key"
    assert decide(ministry.cards[3372], trust, SERVICE, lambda *_: NO_HISTORY, now).accepted


def test_national_root_is_encrypted_and_the_state_holds_no_private_key(ministry: Ministry) -> None:
    key = ministry.home / "national-root.key"

    assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    state = json.loads((ministry.home / "national.json").read_text())
    assert [office["region"] for office in state["offices"]] == list(REGIONS)
    assert '"d"' not in (ministry.home / "national.json").read_text()
    assert '"d"' not in (ministry.home / "national-root.jwk").read_text()


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["office-add", "--region", "3372", "--valid-until", UNTIL], 1, "already listed; use --replace"),
        (["office-add", "--region", "3300", "--valid-until", UNTIL], 2, "not a regency/city code"),
        (["office-add", "--region", "3171", "--valid-until", "soon"], 2, "--valid-until"),
        (["office-revoke", "--region", "3171"], 1, "region 3171 is not listed"),
        (["office-suspend", "--region", "9171"], 1, "already suspended"),
        (["delta", "--from", "2", "--out", "x.jws"], 1, "a delta must lead past --from"),
    ],
)
def test_refused_commands_say_why_in_one_line(ministry: Ministry, run_kia: RunKia, args: list[str], code: int,
                                             says: str) -> None:
    if args[0] == "office-add":
        args = [*args, "--root", str(ministry.folder / "office-3372" / "published" / "root.jwk")]
    result = run_kia("national", *args, "--home", ministry.home, cwd=ministry.folder)

    assert result.returncode == code, result.stderr
    assert says in result.stderr and result.stderr.count("\n") == 1 and result.stdout == ""


def test_a_root_listed_for_another_region_is_refused(ministry: Ministry, run_kia: RunKia) -> None:
    result = run_kia("national", "office-add", "--home", ministry.home, "--region", "3171", "--valid-until", UNTIL,
                     "--root", ministry.folder / "office-6311" / "published" / "root.jwk")

    assert result.returncode == 1
    assert "already listed for another region" in result.stderr


def test_a_home_without_a_directory_and_a_missing_passphrase_are_setup_errors(
    ministry: Ministry, run_kia: RunKia, kia_env: dict[str, str], tmp_path: Path
) -> None:
    missing = run_kia("national", "sign", "--home", tmp_path / "nowhere", "--out", tmp_path / "d.jws")
    assert missing.returncode == 2 and "kia national init" in missing.stderr

    no_passphrase = {name: value for name, value in kia_env.items() if name != "KIA_KEY_PASSPHRASE"}
    unsigned = run_kia("national", "sign", "--home", ministry.home, "--out", tmp_path / "d.jws", env=no_passphrase)
    assert unsigned.returncode == 2 and "KIA_KEY_PASSPHRASE" in unsigned.stderr
    assert not (tmp_path / "d.jws").exists()

"""The ``kia`` console script as operators and scripts run it (DESIGN section 9).

One office story is played once per module through real subprocesses, in a
temporary folder: init, issue (single and a school batch), retire, rotate and
revoke keys, revoke a card, export the trust list.  The tests then verify
cards the way a terminal would and check exit codes, JSON and error lines.
The command reads the real clock, so birth dates are relative to today.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import public_jwk, qr_text
from keys.eligibility import WIB, birthday
from tests.integration.conftest import RunKia
from verifier.messages import MESSAGES

TODAY = dt.datetime.now(WIB).date()
# Eight years and a bit: far from any birthday boundary whatever the time zone.
EIGHT = birthday(TODAY, -8) - dt.timedelta(days=100)
TWELVE = birthday(TODAY, -12) - dt.timedelta(days=10)


def nik(born: dt.date, *, girl: bool = False, district: str = "337201", sequence: int = 1) -> str:
    """A NIK: district code, birth date as DDMMYY (day + 40 for girls), sequence number."""
    return f"{district}{born.day + 40 * girl:02d}{born.month:02d}{born.year % 100:02d}{sequence:04d}"


# name, nik, school of each pupil in the batch (kept in the office's database only)
PUPILS = {
    "p-01": ("Siti Rahayu Kusumawardani", nik(EIGHT, girl=True, sequence=11), "SD Negeri Mangkubumen"),
    "p-02": ("Budi Santoso Wibisono", nik(TODAY + dt.timedelta(days=30), sequence=12), "SD Negeri Mangkubumen"),
    "p-03": ("Rizky Pratama Ananda", nik(TWELVE, district="631101", sequence=13), "SMP Negeri Paringin"),
    "p-04": ("Dewi Lestari Maharani", nik(EIGHT, girl=True, sequence=14), "SD Negeri Mangkubumen"),
    "p-05": ("Eko Wahyudi Nugroho", nik(EIGHT + dt.timedelta(days=1), sequence=15), "SD Negeri Mangkubumen"),
}
BATCH_ROWS = [
    "birth_date,region,name,nik,school,external_id",  # line 1
    f"{EIGHT},3372,{','.join(PUPILS['p-01'])},p-01",  # 2: good
    f"{TODAY + dt.timedelta(days=30)},3372,{','.join(PUPILS['p-02'])},p-02",  # 3: not born yet
    "",  # 4: blank
    f"{TWELVE},63.11,{','.join(PUPILS['p-03'])},p-03",  # 5: good, Balangan
    f"{EIGHT},33X2,{','.join(PUPILS['p-04'])},p-04",  # 6: bad region
    f"{EIGHT},3372,{','.join(PUPILS['p-05'])},p-05",  # 7: NIK of another birth date
]


@dataclasses.dataclass
class Office:
    folder: Path
    home: Path
    published: Path
    init: dict[str, Any]
    batch: subprocess.CompletedProcess[str]
    cards: dict[str, dict[str, Any]]  # valid, retired_key, revoked_key, lost
    kids: dict[str, str]  # first (retired), second (revoked), third (active)
    outputs: dict[str, dict[str, Any]]

    def verify(self, run_kia: RunKia, *args: str | Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_kia(
            "verifier",
            "verify",
            "--trust-anchor",
            self.published / "root.jwk",
            "--trust-list",
            self.published / "trustlist.jws",
            *args,
            cwd=self.folder,
            input=input,
        )


def succeeded(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def assert_one_line_error(result: subprocess.CompletedProcess[str], exit_code: int) -> str:
    """A failed command says why in one line on stderr, and nothing on stdout."""
    assert result.returncode == exit_code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.strip(), "no error message"
    assert "\n" not in result.stderr.strip(), f"more than one line:\n{result.stderr}"
    assert result.stdout == ""
    return result.stderr.strip()


def decision(result: subprocess.CompletedProcess[str], exit_code: int) -> dict[str, Any]:
    assert result.returncode == exit_code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout  # one JSON object on one line
    return json.loads(lines[0])


@pytest.fixture(scope="module")
def office(run_kia: RunKia, tmp_path_factory: pytest.TempPathFactory) -> Office:
    folder = tmp_path_factory.mktemp("office")
    home, cards_dir, published = folder / "home", folder / "cards", folder / "published"

    def kia(*args: str | Path) -> Any:
        return succeeded(run_kia(*args, cwd=folder))

    def issue(born: dt.date) -> dict[str, Any]:
        return kia(
            "issuer",
            "card",
            "issue",
            "--home",
            home,
            "--birth-date",
            born.isoformat(),
            "--region",
            "3372",
            "--out",
            cards_dir,
        )

    init = kia("issuer", "init", "--home", home)
    first = init["issuing_kid"]
    retired_key_card = issue(EIGHT)
    (folder / "school.csv").write_text("\n".join(BATCH_ROWS) + "\n", encoding="utf-8")
    batch = run_kia(
        "issuer", "card", "issue", "--home", home, "--csv", folder / "school.csv", "--out", folder / "batch", cwd=folder
    )
    outputs = {"retire": kia("issuer", "key", "retire", "--home", home, "--", first)}
    outputs["rotate"] = kia("issuer", "key", "rotate", "--home", home)
    second = outputs["rotate"]["kid"]
    revoked_key_card = issue(EIGHT)
    third = kia("issuer", "key", "rotate", "--home", home)["kid"]
    outputs["revoke_key"] = kia("issuer", "key", "revoke", "--home", home, "--", second)
    valid, lost = issue(EIGHT), issue(TWELVE)
    outputs["revoke_card"] = kia(
        "issuer", "card", "revoke", "--home", home, lost["serial"].lower(), "--reason", "hilang (lost)"
    )
    outputs["export"] = kia("issuer", "trustlist", "export", "--home", home, "--out", published)
    outputs["audit"] = kia("audit", "trustlist", "--trust-anchor", published / "root.jwk", published / "trustlist.jws")
    return Office(
        folder,
        home,
        published,
        init,
        batch,
        {"valid": valid, "retired_key": retired_key_card, "revoked_key": revoked_key_card, "lost": lost},
        {"first": first, "second": second, "third": third},
        outputs,
    )


# --- issuing ---------------------------------------------------------------------------


def test_init_reports_the_root_and_first_issuing_key(office: Office) -> None:
    assert office.init["home"] == str(office.home)
    assert len(office.init["root_kid"]) == len(office.init["issuing_kid"]) == 4
    # Without KIA_DATABASE_URL the office's database is SQLite in its home.
    assert office.init["database"] == f"sqlite:///{office.home / 'kia-issuer.db'}"
    assert (office.home / "kia-issuer.db").is_file()


def test_a_single_card_comes_with_its_token_and_three_files(office: Office) -> None:
    card = office.cards["valid"]

    assert {"serial", "token", "qr_png", "qr_svg", "ndef"} <= set(card)
    assert card["token"].count(".") == 2
    assert card["kid"] == office.kids["third"]
    for name, suffix in (("qr_png", ".png"), ("qr_svg", ".svg"), ("ndef", ".ndef")):
        path = office.folder / card[name]
        assert path.is_file() and path.name == card["serial"] + suffix
    assert (office.folder / card["qr_png"]).read_bytes().startswith(b"\x89PNG")


def test_a_batch_issues_the_good_rows_and_reports_the_bad_by_line(office: Office) -> None:
    result = office.batch
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)

    assert (report["issued"], report["rejected"]) == (2, 3)
    assert [(card["line"], card["external_id"]) for card in report["cards"]] == [(2, "p-01"), (5, "p-03")]
    assert [(error["line"], error["field"], error["external_id"]) for error in report["errors"]] == [
        (3, "birth_date", "p-02"),
        (6, "region", "p-04"),
        (7, "nik", "p-05"),
    ]
    assert all(error["error"] for error in report["errors"]), "each refused row says why in words"
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == ["line 3", "line 6", "line 7"]
    for card in report["cards"]:
        assert all((office.folder / card[name]).is_file() for name in ("qr_png", "qr_svg", "ndef"))

    with (office.folder / report["report"]).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["line"], row["external_id"], row["status"]) for row in rows] == [
        ("2", "p-01", "issued"),
        ("3", "p-02", "rejected"),
        ("5", "p-03", "issued"),
        ("6", "p-04", "rejected"),
        ("7", "p-05", "rejected"),
    ]
    assert [row["serial"] for row in rows if row["status"] == "issued"] == [c["serial"] for c in report["cards"]]


def test_no_pupils_name_nik_or_school_leaves_the_office(office: Office) -> None:
    """The office keeps them in its database (the children table, by design); they
    never reach a token, a card file, issued.csv, a published file or kia's output."""
    seen = [office.batch.stdout.encode(), office.batch.stderr.encode()]
    seen += [json.dumps(output).encode() for output in (office.init, *office.cards.values(), *office.outputs.values())]
    folders = (office.folder / "cards", office.folder / "batch", office.published, office.home / "keys")
    files = [path for folder in folders for path in folder.rglob("*") if path.is_file()]
    assert {path.suffix for path in files} == {".png", ".svg", ".ndef", ".csv", ".jws", ".jwk", ".json", ".key"}
    seen += [path.read_bytes() for path in files]

    for name, pupil_nik, school in PUPILS.values():
        for secret in (name, *name.split()[1:], pupil_nik, school):
            assert not any(secret.encode("utf-8") in content for content in seen), secret
    # Only the issued pupils are kept, in the office's database.
    with contextlib.closing(sqlite3.connect(office.home / "kia-issuer.db")) as database:
        kept = sorted(database.execute("SELECT name, nik, school FROM children WHERE nik IS NOT NULL"))
    assert kept == sorted([PUPILS["p-01"], PUPILS["p-03"]])


def test_key_changes_report_the_new_states(office: Office) -> None:
    assert office.outputs["retire"] == {"kid": office.kids["first"], "state": "retired"}
    assert office.outputs["rotate"] == {"kid": office.kids["second"], "state": "active"}
    assert office.outputs["revoke_key"] == {"kid": office.kids["second"], "state": "revoked"}
    assert office.outputs["revoke_card"]["serial"] == office.cards["lost"]["serial"]
    assert office.outputs["revoke_card"]["state"] == "revoked"


def test_export_writes_the_trust_list_anchor_and_public_keys_only(office: Office) -> None:
    export = office.outputs["export"]
    assert export["seq"] == 1 and export["delta"] is None
    names = sorted(path.name for path in office.published.iterdir())
    assert names == ["jwks.json", "root.jwk", "trustlist.jws"]

    root = json.loads((office.published / "root.jwk").read_text(encoding="ascii"))
    jwks = json.loads((office.published / "jwks.json").read_text(encoding="ascii"))
    assert (root["kty"], root["crv"], root["kid"]) == ("OKP", "Ed25519", office.init["root_kid"])
    # The revoked second key is left out: nothing it signed may verify, and a JOSE library cannot tell.
    assert [key["kid"] for key in jwks["keys"]] == [office.kids["first"], office.kids["third"]]
    assert all("d" not in key for key in [root, *jwks["keys"]])  # never a private key


def test_audit_reads_back_what_the_office_published(office: Office) -> None:
    audit = office.outputs["audit"]

    assert (audit["signature"], audit["seq"], audit["expired"], audit["revoked_cards"]) == ("valid", 1, False, 1)
    assert [(key["kid"], key["state"]) for key in audit["issuing_keys"]] == [
        (office.kids["first"], "retired"),
        (office.kids["second"], "revoked"),
        (office.kids["third"], "active"),
    ]


# --- verifying ---------------------------------------------------------------------------


def test_a_valid_card_is_accepted_from_its_plain_token(office: Office, run_kia: RunKia) -> None:
    card = office.cards["valid"]

    result = decision(office.verify(run_kia, card["token"]), 0)

    assert (result["accepted"], result["reason"], result["serial"]) == (True, "accepted", card["serial"])
    assert result["message"] == MESSAGES["accepted"]["id"]
    assert (result["kid"], result["region"], result["age_years"], result["age_category"]) == (
        office.kids["third"],
        3372,
        8,
        "5-12",
    )
    assert result["eligible_until"] == (birthday(EIGHT, 17) - dt.timedelta(days=1)).isoformat()
    assert (result["trust_list_seq"], result["trust_list_stale"]) == (1, False)


def test_a_valid_card_is_accepted_from_its_numeric_qr_text(office: Office, run_kia: RunKia) -> None:
    card = office.cards["valid"]

    result = decision(office.verify(run_kia, qr_text(card["token"])), 0)

    assert (result["accepted"], result["serial"]) == (True, card["serial"])


def test_the_bridge_reads_the_printed_qr_and_pipes_it_into_verify(office: Office, run_kia: RunKia) -> None:
    card = office.cards["valid"]
    scanned = run_kia("bridge", "read-image", "--raw", card["qr_png"], cwd=office.folder)
    assert scanned.returncode == 0, scanned.stderr
    assert scanned.stdout == qr_text(card["token"]) + "\n"

    result = decision(office.verify(run_kia, "-", input=scanned.stdout), 0)

    assert (result["accepted"], result["serial"]) == (True, card["serial"])


def test_a_valid_card_is_accepted_from_its_ndef_file(office: Office, run_kia: RunKia) -> None:
    card = office.cards["valid"]

    result = decision(office.verify(run_kia, "--ndef", card["ndef"]), 0)

    assert (result["accepted"], result["serial"]) == (True, card["serial"])


def test_a_card_of_a_retired_key_is_still_accepted(office: Office, run_kia: RunKia) -> None:
    card = office.cards["retired_key"]

    result = decision(office.verify(run_kia, card["token"]), 0)

    assert (result["accepted"], result["kid"]) == (True, office.kids["first"])


def test_a_revoked_card_is_rejected_with_card_revoked(office: Office, run_kia: RunKia) -> None:
    card = office.cards["lost"]

    result = decision(office.verify(run_kia, "--lang", "en", qr_text(card["token"])), 1)

    assert (result["accepted"], result["reason"], result["serial"]) == (False, "card_revoked", card["serial"])
    assert result["message"] == MESSAGES["card_revoked"]["en"]


def test_a_card_of_a_revoked_key_is_rejected_with_key_revoked(office: Office, run_kia: RunKia) -> None:
    result = decision(office.verify(run_kia, office.cards["revoked_key"]["token"]), 1)

    assert (result["accepted"], result["reason"]) == (False, "key_revoked")
    assert result["message"] == MESSAGES["key_revoked"]["id"]


def test_a_card_verified_after_the_17th_birthday_has_aged_out(office: Office, run_kia: RunKia) -> None:
    card = office.cards["valid"]
    later = dt.datetime.combine(birthday(EIGHT, 17) + dt.timedelta(days=30), dt.time(12), tzinfo=WIB)

    result = office.verify(run_kia, "--at", later.isoformat(), card["token"])

    verdict = decision(result, 1)
    assert (verdict["reason"], verdict["serial"], verdict["trust_list_stale"]) == ("aged_out", card["serial"], True)
    # The trust list expired long before: the terminal still decides, and warns in one line.
    assert result.stderr.strip() == f"warning: {MESSAGES['trust_list_expired']['id']}"


def test_a_trust_list_checked_against_another_root_is_a_configuration_error(office: Office, run_kia: RunKia) -> None:
    other_root = office.folder / "other-root.jwk"
    other_root.write_text(json.dumps(public_jwk(Ed25519PrivateKey.generate().public_key())), encoding="ascii")

    result = run_kia(
        "verifier",
        "verify",
        "--trust-anchor",
        other_root,
        "--trust-list",
        office.published / "trustlist.jws",
        office.cards["valid"]["token"],
        cwd=office.folder,
    )

    message = assert_one_line_error(result, 2)
    assert "root key" in message


def test_init_without_a_passphrase_says_so_in_one_line(
    run_kia: RunKia, kia_env: dict[str, str], tmp_path: Path
) -> None:
    env = {name: value for name, value in kia_env.items() if name != "KIA_KEY_PASSPHRASE"}

    result = run_kia("issuer", "init", "--home", tmp_path / "home", cwd=tmp_path, env=env)

    message = assert_one_line_error(result, 2)
    assert "KIA_KEY_PASSPHRASE" in message
    assert not (tmp_path / "home").exists()


def test_a_usage_error_is_one_line_too(office: Office, run_kia: RunKia) -> None:
    """DESIGN section 9: errors are one clear line on stderr, usage errors included."""
    result = office.verify(run_kia, "--at", "2026-11-22T10:00:00", office.cards["valid"]["token"])

    message = assert_one_line_error(result, 2)
    assert "--at" in message and "+07:00" in message


def test_audit_with_an_unreadable_time_is_a_usage_error_not_an_internal_error(office: Office, run_kia: RunKia) -> None:
    result = run_kia(
        "audit",
        "trustlist",
        "--trust-anchor",
        office.published / "root.jwk",
        "--at",
        "besok pagi",
        office.published / "trustlist.jws",
        cwd=office.folder,
    )

    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert "--at" in result.stderr
    assert result.stdout == ""


def test_a_damaged_nfc_tag_is_rejected_as_malformed_not_an_internal_error(office: Office, run_kia: RunKia) -> None:
    damaged = office.folder / "damaged.ndef"
    damaged.write_bytes(b"\xd1\x01\x00\xe0")  # one record whose type byte is not ASCII

    result = decision(office.verify(run_kia, "--ndef", damaged), 1)

    assert (result["accepted"], result["reason"]) == (False, "malformed")

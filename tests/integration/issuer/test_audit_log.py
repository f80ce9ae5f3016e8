"""An auditor verifies the office's log with ``kia audit log``, from static tiles and over HTTP, trusting nothing.

The office is real (SQLite and PostgreSQL); its tiles are written by the
operator's ``kia issuer log write-tiles`` or served by the office's API on a
loopback port.  Each attack is played on what the auditor reads: an entry
changed, a tile truncated, a checkpoint of another log, a split view against
the checkpoint the auditor verified before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from issuer import transparency
from issuer.audit_export import write_export
from issuer.storage.store import IssuerHome
from keys.eligibility import WIB
from keys.tlog import NoteKey, TreeHead, sign_checkpoint
from kia.audit_export_format import entry_for, read_manifest, write_manifest
from kia.audit_log import LogFailed, LogUnavailable, Source, verify_log
from tests.factories import ACTOR, DAY, NOW
from tests.factories.offices import UNLOCK, add_partner, add_service, issued_cards
from tests.integration.conftest import RunKia
from tests.terminal_sim import decision, enrolled_terminal, send

ORIGIN = "kia.surakarta.example/log"


@pytest.fixture
def founded_at() -> int:
    return NOW - 30 * DAY


@pytest.fixture
def log_key(office: IssuerHome) -> NoteKey:
    return NoteKey.parse(transparency.init_log(office, UNLOCK, ORIGIN, NOW - 29 * DAY, by=ACTOR).verifier_key)


def write_tiles(run_kia: RunKia, office: IssuerHome, folder: Path) -> None:
    transparency.sign(office, UNLOCK, NOW)
    env = {"KIA_DATABASE_URL": office.database_url} if office.database_url else {}
    result = run_kia("issuer", "log", "write-tiles", "--home", office.path, folder, env=env or None)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def tiles(office: IssuerHome, log_key: NoteKey, run_kia: RunKia, tmp_path: Path) -> Path:
    issued_cards(office, 300, NOW - DAY)  # a full tile of 256 and a partial one
    write_tiles(run_kia, office, tmp_path / "tiles")
    return tmp_path / "tiles"


def test_the_auditor_verifies_static_tiles_and_then_the_logs_growth(office: IssuerHome, log_key: NoteKey,
                                                                   tiles: Path, run_kia: RunKia, tmp_path: Path):
    state = tmp_path / "auditor"
    report = verify_log(Source(str(tiles)), log_key, ORIGIN, [], 0, state, NOW)
    assert report.problems == [] and report.consistent_from is None
    assert report.kinds["card_issued"] == 300 and report.size == report.entries
    assert (state / "checkpoint").read_text() == (tiles / "checkpoint").read_text()

    add_partner(office)
    write_tiles(run_kia, office, tiles)  # the same folder: full tiles kept, new partial ones added
    grown = verify_log(Source(str(tiles)), log_key, ORIGIN, [], 0, state, NOW)
    assert grown.problems == [] and (grown.consistent_from, grown.size) == (report.size, report.size + 1)


def test_a_changed_entry_is_found(log_key: NoteKey, tiles: Path, tmp_path: Path):
    bundle = tiles / "tile" / "entries" / "000"
    data = bytearray(bundle.read_bytes())
    at = data.index(b'"kind":"card_issued"')
    data[at + 8:at + 19] = b"cardXissued"  # the same length: only the hash can tell
    bundle.write_bytes(bytes(data))
    report = verify_log(Source(str(tiles)), log_key, ORIGIN, [], 0, tmp_path / "auditor", NOW)
    assert report.problems == [f"the {report.size} entries do not make the checkpoint's root: the log was changed"]
    assert not (tmp_path / "auditor" / "checkpoint").exists()  # nothing verified is remembered


def test_a_truncated_tile_is_refused_with_its_name(log_key: NoteKey, tiles: Path, tmp_path: Path):
    bundle = tiles / "tile" / "entries" / "000"
    bundle.write_bytes(bundle.read_bytes()[:-7])
    with pytest.raises(LogFailed, match="tile/entries/000 is truncated"):
        verify_log(Source(str(tiles)), log_key, ORIGIN, [], 0, tmp_path / "auditor", NOW)


def test_a_checkpoint_of_another_log_is_not_verified(log_key: NoteKey, tiles: Path, tmp_path: Path):
    report = verify_log(Source(str(tiles)), log_key, "another.example/log", [], 0, tmp_path / "auditor", NOW)
    assert report.problems and "checkpoint" in report.problems[0] and report.entries == 0
    with pytest.raises(LogUnavailable, match="neither an http"):
        verify_log(Source(str(tmp_path / "nowhere")), log_key, ORIGIN, [], 0, tmp_path / "auditor", NOW)


def test_a_split_view_against_the_checkpoint_verified_before_is_found(office: IssuerHome, log_key: NoteKey,
                                                                     tiles: Path, tmp_path: Path):
    # What the auditor was shown before: a tree of 10 entries signed by the log's key, with another root.
    private = UNLOCK.read(office, "keys/log.key")
    shown = sign_checkpoint(TreeHead(ORIGIN, 10, bytes(32)), ORIGIN, private)
    state = tmp_path / "auditor"
    state.mkdir()
    (state / "checkpoint").write_text(shown)
    report = verify_log(Source(str(tiles)), log_key, ORIGIN, [], 0, state, NOW)
    assert report.problems == ["the first 10 entries changed since the last check: a split view"]
    assert (state / "checkpoint").read_text() == shown  # kept as the evidence


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/v1/log"
    server.shutdown()
    thread.join()


def test_the_auditor_verifies_over_http_with_the_offices_consistency_proof(office: IssuerHome, log_key: NoteKey,
                                                                          served: str, tmp_path: Path,
                                                                          run_kia: RunKia):
    issued_cards(office, 40, NOW - DAY)
    transparency.sign(office, UNLOCK, NOW)
    state = tmp_path / "auditor"
    first = verify_log(Source(served), log_key, ORIGIN, [], 0, state, NOW)
    assert first.problems == []
    issued_cards(office, 300, NOW - DAY)
    transparency.sign(office, UNLOCK, NOW + 60)
    result = run_kia("audit", "log", served, "--origin", ORIGIN, "--key", log_key.verifier_key(), "--state", state,
                     "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert (report["problems"], report["consistent_from"], report["kinds"]["card_issued"]) == ([], first.size, 340)
    person = run_kia("audit", "log", served, "--origin", ORIGIN, "--key", log_key.verifier_key(), "--state", state)
    assert person.returncode == 0 and person.stdout.startswith("TERVERIFIKASI / VERIFIED")


def test_every_exported_record_is_checked_against_its_log_entry(office: IssuerHome, log_key: NoteKey,
                                                                 run_kia: RunKia, tmp_path: Path):
    partner = add_partner(office)
    add_service(office, partner, now=NOW - 20 * DAY)
    cards = issued_cards(office, 6, NOW - 20 * DAY)
    terminal = enrolled_terminal(office, partner, NOW - 8 * DAY, cards=cards)
    send(office, terminal, [decision(n, NOW - DAY + 60 * n, cards) for n in range(1, 31)], NOW)
    write_tiles(run_kia, office, tmp_path / "tiles")
    day = dt.datetime.fromtimestamp(NOW - DAY, WIB).date()
    export = tmp_path / "export"
    write_export(office, export, day, day, None, ["csv"], NOW, by=ACTOR)

    report = verify_log(Source(str(tmp_path / "tiles")), log_key, ORIGIN, [], 0, tmp_path / "auditor", NOW, export)
    assert (report.problems, report.records_checked) == ([], 30)

    # The office hands over an export whose record 7 says it arrived at another time than the log says.
    table = export / "redemptions.csv"
    lines = table.read_bytes().decode().splitlines(keepends=True)  # CSV lines end in CRLF
    header = lines[0].rstrip("\r\n").split(",")
    row = next(n for n, line in enumerate(lines) if line.split(",")[header.index("seq")] == "7")
    cells = lines[row].rstrip("\r\n").split(",")
    cells[header.index("received_at")] = str(NOW + 1)
    lines[row] = ",".join(cells) + lines[row][len(lines[row].rstrip("\r\n")):]
    del lines[row + 1]  # and record 8 is left out
    table.write_bytes("".join(lines).encode())
    manifest = read_manifest(export)
    write_manifest(export, dataclasses.replace(manifest, files=manifest.files | {
        "redemptions.csv": entry_for(table, manifest.files["redemptions.csv"].rows - 1)}))
    report = verify_log(Source(str(tmp_path / "tiles")), log_key, ORIGIN, [], 0, tmp_path / "auditor", NOW, export)
    assert report.problems == [f"record {terminal.terminal_id}#7 differs from its log entry in at",
                               f"the export lacks 1 records of terminal {terminal.terminal_id} the log holds (e.g. #8)"]


"""A terminal fetching the national directory and other offices' trust lists over real HTTP on loopback.

The ministry's file server and the offices' ``GET /api/v1/trustlist`` are
one scripted ``http.server`` (the real offices run in tests/e2e); the
terminal is a real home on disk, opened as ``kia verifier serve`` opens
it, at the suite's fixed ``NOW``.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import public_jwk
from keys.directory import OfficeState
from keys.revocation import RevokedSerials
from keys.serial import new_serial
from keys.trustlist import build_trust_list, sign_delta
from tests.factories import BALANGAN, JAYAPURA, NOW, SURAKARTA, make_trust
from tests.factories.federation import National, RegionOffice, make_directory, make_office
from tests.terminal_home import enrolled_home
from verifier.cli import verifier
from verifier.federation import FederationError, FederationStore, status
from verifier.federation_fetch import DirectoryRefused, FederationLoop, fetch
from verifier.terminal import Terminal

DIRECTORY = "/ministry/directory.jws"
AT = "2026-11-22T10:00:00+07:00"  # NOW, for the commands that would read the clock


class Files:
    """A loopback HTTP server answering from ``routes``: path (with query) -> (status, body, headers)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, dict[str, str]]] = {}
        self.asked: list[str] = []
        files = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                files.asked.append(self.path)
                missing = (404, '{"error":"no_delta"}', {})
                if "form=2" in self.path:  # as an office from before issue 14, refusing the unknown member
                    missing = (400, '{"error":"bad_query"}', {})
                code, body, headers = files.routes.get(self.path, missing)
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def office(self, region: int, token: str) -> str:
        """Serve ``token`` as the full list of the office of ``region``; its base URL."""
        self.routes[f"/{region}/api/v1/trustlist"] = (200, token, {"Content-Type": "application/jose"})
        return f"{self.url}/{region}"


@dataclasses.dataclass
class World:
    files: Files
    national: National
    offices: dict[int, RegionOffice]
    cards: dict[int, str]
    serials: dict[int, str]
    home_path: Path
    terminal: Terminal

    @property
    def store(self) -> FederationStore:
        return FederationStore(self.terminal.home)

    def pin(self, *accept: int) -> None:
        self.store.pin(self.national.root.public_key(), accept or None)

    def publish(self, *, states: dict[int, OfficeState] | None = None, seq: int = 1) -> None:
        entries = [office.entry((states or {}).get(region, OfficeState.ACTIVE))
                   for region, office in self.offices.items()]
        self.national = make_directory(entries, seq=seq, root=self.national.root)
        self.files.routes[DIRECTORY] = (200, self.national.token, {})

    def fetch(self) -> dict:
        offices = {region: f"{self.files.url}/{region}" for region in (BALANGAN, JAYAPURA)}
        report = fetch(self.store, NOW, directory_url=self.files.url + DIRECTORY, offices=offices).to_json()
        self.terminal.reload_if_changed(NOW)
        return report

    def scan(self, region: int) -> str:
        return self.terminal.scan(self.cards[region], NOW)[0].reason


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    files = Files()
    files.thread.start()
    offices = {region: make_office(region) for region in (SURAKARTA, BALANGAN, JAYAPURA)}
    for region, office in offices.items():
        files.office(region, office.trust.token)
    national = make_directory([office.entry() for office in offices.values()])
    files.routes[DIRECTORY] = (200, national.token, {})
    serials = {region: new_serial() for region in offices}
    cards = {region: office.card(serials[region]) for region, office in offices.items()}
    home, key = enrolled_home(tmp_path / "terminal", offices[SURAKARTA].trust, NOW)
    terminal = Terminal.open(home, key, NOW)
    yield World(files, national, offices, cards, serials, tmp_path / "terminal", terminal)
    terminal.close()
    files.server.shutdown()


def test_without_a_directory_the_terminal_decides_on_its_own_office_list_alone(world: World) -> None:
    assert world.terminal.federation.held is None
    assert world.terminal.federation.trust(world.terminal.trust, NOW) is world.terminal.trust
    assert [world.scan(region) for region in (SURAKARTA, BALANGAN)] == ["accepted", "unknown_key"]


def test_a_fetched_federation_accepts_every_regions_cards_at_the_running_terminal(world: World) -> None:
    world.pin()
    report = world.fetch()

    assert report["directory"]["seq"] == 1
    assert {region: entry["state"] for region, entry in report["regions"].items()} == {
        "6311": "trusted", "9171": "trusted"}
    assert [world.scan(region) for region in (SURAKARTA, BALANGAN, JAYAPURA)] == ["accepted"] * 3


def test_a_list_signed_by_a_root_the_directory_does_not_list_is_refused_and_the_others_kept(world: World) -> None:
    world.files.office(BALANGAN, make_trust(NOW).token)  # another root than the one listed for 6311
    world.pin()
    report = world.fetch()

    assert report["regions"]["6311"]["refusal"]["code"] == "trust_list_bad_signature"
    assert report["regions"]["9171"]["state"] == "trusted"
    assert [world.scan(region) for region in (SURAKARTA, BALANGAN, JAYAPURA)] == [
        "accepted", "unknown_key", "accepted"]
    assert status(world.store, NOW)["regions"]["6311"]["refusal"]["code"] == "trust_list_bad_signature"


def test_a_card_revoked_at_another_office_is_refused_after_its_delta(world: World) -> None:
    world.pin()
    world.fetch()
    balangan = world.offices[BALANGAN].trust
    new = build_trust_list(2, balangan.trust_list.keys, RevokedSerials.from_serials([world.serials[BALANGAN]]), NOW)
    world.files.routes["/6311/api/v1/trustlist?since=1"] = (
        200, sign_delta(1, balangan.trust_list.revoked, new, balangan.root), {"X-KIA-Delta-From": "1"})

    report = world.fetch()

    assert "/6311/api/v1/trustlist?since=1" in world.files.asked
    assert report["regions"]["6311"]["seq"] == 2
    assert world.scan(BALANGAN) == "card_revoked"
    # Balangan's revocations apply to Balangan's cards only.
    assert world.scan(SURAKARTA) == "accepted"


def test_an_office_the_ministry_suspends_is_refused_after_the_next_directory(world: World) -> None:
    world.pin()
    world.fetch()
    world.publish(states={JAYAPURA: OfficeState.SUSPENDED}, seq=2)

    report = world.fetch()

    assert report["directory"]["seq"] == 2
    assert report["regions"]["9171"]["refusal"]["code"] == "office_suspended"
    assert [world.scan(region) for region in (SURAKARTA, BALANGAN, JAYAPURA)] == [
        "accepted", "accepted", "unknown_key"]
    assert status(world.store, NOW)["regions"]["9171"]["state"] == "refused"


def test_an_older_directory_is_not_taken_and_the_newer_one_stays(world: World) -> None:
    world.pin()
    first = world.national.token
    world.publish(seq=2)
    world.fetch()
    world.files.routes[DIRECTORY] = (200, first, {})

    world.fetch()

    held = status(world.store, NOW)["directory"]
    assert (held["seq"], held["refusal"]["code"]) == (2, "directory_rollback")


def test_a_directory_signed_by_another_national_root_is_refused(world: World) -> None:
    world.store.pin(Ed25519PrivateKey.generate().public_key())

    with pytest.raises(DirectoryRefused, match="not signed by the pinned root key"):
        world.fetch()
    assert world.terminal.federation.trust(world.terminal.trust, NOW) is world.terminal.trust


def test_the_offices_own_root_is_not_a_national_root(world: World) -> None:
    with pytest.raises(FederationError, match="office's root key"):
        world.store.pin(world.offices[SURAKARTA].root.public_key())


def test_plain_http_to_another_machine_is_refused(world: World) -> None:
    world.pin()
    with pytest.raises(FederationError, match="plain HTTP"):
        fetch(world.store, NOW, directory_url="http://kemendagri.example/directory.jws")


def test_the_partners_choice_of_regions_leaves_the_others_out(world: World) -> None:
    world.pin(BALANGAN)
    report = world.fetch()

    assert report["regions"]["9171"]["state"] == "not_accepted"
    assert not any(path.startswith("/9171/") for path in world.files.asked)  # the terminal carries no list of 9171

    assert [world.scan(region) for region in (SURAKARTA, BALANGAN, JAYAPURA)] == [
        "accepted", "accepted", "unknown_key"]


def test_the_own_office_keeps_working_when_the_directory_suspends_it(world: World) -> None:
    world.publish(states={SURAKARTA: OfficeState.SUSPENDED})
    world.pin()
    world.fetch()

    assert [world.scan(region) for region in (SURAKARTA, BALANGAN)] == ["accepted", "unknown_key"]


def test_a_directory_changed_on_disk_is_refused_not_believed(world: World) -> None:
    world.pin()
    world.fetch()
    token = world.store.directory_path.read_text()
    world.store.directory_path.write_text(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))

    world.terminal.reload_if_changed(NOW)

    assert world.terminal.federation.held is None
    assert [world.scan(region) for region in (SURAKARTA, BALANGAN)] == ["accepted", "unknown_key"]


def test_federation_files_are_private(world: World) -> None:
    world.pin()
    world.fetch()

    folder = world.store.path
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path


def test_a_new_terminal_opened_on_the_home_takes_the_federation(world: World) -> None:
    world.pin()
    world.fetch()
    world.terminal.close()
    home = world.terminal.home
    world.terminal = Terminal.open(home, world.terminal.key, NOW)

    assert world.scan(JAYAPURA) == "accepted"


def test_the_cli_pins_fetches_and_reports(world: World, tmp_path: Path) -> None:
    pin = tmp_path / "national-root.jwk"
    pin.write_text(json.dumps(public_jwk(world.national.root.public_key())))
    offices = tmp_path / "offices.txt"
    offices.write_text(f"# Balangan and Jayapura\n6311 {world.files.url}/6311\n9171={world.files.url}/9171\n")
    runner = CliRunner()
    home = ["--home", str(world.home_path)]

    pinned = runner.invoke(verifier, ["federation", "pin", *home, "--national-root", str(pin)])
    fetched = runner.invoke(verifier, ["federation", "fetch", *home, "--at", AT, "--directory-url",
                                       world.files.url + DIRECTORY, "--offices", str(offices)])
    again = runner.invoke(verifier, ["federation", "fetch", *home, "--at", AT])  # the URLs are remembered
    shown = runner.invoke(verifier, ["federation", "status", *home, "--at", AT])

    assert pinned.exit_code == 0 and json.loads(pinned.output)["pinned"] is True
    assert fetched.exit_code == 0, fetched.output
    assert again.exit_code == 0, again.output
    state = json.loads(shown.output)
    assert state["own_region"] == SURAKARTA and state["directory"]["seq"] == 1
    assert {region: entry["state"] for region, entry in state["regions"].items()} == {
        "6311": "trusted", "9171": "trusted"}


def test_the_cli_exits_1_when_an_office_is_refused(world: World, tmp_path: Path) -> None:
    world.pin()
    world.publish(states={JAYAPURA: OfficeState.REVOKED})
    result = CliRunner().invoke(verifier, ["federation", "fetch", "--home", str(world.home_path), "--at", AT,
                                           "--directory-url",
                                           world.files.url + DIRECTORY, "--office", f"9171={world.files.url}/9171"])

    assert result.exit_code == 1
    assert json.loads(result.stdout)["regions"]["9171"]["refusal"]["code"] == "office_revoked"


def test_offline_verify_accepts_a_card_of_another_region_with_the_directory(world: World, tmp_path: Path) -> None:
    files = {"root.jwk": json.dumps(public_jwk(world.offices[SURAKARTA].root.public_key())),
             "trustlist.jws": world.offices[SURAKARTA].trust.token,
             "national-root.jwk": json.dumps(public_jwk(world.national.root.public_key())),
             "directory.jws": world.national.token, "6311.jws": world.offices[BALANGAN].trust.token}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    base = ["verify", "--trust-anchor", str(tmp_path / "root.jwk"), "--trust-list", str(tmp_path / "trustlist.jws"),
            "--at", AT]
    federated = ["--national-root", str(tmp_path / "national-root.jwk"), "--directory", str(tmp_path / "directory.jws"),
                 "--office-list", f"6311={tmp_path / '6311.jws'}"]
    runner = CliRunner()

    alone = runner.invoke(verifier, [*base, world.cards[BALANGAN]])
    together = runner.invoke(verifier, [*base, *federated, world.cards[BALANGAN]])
    jayapura = runner.invoke(verifier, [*base, *federated, world.cards[JAYAPURA]])

    assert alone.exit_code == 1 and json.loads(alone.stdout)["reason"] == "unknown_key"
    assert together.exit_code == 0, together.output
    answer = json.loads(together.stdout)
    assert (answer["accepted"], answer["region"], answer["directory_seq"]) == (True, BALANGAN, 1)
    assert jayapura.exit_code == 1 and json.loads(jayapura.stdout)["reason"] == "unknown_key"



# --- kia verifier serve's background fetch ---------------------------------------------------


def test_the_background_fetch_does_nothing_for_a_home_without_a_federation(world: World) -> None:
    loop = FederationLoop(world.store, lambda: NOW)

    assert loop.round() is None
    assert world.files.asked == [] and loop.last_error is None


def test_the_background_fetch_takes_the_ministrys_next_directory_with_the_urls_given_once(world: World) -> None:
    world.pin()
    world.fetch()  # once by hand: the URLs are remembered
    world.publish(states={JAYAPURA: OfficeState.SUSPENDED}, seq=2)
    loop = FederationLoop(world.store, lambda: NOW)

    report = loop.round()
    world.terminal.reload_if_changed(NOW)  # as the running terminal's home watcher does

    assert report is not None and report.directory_seq == 2
    assert [world.scan(region) for region in (SURAKARTA, BALANGAN, JAYAPURA)] == [
        "accepted", "accepted", "unknown_key"]


def test_an_unreachable_ministry_keeps_what_is_held_and_is_tried_again(world: World) -> None:
    world.pin()
    world.fetch()
    world.files.server.shutdown()
    world.files.server.server_close()
    loop = FederationLoop(world.store, lambda: NOW)

    report = loop.round()

    assert report is not None and report.directory_seq == 1  # the held directory stays
    assert {entry["refusal"]["code"] for entry in report.regions.values()} == {"office_unreachable"}
    world.terminal.reload_if_changed(NOW)
    assert [world.scan(region) for region in (SURAKARTA, BALANGAN, JAYAPURA)] == ["accepted"] * 3

"""A terminal fetching the national directory and other offices' trust lists over real HTTP on loopback.

The ministry's file server and the offices' ``GET /api/v1/trustlist`` are
one scripted ``http.server`` (the real offices run in tests/e2e); the
terminal is a real home on disk, opened as ``kia verifier serve`` opens
it, at the suite's fixed ``NOW``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import http.server
import json
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import public_jwk
from keys.directory import OfficeState, sign_directory_delta
from keys.eligibility import WIB
from keys.jwk import kid_for
from keys.revocation import RevokedSerials
from keys.serial import new_serial
from keys.trustlist import build_trust_list, sign_delta
from tests.factories import BALANGAN, DAY, JAYAPURA, NOW, SURAKARTA, make_trust
from tests.factories.federation import National, RegionOffice, make_directory, make_office
from tests.terminal_home import enrolled_home
from verifier.app import create_app
from verifier.cli import verifier
from verifier.federation import FederationError, FederationStore, status
from verifier.federation_fetch import DirectoryRefused, FederationLoop, _validators, fetch
from verifier.sync import Answer
from verifier.terminal import Terminal

DIRECTORY = "/ministry/directory.jws"
DELTAS = "/ministry/directory-deltas"
AT = "2026-11-22T10:00:00+07:00"  # NOW, for the commands that would read the clock


class Files:
    """A loopback HTTP server answering from ``routes``: path (with query) -> (status, body, headers)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, dict[str, str]]] = {}
        self.asked: list[str] = []
        self.conditions: list[str | None] = []  # each request's If-None-Match
        self.since: list[str | None] = []  # and If-Modified-Since
        files = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                files.asked.append(self.path)
                files.conditions.append(self.headers.get("If-None-Match"))
                files.since.append(self.headers.get("If-Modified-Since"))
                missing = (404, '{"error":"no_delta"}', {})
                if "form=2" in self.path:  # as an office from before issue 14, refusing the unknown member
                    missing = (400, '{"error":"bad_query"}', {})
                code, body, headers = files.routes.get(self.path, missing)
                if code == 200 and _not_modified(headers, self.headers):
                    code, body = 304, ""  # as a static server does for a file it already gave
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: object) -> None:
                pass

            def date_time_string(self, timestamp: float | None = None) -> str:
                return email.utils.formatdate(NOW, usegmt=True)  # the server's clock is the test's

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def office(self, region: int, token: str) -> str:
        """Serve ``token`` as the full list of the office of ``region``; its base URL."""
        self.routes[f"/{region}/api/v1/trustlist"] = (200, token, {"Content-Type": "application/jose"})
        return f"{self.url}/{region}"


def _not_modified(served: dict[str, str], asked: Any) -> bool:
    """RFC 9110 section 13.1: If-None-Match when asked (it wins), else If-Modified-Since, as static servers do."""
    if asked.get("If-None-Match") is not None:
        return served.get("ETag") == asked["If-None-Match"]
    if asked.get("If-Modified-Since") is not None and served.get("Last-Modified"):
        since = email.utils.parsedate_to_datetime(asked["If-Modified-Since"])
        return email.utils.parsedate_to_datetime(served["Last-Modified"]) <= since
    return False


def _http_date(moment: int) -> str:
    return email.utils.formatdate(moment, usegmt=True)


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

    def publish(self, *, states: dict[int, OfficeState] | None = None, seq: int = 1, delta: bool = False,
                modified: int | None = None) -> None:
        """Sign directory ``seq`` and serve it; with ``delta``, also the delta from the one before.

        ``modified``: the files' Last-Modified (the delta's a second after the full directory's, as
        ``kia national publish`` writes them).
        """
        full_headers = {} if modified is None else {"Last-Modified": _http_date(modified)}
        delta_headers = {} if modified is None else {"Last-Modified": _http_date(modified + 1)}
        entries = [office.entry((states or {}).get(region, OfficeState.ACTIVE))
                   for region, office in self.offices.items()]
        old = self.national
        self.national = make_directory(entries, seq=seq, root=self.national.root)
        self.files.routes[DIRECTORY] = (200, self.national.token, full_headers)
        if delta:
            self.files.routes[f"{DELTAS}/{old.directory.seq}.jws"] = (
                200, sign_directory_delta(old.directory, self.national.directory, self.national.root), delta_headers)

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


def test_the_running_terminal_records_the_home_region_of_other_offices_cards_only(world: World) -> None:
    world.pin()
    world.fetch()

    records = [world.terminal.scan(world.cards[region], NOW)[1] for region in (SURAKARTA, BALANGAN, JAYAPURA)]

    assert [(record.reason, record.home) for record in records] == [
        ("accepted", None), ("accepted", BALANGAN), ("accepted", JAYAPURA)]
    assert [record.home for record in world.terminal.log.pending()] == [None, BALANGAN, JAYAPURA]


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



# --- directory deltas over the wire ---------------------------------------------------------


def test_a_terminal_holding_a_directory_takes_the_ministrys_delta_not_the_full_directory(world: World) -> None:
    world.pin()
    world.fetch()
    world.publish(states={JAYAPURA: OfficeState.SUSPENDED}, seq=2, delta=True)
    world.files.asked.clear()

    report = world.fetch()

    assert (report["directory"]["seq"], report["directory"]["transfer"]) == (2, "delta")
    assert f"{DELTAS}/1.jws" in world.files.asked and DIRECTORY not in world.files.asked
    assert [path.name for path in world.store.directory_deltas()] == ["0000000002.jws"]
    assert [world.scan(region) for region in (SURAKARTA, BALANGAN, JAYAPURA)] == [
        "accepted", "accepted", "unknown_key"]
    assert status(world.store, NOW)["directory"]["seq"] == 2


def test_a_directory_taken_by_delta_is_verified_again_when_a_terminal_opens(world: World) -> None:
    world.pin()
    world.fetch()
    world.publish(states={JAYAPURA: OfficeState.SUSPENDED}, seq=2, delta=True)
    world.fetch()
    world.terminal.close()
    world.terminal = Terminal.open(world.terminal.home, world.terminal.key, NOW)

    held = world.terminal.federation.held
    assert held is not None and held.directory == world.national.directory
    assert world.scan(JAYAPURA) == "unknown_key"


def test_a_delta_changed_on_disk_is_refused_not_believed(world: World) -> None:
    world.pin()
    world.fetch()
    world.publish(states={JAYAPURA: OfficeState.SUSPENDED}, seq=2, delta=True)
    world.fetch()
    delta = world.store.directory_deltas()[0]
    token = delta.read_text()
    delta.write_text(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))

    world.terminal.reload_if_changed(NOW)

    assert world.terminal.federation.held is None
    assert [world.scan(region) for region in (SURAKARTA, BALANGAN)] == ["accepted", "unknown_key"]


def test_a_delta_signed_by_another_root_falls_back_to_the_full_directory(world: World) -> None:
    world.pin()
    world.fetch()
    held = world.national.directory
    world.publish(states={JAYAPURA: OfficeState.SUSPENDED}, seq=2)
    forged = make_directory([office.entry() for office in world.offices.values()], seq=2)
    world.files.routes[f"{DELTAS}/1.jws"] = (200, sign_directory_delta(held, forged.directory, forged.root), {})

    report = world.fetch()

    assert (report["directory"]["seq"], report["directory"]["transfer"]) == (2, "full")
    assert world.store.directory_deltas() == []
    assert world.scan(JAYAPURA) == "unknown_key"  # the ministry's directory, not the forged delta's


def test_a_delta_from_another_sequence_falls_back_to_the_full_directory(world: World) -> None:
    world.pin()
    world.fetch()
    second = make_directory([office.entry() for office in world.offices.values()], seq=2, root=world.national.root)
    third = make_directory([office.entry(OfficeState.REVOKED) if region == JAYAPURA else office.entry()
                            for region, office in world.offices.items()], seq=3, root=world.national.root)
    # Served where the delta from 1 belongs, but leading from 2: it does not fit what the terminal holds.
    world.files.routes[f"{DELTAS}/1.jws"] = (200, sign_directory_delta(second.directory, third.directory,
                                                                       world.national.root), {})
    world.files.routes[DIRECTORY] = (200, third.token, {})

    report = world.fetch()

    assert (report["directory"]["seq"], report["directory"]["transfer"]) == (3, "full")
    assert status(world.store, NOW)["directory"]["refusal"] is None


def test_a_full_directory_replaces_the_deltas_held(world: World) -> None:
    world.pin()
    world.fetch()
    world.publish(seq=2, delta=True)
    world.fetch()
    world.publish(states={JAYAPURA: OfficeState.SUSPENDED}, seq=3)  # no delta from 2 served

    report = world.fetch()

    assert (report["directory"]["seq"], report["directory"]["transfer"]) == (3, "full")
    assert world.store.directory_deltas() == []
    assert world.store.load_directory(NOW) == world.national.directory


def test_an_unchanged_directory_is_asked_for_conditionally_and_not_downloaded_again(world: World) -> None:
    world.files.routes[DIRECTORY] = (200, world.national.token, {"ETag": '"dir-1"'})
    world.pin()
    world.fetch()
    world.files.asked.clear()
    world.files.conditions.clear()

    report = world.fetch()

    assert (report["directory"]["seq"], report["directory"]["transfer"]) == (1, "not_modified")
    asked = dict(zip(world.files.asked, world.files.conditions, strict=True))
    assert asked[f"{DELTAS}/1.jws"] is None and asked[DIRECTORY] == '"dir-1"'
    assert status(world.store, NOW)["directory"]["refusal"] is None
    assert world.scan(JAYAPURA) == "accepted"


def test_a_changed_directory_is_downloaded_despite_the_validators_held(world: World) -> None:
    world.files.routes[DIRECTORY] = (200, world.national.token, {"ETag": '"dir-1"'})
    world.pin()
    world.fetch()
    world.publish(states={JAYAPURA: OfficeState.SUSPENDED}, seq=2)
    world.files.routes[DIRECTORY] = (200, world.national.token, {"ETag": '"dir-2"'})

    report = world.fetch()

    assert (report["directory"]["seq"], report["directory"]["transfer"]) == (2, "full")
    assert world.scan(JAYAPURA) == "unknown_key"


def test_a_last_modified_in_the_same_second_as_the_answer_is_not_trusted_for_the_next_fetch() -> None:
    same = Answer(200, b"", {"Last-Modified": "Sun, 22 Nov 2026 03:00:00 GMT",
                             "Date": "Sun, 22 Nov 2026 03:00:00 GMT"})
    earlier = Answer(200, b"", {"Last-Modified": "Sun, 22 Nov 2026 02:59:59 GMT",
                                "Date": "Sun, 22 Nov 2026 03:00:00 GMT", "ETag": '"x"'})

    assert _validators(same) is None
    assert _validators(earlier) == {"etag": '"x"', "last_modified": "Sun, 22 Nov 2026 02:59:59 GMT"}


def test_pinning_another_national_root_drops_the_deltas_held(world: World) -> None:
    world.pin()
    world.fetch()
    world.publish(seq=2, delta=True)
    world.fetch()

    world.store.pin(Ed25519PrivateKey.generate().public_key())

    assert world.store.directory_token() is None and world.store.directory_deltas() == []


# --- the staff screen -----------------------------------------------------------------------


def _screen(world: World, now: int = NOW, lang: str = "id") -> tuple[dict, str]:
    """The federation block of ``GET /api/v1/status`` and the page ``GET /``, as the terminal serves them."""
    client = create_app(world.terminal, now=lambda: now).test_client()
    status_json = client.get(f"/api/v1/status?lang={lang}").get_json()
    return status_json["federation"], client.get(f"/?lang={lang}").get_data(as_text=True)


def test_the_staff_screen_shows_nothing_of_a_federation_on_a_terminal_that_is_not_federated(world: World) -> None:
    block, page = _screen(world)

    assert block is None
    assert '<section id="federation" hidden>' in page and "Federasi nasional" not in page


def test_the_staff_screen_shows_the_directory_and_each_regions_state_in_indonesian(world: World) -> None:
    world.pin()
    world.fetch()
    world.publish(states={JAYAPURA: OfficeState.SUSPENDED}, seq=2, delta=True)
    world.fetch()

    block, page = _screen(world)

    expires = dt.datetime.fromtimestamp(world.national.directory.expires_at, WIB).strftime("%Y-%m-%d %H:%M WIB")
    fetched = dt.datetime.fromtimestamp(NOW, WIB).strftime("%Y-%m-%d %H:%M WIB")
    assert block["heading"] == "Federasi nasional (kartu dari wilayah lain)" and not block["stale"]
    assert {line["label"]: line["value"] for line in block["lines"]} == {
        "Direktori nasional": "urutan 2", "Berlaku sampai (waktu setempat)": expires,
        "Keadaan": "Masih berlaku", "Pengambilan direktori terakhir": f"Berhasil, {fetched}"}
    assert [(row["region"], row["name"], row["text"], row["note"]) for row in block["regions"]] == [
        ("6311", "Kabupaten Balangan (6311)", "Dipercaya", ""),
        ("9171", "Kota Jayapura (9171)", "Ditolak", "Kantor ini ditangguhkan oleh kementerian.")]
    assert 'data-region="9171" data-state="refused"><td>Kota Jayapura (9171)</td>' in page and expires in page


def test_the_staff_screen_speaks_english_on_the_switch(world: World) -> None:
    world.publish(states={JAYAPURA: OfficeState.REVOKED})
    world.pin()
    world.fetch()

    block, _ = _screen(world, lang="en")

    assert block["lines"][0] == {"label": "National directory", "value": "sequence 1"}
    # Never held, because the fetch refused it (its status is not_fetched): the screen says refused, and why.
    assert block["regions"][1] == {"region": "9171", "name": "Kota Jayapura (9171)", "state": "refused",
                                   "text": "Refused", "note": "The ministry has revoked this office's key."}


def test_the_staff_screen_says_when_the_directory_is_stale_and_why_the_last_fetch_failed(world: World) -> None:
    world.pin()
    world.fetch()
    world.files.routes[DIRECTORY] = (200, make_directory([], root=Ed25519PrivateKey.generate()).token, {})
    world.fetch()  # a directory the ministry did not sign: the one held stays
    later = world.national.directory.expires_at + 60

    block, _ = _screen(world, now=later)

    lines = {line["label"]: line["value"] for line in block["lines"]}
    assert block["stale"] is True
    assert lines["Keadaan"].startswith("KEDALUWARSA")
    assert lines["Pengambilan direktori terakhir"].endswith(
        "WIB: Direktori tidak ditandatangani kementerian. Jangan dipakai; hubungi admin.")


def test_the_staff_screen_says_a_directory_changed_on_disk_is_not_used(world: World) -> None:
    world.pin()
    world.fetch()
    token = world.store.directory_path.read_text()
    world.store.directory_path.write_text(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    world.terminal.reload_if_changed(NOW)

    block, _ = _screen(world)

    assert block["lines"] == [] and block["notice"].startswith("Direktori yang disimpan tidak sah")


def test_after_a_delta_an_unchanged_full_directory_is_not_downloaded_again(world: World) -> None:
    world.files.routes[DIRECTORY] = (200, world.national.token, {"Last-Modified": _http_date(NOW - 3600),
                                                                 "ETag": '"dir-1"'})
    world.pin()
    world.fetch()
    world.publish(states={JAYAPURA: OfficeState.SUSPENDED}, seq=2, delta=True, modified=NOW - 60)
    assert world.fetch()["directory"]["transfer"] == "delta"
    world.files.asked.clear()
    world.files.since.clear()
    world.files.conditions.clear()

    report = world.fetch()  # no delta from 2: the full directory, asked for since the delta was written

    assert (report["directory"]["seq"], report["directory"]["transfer"]) == (2, "not_modified")
    asked = dict(zip(world.files.asked, zip(world.files.conditions, world.files.since, strict=True), strict=True))
    assert asked[DIRECTORY] == (None, _http_date(NOW - 59))
    assert world.scan(JAYAPURA) == "unknown_key"


# --- an office's root rotation with an overlap ----------------------------------------------


def test_a_terminal_follows_an_offices_root_rotation_through_the_overlap(world: World) -> None:
    world.pin()
    world.fetch()
    balangan = world.offices[BALANGAN]
    new_root = Ed25519PrivateKey.generate()
    rotating = dataclasses.replace(balangan.entry(), root=new_root.public_key(),
                                   previous_root=balangan.root.public_key(), previous_until=NOW + DAY)
    entries = [rotating if region == BALANGAN else office.entry() for region, office in world.offices.items()]
    world.national = make_directory(entries, seq=2, root=world.national.root)
    world.files.routes[DIRECTORY] = (200, world.national.token, {})

    # The ministry lists both roots; the office still signs with the old one: its cards stay accepted.
    during = world.fetch()["regions"]["6311"]
    assert (during["state"], during["root_kid"]) == ("trusted", kid_for(balangan.root.public_key()))
    assert world.scan(BALANGAN) == "accepted"

    # The office switches to its new root (the same issuing keys): the terminal takes that list.
    switched = make_trust(NOW, signers=balangan.trust.signers, seq=2, root=new_root)
    world.files.office(BALANGAN, switched.token)
    report = world.fetch()

    taken = report["regions"]["6311"]
    assert (taken["seq"], taken["root_kid"]) == (2, kid_for(new_root.public_key()))
    assert world.terminal.scan(balangan.card(), NOW)[0].reason == "accepted"  # another child's card: no passback


def test_after_the_overlap_a_list_under_the_root_left_is_refused_at_the_terminal(world: World) -> None:
    world.pin()
    world.fetch()
    balangan = world.offices[BALANGAN]
    rotating = dataclasses.replace(balangan.entry(), root=Ed25519PrivateKey.generate().public_key(),
                                   previous_root=balangan.root.public_key(), previous_until=NOW + DAY)
    entries = [rotating if region == BALANGAN else office.entry() for region, office in world.offices.items()]
    world.national = make_directory(entries, seq=2, root=world.national.root)
    world.files.routes[DIRECTORY] = (200, world.national.token, {})
    world.fetch()
    later = NOW + DAY

    world.terminal.reload_if_changed(later)

    assert world.terminal.scan(world.cards[BALANGAN], later)[0].reason == "unknown_key"
    assert world.terminal.scan(world.cards[JAYAPURA], later)[0].reason == "accepted"

"""Enrolment against the real office service: the root key is checked before the code is sent, and the
home is private whatever the folder was before.

``InProcessOffice`` reaches the office's Flask app through its test client on
the test's clock; the command-line tests reach it over HTTP on loopback
(its clock is then the real one, as the command's is).
"""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from werkzeug.serving import make_server

import verifier.cli
from issuer import create_app
from issuer.storage.models import Office
from issuer.storage.models import Terminal as TerminalRow
from issuer.storage.store import IssuerHome
from issuer.terminals import Registration, register_terminal
from issuer.trust_lists import export_trust_list
from keys import load_public_jwk
from tests.factories import ACTOR, DAY, NOW
from tests.factories.offices import PASSPHRASE, UNLOCK, add_partner, add_service, clock, open_office
from verifier.enrolment import EnrolmentFailed, enroll_terminal, office_root, root_fingerprint
from verifier.home import TerminalHome
from verifier.sync import Answer, InsecureServer, OfficeClient
from verifier.terminal import Terminal


class InProcessOffice:
    """The office's service through Flask's test client, with an OfficeClient's interface."""

    server = "http://127.0.0.1:9"

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()
        self.paths: list[str] = []

    def request(self, method: str, path: str, *, body: object = None, token: str | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        self.paths.append(path)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.client.open(path, method=method, json=body, headers=headers)
        return Answer(response.status_code, response.get_data(), dict(response.headers.items()))


@pytest.fixture(autouse=True)
def _passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    """The office signs configuration with it; the terminal encrypts its key with it."""
    monkeypatch.setenv("KIA_KEY_PASSPHRASE", PASSPHRASE)


def office_with_a_partner(path: Path, now: int) -> tuple[IssuerHome, int]:
    """An office founded a day before ``now``, with a published trust list and a partner selling a service."""
    office = open_office(path, None, now - DAY)
    export_trust_list(office, UNLOCK, now - DAY, path.with_name(f"{path.name}-published"), by=ACTOR)
    partner = add_partner(office)
    add_service(office, partner, now=now)
    return office, partner


@pytest.fixture
def office(tmp_path: Path) -> Iterator[tuple[IssuerHome, int]]:
    home, partner = office_with_a_partner(tmp_path / "office", NOW)
    yield home, partner
    home.close()


@pytest.fixture
def link(office: tuple[IssuerHome, int]) -> Iterator[InProcessOffice]:
    app = create_app({"HOME": str(office[0].path), "TESTING": True}, now=lambda: NOW)
    yield InProcessOffice(app)
    app.extensions["kia_home"].close()


def registered(office: tuple[IssuerHome, int], now: int = NOW) -> Registration:
    home, partner = office
    return register_terminal(home, partner, "Kasir 1", now, by=ACTOR)


def state_of(office: IssuerHome, terminal_id: str) -> str:
    with office.transaction() as session:
        return session.get_one(TerminalRow, terminal_id).state


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the root key ---------------------------------------------------------------------


def test_the_office_prints_the_fingerprint_the_terminal_computes(office: tuple[IssuerHome, int],
                                                                 link: InProcessOffice) -> None:
    registration = registered(office)

    assert root_fingerprint(office_root(link)) == registration.root_fingerprint  # type: ignore[arg-type]
    assert len(registration.root_fingerprint) == 43


def test_a_wrong_root_fingerprint_is_refused_before_the_code_is_sent(office: tuple[IssuerHome, int],
                                                                     link: InProcessOffice, tmp_path: Path) -> None:
    registration = registered(office)
    home = TerminalHome(tmp_path / "terminal")
    key = home.create_key(None, unencrypted_for_development=True)
    wrong = "A" * 43

    with pytest.raises(EnrolmentFailed, match="not the one given"):
        enroll_terminal(home, link, key, registration.enrolment_code, NOW, wrong)  # type: ignore[arg-type]

    assert "/api/v1/terminals/enroll" not in link.paths
    assert state_of(office[0], registration.terminal_id) == "pending"  # the code can still be used
    assert not home.is_enrolled()


def test_the_root_fingerprint_given_enrols_and_pins_the_root(office: tuple[IssuerHome, int], link: InProcessOffice,
                                                             tmp_path: Path) -> None:
    registration = registered(office)
    home = TerminalHome(tmp_path / "terminal")
    key = home.create_key(None, unencrypted_for_development=True)

    enrolled = enroll_terminal(home, link, key, registration.enrolment_code, NOW,  # type: ignore[arg-type]
                               registration.root_fingerprint)

    assert enrolled["terminal_id"] == registration.terminal_id
    assert enrolled["root_fingerprint"] == registration.root_fingerprint
    assert root_fingerprint(home.root_key()) == registration.root_fingerprint


# --- plain HTTP -----------------------------------------------------------------------


@pytest.mark.parametrize("server", ["http://kia.example.go.id", "http://10.0.0.5:8080", "http://127.0.0.1.nip.io",
                                    "http://localhost.evil.example"])
def test_enrolment_over_plain_http_to_a_remote_host_is_refused(server: str, tmp_path: Path) -> None:
    with pytest.raises(InsecureServer, match="plain HTTP"):
        OfficeClient(server)

    result = CliRunner().invoke(verifier.cli.verifier, ["enroll", "--home", str(tmp_path / "terminal"), "--server",
                                                        server, "--code", "ABCD-EFGH-JKLM", "--root-fingerprint",
                                                        "A" * 43])

    assert result.exit_code == 2
    assert "plain HTTP is allowed only to this machine" in result.stderr
    assert not (tmp_path / "terminal").exists()  # no key made, nothing sent


@pytest.mark.parametrize("server", ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080",
                                    "https://kia.example.go.id", "http://127.0.0.2"])
def test_https_anywhere_and_plain_http_to_this_machine_are_allowed(server: str) -> None:
    assert OfficeClient(server).server == server


# --- the command, over HTTP -------------------------------------------------------------


@pytest.fixture
def served_office(tmp_path: Path) -> Iterator[tuple[str, IssuerHome, int]]:
    """The office's service over HTTP on loopback, on the real clock like the command it serves."""
    home, partner = office_with_a_partner(tmp_path / "served-office", clock())
    app = create_app({"HOME": str(home.path), "TESTING": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", home, partner
    server.shutdown()
    thread.join()
    app.extensions["kia_home"].close()
    home.close()


def enrol_command(folder: Path, url: str, code: str, *options: str, answer: str | None = None) -> object:
    return CliRunner().invoke(verifier.cli.verifier, ["enroll", "--home", str(folder), "--server", url, "--code", code,
                                                      *options], input=answer)


def test_enrolment_without_trust_anchor_needs_the_root_fingerprint(served_office: tuple[str, IssuerHome, int],
                                                                   tmp_path: Path) -> None:
    url, office, partner = served_office
    registration = register_terminal(office, partner, "Kasir 1", clock(), by=ACTOR)
    folder = tmp_path / "terminal"

    refused = enrol_command(folder, url, registration.enrolment_code)  # not at a terminal: no one to ask

    assert refused.exit_code == 2  # type: ignore[attr-defined]
    assert registration.root_fingerprint in refused.stderr  # type: ignore[attr-defined]
    assert "--root-fingerprint" in refused.stderr  # type: ignore[attr-defined]
    assert state_of(office, registration.terminal_id) == "pending"  # the code was not sent

    enrolled = enrol_command(folder, url, registration.enrolment_code, "--root-fingerprint",
                             registration.root_fingerprint)

    assert enrolled.exit_code == 0, enrolled.output  # type: ignore[attr-defined]
    assert state_of(office, registration.terminal_id) == "active"
    assert root_fingerprint(TerminalHome(folder).root_key()) == registration.root_fingerprint


def test_at_a_terminal_the_fingerprint_is_shown_and_must_be_confirmed(served_office: tuple[str, IssuerHome, int],
                                                                      tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    url, office, partner = served_office
    registration = register_terminal(office, partner, "Kasir 1", clock(), by=ACTOR)
    folder = tmp_path / "terminal"
    monkeypatch.setattr(verifier.cli, "_interactive", lambda: True)

    declined = enrol_command(folder, url, registration.enrolment_code, answer="n\n")

    assert declined.exit_code == 1  # type: ignore[attr-defined]
    assert registration.root_fingerprint in declined.stderr  # type: ignore[attr-defined]
    assert "the enrolment code was not sent" in declined.stderr  # type: ignore[attr-defined]
    assert state_of(office, registration.terminal_id) == "pending"

    confirmed = enrol_command(folder, url, registration.enrolment_code, answer="y\n")

    assert confirmed.exit_code == 0, confirmed.output  # type: ignore[attr-defined]
    assert state_of(office, registration.terminal_id) == "active"


def test_the_trust_anchor_and_a_fingerprint_together_are_a_usage_error(served_office: tuple[str, IssuerHome, int],
                                                                       tmp_path: Path) -> None:
    url, office, _ = served_office
    anchor = tmp_path / "root.jwk"
    anchor.write_text("{}")

    result = enrol_command(tmp_path / "terminal", url, "ABCD-EFGH-JKLM", "--trust-anchor", str(anchor),
                           "--root-fingerprint", "A" * 43)

    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "not both" in result.stderr  # type: ignore[attr-defined]


# --- the home's permissions -----------------------------------------------------------------


def test_enrolment_into_a_world_readable_folder_makes_it_private(office: tuple[IssuerHome, int],
                                                                 link: InProcessOffice, tmp_path: Path) -> None:
    folder = tmp_path / "terminal"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    (folder / "notes.txt").write_text("left by an installer")
    (folder / "notes.txt").chmod(0o644)
    registration = registered(office)
    home = TerminalHome(folder)
    key = home.create_key(None, unencrypted_for_development=True)

    enroll_terminal(home, link, key, registration.enrolment_code, NOW,  # type: ignore[arg-type]
                    registration.root_fingerprint)
    terminal = Terminal.open(home, key, NOW)
    terminal.scan("not a card", NOW)  # the log, with its serials and visit times
    terminal.close()

    assert mode(folder) == 0o700
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    assert {"terminal.json", "config.jws", "log.db", "root.jwk", "trustlist.jws"} <= {path.name for path in files}
    assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}


def test_a_home_made_readable_again_is_private_at_the_next_start(office: tuple[IssuerHome, int],
                                                                 link: InProcessOffice, tmp_path: Path) -> None:
    registration = registered(office)
    home = TerminalHome(tmp_path / "terminal")
    key = home.create_key(None, unencrypted_for_development=True)
    enroll_terminal(home, link, key, registration.enrolment_code, NOW,  # type: ignore[arg-type]
                    registration.root_fingerprint)
    Terminal.open(home, key, NOW).close()
    home.path.chmod(0o755)
    for path in home.path.iterdir():
        path.chmod(0o644)

    Terminal.open(home, key, NOW).close()

    assert mode(home.path) == 0o700
    assert {mode(path) for path in home.path.iterdir() if path.is_file()} == {0o600}


def test_the_pinned_root_is_the_one_the_office_holds(office: tuple[IssuerHome, int], link: InProcessOffice,
                                                     tmp_path: Path) -> None:
    registration = registered(office)
    home = TerminalHome(tmp_path / "terminal")
    key = home.create_key(None, unencrypted_for_development=True)
    anchor = office_root(link)  # type: ignore[arg-type]

    enroll_terminal(home, link, key, registration.enrolment_code, NOW, anchor)  # type: ignore[arg-type]

    with office[0].transaction() as session:
        held = load_public_jwk(session.get_one(Office, 1).root_jwk)
    assert root_fingerprint(home.root_key()) == root_fingerprint(held)

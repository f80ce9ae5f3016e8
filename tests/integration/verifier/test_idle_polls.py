"""Idle terminals poll cheaply (issue 14): conditional pulls, 304s, and the office's poll hint.

The office's service runs over HTTP on loopback (werkzeug's server in a
thread) on the test's clock, on SQLite and PostgreSQL; its answers carry
that clock as ``Date``, so the terminal's sync tokens are dated by it.  The
terminal is the real one: its home, its log, its sync client.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Response
from werkzeug.serving import make_server

from issuer import create_app, terminals
from issuer.issuing_keys import active_signer
from issuer.partners import set_service
from issuer.storage.store import IssuerHome
from issuer.terminals import CONFIG_LIFETIME, register_terminal, set_terminal_state
from issuer.trust_lists import export_trust_list
from keys.chain import sign_sync_token
from tests.factories import ACTOR, DAY, NOW
from tests.factories.offices import PASSPHRASE, SERVICE, UNLOCK, add_partner, add_service, open_office
from verifier.enrolment import enroll_terminal
from verifier.home import TerminalHome
from verifier.sync import Answer, OfficeClient, Sync, SyncLoop
from verifier.terminal import Terminal

CONFIG, TRUST_LIST = "/api/v1/terminals/config", "/api/v1/trustlist"


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class RecordingClient(OfficeClient):
    """The terminal's real HTTP client, noting each answer's path, status and conditional header sent."""

    def __init__(self, server: str) -> None:
        super().__init__(server)
        self.calls: list[tuple[str, int, bool]] = []

    def request(self, method: str, path: str, *, body: object = None, token: str | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        answer = super().request(method, path, body=body, token=token, headers=headers)
        self.calls.append((path.split("?")[0], answer.status, "If-None-Match" in (headers or {})))
        return answer

    def round_calls(self) -> list[tuple[str, int, bool]]:
        calls, self.calls = self.calls, []
        return calls


@dataclasses.dataclass
class Setup:
    office: IssuerHome
    partner: int
    url: str
    clock: Clock
    terminal: Terminal
    client: RecordingClient
    signed: list[int]  # the times the office opened its issuing key to sign a configuration

    def sync(self) -> Sync:
        return Sync(self.terminal, self.client)

    def token(self) -> str:
        """A fresh sync token of the terminal, as an old terminal sends it."""
        identity = self.terminal.identity
        return sign_sync_token(identity.terminal_id, identity.audience, self.terminal.key, self.terminal.kid,
                               self.clock.now)


@contextlib.contextmanager
def serve(office: IssuerHome, clock: Clock, settings: dict[str, object]) -> Iterator[str]:
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True, **settings},
                     now=clock)

    def dated(response: Response) -> Response:  # the office's clock, as a terminal reads it
        response.headers["Date"] = email.utils.formatdate(clock.now, usegmt=True)
        return response

    app.after_request(dated)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        app.extensions["kia_home"].close()


def setup(tmp_path: Path, database_url: str | None, monkeypatch: pytest.MonkeyPatch,
          settings: dict[str, object]) -> Iterator[Setup]:
    monkeypatch.setenv("KIA_KEY_PASSPHRASE", PASSPHRASE)
    clock = Clock(NOW)
    office = open_office(tmp_path / "office", database_url, NOW - DAY)
    export_trust_list(office, UNLOCK, NOW - DAY, tmp_path / "published", by=ACTOR)
    partner = add_partner(office)
    add_service(office, partner, now=NOW - DAY)
    signed: list[int] = []

    def counting_signer(*args: object) -> object:
        signed.append(clock.now)
        return active_signer(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(terminals, "active_signer", counting_signer)
    with serve(office, clock, settings) as url:
        registration = register_terminal(office, partner, "Kasir 1", NOW, by=ACTOR)
        home = TerminalHome(tmp_path / "terminal")
        key = home.create_key(None, unencrypted_for_development=True)
        client = RecordingClient(url)
        enroll_terminal(home, client, key, registration.enrolment_code, NOW, registration.root_fingerprint)
        terminal = Terminal.open(home, key, NOW)
        client.calls.clear()
        signed.clear()
        yield Setup(office, partner, url, clock, terminal, client, signed)
        terminal.close()
    office.close()


@pytest.fixture
def idle(tmp_path: Path, issuer_db_url: str | None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    yield from setup(tmp_path, issuer_db_url, monkeypatch, {})


@pytest.fixture
def hinted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    """An office asking idle terminals to sync every 10 minutes (KIA_POLL_AFTER_SECONDS=600)."""
    yield from setup(tmp_path, None, monkeypatch, {"POLL_AFTER_SECONDS": 600})


def get(url: str, token: str | None = None, if_none_match: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """A GET as an old terminal sends it (no If-None-Match unless given)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if if_none_match:
        headers["If-None-Match"] = if_none_match
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers.items()), error.read()


# --- an idle terminal ----------------------------------------------------------------------


def test_an_idle_round_gets_304s_and_the_office_signs_nothing(idle: Setup) -> None:
    first = idle.sync().run(idle.clock)
    sync = idle.sync()
    sync.run(idle.clock)  # a new client holds no tag: one 200, then conditional pulls
    assert idle.client.round_calls()[-1] == (CONFIG, 200, False)
    idle.signed.clear()
    held = idle.terminal.home.config_token()

    for minutes in range(1, 4):
        idle.clock.now = NOW + 60 * minutes
        result = sync.run(idle.clock)
        assert idle.client.round_calls() == [(TRUST_LIST, 304, True), (CONFIG, 304, True)]
        assert result.refusal is None and result.poll_after == 60  # the default hint: today's minute

    assert idle.signed == []  # three idle rounds, no configuration signed
    assert idle.terminal.home.config_token() == held
    assert first.refusal is None and idle.terminal.config is not None


def test_an_idle_terminal_is_not_shown_offline_on_the_partner_page(idle: Setup) -> None:
    """A counter with no scans all day still syncs: its pulls keep its last sync fresh, written sparingly."""
    sync = idle.sync()
    sync.run(idle.clock)
    (record,) = terminals.terminals_of(idle.office, idle.partner)
    assert record.last_sync_at == NOW  # nothing pushed, yet seen

    idle.clock.now = NOW + 60
    sync.run(idle.clock)  # within CONTACT_RESOLUTION: nothing written
    (record,) = terminals.terminals_of(idle.office, idle.partner)
    assert record.last_sync_at == NOW

    idle.clock.now = NOW + 2 * DAY
    sync.run(idle.clock)  # two quiet days later, 304 and all
    assert idle.client.round_calls()[-1] == (CONFIG, 304, True)
    (record,) = terminals.terminals_of(idle.office, idle.partner)
    assert record.last_sync_at == NOW + 2 * DAY


def test_a_changed_service_brings_a_new_configuration_and_tag(idle: Setup) -> None:
    sync = idle.sync()
    sync.run(idle.clock)
    old_version = idle.terminal.config.version  # type: ignore[union-attr]
    _, before, _ = get(idle.url + CONFIG, idle.token())
    idle.client.round_calls()
    idle.clock.now = NOW + 120
    set_service(idle.office, idle.partner, dataclasses.replace(SERVICE, discount_value=75), NOW + 100, by=ACTOR)

    sync.run(idle.clock)

    assert idle.client.round_calls()[-1] == (CONFIG, 200, True)
    service = idle.terminal.config.service()  # type: ignore[union-attr]
    assert service is not None and service.discount_value == 75
    assert idle.terminal.config.version == NOW + 120 > old_version  # type: ignore[union-attr]
    _, after, _ = get(idle.url + CONFIG, idle.token())
    assert after["ETag"] != before["ETag"]
    idle.clock.now = NOW + 180
    sync.run(idle.clock)
    assert idle.client.round_calls()[-1] == (CONFIG, 304, True)  # and the new one is held from then on


def test_a_new_trust_list_is_pulled_past_the_tag(idle: Setup, tmp_path: Path) -> None:
    sync = idle.sync()
    sync.run(idle.clock)
    held = idle.terminal.trust.seq
    export_trust_list(idle.office, UNLOCK, NOW + 30, tmp_path / "published", by=ACTOR)
    idle.client.round_calls()
    idle.clock.now = NOW + 60

    sync.run(idle.clock)

    assert idle.client.round_calls()[0] == (TRUST_LIST, 200, True)
    assert idle.terminal.trust.seq == held + 1


def test_a_configuration_half_way_to_its_expiry_is_signed_again(idle: Setup) -> None:
    sync = idle.sync()
    sync.run(idle.clock)
    version = idle.terminal.config.version  # type: ignore[union-attr]
    idle.client.round_calls()

    idle.clock.now = version + CONFIG_LIFETIME // 2 - 60
    sync.run(idle.clock)
    assert idle.client.round_calls()[-1] == (CONFIG, 304, True)

    idle.clock.now = version + CONFIG_LIFETIME // 2
    sync.run(idle.clock)
    assert idle.client.round_calls()[-1] == (CONFIG, 200, True)
    assert idle.terminal.config.version == idle.clock.now  # type: ignore[union-attr]


def test_an_old_terminal_without_if_none_match_gets_todays_answers(idle: Setup) -> None:
    seq = idle.terminal.trust.seq
    status, headers, body = get(idle.url + CONFIG, idle.token())
    idle.clock.now += 1
    again, _, signed_again = get(idle.url + CONFIG, idle.token())

    assert (status, again) == (200, 200)
    assert headers["Content-Type"] == "application/jose" and body.count(b".") == 2
    assert signed_again != body  # signed afresh, a later version, as before issue 14
    assert len(idle.signed) == 2
    assert get(f"{idle.url}{TRUST_LIST}?since={seq}")[0] == 204
    full, list_headers, _ = get(idle.url + TRUST_LIST)
    assert (full, list_headers["X-KIA-Trust-List-Seq"]) == (200, str(seq))


# --- 304 never skips the office's checks ---------------------------------------------------------


def test_a_terminal_suspended_while_idle_is_refused_not_told_unchanged(idle: Setup) -> None:
    sync = idle.sync()
    sync.run(idle.clock)
    _, headers, _ = get(idle.url + CONFIG, idle.token())
    set_terminal_state(idle.office, idle.terminal.identity.terminal_id, "suspended", NOW + 30, by=ACTOR)
    idle.client.round_calls()
    idle.clock.now = NOW + 60

    result = sync.run(idle.clock)

    assert idle.client.round_calls()[-1] == (CONFIG, 403, True)
    assert result.refusal is not None and result.refusal.code == "terminal_suspended"
    status, _, body = get(idle.url + CONFIG, idle.token(), if_none_match=headers["ETag"])
    assert status == 403 and json.loads(body)["error"] == "terminal_suspended"


def test_a_conditional_pull_without_a_valid_token_is_401(idle: Setup) -> None:
    _, headers, _ = get(idle.url + CONFIG, idle.token())
    replayed = idle.token()
    assert get(idle.url + CONFIG, replayed, if_none_match=headers["ETag"])[0] == 304

    assert get(idle.url + CONFIG, replayed, if_none_match=headers["ETag"])[0] == 401  # its jti was spent
    assert get(idle.url + CONFIG, None, if_none_match=headers["ETag"])[0] == 401
    assert get(idle.url + CONFIG, idle.token(), if_none_match="*")[0] == 200  # a tag must name what it holds


def test_a_forged_tag_from_the_future_is_not_taken(idle: Setup) -> None:
    _, headers, _ = get(idle.url + CONFIG, idle.token())
    digest = headers["ETag"].strip('"').split(".")[1]

    assert get(idle.url + CONFIG, idle.token(), if_none_match=f'"{NOW + 10 * DAY}.{digest}"')[0] == 200
    assert get(idle.url + CONFIG, idle.token(), if_none_match=f'"{NOW - 20 * DAY}.{digest}"')[0] == 200


# --- the poll hint ---------------------------------------------------------------------------------


def test_an_idle_terminal_syncs_as_the_offices_hint_asks_and_at_once_with_records(hinted: Setup) -> None:
    loop = SyncLoop(hinted.sync(), hinted.clock, interval=60)
    assert loop.due(NOW)  # soon after start

    assert loop.round() is not None

    assert loop.poll_after == 600 and loop.idle_interval() == 600
    assert loop.delay() == 60  # the loop still looks every minute...
    assert not loop.due(NOW + 60) and not loop.due(NOW + 599)  # ...but syncs only when the hint says
    assert loop.due(NOW + 600)
    hinted.terminal.scan("not a card", NOW + 120)
    assert loop.due(NOW + 120)  # a record to push: at once


def test_without_a_setting_the_hint_keeps_one_minute(idle: Setup) -> None:
    loop = SyncLoop(idle.sync(), idle.clock, interval=60)
    loop.round()

    assert loop.poll_after == 60
    assert not loop.due(NOW + 59) and loop.due(NOW + 60)


def test_a_hint_beyond_an_hour_is_capped_and_one_below_the_interval_ignored() -> None:
    loop = SyncLoop(sync=None, now=lambda: NOW, interval=60)  # type: ignore[arg-type]
    loop.poll_after = 10 * 86400
    assert loop.idle_interval() == 3600
    loop.poll_after = 5
    assert loop.idle_interval() == 60

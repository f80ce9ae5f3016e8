"""Every change to the office leaves exactly its audit event: who, what, when and from where.

The services write the event in the transaction that makes the change, so
the command line and the pages are audited alike.  Each step below runs one
command or page action and checks the events it added (both databases).
The command line and the pages read the real clock: each event's time is
checked against the wall clock around its step.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient
from sqlalchemy import func, select

from issuer import create_app, offline_signing
from issuer.audit import Actor
from issuer.issuing_keys import list_issuing_keys
from issuer.people import accounts
from issuer.storage.models import AuditEvent
from issuer.storage.store import IssuerHome
from keys import public_jwk
from keys.chain import Redemption
from keys.serial import serial_from_value
from kia.cli import main
from tests.factories import aged
from tests.factories.offices import PASSPHRASE, PASSWORD, UNLOCK, add_people
from tests.terminal_sim import enrolled_terminal, send

PUPIL = aged(10, dt.date.today()).isoformat()  # the pages and commands issue on the real clock


@dataclasses.dataclass(frozen=True)
class Event:
    username: str
    action: str
    target: str | None
    remote_addr: str | None


class Trail:
    """The audit events a step adds, and the wall-clock window it ran in."""

    def __init__(self, home: IssuerHome) -> None:
        self.home = home
        self.seen = self._last_id()

    def _last_id(self) -> int:
        with self.home.transaction() as session:
            return session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0))) or 0

    def step(self, change: Callable[[], Any]) -> tuple[Any, list[Event]]:
        started = int(time.time())
        result = change()
        ended = int(time.time())
        with self.home.transaction() as session:
            rows = list(session.scalars(select(AuditEvent).where(AuditEvent.id > self.seen).order_by(AuditEvent.id)))
        self.seen = rows[-1].id if rows else self.seen
        assert all(started <= row.at <= ended for row in rows), [(row.action, row.at) for row in rows]
        return result, [Event(row.username, row.action, row.target, row.remote_addr) for row in rows]


# --- the command line ------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, issuer_db_url: str | None) -> None:
    for name in ("KIA_DATABASE_URL", "KIA_KEY_PASSPHRASE_FILE", "KIA_ROOT_KEY_PASSPHRASE",
                 "KIA_ROOT_KEY_PASSPHRASE_FILE", "KIA_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KIA_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("KIA_NEW_USER_PASSWORD", PASSWORD)
    if issuer_db_url:
        monkeypatch.setenv("KIA_DATABASE_URL", issuer_db_url)


def test_each_command_that_changes_the_office_records_exactly_its_event(
    tmp_path: Path, issuer_db_url: str | None, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    home_path = tmp_path / "office"

    def kia(*args: str | Path, home: bool = True) -> Any:
        with pytest.raises(SystemExit) as exited:
            main([*map(str, args), *(["--home", str(home_path)] if home else [])])
        out, err = capsys.readouterr()
        assert exited.value.code == 0, err
        return json.loads(out)

    init = kia("issuer", "init")
    office = IssuerHome(home_path, issuer_db_url)
    try:
        with office.transaction() as session:
            (first,) = session.scalars(select(AuditEvent))
        cli = Actor.command_line()
        assert (first.username, first.action, first.remote_addr) == (cli.username, "office_init", "local")
        assert first.target == f"root {init['root_kid']}, key {init['issuing_kid']}"

        trail = Trail(office)

        def only(expected_action: str, target: str, *args: str | Path, home: bool = True) -> Any:
            result, events = trail.step(lambda: kia(*args, home=home))
            assert events == [Event(cli.username, expected_action, target, "local")], args
            return result

        card, events = trail.step(lambda: kia("issuer", "card", "issue", "--birth-date", PUPIL, "--region", "3372",
                                              "--out", tmp_path / "cards"))
        serial = card["serial"]
        assert events == [Event(cli.username, "card_issue", serial, "local")]

        batch = tmp_path / "sekolah.csv"
        batch.write_text(f"birth_date,region\n{PUPIL},3372\n{PUPIL},3372\n", encoding="utf-8")
        only("batch_issue", "batch 1: 2 cards", "issuer", "card", "issue", "--csv", batch, "--out", tmp_path / "b")
        only("batch_verified", "batch 1", "issuer", "batch", "advance", "1", "verified")
        only("card_revoke", serial, "issuer", "card", "revoke", serial, "--reason", "hilang")
        only("cards_mark_expired", "0 cards", "issuer", "card", "mark-expired")
        old_kid = init["issuing_kid"]
        rotated, events = trail.step(lambda: kia("issuer", "key", "rotate"))
        assert events == [Event(cli.username, "key_rotate", rotated["kid"], "local")]
        only("key_revoke", old_kid, "issuer", "key", "revoke", "--home", home_path, "--", old_kid, home=False)
        only("trust_list_export", "seq 1", "issuer", "trustlist", "export", "--out", tmp_path / "published")

        prepared, events = trail.step(lambda: kia("issuer", "trustlist", "prepare", "--out", tmp_path / "req.json"))
        assert events == [Event(cli.username, "trust_list_prepare", f"seq 2 {prepared['fingerprint']}", "local")]
        _, events = trail.step(lambda: kia(
            "issuer", "trustlist", "sign", "--root-key", home_path / "keys" / "root.key", "--in",
            tmp_path / "req.json", "--out", tmp_path / "bundle.json", "--fingerprint", prepared["fingerprint"],
            home=False))
        assert events == []  # the offline machine signs without the office's database
        only("trust_list_import", "seq 2", "issuer", "trustlist", "import", tmp_path / "bundle.json")

        partner = only("partner_create", "partner 1", "issuer", "partner", "add", "--name", "Kolam Renang Manahan",
                       "--kind", "pool", "--cluster", "health_welfare", "--region", "3372", "--mou-start",
                       dt.date.today().isoformat())
        assert partner["partner_id"] == 1
        only("service_rules", "partner 1: renang", "issuer", "partner", "service", "1", "--code", "renang",
             "--name", "Renang", "--price", "5-12=15000", "--percent", "50")
        registered, events = trail.step(lambda: kia("issuer", "terminal", "register", "--partner", "1", "--name", "K1"))
        assert events == [Event(cli.username, "terminal_register", registered["terminal_id"], "local")]
        only("terminal_retire", registered["terminal_id"], "issuer", "terminal", "retire", registered["terminal_id"])
        # A record the office's checks held (a serial it never issued); the auditor confirms it.
        never_issued = Redemption(1, int(time.time()), serial_from_value(7), True, "accepted", "renang", "5-12",
                                  15_000, 7_500, 7_500)

        def sync_a_held_record() -> str:
            terminal = enrolled_terminal(office, 1, int(time.time()))
            send(office, terminal, [never_issued], int(time.time()))
            return terminal.terminal_id

        held_at, _ = trail.step(sync_a_held_record)
        only("record_confirm", f"{held_at}#1", "issuer", "quarantine", "confirm", held_at, "1", "--reason",
             "kartu tidak pernah diterbitkan")
        only("user_add", "kepala: admin", "issuer", "user", "add", "--username", "kepala", "--role", "admin")

        _, events = trail.step(lambda: kia("issuer", "key", "list"))
        assert events == []  # reading changes nothing
    finally:
        office.close()


# --- the pages and the terminals' API --------------------------------------------


@pytest.fixture
def founded_at() -> int:
    return int(time.time())  # the pages and commands read the real clock


@pytest.fixture
def office(office: IssuerHome, founded_at: int, keys_env: None) -> IssuerHome:
    add_people(office, founded_at, ("kepala", "admin", None), ("petugas", "officer", None))
    return office


@pytest.fixture
def admin(office: IssuerHome) -> Iterator[FlaskClient]:
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True,
                      "WTF_CSRF_ENABLED": False})
    yield app.test_client()
    app.extensions["kia_home"].close()


def test_each_page_action_and_enrolment_records_exactly_its_event(office: IssuerHome, admin: FlaskClient) -> None:
    trail = Trail(office)

    def post(path: str, data: dict[str, Any] | None = None, *, ok: int = 302, **kwargs: Any) -> Any:
        response = admin.post(path, data=data, **kwargs)
        assert response.status_code == ok, (path, response.status_code)
        return response

    def only(action: str, target: str | None, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        response, events = trail.step(lambda: post(path, data, **kwargs))
        assert events == [Event("kepala", action, target, "127.0.0.1")], path
        return response

    _, events = trail.step(lambda: post("/login", {"username": "kepala", "password": "salah-sekali-000"}, ok=401))
    assert events == [Event("kepala", "sign_in_failed", None, "127.0.0.1")]
    only("sign_in", None, "/login", {"username": "kepala", "password": PASSWORD})

    issued, events = trail.step(lambda: post("/cards/issue", {"birth_date": PUPIL, "region": "3372"}))
    serial = issued.headers["Location"].rsplit("/", 1)[-1]
    assert events == [Event("kepala", "card_issue", serial, "127.0.0.1")]
    csv = f"birth_date,region\n{PUPIL},3372\n".encode()
    only("batch_submit", "batch 1: 1 children", "/cards/batch", {"file": (io.BytesIO(csv), "sekolah.csv"),
                                                                "channel": "school"}, ok=303)
    only("batch_verified", "batch 1", "/cards/batches/1/verified")
    replaced, events = trail.step(lambda: post(f"/cards/{serial}/replace"))
    new_serial = replaced.headers["Location"].rsplit("/", 1)[-1]
    assert events == [Event("kepala", "card_replace", f"{serial} -> {new_serial}", "127.0.0.1")]
    only("card_revoke", new_serial, f"/cards/{new_serial}/revoke", {"reason": "hilang"})

    (first_kid,) = [key.kid for key in list_issuing_keys(office)]

    def rotate() -> str:
        _, events = trail.step(lambda: post("/keys/rotate"))
        new_kid = list_issuing_keys(office)[-1].kid
        assert events == [Event("kepala", "key_rotate", new_kid, "127.0.0.1")]
        return new_kid

    new_kid = rotate()
    _, events = trail.step(lambda: post(f"/keys/{first_kid}/retire"))
    assert events == []  # refused (the key is retired already): a change not made leaves no event
    only("key_retire", new_kid, f"/keys/{new_kid}/retire")
    rotate()  # an active key again, for the terminal's signed rules below
    only("key_revoke", first_kid, f"/keys/{first_kid}/revoke")

    request, events = trail.step(lambda: post("/keys/trustlist/prepare", ok=200))
    fingerprint = offline_signing.fingerprint(request.data)
    assert events == [Event("kepala", "trust_list_prepare", f"seq 1 {fingerprint}", "127.0.0.1")]
    root = UNLOCK.read(office, "keys/root.key", root=True)
    _, bundle = offline_signing.sign_request(request.data, root, int(time.time()), dt.timedelta(days=30))
    only("trust_list_import", "seq 1", "/keys/trustlist/import",
         {"bundle": (io.BytesIO(bundle.to_bytes()), "bundle.json")})

    only("partner_create", "partner 1", "/partners/", {"name": "Museum Radya Pustaka", "kind": "museum",
                                                       "cluster": "education_culture", "region": "3372",
                                                       "mou_start": dt.date.today().isoformat()})
    only("service_rules", "partner 1: museum", "/partners/1/services",
         {"code": "museum", "name": "Tiket museum", "price_5_12": "5000", "discount_kind": "percent",
          "discount_value": "50", "daily_limit": "1", "passback_seconds": "0"})
    registered, events = trail.step(lambda: post("/partners/1/terminals", {"name": "Loket 1"}, ok=200))
    (terminal_id,) = [event.target for event in events]
    assert events == [Event("kepala", "terminal_register", terminal_id, "127.0.0.1")]
    code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", registered.get_data(True))[0]

    jwk = public_jwk(Ed25519PrivateKey.generate().public_key())
    _, events = trail.step(lambda: post("/api/v1/terminals/enroll", json={"code": code, "public_jwk": jwk}, ok=201))
    assert events == [Event("terminal", "terminal_enrol", terminal_id, "127.0.0.1")]
    only("terminal_suspend", terminal_id, f"/partners/1/terminals/{terminal_id}/suspend")
    only("terminal_activate", terminal_id, f"/partners/1/terminals/{terminal_id}/activate")

    added, events = trail.step(lambda: post("/users/", {"username": "pemeriksa", "role": "auditor", "partner": "",
                                                        "password": PASSWORD, "confirm": PASSWORD}))
    assert events == [Event("kepala", "user_add", "pemeriksa: auditor", "127.0.0.1")]
    (user_id,) = [account.id for account in accounts(office) if account.username == "pemeriksa"]
    only("user_role", "pemeriksa: officer", f"/users/{user_id}/role", {"role": "officer", "partner": ""})
    only("user_disable", "pemeriksa", f"/users/{user_id}/disable")
    only("user_enable", "pemeriksa", f"/users/{user_id}/enable")
    only("user_password_reset", "pemeriksa", f"/users/{user_id}/password",
         {"password": "y" * 12, "confirm": "y" * 12})

    _, events = trail.step(lambda: admin.get("/keys/"))
    assert events == []  # reading changes nothing
    only("sign_out", None, "/logout")


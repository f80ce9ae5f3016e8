"""Attacks on signing in and on sessions (issue 12), each test named after the attack it stops.

Every app here runs on the test's own clock (``Clock``): the throttle's
window and a session's lifetime are crossed by moving that clock, never by
waiting.  Two apps on one office stand for two gunicorn workers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from issuer import create_app, people
from issuer.audit import Actor
from issuer.errors import Refused
from issuer.storage.models import AuditEvent, User
from issuer.storage.store import IssuerHome
from tests.factories import NOW
from tests.factories.offices import PASSWORD, add_people
from tests.integration.issuer.conftest import CHEAP_HASHER

WRONG = "bukan-kata-sandinya"  # noqa: S105 (a test value)
ATTACKER = "10.6.6.6"


class Clock:
    """The apps' clock, moved by the test."""

    def __init__(self, at: int) -> None:
        self.at = at

    def __call__(self) -> int:
        return self.at


@pytest.fixture
def founded_at() -> int:
    return NOW


@pytest.fixture
def office(office: IssuerHome) -> IssuerHome:
    """Two admins, an officer and an auditor, each signing in with PASSWORD."""
    add_people(office, NOW, ("admin", "admin", None), ("kepala", "admin", None), ("officer", "officer", None),
               ("auditor", "auditor", None))
    return office


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


def worker(office: IssuerHome, clock: Clock) -> Flask:
    """An app on ``office``, as one gunicorn worker runs it (CSRF off: these tests are about sign-in)."""
    return create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True,
                       "WTF_CSRF_ENABLED": False}, now=clock)


@pytest.fixture
def site(office: IssuerHome, clock: Clock) -> Flask:
    return worker(office, clock)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD, query: str = "",
            address: str = "127.0.0.1") -> TestResponse:
    return client.post(f"/login{query}", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def events(office: IssuerHome, action: str) -> list[tuple[str, str | None, str | None]]:
    with office.transaction() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        return [(event.username, event.target, event.remote_addr) for event in rows]


def user_id(office: IssuerHome, username: str) -> int:
    with office.transaction() as session:
        return session.scalars(select(User.id).where(User.username == username)).one()


# --- open redirect after sign-in ------------------------------------------------------------


def test_open_redirect_through_a_tab_in_next_is_refused(site: Flask) -> None:
    response = sign_in(site.test_client(), "admin", query="?next=/%09/evil.example/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_newline_in_next_after_a_good_sign_in_goes_to_the_dashboard_not_a_500(site: Flask) -> None:
    response = sign_in(site.test_client(), "admin", query="?next=/%0A/x")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", [
    "//evil.example/", "/%5Cevil.example/", "/%5C%5Cevil.example", "/%0D/evil.example", "/%00/evil.example",
    "/%7F/x", "https://evil.example/", "javascript:alert(1)", "evil.example", "%2F%2Fevil.example",
    "/%20%09/evil.example", "/" + "a" * 2001,
])
def test_open_redirect_to_another_site_in_any_spelling_is_refused(site: Flask, target: str) -> None:
    response = sign_in(site.test_client(), "admin", query=f"?next={target}")
    assert (response.status_code, response.headers["Location"]) == (302, "/")


@pytest.mark.parametrize("target", ["/users/", "/cards/?lang=en", "/partners/1#terminals"])
def test_a_path_of_this_site_in_next_is_followed(site: Flask, target: str) -> None:
    response = sign_in(site.test_client(), "admin", query="?next=" + target.replace("?", "%3F").replace("&", "%26")
                       .replace("#", "%23"))
    assert (response.status_code, response.headers["Location"]) == (302, target)


# --- guessing passwords ---------------------------------------------------------------------


class CountingHasher(PasswordHasher):
    """The tests' cheap hasher, counting the passwords it checks."""

    def __init__(self) -> None:
        super().__init__(time_cost=CHEAP_HASHER.time_cost, memory_cost=CHEAP_HASHER.memory_cost, parallelism=1)
        self.checked = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002 (argon2-cffi's name)
        self.checked += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(people, "_HASHER", counting)
    return counting


def test_forty_wrong_passwords_then_the_right_one_is_throttled(site: Flask, office: IssuerHome,
                                                                hasher: CountingHasher) -> None:
    client = site.test_client()
    statuses = [sign_in(client, "admin", WRONG, address=ATTACKER).status_code for _ in range(40)]
    right = sign_in(client, "admin", address=ATTACKER)
    assert right.status_code == 429
    assert statuses == [401] * 10 + [429] * 30
    assert hasher.checked == 10  # refused before hashing: the flood costs no more Argon2
    assert int(right.headers["Retry-After"]) == 15 * 60  # the first failure leaves the window then
    page = right.get_data(True)
    assert "Akun ini dikunci sementara karena terlalu banyak kata sandi salah. Coba lagi dalam 15 menit" in page
    assert client.get("/users/").status_code == 302  # not signed in
    english = sign_in(client, "admin", query="?lang=en", address="10.1.1.1")  # the lock is the account's
    assert english.status_code == 429
    assert "This account is locked for now after too many wrong passwords. Try again in 15 minutes" in (
        english.get_data(True))
    assert events(office, "sign_in_locked") == [("admin", "10 wrong passwords in 15 minutes", ATTACKER)]
    assert len(events(office, "sign_in_failed")) == 10


def test_the_lock_ends_when_its_failures_leave_the_window(site: Flask, clock: Clock) -> None:
    client = site.test_client()
    for minute in range(10):
        clock.at = NOW + 60 * minute
        sign_in(client, "admin", WRONG, address=ATTACKER)
    clock.at = NOW + people.FAILURE_WINDOW - 1
    assert sign_in(client, "admin").headers["Retry-After"] == "1"
    clock.at = NOW + people.FAILURE_WINDOW
    assert sign_in(client, "admin").status_code == 302


def test_wrong_passwords_for_many_usernames_from_one_address_are_throttled(site: Flask,
                                                                           hasher: CountingHasher) -> None:
    client = site.test_client()
    for n in range(people.ADDRESS_FAILURES):
        assert sign_in(client, f"tebakan{n}", WRONG, address=ATTACKER).status_code == 401
    refused = sign_in(client, "officer", address=ATTACKER)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Terlalu banyak percobaan masuk yang gagal dari alamat ini." in refused.get_data(True)
    assert hasher.checked == people.ADDRESS_FAILURES
    assert sign_in(site.test_client(), "officer", address="10.1.1.1").status_code == 302  # others still sign in


def test_guesses_spread_over_two_workers_lock_the_account_in_both(office: IssuerHome, clock: Clock) -> None:
    first, second = worker(office, clock).test_client(), worker(office, clock).test_client()
    for n in range(people.ACCOUNT_LOCK_FAILURES):
        assert sign_in(first if n % 2 else second, "kepala", WRONG, address=f"10.0.0.{n}").status_code == 401
    assert sign_in(first, "kepala").status_code == 429
    assert sign_in(second, "kepala").status_code == 429


def test_a_password_reset_by_another_admin_lifts_the_lock(site: Flask, office: IssuerHome) -> None:
    client = site.test_client()
    for _ in range(people.ACCOUNT_LOCK_FAILURES):
        sign_in(client, "officer", WRONG, address=ATTACKER)
    assert sign_in(client, "officer").status_code == 429
    people.reset_password(office, user_id(office, "officer"), PASSWORD + "-baru", NOW,
                          by=Actor("admin", "127.0.0.1", user_id(office, "admin")))
    assert sign_in(client, "officer", PASSWORD + "-baru").status_code == 302


def test_guessing_through_the_audit_export_is_throttled_too(site: Flask, hasher: CountingHasher) -> None:
    client = site.test_client()
    for _ in range(people.ACCOUNT_LOCK_FAILURES):
        assert client.get("/api/v1/audit/export?from=2026-11-01&to=2026-11-30",
                          auth=("auditor", WRONG)).status_code == 401
    refused = client.get("/api/v1/audit/export?from=2026-11-01&to=2026-11-30", auth=("auditor", PASSWORD))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.get_json()["error"] == "too_many_sign_ins"
    assert hasher.checked == people.ACCOUNT_LOCK_FAILURES


# --- sessions end on the server ---------------------------------------------------------------


def signed_in_client(app: Flask, username: str = "admin") -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def with_cookie(app: Flask, cookie: str) -> FlaskClient:
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def copied_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_a_cookie_copied_before_sign_out_is_refused_after_it(site: Flask) -> None:
    client = signed_in_client(site)
    copy = copied_cookie(client)
    assert with_cookie(site, copy).get("/users/").status_code == 200
    assert client.post("/logout").status_code == 302
    response = with_cookie(site, copy).get("/users/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_signing_out_ends_that_session_only(site: Flask) -> None:
    laptop, phone = signed_in_client(site), signed_in_client(site)
    laptop.post("/logout")
    assert phone.get("/users/").status_code == 200


def test_a_cookie_copied_before_a_password_reset_is_refused_after_it(site: Flask, office: IssuerHome) -> None:
    copy = copied_cookie(signed_in_client(site, "kepala"))
    admin = signed_in_client(site)
    assert admin.post(f"/users/{user_id(office, 'kepala')}/password",
                      data={"password": PASSWORD + "-baru", "confirm": PASSWORD + "-baru"}).status_code == 302
    assert with_cookie(site, copy).get("/users/").status_code == 302


def test_a_cookie_copied_before_its_person_is_disabled_is_refused_after_being_enabled_again(
        site: Flask, office: IssuerHome) -> None:
    copy = copied_cookie(signed_in_client(site, "kepala"))
    admin = signed_in_client(site)
    kepala = user_id(office, "kepala")
    assert admin.post(f"/users/{kepala}/disable").status_code == 302
    assert with_cookie(site, copy).get("/users/").status_code == 302
    assert admin.post(f"/users/{kepala}/enable").status_code == 302
    assert with_cookie(site, copy).get("/users/").status_code == 302  # ended, not only paused


def test_a_session_ends_after_its_lifetime_however_busy(site: Flask, clock: Clock) -> None:
    client = signed_in_client(site)
    clock.at = NOW + people.SESSION_LIFETIME - 1
    assert client.get("/users/").status_code == 200
    clock.at = NOW + people.SESSION_LIFETIME
    assert client.get("/users/").status_code == 302


def test_the_office_keeps_no_cookie_token(site: Flask, office: IssuerHome) -> None:
    from issuer.storage.models import SignInSession

    client = signed_in_client(site)
    with site.test_request_context():
        token = site.session_interface.get_signing_serializer(site).loads(copied_cookie(client))["_user_id"]
    with office.transaction() as session:
        stored = session.scalars(select(SignInSession.id)).all()
    assert len(stored) == 1 and token not in stored[0] and len(token) >= 40


# --- two admins disabling each other at once -------------------------------------------------

ROUNDS = 8


def race(*changes: Callable[[], object]) -> list[BaseException | None]:
    """Run ``changes`` at once, one thread each released by one barrier; what each raised, or None."""
    gate = threading.Barrier(len(changes))
    outcomes: list[BaseException | None] = [None] * len(changes)

    def run(index: int) -> None:
        gate.wait()
        try:
            changes[index]()
        except Exception as exc:  # noqa: BLE001 (the outcome is what the test checks)
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(changes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_admins_disabling_each_other_at_once_leave_one_active(office: IssuerHome) -> None:
    admin, kepala = user_id(office, "admin"), user_id(office, "kepala")
    # Each admin's request on its own connection pool, as two gunicorn workers have.
    homes = [IssuerHome(office.path, office.database_url) for _ in range(2)]
    try:
        for _ in range(ROUNDS):
            outcomes = race(
                lambda: people.set_active(homes[0], kepala, False, NOW, by=Actor("admin", "10.0.0.1", admin)),
                lambda: people.set_active(homes[1], admin, False, NOW, by=Actor("kepala", "10.0.0.2", kepala)),
            )
            with office.transaction() as session:
                active = session.scalars(select(User.username).where(User.role == "admin", User.active)).all()
            assert len(active) == 1, outcomes
            assert sorted(type(outcome).__name__ for outcome in outcomes) == ["LastAdmin", "NoneType"]
            assert all(outcome is None or isinstance(outcome, Refused) for outcome in outcomes)
            for user in (admin, kepala):
                people.set_active(office, user, True, NOW, by=Actor.command_line())
    finally:
        for home in homes:
            home.close()

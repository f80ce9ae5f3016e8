"""Sync tokens spent once, whoever answers: workers, machines and restarts share the jti table.

Issue 14 made authentication one round trip (the terminal's key and state,
the office's audience and the jti's spending in one statement, the token
verified before that commits) and the clean-up of expired jtis occasional.
These tests play the attacks that change could let through, on SQLite and
PostgreSQL.  Each office worker is an IssuerHome of its own on the one
database (its own engine and pool, as a gunicorn worker or another machine
has); time is the test's own ``NOW``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from issuer.errors import HomeBusy, TerminalSuspended
from issuer.storage.models import SyncTokenSeen
from issuer.storage.store import IssuerHome
from issuer.terminals import JTI_CLEANUP_INTERVAL, authenticate_terminal, forget_spent_jtis, set_terminal_state
from keys.chain import MAX_SYNC_TOKEN_LIFETIME, InvalidSyncToken
from tests.factories import ACTOR, NOW
from tests.factories.offices import add_partner
from tests.terminal_sim import SimulatedTerminal, enrolled_terminal


@pytest.fixture
def terminal(office: IssuerHome) -> SimulatedTerminal:
    return enrolled_terminal(office, add_partner(office), NOW)


@pytest.fixture
def other_worker(office: IssuerHome) -> Iterator[IssuerHome]:
    """A second worker (or machine) of the same office: its own engine on the same database."""
    worker = IssuerHome(office.path, office.database_url)
    yield worker
    worker.close()


def kept_jtis(home: IssuerHome) -> int:
    with home.transaction() as session:
        return session.scalar(select(func.count()).select_from(SyncTokenSeen)) or 0


def test_a_token_replayed_to_another_worker_is_refused(
    office: IssuerHome, other_worker: IssuerHome, terminal: SimulatedTerminal
):
    token = terminal.token(now=NOW)
    assert authenticate_terminal(office, token, NOW) == terminal.terminal_id
    with pytest.raises(InvalidSyncToken, match="already used"):
        authenticate_terminal(other_worker, token, NOW + 1)
    with pytest.raises(InvalidSyncToken, match="already used"):
        authenticate_terminal(office, token, NOW + 2)


def test_a_token_replayed_after_the_office_restarts_is_refused(
    office: IssuerHome, terminal: SimulatedTerminal
):
    token = terminal.token(now=NOW)
    authenticate_terminal(office, token, NOW)
    office.close()
    restarted = IssuerHome(office.path, office.database_url)  # a new process: nothing of the old one's memory
    try:
        with pytest.raises(InvalidSyncToken, match="already used"):
            authenticate_terminal(restarted, token, NOW + 30)
    finally:
        restarted.close()


def test_a_token_raced_to_two_workers_at_once_is_accepted_by_one_at_most(
    office: IssuerHome, other_worker: IssuerHome, terminal: SimulatedTerminal
):
    for _ in range(5):
        token, start, outcomes = terminal.token(now=NOW), threading.Barrier(2), list[str]()

        def replay(worker: IssuerHome, token: str = token, start: threading.Barrier = start,
                   outcomes: list[str] = outcomes) -> None:
            start.wait()
            try:
                outcomes.append(authenticate_terminal(worker, token, NOW))
            except InvalidSyncToken:
                outcomes.append("refused")
            except HomeBusy:  # SQLite: the other worker held the write lock; the terminal tries again later
                outcomes.append("busy")

        threads = [threading.Thread(target=replay, args=(worker,)) for worker in (office, other_worker)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes.count(terminal.terminal_id) <= 1, outcomes
        with pytest.raises(InvalidSyncToken):  # whichever won, the token is spent for both
            authenticate_terminal(office, token, NOW)


def test_a_suspended_terminal_is_refused_at_once_by_every_worker(
    office: IssuerHome, other_worker: IssuerHome, terminal: SimulatedTerminal
):
    """Both workers have just authenticated the terminal (any cache would be warm); the suspension counts
    from the next request, and so does the reactivation."""
    for worker in (office, other_worker, office, other_worker):
        assert authenticate_terminal(worker, terminal.token(now=NOW), NOW) == terminal.terminal_id
    set_terminal_state(office, terminal.terminal_id, "suspended", NOW, by=ACTOR)
    for worker in (office, other_worker):
        token = terminal.token(now=NOW)
        with pytest.raises(TerminalSuspended):
            authenticate_terminal(worker, token, NOW)
        with pytest.raises(InvalidSyncToken, match="already used"):  # a suspended terminal's token is spent too
            authenticate_terminal(worker, token, NOW)
    set_terminal_state(other_worker, terminal.terminal_id, "active", NOW, by=ACTOR)
    for worker in (office, other_worker):
        assert authenticate_terminal(worker, terminal.token(now=NOW), NOW) == terminal.terminal_id
    set_terminal_state(office, terminal.terminal_id, "retired", NOW, by=ACTOR)
    for worker in (office, other_worker):
        with pytest.raises(InvalidSyncToken, match="no active terminal"):
            authenticate_terminal(worker, terminal.token(now=NOW), NOW)


def test_a_token_replayed_after_the_jti_clean_up_ran_is_refused_while_unexpired(
    office: IssuerHome, other_worker: IssuerHome, terminal: SimulatedTerminal
):
    token = terminal.token(now=NOW, lifetime=MAX_SYNC_TOKEN_LIFETIME)
    authenticate_terminal(office, token, NOW)
    # Another worker's scheduled clean-up, and clean-ups run by hand, at every moment the token still works.
    authenticate_terminal(other_worker, terminal.token(now=NOW + JTI_CLEANUP_INTERVAL), NOW + JTI_CLEANUP_INTERVAL)
    for later in (NOW, NOW + 1, NOW + MAX_SYNC_TOKEN_LIFETIME - 1, NOW + MAX_SYNC_TOKEN_LIFETIME + 59):
        with office.transaction() as session:
            forget_spent_jtis(session, later)
        with pytest.raises(InvalidSyncToken, match="already used"):
            authenticate_terminal(other_worker, token, later)
    # Past exp and the leeway the token is refused for its time; only a minute later is its jti forgotten.
    with pytest.raises(InvalidSyncToken, match="expired"):
        authenticate_terminal(other_worker, token, NOW + MAX_SYNC_TOKEN_LIFETIME + 60)
    with office.transaction() as session:
        assert forget_spent_jtis(session, NOW + MAX_SYNC_TOKEN_LIFETIME + 120) == 0
        assert forget_spent_jtis(session, NOW + MAX_SYNC_TOKEN_LIFETIME + 121) == 1


def test_expired_jtis_are_forgotten_once_a_minute_not_at_every_request(
    office: IssuerHome, terminal: SimulatedTerminal
):
    def expired_row() -> None:  # as a token used long ago left it
        with office.transaction() as session:
            session.add(SyncTokenSeen(jti=f"old-{kept_jtis(office)}-jti", terminal_id=terminal.terminal_id,
                                      expires_at=NOW - 10_000))

    authenticate_terminal(office, terminal.token(now=NOW), NOW)  # this worker's first request cleans up
    expired_row()
    for second in range(1, JTI_CLEANUP_INTERVAL):
        authenticate_terminal(office, terminal.token(now=NOW + second), NOW + second)
    assert kept_jtis(office) == JTI_CLEANUP_INTERVAL + 1  # no DELETE ran within the minute
    authenticate_terminal(office, terminal.token(now=NOW + JTI_CLEANUP_INTERVAL), NOW + JTI_CLEANUP_INTERVAL)
    assert kept_jtis(office) == JTI_CLEANUP_INTERVAL + 1  # the expired row went, the new jti came


def test_a_forged_token_cannot_spend_a_genuine_tokens_jti(office: IssuerHome, terminal: SimulatedTerminal):
    """The jti is spent in the statement that reads the key, and rolled back when the token fails."""
    claims = terminal.claims(now=NOW)
    forged = SimulatedTerminal(key=Ed25519PrivateKey.generate())
    forged.terminal_id, forged.audience = terminal.terminal_id, terminal.audience
    attacks = [forged.signed_token(claims), terminal.signed_token(claims | {"aud": "kia-office:XXXX"}),
               terminal.unsigned_token(claims), terminal.signed_token(claims, typ="JWT")]
    for attack in attacks:
        with pytest.raises(InvalidSyncToken):
            authenticate_terminal(office, attack, NOW)
    assert kept_jtis(office) == 0
    assert authenticate_terminal(office, terminal.signed_token(claims), NOW) == terminal.terminal_id


@pytest.mark.parametrize("claims", [
    {"iss": "T-\x00ABCDEF"}, {"jti": "\x00" * 16}, {"iss": "T-" + "A" * 100}, {"jti": "a" * 65},
    {"exp": 2**70}, {"exp": "tomorrow"}, {"iss": ["T-1"]},
])
def test_claims_that_no_query_may_hold_are_refused_before_any_query(
    office: IssuerHome, terminal: SimulatedTerminal, claims: dict[str, object]
):
    with pytest.raises(InvalidSyncToken):
        authenticate_terminal(office, terminal.signed_token(terminal.claims(now=NOW) | claims), NOW)
    assert kept_jtis(office) == 0


def test_tokens_that_are_not_compact_jws_are_refused(office: IssuerHome, terminal: SimulatedTerminal):
    for garbage in ("", "a.b", "a.b.c", "..", "x" * 3000, terminal.token(now=NOW) + "=", "[" * 1500):
        with pytest.raises(InvalidSyncToken):
            authenticate_terminal(office, garbage, NOW)

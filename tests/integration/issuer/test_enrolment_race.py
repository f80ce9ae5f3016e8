"""One enrolment code, several terminals at once: exactly one of them enrols.

The race is real: threads post the same code to one office (SQLite, the
default, and PostgreSQL when configured) from behind a barrier, round after
round.  Before the code was spent with a conditional update, two requests
both read the terminal as pending and both got 201 while only the last key
was kept: the real terminal was told it enrolled while another held the
identity.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask

from issuer import create_app
from issuer.storage.models import Terminal
from issuer.storage.store import IssuerHome
from issuer.terminals import register_terminal
from tests.factories import ACTOR, NOW
from tests.factories.offices import add_partner, add_service
from tests.terminal_sim import SimulatedTerminal

ENROL = "/api/v1/terminals/enroll"
ROUNDS, RACERS = 5, 4


@pytest.fixture
def founded_at() -> int:
    return NOW


@pytest.fixture(autouse=True)
def _keys(keys_env: None) -> None:
    """The API opens the issuing key to sign terminal configuration."""


@pytest.fixture
def app(office: IssuerHome) -> Iterator[Flask]:
    """The office's service on the test's clock."""
    app = create_app({"HOME": str(office.path), "DATABASE_URL": office.database_url, "TESTING": True},
                     now=lambda: NOW)
    yield app
    app.extensions["kia_home"].close()


def race(app: Flask, code: str, terminals: list[SimulatedTerminal]) -> list[tuple[int, str | None]]:
    """Each terminal posts ``code`` from its own thread, all released at once; (status, terminal id) each."""
    start = threading.Barrier(len(terminals))
    answers: list[tuple[int, str | None]] = [(0, None)] * len(terminals)

    def enrol(index: int) -> None:
        client = app.test_client()
        body = terminals[index].enrolment_request(code)
        start.wait()
        response = client.post(ENROL, json=body)
        answers[index] = (response.status_code, (response.get_json() or {}).get("terminal_id"))

    threads = [threading.Thread(target=enrol, args=(index,)) for index in range(len(terminals))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_one_enrolment_code_used_by_four_requests_at_once_enrols_one(app: Flask, office: IssuerHome) -> None:
    partner = add_partner(office)
    add_service(office, partner, now=NOW)
    outcomes = []
    for round_ in range(ROUNDS):
        registration = register_terminal(office, partner, f"Kasir {round_}", NOW, by=ACTOR)
        terminals = [SimulatedTerminal() for _ in range(RACERS)]

        answers = race(app, registration.enrolment_code, terminals)

        statuses = sorted(status for status, _ in answers)
        winners = [terminals[index] for index, (status, _) in enumerate(answers) if status == 201]
        with office.transaction() as session:
            kept = session.get_one(Terminal, registration.terminal_id).public_jwk
        outcomes.append((statuses, len(winners) == 1 and kept is not None and kept["x"] == winners[0].public_jwk["x"]))
    assert outcomes == [([201] + [403] * (RACERS - 1), True)] * ROUNDS

"""The sync client against a scripted office (the real office is in tests/e2e)."""

from __future__ import annotations

import json
from pathlib import Path

from keys.errors import CARD_REASONS
from tests.factories import NOW, make_trust
from tests.terminal_home import open_terminal
from verifier.decision import RULE_REASONS
from verifier.display import DISPLAY_WIDTH, SHORT, short
from verifier.sync import Answer, Sync

TRUST = make_trust(NOW)


class ScriptedOffice:
    """Answers sync posts from a script; the trust list and rules are unchanged (204, 503)."""

    def __init__(self, *answers: tuple[int, dict]) -> None:
        self.answers, self.posted = list(answers), []

    def request(self, method: str, path: str, *, body: object = None, token: str | None = None) -> Answer:
        if path == "/api/v1/sync":
            self.posted.append(body)
            status, reply = self.answers.pop(0)
            return Answer(status, json.dumps(reply).encode(), {})
        return Answer(204 if "trustlist" in path else 503, b"{}", {})


def test_an_office_acknowledging_records_this_log_never_wrote_is_a_refusal_not_a_silent_ack(tmp_path: Path) -> None:
    terminal = open_terminal(tmp_path, TRUST, NOW)
    terminal.scan("not a card", NOW)
    office = ScriptedOffice((200, {"acknowledged": 5, "stored": 0, "duplicates": 1}))

    result = Sync(terminal, office).run(lambda: NOW)  # type: ignore[arg-type]

    assert result.refusal is not None and result.refusal.code == "ahead_of_log"
    assert terminal.log.acknowledged() == 0  # kept until the office and the terminal agree
    assert terminal.refusal() == result.refusal  # shown on the staff screen
    terminal.close()


def test_a_lost_answer_is_caught_up_from_the_offices_gap_reply(tmp_path: Path) -> None:
    terminal = open_terminal(tmp_path, TRUST, NOW)
    for _ in range(3):
        terminal.scan("not a card", NOW)
    office = ScriptedOffice((409, {"error": "gap", "acknowledged": 2}), (200, {"acknowledged": 3, "stored": 1,
                                                                              "duplicates": 0}))

    Sync(terminal, office).run(lambda: NOW)  # type: ignore[arg-type]

    assert [record["seq"] for record in office.posted[1]["records"]] == [3]
    assert terminal.log.acknowledged() == 3
    terminal.close()


def test_every_reason_has_a_gate_label_that_fits_the_boards_screen() -> None:
    for reason in ("accepted", *CARD_REASONS, *RULE_REASONS):
        assert reason in SHORT, f"{reason} has no short label"
        for lang in ("id", "en"):
            assert 0 < len(short(reason, lang)) <= DISPLAY_WIDTH

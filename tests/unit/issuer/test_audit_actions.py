"""Every audit action the office records is in issuer.audit.ACTIONS, and the trail has words for each."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from issuer import batches, quarantine, terminals
from issuer.audit import ACTIONS, Actor, record
from issuer.storage.models import AGREEMENT_ACTIONS, AuditEvent
from issuer.web.i18n import TEXT

BY = Actor("kepala", "127.0.0.1")


def test_the_composed_actions_are_all_known() -> None:
    composed = {
        *(f"terminal_{verb}" for verb in terminals.STATE_VERBS.values()),
        *(f"record_{decision}" for decision in quarantine.DECISIONS),
        *(f"batch_{state}" for state in batches.STATES[1:]),  # advance moves a batch past "submitted" only
        *(f"key_{change}" for change in ("retire", "revoke")),  # keys.lifecycle.replace_key's changes
        *(f"agreement_{action}" for action in AGREEMENT_ACTIONS if action != "migrate"),  # migrated without an event
    }
    assert composed <= set(ACTIONS), sorted(composed - set(ACTIONS))
    assert len(set(ACTIONS)) == len(ACTIONS)


def test_each_action_has_words_in_both_languages() -> None:
    for action in ACTIONS:
        indonesian, english = TEXT[f"action_{action}"]
        assert indonesian and english and indonesian != action and english != action, action


def test_an_unknown_action_is_refused_before_it_reaches_the_trail() -> None:
    session = Session()
    with pytest.raises(ValueError, match="not an audit action"):
        record(session, BY, "card_revokd", "K-1", 1)
    assert not session.new
    record(session, BY, "card_revoke", "K-1", 1)
    (event,) = session.new
    assert isinstance(event, AuditEvent) and event.action == "card_revoke"

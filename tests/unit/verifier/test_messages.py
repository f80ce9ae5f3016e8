"""verifier.messages: what partner staff read, in Bahasa Indonesia and English."""

from __future__ import annotations

import pytest

from keys.errors import REASONS
from verifier import messages
from verifier.decision import FLAGS, RULE_REASONS
from verifier.messages import LANGUAGES, MESSAGES, NOTICES, language, message, notice

ALL_REASONS = REASONS + RULE_REASONS


@pytest.mark.parametrize("reason", ALL_REASONS)
def test_every_reason_code_has_a_sentence_in_both_languages(reason: str) -> None:
    assert set(MESSAGES[reason]) == {"id", "en"}
    for lang in LANGUAGES:
        text = message(reason, lang)
        assert text.strip() == text and len(text) > 10
        assert text.endswith(".")
        assert "\n" not in text
    assert message(reason, "id") != message(reason, "en")


def test_there_is_no_message_for_a_code_outside_the_closed_set() -> None:
    assert set(MESSAGES) == set(ALL_REASONS)


@pytest.mark.parametrize("name", sorted(NOTICES))
def test_every_notice_is_one_sentence_in_both_languages(name: str) -> None:
    assert set(NOTICES[name]) == {"id", "en"}
    for lang in LANGUAGES:
        text = notice(name, lang)
        assert text.strip() == text and len(text) > 10 and text.endswith(".") and "\n" not in text
    assert notice(name, "id") != notice(name, "en")


def test_every_flag_a_decision_carries_has_a_notice_and_so_have_log_failures() -> None:
    assert set(FLAGS) | {"log_unavailable", "log_corrupt"} == set(NOTICES)


def test_the_default_language_is_indonesian(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(messages.LANGUAGE_ENV, raising=False)

    assert language() == "id"
    assert message("accepted") == MESSAGES["accepted"]["id"]


@pytest.mark.parametrize(
    ("environment", "expected"),
    [("en", "en"), ("EN", "en"), ("en_US.UTF-8", "en"), ("id_ID", "id"), ("fr", "id"), ("", "id"), ("x", "id")],
)
def test_kia_lang_chooses_the_language_and_anything_unknown_falls_back_to_indonesian(
    monkeypatch: pytest.MonkeyPatch, environment: str, expected: str
) -> None:
    monkeypatch.setenv("KIA_LANG", environment)

    assert language() == expected
    assert message("card_revoked") == MESSAGES["card_revoked"][expected]


def test_an_explicit_language_wins_over_kia_lang(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIA_LANG", "en")

    assert language("id") == "id"
    assert message("expired", "id") == MESSAGES["expired"]["id"]
    monkeypatch.setenv("KIA_LANG", "id")
    assert language("en") == "en"

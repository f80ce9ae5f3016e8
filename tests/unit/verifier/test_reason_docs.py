"""docs/reasons.md documents the partner's rule codes the terminal's decisions carry."""

from __future__ import annotations

from pathlib import Path

from verifier.decision import FLAGS, RULE_REASONS

REASONS_DOC = Path(__file__).resolve().parents[3] / "docs" / "reasons.md"


def rule_rows() -> list[str]:
    text = REASONS_DOC.read_text(encoding="utf-8")
    section = text.split("## The partner's rules", 1)[1]
    return [line.split("|")[1].strip().strip("`") for line in section.splitlines() if line.startswith("| `")]


def test_every_rule_code_has_a_row_in_decision_order() -> None:
    assert tuple(rule_rows()) == RULE_REASONS


def test_the_flags_are_explained_beside_the_rules() -> None:
    section = REASONS_DOC.read_text(encoding="utf-8").split("## The partner's rules", 1)[1]

    assert all(f"`{flag}`" in section for flag in FLAGS)

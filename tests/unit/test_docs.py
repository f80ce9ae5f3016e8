"""The documents that operators and partners read stay in step with the code."""

from __future__ import annotations

from pathlib import Path

from keys.errors import REASONS
from verifier.decision import RULE_REASONS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_reason_code_is_documented() -> None:
    text = (DOCS / "reasons.md").read_text(encoding="utf-8")
    missing = [reason for reason in REASONS if f"`{reason}`" not in text]
    assert missing == []


def test_reasons_document_names_no_code_the_code_does_not_have() -> None:
    text = (DOCS / "reasons.md").read_text(encoding="utf-8")
    rows = [line.split("|")[1].strip().strip("`") for line in text.splitlines() if line.startswith("| `")]
    assert sorted(rows) == sorted(REASONS + RULE_REASONS)

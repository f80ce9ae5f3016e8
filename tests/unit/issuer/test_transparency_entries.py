"""The log's entries as docs/transparency-log.md specifies them: every kind documented, and their bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from issuer.transparency import KINDS, MAX_ENTRY, fact

DOC = Path(__file__).resolve().parents[3] / "docs" / "transparency-log.md"


def test_every_kind_of_entry_is_documented_and_no_other():
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("## Entries"):text.index("## Checkpoints")]
    rows = {cell.strip("` ") for line in table.splitlines() if line.startswith("| `")
            for cell in line.split("|")[1].split(",")}
    assert rows == set(KINDS)


def test_an_entry_is_compact_sorted_json():
    entry = fact("redemption", "T1#5", 1795316400, terminal="T1", partner=3, seq=5, hash="ab" * 32)
    assert entry.data == (b'{"at":1795316400,"hash":"' + b"ab" * 32
                          + b'","kind":"redemption","partner":3,"seq":5,"terminal":"T1"}')
    assert (entry.kind, entry.ref) == ("redemption", "T1#5")
    assert json.loads(entry.data)["kind"] == "redemption"


def test_unknown_kinds_and_oversized_entries_are_refused():
    with pytest.raises(ValueError, match="unknown"):
        fact("card_lost", "x", 0)
    with pytest.raises(ValueError, match="65,535"):
        fact("partner", "1", 0, name="x" * MAX_ENTRY)

"""The documents that operators and partners read stay in step with the code."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import click
import pytest

from keys.errors import REASONS
from keys.jwk import b64url_decode
from keys.serial import ALPHABET, is_valid_serial
from kia.cli import cli
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


# --- serials, tokens and commands in the README and docs ----------------------------------------

DOCUMENTS = [DOCS.parent / "README.md", *sorted(DOCS.rglob("*.md"))]
# Eight characters of the serial alphabet with a digit and a letter: what a serial looks like.
SERIAL_LIKE = re.compile(rf"(?<![\w-])(?=[{ALPHABET}]*\d)(?=[{ALPHABET}]*[A-Z])[{ALPHABET}]{{8}}(?![\w-])")
COMPACT_JWS = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


def code_lines(path: Path) -> list[tuple[int, str]]:
    """The lines of fenced code blocks, continuations joined, with their first line number."""
    lines, fenced, pending, start = [], False, "", 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            continue
        start = start or number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        lines.append((start, pending + line))
        pending, start = "", 0
    return lines


def documented_commands() -> list[tuple[str, list[str]]]:
    """Every `kia ...` command in a code block, each side of a pipe on its own, optional parts kept."""
    commands = []
    for path in DOCUMENTS:
        for number, line in code_lines(path):
            line = line.strip().removeprefix("$ ")
            if not (line.startswith("kia ") or "| kia " in line):
                continue  # other code: JSON, Python, protocol traces
            words = shlex.split(line, comments=True)
            words = [word.removeprefix("[").removesuffix("]") for word in words]
            pipeline: list[list[str]] = [[]]
            for word in words:
                pipeline.append([]) if word == "|" else pipeline[-1].append(word)
            commands += [(f"{path.name}:{number}", part[1:]) for part in pipeline if part[:1] == ["kia"]]
    return commands


def parse(words: list[str]) -> str | None:
    """What is wrong with ``kia WORDS`` as the command line would parse it, or None."""
    command: click.Command = cli
    context = click.Context(cli, info_name="kia")
    while isinstance(command, click.Group):
        if not words or words[0] not in command.list_commands(context):
            return f"no command {' '.join([context.command_path, *words[:1]])}"
        name, *words = words
        found = command.get_command(context, name)
        assert found is not None
        command, context = found, click.Context(found, info_name=name, parent=context)
    try:
        given, extra, _ = command.make_parser(context).parse_args(list(words))
    except click.UsageError as error:
        return error.format_message()
    missing = [param.name for param in command.params if param.required and given.get(param.name) is None]
    if missing or extra:
        return f"missing {missing}, extra {extra}"
    return None


def test_the_documents_show_kia_commands() -> None:
    # The collector itself must find what the README shows, or the test below checks nothing.
    assert len(documented_commands()) > 50


@pytest.mark.parametrize(("where", "words"), documented_commands(), ids=lambda value: value
                         if isinstance(value, str) else None)
def test_every_documented_command_parses(where: str, words: list[str]) -> None:
    assert parse(words) is None, f"{where}: kia {' '.join(words)}"


def test_every_serial_in_the_documents_is_one_the_code_accepts() -> None:
    found = {(path.name, serial) for path in DOCUMENTS
             for serial in SERIAL_LIKE.findall(path.read_text(encoding="utf-8"))}
    assert found, "the documents show no serial: the pattern no longer finds them"
    assert sorted((name, serial) for name, serial in found if not is_valid_serial(serial)) == []


def test_every_card_token_in_the_documents_carries_a_valid_serial() -> None:
    tokens = [token for path in DOCUMENTS for token in COMPACT_JWS.findall(path.read_text(encoding="utf-8"))]
    cards = [json.loads(b64url_decode(token.split(".")[1])) for token in tokens
             if json.loads(b64url_decode(token.split(".")[0])).get("typ") == "kia"]
    assert cards
    assert [card["sub"] for card in cards if not is_valid_serial(card["sub"])] == []

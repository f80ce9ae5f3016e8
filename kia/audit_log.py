"""``kia audit log``: verify the office's transparency log as a monitor does, trusting nothing it says.

From the log's URL prefix (``https://office/api/v1/log``) or a folder of static
tiles (``kia issuer log write-tiles``), with the log's verifier key given by
the auditor (never fetched from the office):

1. the checkpoint opens with the log's key, and with enough cosignatures of
   the witnesses the auditor names (``--witness``, ``--quorum``);
2. every entry is read from the C2SP entry bundles and hashed here, and the
   tree of all of them has the checkpoint's root: nothing was left out,
   changed or reordered;
3. the tree the auditor verified last (kept in ``--state``) is a prefix of
   this one: by the same leaves, and by the office's own consistency proof;
4. with ``--export``, each exported record's entry is in the log with the same
   terminal, partner, sequence, chain hash and receipt time, and no record
   the log holds between a terminal's first and last exported ones is
   missing from the export.

Full tiles never change, so they are kept in ``--state`` and fetched once.
The new checkpoint is saved as the last verified only when all of it holds.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from keys.cosignature import CosignatureInvalid, CosignerKey, open_witnessed_checkpoint, verify_cosignature
from keys.errors import KiaError
from keys.tiles import WIDTH, Tile, TileInvalid, unbundle
from keys.tlog import (
    NoteInvalid,
    NoteKey,
    ProofInvalid,
    TreeHead,
    leaf_hash,
    open_checkpoint,
    tree_root,
    verify_consistency,
)

TIMEOUT = 30
MAX_TILE = 256 * (2 + 0xFFFF)
LAST_CHECKPOINT = "checkpoint"


class LogUnavailable(KiaError):
    """The log's prefix or folder cannot be read (exit 2)."""

    exit_code = 2


class LogFailed(KiaError):
    """The log does not verify (exit 1): what was found, never a partial "verified"."""

    exit_code = 1


class Source:
    """Where the log is read: an HTTP(S) prefix or a folder of static files."""

    def __init__(self, where: str) -> None:
        self.where = where.rstrip("/")
        self.remote = where.startswith(("http://", "https://"))
        if not self.remote and not Path(where).is_dir():
            raise LogUnavailable(f"{where} is neither an http(s) URL nor a folder")

    def read(self, path: str, limit: int = MAX_TILE) -> bytes:
        if not self.remote:
            try:
                return (Path(self.where) / path).read_bytes()[:limit + 1]
            except OSError as exc:
                raise LogUnavailable(f"cannot read {path} in {self.where}: {exc.strerror}") from None
        url = f"{self.where}/{path}"
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:  # noqa: S310 (the scheme is checked)
                return answer.read(limit + 1)  # type: ignore[no-any-return]
        except urllib.error.HTTPError as error:
            raise LogUnavailable(f"GET {url}: HTTP {error.code}") from None
        except (OSError, ValueError) as exc:
            raise LogUnavailable(f"GET {url}: {exc}") from None

    def consistency_proof(self, old: int, size: int) -> list[bytes] | None:
        """The office's proof, when the source serves proofs (static folders do not)."""
        if not self.remote:
            return None
        answer = json.loads(self.read(f"proof/consistency?old={old}&size={size}", 1 << 16))
        return [base64.b64decode(value, validate=True) for value in answer["proof"]]


@dataclasses.dataclass
class Report:
    size: int = 0
    root: str = ""
    cosigned_by: list[str] = dataclasses.field(default_factory=list)
    consistent_from: int | None = None
    entries: int = 0
    kinds: dict[str, int] = dataclasses.field(default_factory=dict)
    records_checked: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)


def verify_log(source: Source, log_key: NoteKey, origin: str, witnesses: Sequence[CosignerKey], quorum: int,
               state: Path, now: int, export: Path | None = None) -> Report:
    """Verify the log (see the module's doc); the report lists every problem found.  Raises LogUnavailable."""
    report = Report()
    note = source.read(LAST_CHECKPOINT, 1 << 16).decode("utf-8", errors="replace")
    try:
        if witnesses:
            head = open_witnessed_checkpoint(note, log_key, origin, witnesses, quorum, now)
        else:
            head = open_checkpoint(note, log_key, origin)
    except NoteInvalid as exc:
        report.problems.append(f"checkpoint: {exc}")
        return report
    report.size, report.root = head.size, base64.b64encode(head.root).decode("ascii")
    report.cosigned_by = [key.name for key in witnesses if _cosigned(note, key, now)]
    entries = list(_entries(source, head.size, state))
    leaves = [leaf_hash(entry) for entry in entries]
    report.entries = len(entries)
    if tree_root(leaves) != head.root:
        report.problems.append(f"the {head.size} entries do not make the checkpoint's root: the log was changed")
        return report
    previous = _last(state, log_key, origin)
    if previous is not None:
        _check_growth(source, previous, head, leaves, report)
    parsed = [_parsed(entry, index, report) for index, entry in enumerate(entries)]
    for item in parsed:
        kind = str(item.get("kind", "?"))
        report.kinds[kind] = report.kinds.get(kind, 0) + 1
    if export is not None:
        _check_export(export, parsed, report)
    if not report.problems:
        state.mkdir(parents=True, exist_ok=True)
        (state / LAST_CHECKPOINT).write_text(note, encoding="utf-8")
    return report


def _cosigned(note: str, key: CosignerKey, now: int) -> bool:
    try:
        verify_cosignature(note, key, now)
    except CosignatureInvalid:
        return False
    return True


def _entries(source: Source, size: int, state: Path) -> Iterator[bytes]:
    """Every entry of the tree of ``size``, from its bundles (full ones cached in ``state``)."""
    bundles = [Tile(None, n) for n in range(size // WIDTH)]
    if size % WIDTH:
        bundles.append(Tile(None, size // WIDTH, size % WIDTH))
    with click.progressbar(bundles, label="Berkas entri / entry bundles", file=sys.stderr) as bar:
        for tile in bar:
            cached = state / "tiles" / tile.path
            data = cached.read_bytes() if tile.width == WIDTH and cached.is_file() else source.read(tile.path)
            try:
                entries = unbundle(tile, data)
            except TileInvalid as exc:
                raise LogFailed(f"{tile.path}: {exc}") from None
            if tile.width == WIDTH and not cached.is_file():
                cached.parent.mkdir(parents=True, exist_ok=True)
                cached.write_bytes(data)
            yield from entries


def _last(state: Path, log_key: NoteKey, origin: str) -> TreeHead | None:
    path = state / LAST_CHECKPOINT
    if not path.is_file():
        return None
    try:
        return open_checkpoint(path.read_text(encoding="utf-8"), log_key, origin)
    except NoteInvalid as exc:
        raise LogUnavailable(f"{path} is not a checkpoint of this log: {exc}") from None


def _check_growth(source: Source, previous: TreeHead, head: TreeHead, leaves: list[bytes], report: Report) -> None:
    if previous.size > head.size:
        report.problems.append(f"the log shrank from {previous.size} to {head.size} entries since the last check")
        return
    if tree_root(leaves[:previous.size]) != previous.root:
        report.problems.append(f"the first {previous.size} entries changed since the last check: a split view")
        return
    proof = source.consistency_proof(previous.size, head.size)
    if proof is not None:
        try:
            verify_consistency(previous.size, head.size, previous.root, head.root, proof)
        except ProofInvalid as exc:
            report.problems.append(f"the office's consistency proof from {previous.size}: {exc}")
            return
    report.consistent_from = previous.size


def _parsed(entry: bytes, index: int, report: Report) -> dict[str, Any]:
    try:
        value = json.loads(entry)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
        report.problems.append(f"entry {index} is not a JSON object with a kind")
        return {}
    return value


def _check_export(export: Path, parsed: list[dict[str, Any]], report: Report) -> None:
    from .audit_export_format import open_export, read_table

    logged: dict[tuple[str, int], dict[str, Any]] = {
        (str(item.get("terminal")), int(item.get("seq") or 0)): item
        for item in parsed if item.get("kind") == "redemption"}
    manifest = open_export(export)
    seqs: dict[str, list[int]] = {}
    for row in read_table(export, manifest, "redemptions"):
        report.records_checked += 1
        terminal, seq = row["terminal_id"], row["seq"]
        seqs.setdefault(terminal, []).append(seq)
        entry = logged.get((terminal, seq))
        if entry is None:
            report.problems.append(f"record {terminal}#{seq} is not in the log")
            continue
        expected = {"partner": row["partner_id"], "hash": row["hash"], "at": row["received_at"]}
        differs = [name for name, value in expected.items() if entry.get(name) != value]
        if differs:
            report.problems.append(f"record {terminal}#{seq} differs from its log entry in {', '.join(differs)}")
    in_log: dict[str, set[int]] = {}
    for terminal, seq in logged:
        in_log.setdefault(terminal, set()).add(seq)
    for terminal, exported in seqs.items():
        present = set(exported)
        missing = sorted(seq for seq in in_log.get(terminal, ()) if min(present) <= seq <= max(present)
                         and seq not in present)
        if missing:
            report.problems.append(f"the export lacks {len(missing)} records of terminal {terminal} the log holds "
                                   f"(e.g. #{min(missing)})")


@click.command("log")
@click.argument("where", metavar="URL_OR_FOLDER")
@click.option("--origin", required=True, help="The log's origin, as the office announced it.")
@click.option("--key", "verifier_key", required=True,
              help="The log's verifier key (name+keyid+base64), from the office's announcement, not from the log.")
@click.option("--witness", "witness_keys", multiple=True, metavar="VERIFIER_KEY",
              help="A witness whose cosignature counts (repeat for several).")
@click.option("--quorum", type=click.IntRange(1), default=None,
              help="How many of the witnesses must have cosigned (default: all named).")
@click.option("--state", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The auditor's folder: the checkpoint last verified, and the tiles fetched.")
@click.option("--export", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="An export (kia audit export) whose records must all be in the log.")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
def log_command(where: str, origin: str, verifier_key: str, witness_keys: tuple[str, ...], quorum: int | None,
                state: Path, export: Path | None, as_json: bool) -> None:
    """Verify the office's transparency log at URL_OR_FOLDER (its /api/v1/log prefix, or static tiles).

    Exits 0 when everything verified, 1 when something did not (each problem
    listed), 2 when the log could not be read.
    """
    import time

    try:
        log_key = NoteKey.parse(verifier_key)
        witnesses = [CosignerKey.parse(key) for key in witness_keys]
    except NoteInvalid as exc:
        raise click.BadParameter(str(exc)) from None
    needed = quorum if quorum is not None else len(witnesses)
    if needed > len(witnesses) and witnesses:
        raise click.BadParameter(f"a quorum of {needed} needs as many witnesses", param_hint="--quorum")
    report = verify_log(Source(where), log_key, origin, witnesses, needed, state, int(time.time()), export)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(report), indent=2))
    else:
        verdict = "TIDAK TERVERIFIKASI / NOT VERIFIED" if report.problems else "TERVERIFIKASI / VERIFIED"
        click.echo(f"{verdict}: log {origin}, {report.size} entries, root {report.root}")
        if report.cosigned_by:
            click.echo(f"  cosigned by: {', '.join(report.cosigned_by)}")
        if report.consistent_from is not None:
            click.echo(f"  consistent with the checkpoint verified before (size {report.consistent_from})")
        click.echo("  " + ", ".join(f"{kind} {count}" for kind, count in sorted(report.kinds.items())))
        if export is not None:
            click.echo(f"  {report.records_checked} exported records checked against the log")
        for problem in report.problems:
            click.echo(f"  - {problem}")
    if report.problems:
        raise SystemExit(1)

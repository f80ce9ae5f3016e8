"""``kia audit witness``: a witness that cosigns only consistent growth of the office's log.

An independent body (the regional inspectorate) runs it beside, never inside,
the office.  It speaks C2SP tlog-witness: the office POSTs ``/add-checkpoint``
with its new checkpoint and a consistency proof from the size the witness last
cosigned; the witness checks the log's signature and the proof, records the
new size with a compare-and-swap, and answers its cosignature (C2SP
tlog-cosignature, keys.cosignature).  docs/witness.md is the operator's guide.

    200  the cosignature lines                    403  not signed by the log's key
    400  malformed request, or old > new size      404  a log the witness does not follow
    409  old size is not the witness's size        422  the consistency proof does not verify
         (body: its size, text/x.tlog.size),
         or the same size with another root

Its home holds ``witness.json`` (name and verifier key), ``witness-key.pem``
(the Ed25519 key, encrypted under ``KIA_WITNESS_PASSPHRASE`` or the file
named by ``KIA_WITNESS_PASSPHRASE_FILE``) and ``witness.db`` (SQLite: each
log's keys and latest cosigned size and root, and the signed checkpoints it
refused as inconsistent: evidence against the log).

``Witness`` is plain Python with ``now`` passed in; the Flask app and the
command line are thin shells around it.  ``request_cosignature`` is the
office's client.  Flask and waitress (the ``verifier`` extra) are imported
only by ``serve``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import importlib.util
import json
import logging
import os
import re
import signal
import sqlite3
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys.cosignature import CosignatureInvalid, CosignerKey, cosign
from keys.errors import KiaError
from keys.keystore import passphrase_from, read_private_key, write_private_key
from keys.times import iso_utc, iso_utc_or_none
from keys.tlog import (
    EMPTY_ROOT,
    HASH_SIZE,
    MAX_NOTE_SIZE,
    NoteInvalid,
    NoteKey,
    ProofInvalid,
    TreeHead,
    open_checkpoint,
    open_note,
    split_note,
    verify_consistency,
)

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("kia.witness")

PASSPHRASE_ENV = "KIA_WITNESS_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)
PASSPHRASE_FILE_ENV = "KIA_WITNESS_PASSPHRASE_FILE"  # noqa: S105
SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
# The old size line, 63 proof lines and a note: anything larger is refused unread.
MAX_REQUEST_SIZE = 32 + MAX_PROOF_LINES * 45 + MAX_NOTE_SIZE
MAX_SIZE = 2**63 - 1  # SQLite's integers
TIMEOUT = 15.0
_OLD_LINE = re.compile(r"old (0|[1-9][0-9]{0,18})")


# --- errors ---------------------------------------------------------------------------


class WitnessError(KiaError):
    """The witness cannot do what was asked."""

    exit_code = 1


class WitnessSetupError(WitnessError):
    """The witness's home must be fixed first (missing, or its key does not match)."""

    exit_code = 2


class WitnessUnavailable(WitnessError):
    """The witness did not answer, or answered something that is not the protocol: try again later."""


class WitnessRefused(WitnessError):
    """The witness refused the checkpoint; ``status`` is its HTTP status (C2SP tlog-witness)."""

    http_status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status or self.http_status
        super().__init__(message)


class RequestMalformed(WitnessRefused):
    """The request is not an old size, proof lines, a blank line and a checkpoint, or the old size is larger."""


class LogSignatureRejected(WitnessRefused):
    """No key the witness trusts for the log signed the checkpoint."""

    http_status = 403


class UnknownLog(WitnessRefused):
    """The witness does not follow a log of that origin."""

    http_status = 404


class WitnessConflict(WitnessRefused):
    """The old size is not the size the witness last cosigned (``size``), or the same size has another root."""

    http_status = 409

    def __init__(self, size: int, message: str | None = None) -> None:
        self.size = size
        super().__init__(message or f"the witness last cosigned this log at size {size}; send a proof from there")


class ConsistencyRejected(WitnessRefused):
    """The consistency proof does not show the new tree grows the one the witness cosigned."""

    http_status = 422


# --- the request ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AddCheckpoint:
    """An add-checkpoint request: the size the witness last cosigned, a proof from it, the new checkpoint."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: str

    def encode(self) -> bytes:
        lines = [f"old {self.old_size}", *(base64.b64encode(node).decode("ascii") for node in self.proof)]
        return ("\n".join(lines) + "\n\n" + self.checkpoint).encode()

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """The request in ``body``; raises RequestMalformed."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestMalformed("the request is UTF-8 text") from None
        header, blank, checkpoint = text.partition("\n\n")
        lines = header.split("\n")
        old = _OLD_LINE.fullmatch(lines[0])
        if not blank or old is None:
            raise RequestMalformed("the request starts with 'old SIZE', proof lines, then a blank line")
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise RequestMalformed(f"a consistency proof has at most {MAX_PROOF_LINES} lines")
        proof = []
        for line in lines[1:]:
            try:
                node = base64.b64decode(line, validate=True)
            except binascii.Error:
                node = b""
            if len(node) != HASH_SIZE:
                raise RequestMalformed("each proof line is one base64 SHA-256 hash")
            proof.append(node)
        return cls(int(old[1]), tuple(proof), checkpoint)


# --- the witness's state ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LogState:
    """What the witness holds for one log: its keys and the size and root it last cosigned."""

    origin: str
    size: int
    root: bytes
    keys: tuple[str, ...]
    cosigned_at: int | None

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "size": self.size, "root": base64.b64encode(self.root).decode("ascii"),
                "keys": list(self.keys), "cosigned_at": iso_utc_or_none(self.cosigned_at)}


_SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL CHECK (size >= 0),
    root BLOB NOT NULL CHECK (length(root) = 32),
    checkpoint TEXT,        -- the latest checkpoint cosigned, as the log sent it
    cosigned_at INTEGER
);
CREATE TABLE IF NOT EXISTS log_keys (
    origin TEXT NOT NULL REFERENCES logs (origin),
    verifier_key TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (origin, verifier_key)
);
-- Checkpoints the log signed that the witness refused as inconsistent: evidence of a fork.
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL REFERENCES logs (origin),
    received_at INTEGER NOT NULL,
    reason TEXT NOT NULL,
    request TEXT NOT NULL
);
"""


class WitnessState:
    """The logs a witness follows, in SQLite; each call opens its own connection (one per thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as db:
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # Autocommit: each statement commits on its own, fully synced before the answer goes out.
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
            yield db
        finally:
            db.close()

    def add_log(self, origin: str, key: NoteKey, now: int) -> LogState:
        """Follow ``origin`` signed by ``key`` (another key of a followed log is added beside the first)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT OR IGNORE INTO logs (origin, size, root) VALUES (?, 0, ?)", (origin, EMPTY_ROOT))
            db.execute("INSERT OR IGNORE INTO log_keys VALUES (?, ?, ?)", (origin, key.verifier_key(), now))
            db.execute("COMMIT")
        return self.log(origin)

    def log(self, origin: str) -> LogState:
        """The state of ``origin``; raises UnknownLog."""
        with self._connect() as db:
            row = db.execute("SELECT origin, size, root, cosigned_at FROM logs WHERE origin = ?", (origin,)).fetchone()
            keys = [key for (key,) in db.execute(
                "SELECT verifier_key FROM log_keys WHERE origin = ? ORDER BY added_at, verifier_key", (origin,))]
        if row is None:
            raise UnknownLog("this witness does not follow that log")
        return LogState(row[0], row[1], row[2], tuple(keys), row[3])

    def logs(self) -> list[LogState]:
        with self._connect() as db:
            origins = [origin for (origin,) in db.execute("SELECT origin FROM logs ORDER BY origin")]
        return [self.log(origin) for origin in origins]

    def advance(self, seen: LogState, head: TreeHead, checkpoint: str, now: int) -> None:
        """Move ``seen.origin`` from the state ``seen`` to ``head``, atomically; raises WitnessConflict.

        The compare-and-swap on (size, root) makes two requests checked against
        the same old state unable both to move it: one wins, the other learns
        the new size.  Without it, a slower request could roll the state back.
        """
        with self._connect() as db:
            moved = db.execute(
                "UPDATE logs SET size = ?, root = ?, checkpoint = ?, cosigned_at = ?"
                " WHERE origin = ? AND size = ? AND root = ?",
                (head.size, head.root, checkpoint, now, seen.origin, seen.size, seen.root),
            ).rowcount
        if moved != 1:
            raise WitnessConflict(self.log(seen.origin).size)

    def keep_evidence(self, origin: str, reason: str, request: AddCheckpoint, now: int) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO evidence (origin, received_at, reason, request) VALUES (?, ?, ?, ?)",
                       (origin, now, reason, request.encode().decode()))

    def evidence(self) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute("SELECT origin, received_at, reason, request FROM evidence ORDER BY id").fetchall()
        return [{"origin": origin, "received_at": iso_utc(at), "reason": reason, "request": request}
                for origin, at, reason, request in rows]


# --- the witness ------------------------------------------------------------------------


class Witness:
    """Cosigns a log's checkpoint only when it grows, consistently, the tree last cosigned."""

    def __init__(self, state: WitnessState, name: str, private: Ed25519PrivateKey) -> None:
        self.state, self.name, self._private = state, name, private
        self.key = CosignerKey.of(name, private)

    def add_checkpoint(self, request: AddCheckpoint, now: int) -> list[str]:
        """The cosignature lines on ``request.checkpoint``, dated ``now``, once every check passes.

        Raises, in this order: RequestMalformed (400), UnknownLog (404),
        LogSignatureRejected (403), RequestMalformed for an old size larger
        than the checkpoint's (400), WitnessConflict (409), ConsistencyRejected
        (422).  The new state is stored before the cosignature is made.
        """
        if request.old_size == 0 and request.proof:
            raise RequestMalformed("the proof from size 0 is empty")
        try:
            split_note(request.checkpoint)
        except NoteInvalid as error:
            raise RequestMalformed(f"the checkpoint is not a signed note: {error}") from None
        seen = self.state.log(request.checkpoint.split("\n", 1)[0])
        text, head = self._open(request.checkpoint, seen)
        if head.size > MAX_SIZE:
            raise RequestMalformed(f"a tree size is at most {MAX_SIZE}")
        if request.old_size > head.size:
            raise RequestMalformed(f"the old size {request.old_size} is larger than the checkpoint's {head.size}")
        if request.old_size != seen.size:
            raise WitnessConflict(seen.size)
        if head.size == seen.size and head.root != seen.root:
            self.state.keep_evidence(seen.origin, "same size, another root", request, now)
            raise WitnessConflict(seen.size, f"the log signed another root for size {seen.size}: a fork")
        try:
            verify_consistency(seen.size, head.size, seen.root, head.root, request.proof)
        except ProofInvalid as error:
            self.state.keep_evidence(seen.origin, f"inconsistent: {error}", request, now)
            raise ConsistencyRejected(f"the consistency proof does not verify: {error}") from None
        self.state.advance(seen, head, request.checkpoint, now)
        log.info("cosigned %s at size %d (was %d)", seen.origin, head.size, seen.size)
        return [cosign(text, self.name, self._private, now)]

    def _open(self, checkpoint: str, seen: LogState) -> tuple[str, TreeHead]:
        for verifier_key in seen.keys:
            key = NoteKey.parse(verifier_key)
            try:
                text = open_note(checkpoint, key)
            except NoteInvalid:
                continue
            try:
                return text, open_checkpoint(checkpoint, key, seen.origin)
            except NoteInvalid as error:
                raise RequestMalformed(f"the log signed a malformed checkpoint: {error}") from None
        raise LogSignatureRejected("the checkpoint is not signed by a key this witness trusts for the log")


# --- the home -----------------------------------------------------------------------------

HOME_FILE, KEY_FILE, STATE_FILE = "witness.json", "witness-key.pem", "witness.db"


def witness_passphrase(environ: Mapping[str, str] | None = None) -> bytes:
    """The witness key's passphrase from KIA_WITNESS_PASSPHRASE(_FILE); raises PassphraseMissing/TooShort."""
    return passphrase_from(os.environ if environ is None else environ, PASSPHRASE_ENV, PASSPHRASE_FILE_ENV,
                           "witness key's passphrase")


@dataclasses.dataclass(frozen=True)
class WitnessHome:
    """A witness's folder: its name and verifier key, its encrypted key, its state."""

    path: Path
    key: CosignerKey

    @classmethod
    def init(cls, path: Path, name: str, passphrase: bytes, now: int) -> WitnessHome:
        if (path / HOME_FILE).exists():
            raise WitnessSetupError(f"{path} is already a witness's home; its key is never replaced")
        private = Ed25519PrivateKey.generate()
        key = CosignerKey.of(name, private)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private_key(path / KEY_FILE, private, passphrase)
        WitnessState(path / STATE_FILE)
        (path / HOME_FILE).write_text(json.dumps(
            {"name": name, "verifier_key": key.verifier_key(), "created_at": iso_utc(now)}, indent=2) + "\n")
        return cls(path, key)

    @classmethod
    def open(cls, path: Path) -> WitnessHome:
        try:
            settings = json.loads((path / HOME_FILE).read_text(encoding="utf-8"))
            key = CosignerKey.parse(settings["verifier_key"])
        except (OSError, ValueError, KeyError, TypeError, CosignatureInvalid):
            raise WitnessSetupError(f"{path} is not a witness's home; run 'kia audit witness init' first") from None
        return cls(path, key)

    def state(self) -> WitnessState:
        return WitnessState(self.path / STATE_FILE)

    def witness(self, passphrase: bytes) -> Witness:
        private = read_private_key(self.path / KEY_FILE, passphrase)
        if CosignerKey.of(self.key.name, private) != self.key:
            raise WitnessSetupError(f"the key in {KEY_FILE} is not the one {HOME_FILE} names")
        return Witness(self.state(), self.key.name, private)


# --- HTTP -----------------------------------------------------------------------------------


def create_app(witness: Witness, now: Callable[[], int] = lambda: int(time.time())) -> Flask:
    """The witness's WSGI app: ``POST /add-checkpoint`` (C2SP tlog-witness, at the root prefix)."""
    from flask import Flask, Response, request

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_SIZE

    @app.post("/add-checkpoint")
    def add_checkpoint() -> Response:
        try:
            lines = witness.add_checkpoint(AddCheckpoint.parse(request.get_data()), now())
        except WitnessConflict as conflict:
            log.info("409: %s", conflict)
            return Response(f"{conflict.size}\n", 409, content_type=SIZE_CONTENT_TYPE)
        except WitnessRefused as refused:
            log.warning("%d: %s", refused.status, refused)
            return Response(f"{refused}\n", refused.status, mimetype="text/plain")
        return Response("".join(lines), 200, mimetype="text/plain")

    return app


class _Stop(Exception):
    pass


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def serve(witness: Witness, host: str, port: int, *, threads: int = 4) -> None:
    """Serve under waitress until SIGTERM or SIGINT; prints ``Listening at: URL`` on stderr."""
    from waitress import create_server

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = create_server(create_app(witness), host=host, port=port, threads=threads, ident="kia-witness")
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    print(f"Listening at: http://{server.effective_host}:{server.effective_port}", file=sys.stderr, flush=True)
    try:
        server.run()
    except _Stop:
        log.info("stopping")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close()


# --- the office's client --------------------------------------------------------------------


def request_cosignature(url: str, old_size: int, proof: Sequence[bytes], checkpoint_note: str,
                        timeout: float = TIMEOUT) -> list[str]:
    """Ask the witness at ``url`` (its submission prefix) to cosign ``checkpoint_note``.

    Returns its cosignature lines, unverified: check them with
    keys.cosignature.verify_cosignature before publishing.  Raises
    WitnessConflict (carrying the witness's size: send a proof from it),
    another WitnessRefused leaf for each refusal, or WitnessUnavailable.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"a witness's URL is https://HOST[:PORT][/PREFIX], not {url!r}")
    body = AddCheckpoint(old_size, tuple(proof), checkpoint_note).encode()
    request = urllib.request.Request(url.rstrip("/") + "/add-checkpoint", body,  # noqa: S310 (checked scheme)
                                     {"Content-Type": "text/plain; charset=utf-8"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, answer, content_type = response.status, response.read(MAX_NOTE_SIZE + 1), ""
    except urllib.error.HTTPError as error:
        with error:
            status, answer = error.code, error.read(4096)
            content_type = error.headers.get_content_type()
    except (OSError, ValueError) as exc:
        raise WitnessUnavailable(f"the witness at {url} did not answer: {exc}") from None
    text = answer.decode("utf-8", errors="replace")
    if status == 200:
        return _cosignature_lines(text, url)
    if status == 409 and content_type == SIZE_CONTENT_TYPE and re.fullmatch(r"(0|[1-9][0-9]{0,18})\n", text):
        raise WitnessConflict(int(text))
    said = " ".join(text.split())[:200] or f"HTTP {status}"
    for refusal in (RequestMalformed, LogSignatureRejected, UnknownLog, ConsistencyRejected):
        if status == refusal.http_status:
            raise refusal(f"the witness refused the checkpoint: {said}")
    if 400 <= status < 500:
        raise WitnessRefused(f"the witness refused the checkpoint: {said}", status)
    raise WitnessUnavailable(f"the witness at {url} answered {status}: {said}")


def _cosignature_lines(text: str, url: str) -> list[str]:
    lines = [line + "\n" for line in text.split("\n")[:-1]]
    if not lines or "".join(lines) != text or not all(line.startswith("\u2014 ") for line in lines):
        raise WitnessUnavailable(f"the witness at {url} answered something other than cosignature lines")
    return lines


# --- the command line -----------------------------------------------------------------------

_HOME = click.option("--home", required=True, type=click.Path(file_okay=False, path_type=Path),
                     help="The witness's folder (key, state).")


@click.group()
def witness() -> None:
    """Saksi log transparansi (C2SP tlog-witness) untuk inspektorat.

    A transparency-log witness for the inspectorate: cosigns the office's
    checkpoints only when they grow the log consistently.  The key's
    passphrase comes from KIA_WITNESS_PASSPHRASE (or KIA_WITNESS_PASSPHRASE_FILE).
    """


@witness.command("init")
@_HOME
@click.option("--name", required=True, help="The witness's key name, a schema-less URL (e.g. inspektorat.example/w1).")
def init(home: Path, name: str) -> None:
    """Create the witness's key and state; prints its name and verifier key (JSON)."""
    passphrase = witness_passphrase()
    try:
        created = WitnessHome.init(home, name, passphrase, int(time.time()))
    except CosignatureInvalid as error:
        raise click.BadParameter(str(error), param_hint="--name") from None
    click.echo(json.dumps({"name": name, "verifier_key": created.key.verifier_key(), "home": str(home)}, indent=2))


@witness.command("add-log")
@_HOME
@click.option("--origin", required=True, help="The log's origin line, as its checkpoints write it.")
@click.option("--key", "verifier_key", required=True, metavar="VERIFIER_KEY",
              help="The log's checkpoint verifier key, name+hex key ID+base64 key.")
def add_log(home: Path, origin: str, verifier_key: str) -> None:
    """Follow the log ORIGIN signed by VERIFIER_KEY; prints its state (JSON)."""
    if not origin or origin != origin.strip() or any(ord(char) < 0x20 for char in origin):
        raise click.BadParameter("an origin is one non-empty line without control characters", param_hint="--origin")
    try:
        key = NoteKey.parse(verifier_key)
    except NoteInvalid as error:
        raise click.BadParameter(str(error), param_hint="--key") from None
    state = WitnessHome.open(home).state().add_log(origin, key, int(time.time()))
    click.echo(json.dumps(state.to_json(), indent=2))


@witness.command("key")
@_HOME
def key(home: Path) -> None:
    """Print the witness's verifier key (one line), for the office and auditors."""
    click.echo(WitnessHome.open(home).key.verifier_key())


@witness.command("logs")
@_HOME
def logs(home: Path) -> None:
    """The logs followed, the size and root last cosigned, and the evidence of forks kept (JSON)."""
    state = WitnessHome.open(home).state()
    click.echo(json.dumps({"logs": [log_state.to_json() for log_state in state.logs()],
                           "evidence": state.evidence()}, indent=2))


@witness.command("serve")
@_HOME
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8480, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64))
def serve_command(home: Path, host: str, port: int, threads: int) -> None:
    """Serve POST /add-checkpoint; prints 'Listening at: URL' on stderr."""
    missing = [module for module in ("flask", "waitress") if importlib.util.find_spec(module) is None]
    if missing:
        raise click.UsageError(f"'kia audit witness serve' needs {' and '.join(missing)}, which is not installed: "
                               "pip install 'kia-verification[verifier]'")
    serve(WitnessHome.open(home).witness(witness_passphrase()), host, port, threads=threads)

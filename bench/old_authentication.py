"""Benchmark-only: ``authenticate_terminal`` as it was before issue 14's cheaper authentication.

Kept so that the benchmarks measure the old and the new side by side in the
same run.  ``install()`` puts it in place of the product's function in this
process; ``sitecustomize_folder()`` makes a folder whose ``sitecustomize.py``
does so at start-up, for gunicorn's workers (PYTHONPATH).  Never imported by
the product.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.errors import TerminalSuspended
from issuer.storage.models import SyncTokenSeen, Terminal
from issuer.storage.store import IssuerHome
from keys import load_public_jwk
from keys.chain import MAX_SYNC_TOKEN_LIFETIME, SYNC_CLOCK_LEEWAY, InvalidSyncToken, verify_sync_token

BENCH = Path(__file__).resolve().parent


def old_authenticate_terminal(home: IssuerHome, token: str, now: int) -> str:
    """The code of issuer/terminals.py before issue 14 (six statements, a savepoint, a DELETE each time)."""
    from issuer.terminals import _audience

    with home.transaction() as session:
        states: dict[str, str] = {}

        def key_of(terminal_id: str) -> Ed25519PublicKey | None:
            terminal = session.get(Terminal, terminal_id)
            if terminal is None or terminal.public_jwk is None or terminal.state not in ("active", "suspended"):
                return None
            states[terminal_id] = terminal.state
            return load_public_jwk(terminal.public_jwk)

        claims = verify_sync_token(token, key_of, _audience(session), now)
        _old_spend_jti(session, claims.jti, claims.terminal, claims.expires_at, now)
    if states[claims.terminal] == "suspended":
        raise TerminalSuspended("the office has suspended this terminal; call the office")
    return claims.terminal


def _old_spend_jti(session: Session, jti: str, terminal_id: str, expires_at: int, now: int) -> None:
    session.execute(delete(SyncTokenSeen).where(SyncTokenSeen.expires_at < now - SYNC_CLOCK_LEEWAY))
    try:
        with session.begin_nested():
            session.add(SyncTokenSeen(jti=jti, terminal_id=terminal_id,
                                      expires_at=min(expires_at, now + MAX_SYNC_TOKEN_LIFETIME) + SYNC_CLOCK_LEEWAY))
    except IntegrityError:
        raise InvalidSyncToken("this sync token was already used; make a new one for every request") from None


def install() -> None:
    """Authenticate the old way in this process (both places the product calls it from)."""
    from issuer import sync_ingest, terminals

    terminals.authenticate_terminal = old_authenticate_terminal  # type: ignore[assignment]
    sync_ingest.authenticate_terminal = old_authenticate_terminal  # type: ignore[assignment]


def sitecustomize_folder(folder: Path) -> Path:
    """A folder to put first on gunicorn's PYTHONPATH: its processes authenticate the old way."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        f"import sys\nsys.path.insert(0, {str(BENCH)!r})\nimport old_authentication\nold_authentication.install()\n")
    return folder

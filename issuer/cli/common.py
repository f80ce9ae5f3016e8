"""What every ``kia issuer`` command shares: the home and key options, the clock, JSON output.

Output is JSON on stdout; progress and warnings go to stderr.  Issuing keys
are opened with the passphrase from KIA_KEY_PASSPHRASE or
KIA_KEY_PASSPHRASE_FILE; the root key with KIA_ROOT_KEY_PASSPHRASE or
KIA_ROOT_KEY_PASSPHRASE_FILE, falling back to the issuing keys' passphrase.
Every change a command makes is audited as the operating-system user who
ran it (``Actor.command_line``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import make_url

from ..audit import Actor
from ..issuing_keys import KeyUnlock
from ..storage.db import DATABASE_URL_ENV
from ..storage.store import IssuerHome

DEV_FLAG = "--insecure-dev-unencrypted-keys"
DATE = click.DateTime(["%Y-%m-%d"])

home_option = click.option(
    "--home",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The office's home folder (state and encrypted keys).",
)
dev_keys_option = click.option(
    DEV_FLAG,
    "insecure_dev_keys",
    is_flag=True,
    help="DANGEROUS, development only: keep private keys unencrypted, no passphrase.",
)


def open_home(path: Path) -> IssuerHome:
    """The office at ``path``, on KIA_DATABASE_URL when it is set."""
    return IssuerHome(path, os.environ.get(DATABASE_URL_ENV) or None)


def unlock(insecure_dev_keys: bool, *, issuing: bool = True, root: bool = False) -> KeyUnlock:
    """Passphrases for the keys a command opens: ``issuing`` keys, the ``root`` key, or both."""
    if insecure_dev_keys:
        click.echo("WARNING: private keys are NOT encrypted (development flag)", err=True)
        return KeyUnlock(None, allow_unencrypted_for_development=True)
    return KeyUnlock.from_env(issuing=issuing, root=root)


def now() -> int:
    """The command's clock: seconds since the epoch."""
    return int(time.time())


def by() -> Actor:
    """Who the audit trail names for a command: the operating-system user, from this machine."""
    return Actor.command_line()


def emit(value: Any) -> None:
    """JSON on stdout: indented for a person, compact (and fast) for a pipe."""
    indent = 2 if sys.stdout.isatty() else None
    click.echo(json.dumps(value, indent=indent, ensure_ascii=False))


def redacted(url: str) -> str:
    """The database URL without its password, for output and logs."""
    return make_url(url).render_as_string(hide_password=True)

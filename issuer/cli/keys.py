"""``kia issuer key``: rotate, retire, revoke and list the issuing keys.

``rotate --hsm`` makes the new key on a PKCS#11 token instead of in an
encrypted file (docs/hsm.md); the token's user PIN comes from KIA_HSM_PIN,
never from the command line.
"""

from __future__ import annotations

from pathlib import Path

import click

from keys.hsm_options import token_address, token_options
from keys.times import iso_utc_or_none

from .. import issuing_keys
from .common import by, dev_keys_option, emit, home_option, now, open_home, unlock


@click.group()
def key() -> None:
    """Rotate, retire and revoke issuing keys."""


@key.command("rotate")
@home_option
@dev_keys_option
@click.option("--hsm", "on_token", is_flag=True,
              help="Make the new key on a PKCS#11 token (it never leaves it), not in an encrypted file.")
@token_options
def rotate(home: Path, insecure_dev_keys: bool, on_token: bool, pkcs11_module: str | None,
           hsm_token: str | None) -> None:
    """Make a new active issuing key; the old one is retired (it still verifies)."""
    token = token_address(on_token, pkcs11_module, hsm_token)
    # A key made on a token needs no passphrase: nothing is written encrypted.
    keys = issuing_keys.KeyUnlock(None) if token is not None and not insecure_dev_keys else unlock(insecure_dev_keys)
    new = issuing_keys.rotate_issuing_key(open_home(home), keys, now(), by=by(), token=token)
    emit({"kid": new.kid, "state": new.state.value})


def _change(home: Path, kid: str, change: str) -> None:
    changed = issuing_keys.change_issuing_key(open_home(home), kid, change, now(), by=by())
    emit({"kid": changed.kid, "state": changed.state.value})


@key.command("retire")
@click.argument("kid")
@home_option
def retire(kid: str, home: Path) -> None:
    """Retire the issuing key KID: it signs no more cards, and its cards still verify.

    A KID that starts with '-' goes after '--': kia issuer key retire --home H -- -YFo...
    """
    _change(home, kid, "retire")


@key.command("revoke")
@click.argument("kid")
@home_option
def revoke(kid: str, home: Path) -> None:
    """Revoke the issuing key KID: no card it signed verifies any more.

    A KID that starts with '-' goes after '--': kia issuer key revoke --home H -- -YFo...
    """
    _change(home, kid, "revoke")


@key.command("list")
@home_option
def list_keys(home: Path) -> None:
    """The issuing keys with their states and times."""
    emit(
        [
            {
                "kid": issuing_key.kid,
                "state": issuing_key.state.value,
                "created_at": iso_utc_or_none(issuing_key.created_at),
                "retired_at": iso_utc_or_none(issuing_key.retired_at),
                "revoked_at": iso_utc_or_none(issuing_key.revoked_at),
            }
            for issuing_key in issuing_keys.list_issuing_keys(open_home(home))
        ]
    )

"""The command-line options that name a PKCS#11 token, shared by every command that makes keys on one.

``kia issuer init --root-hsm/--hsm``, ``kia issuer key rotate --hsm`` and
``kia national init --hsm`` take the token from ``--pkcs11-module`` and
``--hsm-token`` (or KIA_PKCS11_MODULE and KIA_HSM_TOKEN); the user PIN comes
only from KIA_HSM_PIN, never from an option (keys.hsm, docs/hsm.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from . import hsm

_Command = TypeVar("_Command", bound=Callable[..., Any])


def token_options(command: _Command) -> _Command:
    """``--pkcs11-module`` and ``--hsm-token``: the token that ``--hsm`` (or ``--root-hsm``) puts keys on."""
    command = click.option(
        "--hsm-token", metavar="LABEL", envvar=hsm.TOKEN_ENV,
        help=f"The label of the token new keys go on [env {hsm.TOKEN_ENV}]; its user PIN is read from "
             f"{hsm.PIN_ENV}.")(command)
    return click.option(
        "--pkcs11-module", metavar="PATH", envvar=hsm.MODULE_ENV,
        help=f"The HSM's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so [env {hsm.MODULE_ENV}].")(command)


def token_address(on_token: bool, module: str | None, token_label: str | None) -> hsm.TokenAddress | None:
    """Where a new key goes: the named token when asked for (raises HsmError if it is not named), else None."""
    return hsm.TokenAddress.from_options(module, token_label) if on_token else None

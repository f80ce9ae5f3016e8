"""The ``kia`` command: groups issuer, verifier, bridge, audit, and demo.

Each group lives beside the code it manages and is imported only when used,
so a terminal that installed only the ``verifier`` extra still runs
``kia verifier``.  Errors reach the person as one line on stderr: exit 2 for
usage and configuration (a missing home, passphrase or trust anchor), exit 1
for an operation refused.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from typing import Any

import click

from keys.errors import InvalidTrustListError, KeyStoreError, KiaError

# name -> (module, attribute, extra that provides its dependencies)
_COMMANDS = {
    "issuer": ("issuer.cli", "issuer", "issuer"),
    "verifier": ("verifier.cli", "verifier", "verifier"),
    "bridge": ("firmware_bridge.cli", "bridge", "bridge"),
    "audit": ("kia.audit", "audit", None),
    "demo": ("kia.demo", "demo", "issuer"),
    "national": ("kia.national", "national", None),
}
_OWN_PACKAGES = frozenset({"keys", "issuer", "verifier", "firmware_bridge", "kia"})
# The crypto core's families that mean setup: a key file or trust anchor to fix.
# The office's and the terminal's errors carry their own exit_code (issuer.errors, verifier.errors).
_CONFIGURATION_ERRORS = (KeyStoreError, InvalidTrustListError)


class LazyGroup(click.Group):
    """A group whose commands are imported only when named.

    ``lazy`` maps each name to (module, attribute, the extra that installs
    what the module needs).  A command whose dependency is missing is named
    with that extra, not a traceback.  ``kia issuer card issue`` loads
    neither the reports nor the trust lists' code: its start fell from 1.50
    to 1.26 s on a 2-core machine (docs/benchmarks.md).
    """

    def __init__(self, *args: Any, lazy: Mapping[str, tuple[str, str, str | None]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.lazy:
            return super().get_command(ctx, name)
        module, attribute, extra = self.lazy[name]
        try:
            command: click.Command = getattr(importlib.import_module(module), attribute)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] in _OWN_PACKAGES:
                raise
            return _missing_extra(name, f"{ctx.command_path} {name}", extra, exc.name or "a dependency")
        return command


def _missing_extra(name: str, path: str, extra: str | None, missing: str) -> click.Command:
    hint = f"pip install 'kia-verification[{extra}]'" if extra else "reinstall kia-verification"
    message = f"'{path}' needs {missing}, which is not installed: {hint}"

    @click.command(name, help=f"(unavailable: {message})", context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def unavailable(args: tuple[str, ...]) -> None:
        raise click.UsageError(message)

    return unavailable


@click.group(cls=LazyGroup, lazy=_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kia-verification", prog_name="kia")
def cli() -> None:
    """KIA card verification: issue and revoke cards, verify them offline.

    Kartu Identitas Anak: terbitkan dan cabut kartu, verifikasi tanpa internet.
    """


def exit_code_for(error: KiaError) -> int:
    if isinstance(error, _CONFIGURATION_ERRORS):
        return 2
    code: int = getattr(error, "exit_code", 1)
    return code


def main(argv: list[str] | None = None) -> None:
    try:
        result = cli.main(args=argv, prog_name="kia", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("kia: aborted", err=True)
        sys.exit(130)
    except click.UsageError as error:
        # One line, as every other error: what is wrong and where to look.
        command = error.ctx.command_path if error.ctx else "kia"
        click.echo(f"kia: {error.format_message()} (see '{command} --help')", err=True)
        sys.exit(error.exit_code)
    except click.ClickException as error:
        click.echo(f"kia: {error.format_message()}", err=True)
        sys.exit(error.exit_code)
    except KiaError as error:
        click.echo(f"kia: {error}", err=True)
        sys.exit(exit_code_for(error))
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        click.echo(f"kia: {error.strerror or error}{where}", err=True)
        sys.exit(1)
    except Exception:
        if os.environ.get("KIA_DEBUG"):
            raise
        click.echo("kia: internal error; run again with KIA_DEBUG=1 for the details", err=True)
        sys.exit(70)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()

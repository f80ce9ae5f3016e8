"""``kia issuer terminal``: register partners' terminals, suspend, reactivate and retire them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from .. import terminals
from .common import by, emit, home_option, now, open_home


@click.group()
def terminal() -> None:
    """Register, suspend and retire partners' terminals."""


@terminal.command("register")
@home_option
@click.option("--partner", "partner_id", required=True, type=int)
@click.option("--name", required=True, help="e.g. 'Kasir 1'")
@click.option("--mou-override", metavar="REASON",
              help="Register although the partner's MoU has ended or not started; the reason is audited.")
def register(home: Path, partner_id: int, name: str, mou_override: str | None) -> None:
    """Register a terminal; prints its one-time enrolment code (valid 7 days).

    Hand the code and ``root_fingerprint`` (the root key's RFC 7638 thumbprint)
    to the partner: ``kia verifier enroll --root-fingerprint`` checks the office by it.
    A partner whose MoU is not in force gets a terminal only with --mou-override.
    """
    registration = terminals.register_terminal(open_home(home), partner_id, name, now(), by=by(),
                                               mou_override=mou_override)
    emit({"terminal_id": registration.terminal_id, "enrolment_code": registration.enrolment_code,
          "expires_at": dt.datetime.fromtimestamp(registration.expires_at, dt.UTC).isoformat(),
          "root_fingerprint": registration.root_fingerprint})


def _set_state(home: Path, terminal_id: str, state: str) -> None:
    terminals.set_terminal_state(open_home(home), terminal_id, state, now(), by=by())
    emit({"terminal_id": terminal_id, "state": state})


@terminal.command("suspend")
@click.argument("terminal_id")
@home_option
def suspend(terminal_id: str, home: Path) -> None:
    """Suspend the terminal TERMINAL_ID: the office refuses its syncs until it is activated."""
    _set_state(home, terminal_id, "suspended")


@terminal.command("activate")
@click.argument("terminal_id")
@home_option
def activate(terminal_id: str, home: Path) -> None:
    """Activate the suspended terminal TERMINAL_ID again."""
    _set_state(home, terminal_id, "active")


@terminal.command("retire")
@click.argument("terminal_id")
@home_option
def retire(terminal_id: str, home: Path) -> None:
    """Retire the terminal TERMINAL_ID for good (or withdraw an enrolment code never used)."""
    _set_state(home, terminal_id, "retired")

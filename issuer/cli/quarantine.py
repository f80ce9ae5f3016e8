"""``kia issuer quarantine``: records the office's checks held out of revenue, released or confirmed;
``kia issuer anomalies``: the daily statistical pass."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import click

from .. import quarantine as held
from .. import reports
from ..anomalies import raise_alarms
from .common import DATE, by, emit, home_option, now, open_home


@click.group()
def quarantine() -> None:
    """Records held out of revenue by the office's checks, and the auditor's decisions."""


@quarantine.command("list")
@home_option
@click.option("--state", type=click.Choice(["open", "released", "confirmed"]), default="open", show_default=True)
@click.option("--partner", "partner_id", type=int, help="Only this partner's records.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
def list_held(home: Path, state: str, partner_id: int | None, limit: int) -> None:
    """Held records with each check they failed and its evidence, newest scans first."""
    records = held.held_records(open_home(home), state=state, partner_id=partner_id, limit=limit)
    emit([dataclasses.asdict(record) | {"findings": [{"check": check, "evidence": evidence}
                                                      for check, evidence in record.findings]}
          for record in records])


def _decide(home: Path, terminal_id: str, seq: int, decision: str, reason: str) -> None:
    held.decide(open_home(home), terminal_id, seq, decision, reason, now(), by=by())
    emit({"terminal_id": terminal_id, "seq": seq, "decision": decision})


@quarantine.command("release")
@home_option
@click.argument("terminal_id")
@click.argument("seq", type=click.IntRange(1))
@click.option("--reason", required=True, help="Why the record is true after all (audited).")
def release(home: Path, terminal_id: str, seq: int, reason: str) -> None:
    """Count the record TERMINAL_ID SEQ in revenue again."""
    _decide(home, terminal_id, seq, "release", reason)


@quarantine.command("confirm")
@home_option
@click.argument("terminal_id")
@click.argument("seq", type=click.IntRange(1))
@click.option("--reason", required=True, help="Why the record is improper (audited).")
def confirm(home: Path, terminal_id: str, seq: int, reason: str) -> None:
    """Keep the record TERMINAL_ID SEQ out of revenue for good."""
    _decide(home, terminal_id, seq, "confirm", reason)


@click.command("anomalies")
@home_option
@click.option("--from", "start", type=DATE, help="First local date (default: yesterday).")
@click.option("--to", "end", type=DATE, help="Last local date (default: yesterday).")
def anomalies(home: Path, start: dt.datetime | None, end: dt.datetime | None) -> None:
    """Run the statistical pass over these days and raise an alarm for each anomaly (run it daily)."""
    yesterday = reports.today(now()) - dt.timedelta(days=1)
    first, last = (start.date() if start else yesterday), (end.date() if end else yesterday)
    if first > last:
        raise click.BadParameter("--from must not be after --to", param_hint="--from")
    found = raise_alarms(open_home(home), first, last, now(), by=by())
    emit([dataclasses.asdict(anomaly) for anomaly in found])

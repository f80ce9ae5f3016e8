"""``kia issuer intake fold | status``: the sync journal of a service run with KIA_SYNC_INTAKE=journal (ADR 0005)."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click

from .. import sync_ingest
from ..storage.store import IssuerHome
from .common import emit, home_option, now, open_home

CHUNK = 20  # batches a fold call takes before it looks at the time and the progress again


@click.group()
def intake() -> None:
    """Batches the service acknowledged and kept in its journal, not yet stored, checked and counted."""


@intake.command("fold")
@home_option
@click.option("--once", is_flag=True, help="Fold what the journal holds now, then stop (else keep folding).")
@click.option("--interval", type=click.FloatRange(0.05, 60), default=1.0, show_default=True,
              help="Seconds to wait when the journal is empty before looking again.")
def fold(home: Path, once: bool, interval: float) -> None:
    """Store, check and count the journal's batches, oldest first, as the service would have on arrival.

    Run it beside a service with KIA_SYNC_INTAKE=journal (a systemd unit, as
    the service's); more than one at a time share the work by terminal.  Each
    time it has caught up it says so on stderr; SIGTERM or Ctrl-C stops
    it after the batch under way.
    """
    office = open_home(home)
    office.require()
    if once:
        waiting = sync_ingest.backlog(office).batches
        folded = 0
        with click.progressbar(length=waiting, label="folding", file=sys.stderr) as bar:
            while folded < waiting:
                done = sync_ingest.fold(office, min(CHUNK, waiting - folded))
                if not done:
                    break  # another fold took the rest
                folded += done
                bar.update(done)
        emit({"folded": folded, **_status(office)})
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    total, since_empty = 0, 0
    try:
        while not stop.is_set():
            done = sync_ingest.fold(office, CHUNK)
            total, since_empty = total + done, since_empty + done
            if not done:
                if since_empty:
                    click.echo(f"caught up: folded {since_empty} batches ({total} since start)", err=True)
                    since_empty = 0
                stop.wait(interval)
    except KeyboardInterrupt:
        pass  # each batch folds in its own transaction: one cut short is rolled back and folded next time
    emit({"folded": total, **_status(office)})


@intake.command("status")
@home_option
def status(home: Path) -> None:
    """How many acknowledged batches and records wait to be folded, and for how long the oldest has."""
    office = open_home(home)
    office.require()
    emit(_status(office))


def _status(office: IssuerHome) -> dict[str, object]:
    return sync_ingest.backlog(office).at(now())

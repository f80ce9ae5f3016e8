"""``kia issuer partner`` and ``kia issuer terminal``: the officer's commands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from sqlalchemy import select

from . import partners, terminals
from .audit import Actor
from .models import KLA_CLUSTERS, PARTNER_KINDS, Partner, PartnerService
from .partners import AGE_CATEGORY_NAMES, ServiceRules


def register(issuer: click.Group, home_option: click.Option, home_of, emit, now) -> None:  # type: ignore[no-untyped-def]
    """Add the partner and terminal groups to ``kia issuer``."""

    @issuer.group()
    def partner() -> None:
        """Partners (MoU, cluster) and their discount rules."""

    @partner.command("add")
    @home_option
    @click.option("--name", required=True)
    @click.option("--kind", required=True, type=click.Choice(PARTNER_KINDS))
    @click.option("--cluster", required=True, type=click.Choice(KLA_CLUSTERS), help="The KLA cluster it serves.")
    @click.option("--region", required=True, type=int, help="4-digit regency/city code, e.g. 3372.")
    @click.option("--mou-start", required=True, type=click.DateTime(["%Y-%m-%d"]))
    @click.option("--mou-end", type=click.DateTime(["%Y-%m-%d"]), help="Default: two years after the start.")
    def add(home: Path, name: str, kind: str, cluster: str, region: int, mou_start: dt.datetime,
            mou_end: dt.datetime | None) -> None:
        """Add a partner; agreements run two years unless --mou-end says otherwise."""
        start = mou_start.date()
        end = mou_end.date() if mou_end else start.replace(year=start.year + 2) - dt.timedelta(days=1)
        partner_id = partners.create_partner(home_of(home), name, kind, cluster, region, start, end, now(),
                                             by=Actor.command_line())
        emit({"partner_id": partner_id, "mou_start": start.isoformat(), "mou_end": end.isoformat()})

    @partner.command("service")
    @home_option
    @click.argument("partner_id", type=int)
    @click.option("--code", required=True, help="e.g. bioskop-reguler")
    @click.option("--name", required=True)
    @click.option("--price", "prices", multiple=True, required=True, metavar="CATEGORY=RUPIAH",
                  help=f"Price per age category ({', '.join(AGE_CATEGORY_NAMES)}); repeat.")
    @click.option("--percent", type=click.IntRange(0, 100), help="Discount in percent.")
    @click.option("--fixed", type=click.IntRange(0), help="Discount in rupiah.")
    @click.option("--daily-limit", type=click.IntRange(1, 100), default=1, show_default=True)
    @click.option("--passback", type=click.IntRange(0, 86400), default=0, show_default=True,
                  help="Seconds before the same card may pass again.")
    def service(home: Path, partner_id: int, code: str, name: str, prices: tuple[str, ...], percent: int | None,
                fixed: int | None, daily_limit: int, passback: int) -> None:
        """Set the discount rules of one of a partner's services."""
        if (percent is None) == (fixed is None):
            raise click.UsageError("give exactly one of --percent and --fixed")
        parsed = {}
        for item in prices:
            category, _, amount = item.partition("=")
            if not amount.isdigit():
                raise click.BadParameter(f"{item!r} is not CATEGORY=RUPIAH", param_hint="--price")
            parsed[category.strip()] = int(amount)
        kind, value = ("percent", percent) if percent is not None else ("fixed", fixed)
        rules = ServiceRules(code, name, parsed, kind, int(value or 0), daily_limit, passback)
        partners.set_service(home_of(home), partner_id, rules, now(), by=Actor.command_line())
        emit({"partner_id": partner_id, "service": rules.to_json()})

    @partner.command("list")
    @home_option
    def list_partners(home: Path) -> None:
        """Partners with their MoU and services; those ending within 90 days are marked."""
        office = home_of(home)
        stamp = now()
        with office.transaction() as session:
            rows = []
            for row in session.scalars(select(Partner).order_by(Partner.id)):
                services = session.scalars(select(PartnerService.code).where(PartnerService.partner_id == row.id))
                rows.append({
                    "partner_id": row.id, "name": row.name, "kind": row.kind, "cluster": row.cluster,
                    "region": row.region, "mou_end": row.mou_end.isoformat(),
                    "mou_state": partners.mou_state(row, stamp),
                    "services": list(services),
                })
        emit(rows)

    @issuer.group()
    def terminal() -> None:
        """Register, suspend and retire partners' terminals."""

    @terminal.command("register")
    @home_option
    @click.option("--partner", "partner_id", required=True, type=int)
    @click.option("--name", required=True, help="e.g. 'Kasir 1'")
    def register_terminal(home: Path, partner_id: int, name: str) -> None:
        """Register a terminal; prints its one-time enrolment code (valid 7 days)."""
        registration = terminals.register_terminal(home_of(home), partner_id, name, now(), by=Actor.command_line())
        emit({"terminal_id": registration.terminal_id, "enrolment_code": registration.enrolment_code,
              "expires_at": dt.datetime.fromtimestamp(registration.expires_at, dt.UTC).isoformat()})

    for state, verb in (("suspended", "suspend"), ("active", "activate"), ("retired", "retire")):
        _state_command(terminal, home_option, home_of, emit, now, state, verb)


def _state_command(group, home_option, home_of, emit, now, state: str, verb: str) -> None:  # type: ignore[no-untyped-def]
    @group.command(verb, help=f"{verb.capitalize()} the terminal TERMINAL_ID.")
    @click.argument("terminal_id")
    @home_option
    def command(terminal_id: str, home: Path) -> None:
        terminals.set_terminal_state(home_of(home), terminal_id, state, now(), by=Actor.command_line())
        emit({"terminal_id": terminal_id, "state": state})

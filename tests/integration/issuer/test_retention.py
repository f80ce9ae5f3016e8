"""Old months' records removed under the retention rule, their figures and the auditor's checks kept.

A Surakarta cinema's terminal syncs real batches in August, September,
October and November 2026.  Removing the months before October must wait
for the auditor's decision on a held August record and for the transparency
log to take the records in; then it removes their records and card sets (on
PostgreSQL by dropping the months' partitions), and every revenue figure
and unique-card count of whole months and days stays what it was.  A
figure that would need the removed records is refused, and an export of
October still verifies, its first record's previous hash taken from the
log.  The command line says what it would remove before it does.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from issuer import quarantine, reports, retention, transparency
from issuer.audit_export import write_export
from issuer.errors import Invalid, Refused
from issuer.storage.models import AuditEvent, RedemptionCard, RedemptionRow
from issuer.storage.store import IssuerHome
from kia.audit_verify import verify_export
from kia.cli import cli
from tests.factories import ACTOR, DAY, NOW, WIB
from tests.factories.audit_data import AUDITOR
from tests.factories.old_months import CARDS, DAYS_BEFORE, KEPT_FROM, synced_months


@pytest.fixture
def founded_at() -> int:
    return NOW - 130 * DAY


def figures(office: IssuerHome) -> dict[str, list[Any]]:
    """Every figure of whole months and days, by partner and for the programme."""
    span = (dt.date(2026, 8, 1), dt.date(2026, 11, 30))
    return {f"{group} {period}": reports.figures(office, group, period, *span)
            for group in ("partner", "programme") for period in ("month", "day")}


def held_rows(office: IssuerHome) -> dict[str, dict[int, int]]:
    with office.transaction() as session:
        return {
            "records": dict(session.execute(select(RedemptionRow.month, func.count()).group_by(RedemptionRow.month))
                            .all()),
            "cards": dict(session.execute(select(RedemptionCard.month, func.count()).group_by(RedemptionCard.month))
                          .all()),
        }


def partitions(office: IssuerHome) -> set[str]:
    with office.transaction() as session:
        return set(session.scalars(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent IN (CAST('redemptions' AS regclass), CAST('redemption_cards' AS regclass))")))


def kia(office: IssuerHome, *args: str) -> dict[str, Any]:
    """``kia issuer db ARGS --home HOME`` in this process; its JSON answer."""
    env = {"KIA_DATABASE_URL": office.database_url}
    result = CliRunner().invoke(cli, ["issuer", "db", *args, "--home", str(office.path)], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def test_old_months_go_and_their_figures_and_the_auditors_checks_stay(office: IssuerHome, tmp_path: Path) -> None:
    terminal, _ = synced_months(office)
    on_postgresql = office.database.engine.dialect.name == "postgresql"
    if on_postgresql:  # every row so far went to the default partitions; the months around NOW get their own
        made = retention.make_partitions(office, NOW)
        assert {"redemptions_202608", "redemptions_202609", "redemption_cards_202611",
                "redemptions_202702"} <= set(made)
        assert retention.make_partitions(office, NOW) == []
    before = figures(office)
    rows = held_rows(office)
    assert rows["records"] == {202608: CARDS + 1, 202609: CARDS, 202610: CARDS, 202611: CARDS}
    assert set(rows["cards"]) == set(DAYS_BEFORE.values())

    with pytest.raises(Refused, match="await an auditor's decision"):
        retention.prune(office, KEPT_FROM, NOW, by=ACTOR)
    quarantine.decide(office, terminal.terminal_id, CARDS + 1, "confirm", "nomor seri tidak pernah diterbitkan",
                      NOW, by=AUDITOR)
    with pytest.raises(Refused, match="log publish"):
        retention.prune(office, KEPT_FROM, NOW, by=ACTOR)
    transparency.integrate_all(office)

    planned = kia(office, "prune", "--before", "2026-10", "--dry-run")
    assert planned == {"kept_from": "2026-10", "months": ["2026-08", "2026-09"], "records": 2 * CARDS + 1,
                       "removed": False}
    assert held_rows(office) == rows

    assert kia(office, "prune", "--before", "2026-10", "--yes")["removed"] is True

    assert held_rows(office) == {"records": {202610: CARDS, 202611: CARDS},
                                 "cards": {202610: rows["cards"][202610], 202611: rows["cards"][202611]}}
    if on_postgresql:
        assert not {"redemptions_202608", "redemption_cards_202609"} & partitions(office)
        assert {"redemptions_202610", "redemption_cards_202611", "redemptions_default"} <= partitions(office)
    assert figures(office) == before
    with pytest.raises(retention.RemovedByRetention, match="before 2026-10"):
        reports.figures(office, "partner", "month", dt.date(2026, 9, 10), dt.date(2026, 9, 20))
    assert reports.figures(office, "partner", "month", dt.date(2026, 10, 10), dt.date(2026, 10, 20))
    with office.transaction() as session:
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "records_prune"))
        assert event.target == "2026-08..2026-09: 13"

    october = dt.datetime.fromtimestamp(NOW - 40 * DAY, WIB).date()
    write_export(office, tmp_path / "export", october, october, None, ("csv",), NOW, by=ACTOR)
    report = verify_export(tmp_path / "export", require_checkpoint=True)
    assert report.records == CARDS and report.checkpoints_verified == report.checkpoints > 0

    assert kia(office, "prune", "--before", "2026-10", "--yes") == {
        "kept_from": "2026-10", "months": [], "records": 0, "removed": False}


def test_the_current_month_and_bad_months_are_refused(office: IssuerHome) -> None:
    with pytest.raises(Invalid, match="still being made"):
        retention.prune(office, 202612, NOW, by=ACTOR)
    with pytest.raises(Invalid, match="YYYY-MM"):
        retention.parse_month("2026-13")
    with pytest.raises(Invalid, match="at least 1 month"):
        retention.first_kept(0, NOW)

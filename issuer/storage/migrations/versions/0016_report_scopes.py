"""Exact unique cards of kinds, clusters, a region's programme and services from what ingest keeps.

- ``report_scopes``: one row per kind, cluster and region of partners, and
  per service of a partner; its cards are kept in ``redemption_cards`` under
  scope ``-id``, filled here from the counted records (accepted, not held,
  with a serial, on a known day).
- ``redemption_card_counts`` gains ``kind_cards``, ``cluster_cards`` and
  ``region_cards``: per partner and period, the cards new to the partner's
  kind, cluster or region whose first counted record was the partner's
  (filled here by giving each card to the lowest partner id that counted it).
  Its covering index on ``period`` now carries them too.
- ``redemption_service_card_counts``: a partner's unique cards per service
  and period.
- ``redemption_card_edges``: per set and local day, the cards whose first
  and whose last counted day of the month it is, for ranges that cut a
  month (filled here from every set's day bits, under partner 0).
- ``ix_redemption_summaries_day`` carries the partner, the month and the
  figures, so that the days of all partners are read from the index alone.

issuer.summaries keeps them from now on, with the partners' and the
programme's.  For 10 million rows see docs/benchmarks.md.  Downgrading
drops them; reports of revision 0015 count these figures from redemptions.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

COUNTED = "r.accepted AND NOT r.held AND r.serial IS NOT NULL AND r.day > 0"
# Each partner's kind, cluster and region scope, by what (a scope's partner_id is 0 but for services).
SHARED = {
    "kind": "s.name = p.kind",
    "cluster": "s.name = p.cluster",
    "region": "s.name = CAST(p.region AS VARCHAR(64))",
}
OLD_INCLUDE = ["partner_id", "partner_cards", "programme_cards"]
NEW_COLUMNS = ("kind_cards", "cluster_cards", "region_cards")
FIGURES = ("scans", "accepted", "gross", "discount", "net", "held", "flagged")


def _scopes_of_partners(what: str) -> str:
    return (f"(SELECT p.id AS partner_id, s.id AS scope FROM partners p JOIN report_scopes s "
            f"ON s.what = '{what}' AND s.partner_id = 0 AND {SHARED[what]})")


def _rebuild_index(name: str, table: str, column: str, include: list[str]) -> None:
    """Index ``name`` on ``column`` made again carrying ``include`` (on PostgreSQL; SQLite has no INCLUDE)."""
    op.drop_index(name, table)
    op.create_index(name, table, [column], postgresql_include=include)


def upgrade() -> None:
    op.create_table(
        "report_scopes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("what", sa.String(8), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.CheckConstraint("what IN ('kind', 'cluster', 'region', 'service')", name="report_scope_what"),
    )
    op.create_index("ux_report_scopes", "report_scopes", ["what", "partner_id", "name"], unique=True)
    op.create_table(
        "redemption_service_card_counts",
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partners.id"), primary_key=True),
        sa.Column("service", sa.String(64), primary_key=True),
        sa.Column("period", sa.Integer(), primary_key=True),
        sa.Column("cards", sa.BigInteger(), nullable=False),
    )
    for name in NEW_COLUMNS:
        op.add_column("redemption_card_counts", sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))
    op.execute("INSERT INTO report_scopes (what, partner_id, name) "
               "SELECT 'kind', 0, kind FROM partners UNION SELECT 'cluster', 0, cluster FROM partners "
               "UNION SELECT 'region', 0, CAST(region AS VARCHAR(64)) FROM partners "
               "UNION SELECT DISTINCT 'service', r.partner_id, r.service FROM redemptions r WHERE " + COUNTED)
    # A month's days as bits: the sum of distinct powers of two is their OR, on both databases.
    bits = "SUM(DISTINCT 1 << (r.day % 100 - 1))"
    for what in SHARED:
        op.execute(f"INSERT INTO redemption_cards (scope, month, serial, days) "
                   f"SELECT -m.scope, r.day / 100, r.serial, {bits} FROM redemptions r "
                   f"JOIN {_scopes_of_partners(what)} m ON m.partner_id = r.partner_id "
                   f"WHERE {COUNTED} GROUP BY m.scope, r.day / 100, r.serial")
        # Each card new to the scope in a day or a month goes to the lowest partner that counted it then;
        # that partner counted it, so it has a row for the period already.
        firsts = " UNION ALL ".join(
            f"SELECT partner_id, period, COUNT(*) AS cards FROM ("
            f"SELECT {period} AS period, MIN(r.partner_id) AS partner_id FROM redemptions r "
            f"JOIN {_scopes_of_partners(what)} m ON m.partner_id = r.partner_id "
            f"WHERE {COUNTED} GROUP BY m.scope, {period}, r.serial) AS firsts GROUP BY partner_id, period"
            for period in ("r.day", "r.day / 100"))
        op.execute(f"UPDATE redemption_card_counts SET {what}_cards = f.cards FROM ({firsts}) AS f "
                   f"WHERE redemption_card_counts.partner_id = f.partner_id "
                   f"AND redemption_card_counts.period = f.period")
    op.execute(f"INSERT INTO redemption_cards (scope, month, serial, days) "
               f"SELECT -s.id, r.day / 100, r.serial, {bits} FROM redemptions r JOIN report_scopes s "
               f"ON s.what = 'service' AND s.partner_id = r.partner_id AND s.name = r.service "
               f"WHERE {COUNTED} GROUP BY s.id, r.day / 100, r.serial")
    op.execute(f"INSERT INTO redemption_service_card_counts (partner_id, service, period, cards) "
               f"SELECT r.partner_id, r.service, r.day, COUNT(DISTINCT r.serial) FROM redemptions r "
               f"WHERE {COUNTED} GROUP BY r.partner_id, r.service, r.day "
               f"UNION ALL SELECT s.partner_id, s.name, c.month, COUNT(*) FROM redemption_cards c "
               f"JOIN report_scopes s ON c.scope = -s.id WHERE s.what = 'service' "
               f"GROUP BY s.partner_id, s.name, c.month")
    _rebuild_index("ix_redemption_card_counts_period", "redemption_card_counts", "period", [*OLD_INCLUDE, *NEW_COLUMNS])
    op.create_table(
        "redemption_card_edges",
        sa.Column("scope", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Integer(), primary_key=True),
        sa.Column("partner_id", sa.Integer(), primary_key=True),
        sa.Column("firsts", sa.BigInteger(), nullable=False),
        sa.Column("lasts", sa.BigInteger(), nullable=False),
    )
    # A card's first counted day of the month is its lowest bit's, its last its highest's.
    first = "CASE " + " ".join(f"WHEN days & {1 << day - 1} <> 0 THEN {day}" for day in range(1, 31)) + " ELSE 31 END"
    last = "CASE " + " ".join(f"WHEN days >= {1 << day - 1} THEN {day}" for day in range(31, 1, -1)) + " ELSE 1 END"
    op.execute(f"INSERT INTO redemption_card_edges (scope, day, partner_id, firsts, lasts) "
               f"SELECT scope, day, 0, SUM(firsts), SUM(lasts) FROM ("
               f"SELECT scope, month * 100 + {first} AS day, 1 AS firsts, 0 AS lasts FROM redemption_cards "
               f"UNION ALL SELECT scope, month * 100 + {last}, 0, 1 FROM redemption_cards) AS edges "
               f"GROUP BY scope, day")
    _rebuild_index("ix_redemption_summaries_day", "redemption_summaries", "day", ["partner_id", "month", *FIGURES])


def downgrade() -> None:
    _rebuild_index("ix_redemption_summaries_day", "redemption_summaries", "day", [])
    op.drop_table("redemption_card_edges")
    _rebuild_index("ix_redemption_card_counts_period", "redemption_card_counts", "period", OLD_INCLUDE)
    op.execute("DELETE FROM redemption_cards WHERE scope < 0")
    for name in NEW_COLUMNS:
        op.drop_column("redemption_card_counts", name)
    op.drop_table("redemption_service_card_counts")
    op.drop_index("ux_report_scopes", "report_scopes")
    op.drop_table("report_scopes")

"""Where a pattern of redemptions becomes suspect: one set of thresholds for the office and its auditors.

The office applies them at ingest (issuer.redemption_checks) and in its daily
statistical pass (issuer.anomalies); an auditor applies the same ones to an
export (kia.audit_analysis), so the two passes agree on what they call an
anomaly.  docs/audit.md gives each one in English and Bahasa Indonesia.
Plain constants, with no dependency: a terminal-only install imports them too.
"""

from __future__ import annotations

# A card at two partners more than TRAVEL_KM apart, faster than TRAVEL_KMH, cannot have travelled.
TRAVEL_KM, TRAVEL_KMH = 50.0, 250.0
EARTH_RADIUS_KM = 6371.0  # the mean radius: great-circle distances on a sphere
# A card accepted at more than this many partners within an hour (either side of a use) is not one child's day out.
MAX_PARTNERS_PER_HOUR = 3

# volume_spike: a day's accepted scans at a terminal at least SPIKE_MIN and more than SPIKE_FACTOR
# times the median of its previous HISTORY_DAYS days with scans.
HISTORY_DAYS = 28
SPIKE_FACTOR, SPIKE_MIN = 5, 50
# cards_seen_nowhere_else: of at least LONER_MIN_CARDS cards, LONER_SHARE or more seen at no other partner,
# while elsewhere the median share is at most LONER_SHARE - LONER_MARGIN.
LONER_MIN_CARDS, LONER_SHARE, LONER_MARGIN = 50, 0.95, 0.25
# closing_burst: on a day in use for more than BURST_MIN_SPAN seconds, at least BURST_MIN accepted scans,
# and at least BURST_SHARE of them, in the last BURST_WINDOW seconds before the day's last scan.
BURST_MIN, BURST_SHARE, BURST_WINDOW, BURST_MIN_SPAN = 30, 0.5, 3600, 3 * 3600

# Figures of another region's cards (issuer.visits, ADR 0003): a day, kind and cluster with fewer accepted
# scans gives no count and no money, so one child's trip cannot be read from them; kia audit visits agrees.
VISITS_SMALL_COUNT = 5

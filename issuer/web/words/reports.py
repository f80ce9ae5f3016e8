"""Words of the reports pages: (Bahasa Indonesia, English)."""

from __future__ import annotations

TEXT: dict[str, tuple[str, str]] = {}

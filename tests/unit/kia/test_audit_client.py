"""Where ``kia audit export`` sends an auditor's password: only to the office named, never in clear over a network."""

from __future__ import annotations

import datetime as dt

import pytest

from kia.audit_client import export_url
from kia.audit_export_format import ExportError

NOVEMBER = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))


def test_the_export_url_carries_the_period_partner_and_format():
    assert export_url("https://kia.example.go.id/", *NOVEMBER, 3, "both") == (
        "https://kia.example.go.id/api/v1/audit/export?from=2026-11-01&to=2026-11-30&format=both&partner=3")


@pytest.mark.parametrize("server", ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"])
def test_plain_http_is_for_this_machine_only(server: str):
    assert export_url(server, *NOVEMBER, None, "csv").startswith(server + "/api/v1/audit/export?")


@pytest.mark.parametrize("server", ["http://kia.example.go.id", "http://10.0.0.7:8080", "ftp://kia.example.go.id",
                                    "kia.example.go.id", "https://"])
def test_a_password_is_never_sent_in_clear_or_to_no_host(server: str):
    with pytest.raises(ExportError, match="https://"):
        export_url(server, *NOVEMBER, None, "csv")

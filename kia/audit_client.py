"""Fetching an audit export from the office's service (GET /api/v1/audit/export, HTTP Basic).

The password goes only to the URL given: plain HTTP only to this machine
(tests, a local office), redirects never followed, so it cannot be sent on
to another host or in clear over a network.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from .audit_export_format import ExportError, Manifest, unzip_export

TIMEOUT = 300.0  # seconds without a byte: the office writes a large export before it answers
_CHUNK = 1 << 16


class OfficeRefused(ExportError):
    """The office answered with an error (wrong password, no right, bad period)."""


class OfficeUnreachable(ExportError):
    """The office's service did not answer."""

    exit_code = 2


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx is raised as an HTTPError: credentials never follow a redirect


def export_url(server: str, start: dt.date, end: dt.date, partner: int | None, fmt: str) -> str:
    """The export's URL at ``server``; refuses plain HTTP to another machine."""
    parts = urllib.parse.urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ExportError(f"the office's URL is https://HOST[:PORT], not {server!r}")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ExportError("use https:// for the office: over plain HTTP the password would cross the network")
    query = {"from": start.isoformat(), "to": end.isoformat(), "format": fmt}
    if partner is not None:
        query["partner"] = str(partner)
    return f"{server.rstrip('/')}/api/v1/audit/export?{urllib.parse.urlencode(query)}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def download_export(url: str, username: str, password: str, out: Path, *,
                    progress: Callable[[int | None], Callable[[int], None]] | None = None,
                    timeout: float = TIMEOUT) -> Manifest:
    """Fetch the export at ``url`` (from export_url) into ``out`` (new or empty) and check every file.

    ``progress(total)`` is called once with the size announced (None when
    unknown) and returns a callback given each chunk's length.  Raises
    OfficeRefused, OfficeUnreachable, MalformedExport or ExportError (``out``
    not empty); a failed download leaves no directory behind.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} exists and is not an empty directory; choose a new one")
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {credentials}",  # noqa: S310 (checked)
                                                   "Accept": "application/zip"})
    opener = urllib.request.build_opener(_NoRedirects)
    created = not out.exists()
    with tempfile.TemporaryFile() as spool:
        _fetch(opener, request, spool, progress, timeout)
        spool.seek(0)
        try:
            return unzip_export(spool, out)
        except BaseException:
            if created:
                shutil.rmtree(out, ignore_errors=True)
            raise


def _fetch(opener: urllib.request.OpenerDirector, request: urllib.request.Request, spool: IO[bytes],
           progress: Callable[[int | None], Callable[[int], None]] | None, timeout: float) -> None:
    host = urllib.parse.urlsplit(request.full_url).netloc
    try:
        with opener.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            advance = progress(int(length) if length and length.isdigit() else None) if progress else None
            while chunk := response.read(_CHUNK):
                spool.write(chunk)
                if advance is not None:
                    advance(len(chunk))
    except urllib.error.HTTPError as error:
        with error:
            raise OfficeRefused(_refusal(error.code, error.read(4096))) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise OfficeUnreachable(f"the office at {host} did not answer: {reason}") from None


def _refusal(status: int, body: bytes) -> str:
    if status == 401:
        return "the office refused the username or password (an auditor's, admin's or partner manager's)"
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        message = None
    return f"the office refused the export ({status}): {message or 'no reason given'}"

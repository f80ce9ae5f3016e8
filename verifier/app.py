"""The terminal's local web application: the staff screen and the scan API.

It listens on localhost only.  ``POST /api/v1/scan`` answers a decision
after it is committed to the log (verifier/local.py gives the wire form);
when the log cannot take it, the answer is 503 and the screen turns grey,
never green.  The screen is one page that polls ``/api/v1/status`` so scans
from readers on the bridge appear too.

A web page elsewhere in the terminal's browser must not be able to post
scans: the API takes only ``application/json`` (which a cross-site form
cannot send without a preflight) and refuses a foreign ``Origin``.  Nor may
a page that rebinds its own name to 127.0.0.1 (DNS rebinding: its requests
carry ``Host: evil.example:PORT`` and a matching ``Origin``): every request
whose ``Host`` is not one of the terminal's own names with the served port
(``served_hosts``) is refused with 421 before any work.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, abort, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from keys.chain import Redemption

from .decision import Decision
from .display import LABELS, display_lines, label, rupiah, short
from .federation_screen import block as federation_block
from .local import MAX_PAYLOAD_CHARS, SOURCES, ScanOutcome
from .log import LogUnavailable
from .messages import LANGUAGES, language, message
from .sync import SyncLoop
from .terminal import Status, Terminal

log = logging.getLogger("kia.verifier")

# A body larger than any scan is refused before it is read.
MAX_BODY = 4 * MAX_PAYLOAD_CHARS


# The names a browser on this machine reaches the terminal by.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
# Where the served hosts are kept: ``serve`` sets them once it knows its port.
SERVED_HOSTS = "KIA_SERVED_HOSTS"


def served_hosts(port: int, *addresses: str) -> frozenset[str]:
    """The ``Host`` values the local API answers: the loopback names and ``addresses`` it listens
    on, with ``port`` (and bare, as browsers send them, when the port is HTTP's 80)."""
    names = {name.lower() for name in LOOPBACK_NAMES}
    names |= {f"[{address}]" if ":" in address else address.lower() for address in addresses if address}
    return frozenset({f"{name}:{port}" for name in names} | (names if port == 80 else set()))


# What ``create_app`` answers unless told its port: the loopback names on port 80.
HTTP_PORT_HOSTS = served_hosts(80)


def create_app(terminal: Terminal, *, now: Callable[[], int] = lambda: int(time.time()),
               sync_loop: SyncLoop | None = None, hosts: frozenset[str] = HTTP_PORT_HOSTS) -> Flask:
    """The app for ``terminal``; with ``sync_loop``, ``POST /api/v1/sync`` syncs at once.

    ``hosts`` are the ``Host`` header values it answers (``served_hosts``); ``serve``
    replaces them in ``app.config[SERVED_HOSTS]`` once it has its port.
    """
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.config[SERVED_HOSTS] = hosts
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    @app.before_request
    def refuse_foreign_host() -> ResponseReturnValue | None:
        if request.host.lower() not in app.config[SERVED_HOSTS]:
            # No name of this terminal: a page that rebound its own name to 127.0.0.1.
            return _error(421, "misdirected_request", "this terminal answers only at its own address, "
                          "e.g. http://127.0.0.1:8470/")
        return None

    def lang() -> str:
        return language(request.args.get("lang") or request.cookies.get("lang"))

    @app.get("/")
    def screen() -> ResponseReturnValue:
        chosen = lang()
        response = Response(render_template("screen.html", lang=chosen, languages=LANGUAGES,
                                            labels={name: texts[chosen] for name, texts in LABELS.items()},
                                            status=_screen_status(terminal, now(), chosen)))
        if request.args.get("lang") in LANGUAGES:
            response.set_cookie("lang", chosen, max_age=365 * 24 * 3600, samesite="Strict", httponly=True)
        return response

    @app.post("/api/v1/scan")
    def scan() -> ResponseReturnValue:
        _refuse_foreign_origin()
        body = _json_body()
        if not isinstance(body, dict) or not isinstance(body.get("payload"), str):
            return _error(400, "bad_request", 'send JSON {"payload": "<QR text>", "source": "wedge"}')
        source = body.get("source", "api")
        if source not in SOURCES:
            return _error(400, "bad_request", f"source is one of {', '.join(SOURCES)}")
        chosen = lang()
        try:
            decision, record = terminal.scan(body["payload"][: MAX_PAYLOAD_CHARS + 1], now())
        except LogUnavailable as exc:
            log.error("scan refused: the log cannot take it: %s", exc)
            return _error(503, "log_unavailable", label("log_full", chosen))
        log.info("scan %d from %s: %s", record.seq, source, decision.reason)
        return jsonify(_outcome(decision, record, chosen).to_json() | {"text": _texts(decision, chosen)})

    @app.post("/api/v1/sync")
    def sync_now() -> ResponseReturnValue:
        _refuse_foreign_origin()
        if sync_loop is None:
            return _error(409, "sync_off", "this terminal does not sync in the background; run 'kia verifier sync'")
        result = sync_loop.round()
        if result is None:
            return _error(503, "office_unreachable", sync_loop.last_error or "the office did not answer")
        return {"pushed": result.pushed, "acknowledged": result.acknowledged,
                "trust_list_seq": result.trust_list_seq, "config_version": result.config_version,
                "refusal": result.refusal.to_json() if result.refusal else None}

    @app.get("/api/v1/status")
    def status() -> ResponseReturnValue:
        return jsonify(_screen_status(terminal, now(), lang()))

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return {"status": "ok", "terminal": terminal.identity.terminal_id}

    @app.errorhandler(413)
    def too_large(_: Exception) -> ResponseReturnValue:
        return _error(413, "too_large", f"a scan is at most {MAX_PAYLOAD_CHARS} characters")

    @app.errorhandler(404)
    def not_found(_: Exception) -> ResponseReturnValue:
        return _error(404, "not_found", "no such page")

    @app.errorhandler(405)
    def not_allowed(_: Exception) -> ResponseReturnValue:
        return _error(405, "method_not_allowed", "method not allowed here")

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
        response.headers["Cache-Control"] = "no-store"
        return response

    return app


def _json_body() -> Any:
    """The request's JSON, or None when it is not JSON or nested deeper than the parser goes."""
    if request.mimetype != "application/json":
        return None
    try:
        return request.get_json(silent=True)
    except RecursionError:  # thousands of nested arrays: no scan looks like that
        return None


def _refuse_foreign_origin() -> None:
    origin = request.headers.get("Origin")
    if origin is not None and origin != request.host_url.rstrip("/"):
        abort(Response('{"error":"forbidden","message":"scans come from this terminal only"}', 403,
                       mimetype="application/json"))


def _error(status: int, code: str, text: str) -> ResponseReturnValue:
    return jsonify({"error": code, "message": text}), status


def _outcome(decision: Decision, record: Redemption, lang: str) -> ScanOutcome:
    return ScanOutcome(
        accepted=decision.accepted,
        reason=decision.reason,
        message=message(decision.reason, lang),
        display=display_lines(decision.accepted, decision.reason, decision.paid, lang),
        price=decision.price,
        discount=decision.discount,
        paid=decision.paid,
        seq=record.seq,
        category=decision.category,
        eligible_until=decision.eligible_until.isoformat() if decision.eligible_until else None,
        flags=decision.flags,
    )


def _texts(decision: Decision | Redemption, lang: str) -> dict[str, str]:
    """Ready-made text for the screen, so the page formats nothing itself."""
    texts = {"verdict": short("accepted" if decision.accepted else "rejected", lang),
             "reason": short(decision.reason, lang)}
    if decision.accepted:
        texts |= {"charge": rupiah(decision.paid), "price": rupiah(decision.price),
                  "discount": rupiah(decision.discount)}
    if decision.category:
        texts["category"] = f"{decision.category} {label('years', lang)}"
    if isinstance(decision, Decision) and decision.eligible_until:
        texts["eligible_until"] = _date(decision.eligible_until, lang)
    return texts


def _screen_status(terminal: Terminal, now: int, lang: str) -> dict[str, Any]:
    """What the screen shows: the terminal's status, and the federation's when the home is federated."""
    status = terminal.status(now)
    return _status_json(status, lang) | {
        "federation": federation_block(terminal.federation.status(now), status.zone, lang)}


def _status_json(status: Status, lang: str) -> dict[str, Any]:
    banners = []
    if status.refusal is not None:
        name = f"refusal_{status.refusal.code}"
        banners.append(label(name, lang) if name in LABELS else label("refusal_other", lang,
                                                                         message=status.refusal.message))
    if status.mou_expired and status.mou_until is not None:
        banners.append(label("mou", lang, when=_date(status.mou_until, lang)))
    elif status.partner is None:
        banners.append(label("no_config", lang))
    if status.stale:
        banners.append(label("stale", lang))
    if status.offline_long:
        when = dt.datetime.fromtimestamp(status.last_contact, status.zone).strftime("%Y-%m-%d %H:%M %Z")
        banners.append(label("offline", lang, when=when))
    if status.clock_skew:
        banners.append(label("clock", lang))
    today = status.today
    return {
        "terminal": status.terminal_id,
        "partner": status.partner,
        "service": status.service,
        "trust_list_seq": status.trust_list_seq,
        "config_version": status.config_version,
        "stale": status.stale,
        "offline_long": status.offline_long,
        "banners": banners,
        "pending": status.pending,
        "today": {"scans": today.scans, "accepted": today.accepted, "rejected": today.rejected,
                  "paid": rupiah(today.paid), "discount": rupiah(today.discount)},
        "recent": [_recent(record, status.zone, lang) for record in status.recent],
        "last": _last(status.recent[0], lang) if status.recent else None,
    }


def _last(record: Redemption, lang: str) -> dict[str, Any]:
    """The latest decision, from any reader, for the big panel."""
    return {"seq": record.seq, "accepted": record.accepted, "message": message(record.reason, lang),
            "text": _texts(record, lang)}


def _recent(record: Redemption, zone: dt.tzinfo, lang: str) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "time": dt.datetime.fromtimestamp(record.at, zone).strftime("%H:%M:%S"),
        "accepted": record.accepted,
        "result": short("accepted" if record.accepted else record.reason, lang),
        "paid": rupiah(record.paid) if record.accepted else "",
    }


def _date(day: dt.date, lang: str) -> str:
    months = {"id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
                     "Oktober", "November", "Desember"),
              "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                     "October", "November", "December")}[lang]
    return f"{day.day} {months[day.month - 1]} {day.year}"

"""``GET /metrics``: Prometheus metrics of the service (prometheus_client).

Each application has its own registry, so test apps never collide.  Under
gunicorn the workers share their counts through prometheus_client's
multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` is set by the server before
any worker starts (issuer.serve), each worker writes its counters there, and
``/metrics`` adds up every worker's, those of workers that have exited too.

Every label has a bounded set of values: the route's rule (``unmatched``
otherwise), the status, and the method, any method outside HTTP's own being
``other``, so no client can make the metrics grow.

Who reads them: a client holding ``KIA_METRICS_TOKEN`` (``Authorization:
Bearer TOKEN``), or without one configured, a direct connection from this
machine's loopback; a request a proxy relayed (``X-Forwarded-For``) is
refused either way unless it carries the token.  docs/operations.md says so.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from flask import Flask, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest, multiprocess, values

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"))


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kia_http_requests",
            "HTTP requests answered, by method, endpoint and status",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.sync_batches = Counter("kia_sync_batches", "Sync batches stored", registry=self.registry)
        self.redemptions = Counter("kia_redemptions_ingested", "Redemption records stored", registry=self.registry)
        self.alarms = Counter("kia_alarms", "Alarms raised by sync (forks, chain mismatches)", registry=self.registry)

    def exposition(self) -> bytes:
        """The metrics as Prometheus reads them: every worker's, added up, under gunicorn; this app's otherwise."""
        if not os.environ.get(MULTIPROCESS_DIR):
            return generate_latest(self.registry)
        every_worker = CollectorRegistry()
        multiprocess.MultiProcessCollector(every_worker)  # type: ignore[no-untyped-call]
        return generate_latest(every_worker)


def metrics_of(app: Flask) -> Metrics:
    found: Metrics = app.extensions["kia_metrics"]
    return found


def method_label(method: str) -> str:
    """The request's method, or ``other``: a client invents methods, the metrics do not keep them."""
    return method if method in METHODS else "other"


def may_read_metrics() -> bool:
    """With KIA_METRICS_TOKEN: whoever sends it.  Without: a direct connection from loopback only."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        sent = request.headers.get("Authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False  # relayed by a proxy on this machine: the client is elsewhere
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def _check_multiprocess_mode() -> None:
    # prometheus_client picks its kind of counter when it is first imported: a worker that
    # imported it before the variable was set would count alone and report its own counts only.
    if os.environ.get(MULTIPROCESS_DIR) and values.ValueClass is values.MutexValue:
        raise RuntimeError(f"prometheus_client was imported before {MULTIPROCESS_DIR} was set; "
                           "start the service with gunicorn.conf.py or `kia issuer serve`")


def init_app(app: Flask) -> None:
    _check_multiprocess_mode()
    metrics = Metrics()
    app.extensions["kia_metrics"] = metrics

    @app.after_request
    def _count(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.requests.labels(method_label(request.method), endpoint, str(response.status_code)).inc()
        return response

    @app.get("/metrics")
    def prometheus() -> Response:
        if not may_read_metrics():
            abort(403, "metrics are read from this machine, or with the configured token (KIA_METRICS_TOKEN)")
        return Response(metrics.exposition(), mimetype=CONTENT_TYPE_LATEST)

"""``GET /metrics``: Prometheus metrics of the service (prometheus_client).

Each application has its own registry, so test apps never collide.
"""

from __future__ import annotations

from flask import Flask, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kia_http_requests",
            "HTTP requests answered, by endpoint and status",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.sync_batches = Counter("kia_sync_batches", "Sync batches stored", registry=self.registry)
        self.redemptions = Counter("kia_redemptions_ingested", "Redemption records stored", registry=self.registry)
        self.alarms = Counter("kia_alarms", "Alarms raised by sync (forks, chain mismatches)", registry=self.registry)


def metrics_of(app: Flask) -> Metrics:
    found: Metrics = app.extensions["kia_metrics"]
    return found


def init_app(app: Flask) -> None:
    metrics = Metrics()
    app.extensions["kia_metrics"] = metrics

    @app.after_request
    def _count(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.requests.labels(request.method, endpoint, str(response.status_code)).inc()
        return response

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), mimetype=CONTENT_TYPE_LATEST)

"""Prometheus metrics of the API process, in a registry owned by the app (tests get their own)."""

from __future__ import annotations

from dataclasses import dataclass, field

import prometheus_client
from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from mibo.api.access import public

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True)
class HttpMetrics:
    registry: prometheus_client.CollectorRegistry
    requests: prometheus_client.Counter
    latency: prometheus_client.Histogram
    # Labelled children by (method, route, status): `labels()` takes a lock and builds keys each call.
    _children: dict = field(default_factory=dict)

    @classmethod
    def create(cls) -> HttpMetrics:
        registry = prometheus_client.CollectorRegistry()
        return cls(
            registry,
            prometheus_client.Counter(
                "mibo_http_requests_total", "HTTP requests by route template and status",
                ["method", "route", "status"], registry=registry,
            ),
            prometheus_client.Histogram(
                "mibo_http_request_duration_seconds", "HTTP request latency by route template",
                ["method", "route"], buckets=LATENCY_BUCKETS, registry=registry,
            ),
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        children = self._children.get((method, route, status))
        if children is None:
            children = self._children[method, route, status] = (
                self.requests.labels(method, route, str(status)), self.latency.labels(method, route))
        children[0].inc()
        children[1].observe(seconds)


def setup_routes(app: web.Application, metrics: HttpMetrics) -> None:
    app.router.add_get("/metrics", public(make_aiohttp_handler(metrics.registry)))

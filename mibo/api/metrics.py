"""Prometheus metrics of the API process, in a registry owned by the app (tests get their own).

Where they are served (METRICS_* settings): with METRICS_PORT, on a listener of their own at
METRICS_HOST:METRICS_PORT (127.0.0.1 unless told otherwise) and not on the API port; otherwise
/metrics on the API port, behind "Authorization: Bearer <METRICS_TOKEN>" when a token is set,
and open only in development and test. In production without either, the API port has none.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field

import prometheus_client
from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from mibo.api.access import public
from mibo.api.apidoc import documented
from mibo.core.config import Settings
from mibo.core.errors import ApiError

log = logging.getLogger(__name__)

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


METRICS_DOC = documented(
    "Prometheus metrics of this API process", tags=("Health",),
    description="Text exposition format. Served here only in development, or when METRICS_TOKEN is set "
                "(then as a bearer token); METRICS_PORT moves it to a listener of its own.",
    text_response="text/plain", errors=(401,))


def metrics_handler(metrics: HttpMetrics, token: str):
    serve = make_aiohttp_handler(metrics.registry)
    if not token:
        return METRICS_DOC(public(serve))

    async def guarded(request: web.Request) -> web.StreamResponse:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(errors="replace"), token.encode()):
            raise ApiError.unauthorized("Send the metrics token as 'Authorization: Bearer <token>'")
        return await serve(request)

    return METRICS_DOC(public(guarded))


def setup_routes(app: web.Application, metrics: HttpMetrics, settings: Settings) -> None:
    if settings.metrics_port:
        return  # served by metrics_listener_ctx instead
    if settings.metrics_token or settings.is_development:
        app.router.add_get("/metrics", metrics_handler(metrics, settings.metrics_token))


def metrics_listener_ctx(metrics: HttpMetrics, settings: Settings):
    """A cleanup_ctx serving the registry on METRICS_HOST:METRICS_PORT while the app runs."""

    async def listener(app: web.Application):
        if not settings.metrics_port:
            yield
            return
        side = web.Application()
        side.router.add_get("/metrics", make_aiohttp_handler(metrics.registry))
        runner = web.AppRunner(side, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.metrics_host, settings.metrics_port).start()
        log.info("API metrics on http://%s:%s/metrics", settings.metrics_host, settings.metrics_port)
        yield
        await runner.cleanup()

    return listener

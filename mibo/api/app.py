"""The application factory. Resources live in cleanup_ctx; tests may inject their own."""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor

import redis.asyncio as aioredis
from aiohttp import web

from mibo.api import routes
from mibo.api.apidoc import MAX_BODY_CEILING
from mibo.api.cors import cors_fallback_middleware, setup_cors
from mibo.api.keys import DB, EXECUTOR, METRICS, OTP_SENDER, PUBLISHER, REDIS, SETTINGS, STARTED_AT
from mibo.api.metrics import HttpMetrics, metrics_listener_ctx
from mibo.api.middleware import auth_middleware, context_middleware, error_middleware
from mibo.api.parse_errors import answer_parse_errors_as_json
from mibo.api.principals import principals_ctx
from mibo.core import db
from mibo.core.config import Settings
from mibo.core.relay import Publisher, run_relay
from mibo.domain.otp import ConsoleOtpSender
from mibo.domain.otp_delivery import WhatsAppOtpSender, whatsapp_configured


async def database_ctx(app: web.Application):
    owned = DB not in app
    if owned:
        app[DB] = await db.create_pool(app[SETTINGS])
    yield
    if owned:
        app[DB].close()
        await app[DB].wait_closed()


async def redis_ctx(app: web.Application):
    owned = REDIS not in app
    if owned:
        app[REDIS] = aioredis.from_url(app[SETTINGS].redis_url, socket_timeout=2, socket_connect_timeout=2)
    yield
    if owned:
        await app[REDIS].aclose()


async def executor_ctx(app: web.Application):
    # bcrypt releases the GIL, so threads keep it off the event loop, which must never block.
    app[EXECUTOR] = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bcrypt")
    yield
    app[EXECUTOR].shutdown(wait=True)


async def publisher_ctx(app: web.Application):
    app[PUBLISHER] = Publisher(app[SETTINGS])
    yield
    app[PUBLISHER].close()


async def relay_ctx(app: web.Application):
    """Publish committed outbox rows beside the API (unless OUTBOX_RELAY=false); after the pool."""
    if not app[SETTINGS].outbox_relay:
        yield
        return
    task = asyncio.create_task(run_relay(app[DB], app[SETTINGS], app[PUBLISHER]), name="outbox-relay")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def init_app(settings: Settings, *, pool=None, redis=None, otp_sender=None) -> web.Application:
    app = web.Application(
        middlewares=[context_middleware, cors_fallback_middleware, error_middleware, auth_middleware],
        # Each route reads its body up to its own limit (apidoc.max_body); this only bounds the rest.
        client_max_size=MAX_BODY_CEILING,
        # A body refused unread (413) is not drained for seconds afterwards: the connection is closed.
        handler_args={"lingering_time": 0},
    )
    app[SETTINGS] = settings
    app[STARTED_AT] = time.monotonic()
    app[METRICS] = HttpMetrics.create()
    app[OTP_SENDER] = otp_sender or (
        WhatsAppOtpSender(settings, lambda: app[PUBLISHER]) if whatsapp_configured(settings)
        else ConsoleOtpSender(show_code=settings.is_development))
    if pool is not None:
        app[DB] = pool
    if redis is not None:
        app[REDIS] = redis
    app.cleanup_ctx.extend([database_ctx, redis_ctx, executor_ctx, principals_ctx])
    app.cleanup_ctx.extend([publisher_ctx, relay_ctx, metrics_listener_ctx(app[METRICS], settings)])
    routes.setup_routes(app)
    setup_cors(app, settings)
    answer_parse_errors_as_json(app)
    return app

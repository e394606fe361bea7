"""The application factory. Resources live in cleanup_ctx; tests may inject their own."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import aiohttp_cors
import redis.asyncio as aioredis
from aiohttp import web

from jobs.otp_sender import WhatsAppOtpSender, whatsapp_configured
from jobs.relay import PUBLISHER, publisher_ctx, relay_ctx

from . import db, routes
from .config import Settings
from .keys import DB, EXECUTOR, METRICS, OTP_SENDER, REDIS, SETTINGS, STARTED_AT
from .metrics import HttpMetrics
from .middleware import auth_middleware, context_middleware, error_middleware
from .otp import ConsoleOtpSender
from .principals import principals_ctx


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
    # bcrypt releases the GIL, so threads keep it off the event loop (invariant 5).
    app[EXECUTOR] = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bcrypt")
    yield
    app[EXECUTOR].shutdown(wait=True)


def setup_cors(app: web.Application, settings: Settings) -> None:
    options = aiohttp_cors.ResourceOptions(
        allow_credentials="*" not in settings.cors_origins,
        expose_headers=("X-Request-ID", "Retry-After"),
        allow_headers=("Authorization", "Content-Type", "X-Request-ID"),
        allow_methods=("GET", "POST", "PUT", "PATCH", "DELETE"),
        max_age=600,
    )
    cors = aiohttp_cors.setup(app, defaults={origin: options for origin in settings.cors_origins})
    for route in list(app.router.routes()):
        cors.add(route)


def init_app(settings: Settings, *, pool=None, redis=None, otp_sender=None) -> web.Application:
    app = web.Application(
        middlewares=[context_middleware, error_middleware, auth_middleware],
        client_max_size=settings.max_body_bytes,
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
    app.cleanup_ctx.extend([publisher_ctx, relay_ctx])  # outbox relay (jobs/relay.py), after the pool
    routes.setup_routes(app)
    setup_cors(app, settings)
    return app

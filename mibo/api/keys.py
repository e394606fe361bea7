"""Typed keys for what the app and each request carry (aiohttp warns on string keys)."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiohttp import web

from mibo.api.metrics import HttpMetrics
from mibo.core.actor import Actor
from mibo.core.config import Settings
from mibo.core.relay import Publisher

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", object)  # aiopg.Pool
REDIS = web.AppKey("redis", aioredis.Redis)
METRICS = web.AppKey("metrics", HttpMetrics)
STARTED_AT = web.AppKey("started_at", float)
EXECUTOR = web.AppKey("executor", object)  # concurrent.futures.Executor for bcrypt
OTP_SENDER = web.AppKey("otp_sender", object)  # mibo.domain.otp.OtpSender
PUBLISHER = web.AppKey("publisher", Publisher)  # the outbox relay's (and the OTP sender's) way to Redis

# Who is calling, for the rules: set by the auth middleware on every authenticated request.
ACTOR = web.RequestKey("actor", Actor)
REQUEST_ID = web.RequestKey("request_id", str)

# Set on a sub-application that serves a contract of its own (the admin panel's, mibo.api.legacy);
# the shared middlewares read them from the innermost app a request matched (contract_app).
SURFACE = web.AppKey("surface", str)  # the Actor's surface for its routes
CORS_ORIGINS = web.AppKey("cors_origins", tuple)  # origins allowed besides CORS_ORIGIN


def contract_app(request: web.Request) -> web.Application:
    """The innermost application of the request's match: a contract's sub-application, or the API."""
    return request.match_info.apps[-1]

"""Typed keys for what the app and each request carry (aiohttp warns on string keys)."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiohttp import web

from .config import Settings
from .metrics import HttpMetrics
from .permissions import Principal

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", object)  # aiopg.Pool
REDIS = web.AppKey("redis", aioredis.Redis)
METRICS = web.AppKey("metrics", HttpMetrics)
STARTED_AT = web.AppKey("started_at", float)
EXECUTOR = web.AppKey("executor", object)  # concurrent.futures.Executor for bcrypt
OTP_SENDER = web.AppKey("otp_sender", object)  # mibo.otp.OtpSender

PRINCIPAL = web.RequestKey("principal", Principal)
REQUEST_ID = web.RequestKey("request_id", str)

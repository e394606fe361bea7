"""GET /api/health: liveness of the API and its database and Redis."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from aiohttp import web

from mibo import __version__
from mibo.api.access import public
from mibo.api.apidoc import documented
from mibo.api.http import ok
from mibo.api.keys import DB, REDIS, STARTED_AT
from mibo.core import db
from mibo.core.errors import ApiError
from schemas.health import HealthSchema

CHECK_TIMEOUT = 2.0


async def _database_ok(app: web.Application) -> bool:
    try:
        return await asyncio.wait_for(db.query_value(app[DB], "SELECT 1"), CHECK_TIMEOUT) == 1
    except Exception:
        return False


async def _redis_ok(app: web.Application) -> bool:
    try:
        return bool(await asyncio.wait_for(app[REDIS].ping(), CHECK_TIMEOUT))
    except Exception:
        return False


@public
@documented("Liveness of the API, its database and Redis", tags=("Health",), response=HealthSchema, errors=(503,),
            description="200 degraded without Redis (bookings still work); 503 without the database.")
async def health(request: web.Request) -> web.Response:
    database, redis = await asyncio.gather(_database_ok(request.app), _redis_ok(request.app))
    # Without the database nothing works (503). Without Redis the API still takes bookings:
    # jobs wait in the outbox, so the service is degraded, not down.
    status = "healthy" if database and redis else ("degraded" if database else "unhealthy")
    body = {
        "status": status,
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "database": "connected" if database else "disconnected",
        "redis": "connected" if redis else "disconnected",
        "version": __version__,
        "uptime": int(time.monotonic() - request.app[STARTED_AT]),
    }
    if not database:
        raise ApiError(503, "UNHEALTHY", "The database is unreachable", body)
    return ok(body)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/health", health)

"""Sliding-window rate limits kept in Redis, so they hold across API processes.

A sorted set per key holds the request times of the last minute; unlike fixed windows
there is no burst of twice the limit across a minute boundary.

Two limits guard the auth endpoints: a narrow one per (client, account identifier) so that
one person mistyping cannot lock out a whole front office behind one IP, and a wider one
per client across all auth endpoints against credential stuffing.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mibo.core.errors import ApiError

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60


def _key(scope: str, *parts: str) -> str:
    # Identifiers (phones, usernames) are hashed: Redis keys are not a place for personal data.
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
    return f"mibo:rl:{scope}:{digest}"


async def hit(redis: aioredis.Redis, key: str, limit: int, window: int = WINDOW_SECONDS) -> None:
    """Count one request against key; raise 429 with Retry-After once the limit is passed."""
    now = time.time()
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, 0, now - window)
            pipe.zadd(key, {uuid.uuid4().hex: now})
            pipe.zcard(key)
            pipe.zrange(key, 0, 0, withscores=True)
            pipe.expire(key, window + 1)
            _, _, count, oldest, _ = await pipe.execute()
    except RedisError:
        # Failing open keeps staff able to log in during a Redis outage; bcrypt and the OTP
        # attempt counter (in PostgreSQL) still bound guessing.
        log.warning("rate limiter unavailable, allowing request")
        return
    if count > limit:
        retry_after = max(1, int(oldest[0][1] + window - now) + 1)
        raise ApiError.too_many(retry_after)


async def check_client(redis: aioredis.Redis, client: str, per_client: int) -> None:
    """The per-client limit alone, counted before a request's body is read: junk costs a try too."""
    await hit(redis, _key("client", client), per_client)


async def check_auth_limits(redis, client: str, identifier: str | None, per_identifier: int,
                            per_client: int | None):
    if per_client is not None:
        await check_client(redis, client, per_client)
    if identifier is not None:
        await hit(redis, _key("ident", client, identifier.lower()), per_identifier)

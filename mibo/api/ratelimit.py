"""Rate limits of the sign-in routes, kept in Redis so they hold across API processes.

Sorted sets of request times make sliding windows: unlike fixed windows there is no burst
of twice the limit across a boundary. The limits, for every sign-in surface:

- per client across the sign-in routes, counted before the body is read (credential stuffing);
- per (client, account identifier), narrow, so that one person mistyping cannot lock out a whole
  front office behind one address;
- per account across all clients: after RATE_LIMIT_ACCOUNT_FAILURES failed password logins in
  RATE_LIMIT_ACCOUNT_WINDOW its password logins are refused for a minute, doubling with each
  further failure up to the window. The lock applies to passwords only: an OTP login (which
  needs the phone) still works and lifts it, so a stranger cannot keep the owner out;
- OTPs issued per phone and per client per hour, counting only codes issued; the answer is the
  same 429 for any phone, whoever's it is.

Identifiers are hashed in the keys: Redis is not a place for personal data. If Redis is down
the limits let requests through (bcrypt and the OTP attempt counter in PostgreSQL still bound
guessing), so that staff can sign in during an outage.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
import uuid

from aiohttp import web
from redis.exceptions import RedisError

from mibo.api.keys import REDIS, SETTINGS
from mibo.core.config import Settings
from mibo.core.errors import ApiError

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60
HOUR = 3600
FIRST_LOCK_SECONDS = 60


def _key(scope: str, *parts: str) -> str:
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
    return f"mibo:rl:{scope}:{digest}"


def _retry_after(oldest: float, window: int, now: float) -> int:
    return max(1, math.ceil(oldest + window - now))


# --- who the client is ------------------------------------------------------------------


def forwarded_client(settings: Settings, remote: str | None, forwarded: str) -> str:
    """The client's address. Behind our proxies (TRUST_PROXY) it is read from the right of
    X-Forwarded-For, where each proxy appends the address it was called from: the entries left of
    what our own proxies wrote are whatever the client chose to send."""
    remote = remote or "unknown"
    if not settings.trust_proxy or not forwarded.strip():
        return remote
    chain = [entry.strip() for entry in forwarded.split(",")] + [remote]
    if settings.trusted_proxies:
        # Walk left past every address of ours; the first one that is not ours is the client.
        for entry in reversed(chain):
            if not _is_trusted_proxy(settings, entry):
                return entry or "unknown"
        return chain[0]
    return chain[max(0, len(chain) - 1 - settings.trusted_proxy_hops)] or "unknown"


def _is_trusted_proxy(settings: Settings, entry: str) -> bool:
    try:
        address = ipaddress.ip_address(entry)
    except ValueError:
        return False
    return any(address in network for network in settings.trusted_proxies)


def client_address(request: web.Request) -> str:
    return forwarded_client(request.app[SETTINGS], request.remote, request.headers.get("X-Forwarded-For", ""))


# --- windows ----------------------------------------------------------------------------------


async def hit(redis, key: str, limit: int, window: int = WINDOW_SECONDS) -> None:
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
        log.warning("rate limiter unavailable, allowing request")
        return
    if count > limit:
        raise ApiError.too_many(_retry_after(oldest[0][1], window, now))


async def take(redis, quotas: list[tuple[str, int, int]]) -> None:
    """Count one use against every (key, limit, window) quota, only if each has room; otherwise
    count nothing and raise 429 with the longest wait. Refused requests do not extend the wait."""
    now = time.time()
    member = uuid.uuid4().hex
    try:
        async with redis.pipeline(transaction=True) as pipe:
            for key, _, window in quotas:
                pipe.zremrangebyscore(key, 0, now - window)
                pipe.zadd(key, {member: now})
                pipe.zcard(key)
                pipe.zrange(key, 0, 0, withscores=True)
                pipe.expire(key, window + 1)
            results = await pipe.execute()
        waits = [_retry_after(results[5 * n + 3][0][1], window, now)
                 for n, (_, limit, window) in enumerate(quotas) if results[5 * n + 2] > limit]
        if waits:
            async with redis.pipeline(transaction=True) as pipe:
                for key, _, _ in quotas:
                    pipe.zrem(key, member)
                await pipe.execute()
    except RedisError:
        log.warning("rate limiter unavailable, allowing request")
        return
    if waits:
        raise ApiError.too_many(max(waits))


# --- the sign-in routes' limits -----------------------------------------------------------------


async def per_client(request: web.Request) -> None:
    await hit(request.app[REDIS], _key("client", client_address(request)),
              request.app[SETTINGS].rate_limit_client_per_minute)


async def per_identifier(request: web.Request, identifier: str) -> None:
    await hit(request.app[REDIS], _key("ident", client_address(request), identifier.lower()),
              request.app[SETTINGS].rate_limit_login_per_minute)


async def otp_issuance(request: web.Request, phone: str) -> None:
    settings = request.app[SETTINGS]
    await take(request.app[REDIS], [
        (_key("otp-phone", phone), settings.rate_limit_otp_per_phone_per_hour, HOUR),
        (_key("otp-client", client_address(request)), settings.rate_limit_otp_per_client_per_hour, HOUR),
    ])


def account(user_id: int | None, identifier: str) -> str:
    """What failed logins are counted against: the user (by whichever identifier they were
    tried), or the identifier itself when nobody has it, so both are answered alike."""
    return f"user:{user_id}" if user_id is not None else f"identifier:{identifier.lower()}"


async def refuse_locked_account(request: web.Request, account_name: str) -> None:
    """429 while the account's password logins are locked, before any password is checked."""
    try:
        wait_ms = await request.app[REDIS].pttl(_key("lock", account_name))
    except RedisError:
        log.warning("rate limiter unavailable, allowing request")
        return
    if wait_ms > 0:
        raise ApiError.too_many(math.ceil(wait_ms / 1000), "Too many failed logins for this account; try again "
                                "later or sign in with an OTP")


async def count_failed_login(request: web.Request, account_name: str) -> None:
    settings = request.app[SETTINGS]
    window, limit = settings.rate_limit_account_window, settings.rate_limit_account_failures
    key, now = _key("failed", account_name), time.time()
    try:
        async with request.app[REDIS].pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, 0, now - window)
            pipe.zadd(key, {uuid.uuid4().hex: now})
            pipe.zcard(key)
            pipe.expire(key, window + 1)
            _, _, failures, _ = await pipe.execute()
        if failures >= limit:
            lock = min(FIRST_LOCK_SECONDS * 2 ** (failures - limit), window)
            await request.app[REDIS].set(_key("lock", account_name), "1", ex=lock)
    except RedisError:
        log.warning("rate limiter unavailable, failed login not counted")


async def forget_failed_logins(request: web.Request, user_id: int) -> None:
    """The owner signed in: their account starts again from no failures and no lock."""
    name = account(user_id, "")
    try:
        await request.app[REDIS].delete(_key("failed", name), _key("lock", name))
    except RedisError:
        log.warning("rate limiter unavailable, failed logins not cleared")

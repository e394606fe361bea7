"""Who is calling: the Actor behind an access token, and each process's cache of live sessions,
kept exact by PostgreSQL notifications.

Every request needs the caller's live session, roles and centres, and `/api/auth/me` the user.
Reading them on each request costs two database round trips; a plain time-to-live cache would let
a revoked session or a removed role live on. Instead, triggers on every table behind an actor
(migrations 0007 and 0014) NOTIFY `principal_changed` with the user's id when its rows change, and
each API process LISTENs, dropping that user's entries as the change commits. So:

- nothing is cached unless the LISTEN connection is up; when it drops, the cache is emptied and
  every request reads the database until it is back;
- an entry read from the database while a change was arriving is not stored (the epoch check);
- a handler that changes principals (`@changes_principals`) empties this process's cache itself,
  because its own commit's notification may arrive a moment after its response; one that ends a
  single session (logout, a refresh that detects reuse) drops that session's entries only, and a
  refresh that changes nothing (a failed one, or a rotation) drops nothing;
- entries still expire after `PRINCIPAL_CACHE_SECONDS` (0 turns the cache off), with the token,
  and with the session.

Entries are keyed by audience and token, so a token cached for one surface is never served to the
other.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import aiopg
from aiohttp import web

from mibo.api.keys import DB, SETTINGS
from mibo.core import db, tokens
from mibo.core.actor import Actor
from mibo.core.errors import ApiError
from mibo.core.logs import log_event
from mibo.domain import sessions

log = logging.getLogger(__name__)

CHANNEL = "principal_changed"
MAX_ENTRIES = 50_000
RECONNECT_SECONDS = 1.0
STARTUP_WAIT_SECONDS = 5.0


class PrincipalCache:
    def __init__(self, max_age: float, max_entries: int = MAX_ENTRIES):
        self.max_age = max_age
        self.max_entries = max_entries
        self.live = False  # True only while this process hears every change
        self.epoch = 0  # bumped by every invalidation
        # key → (value, user id, session id or None, expiry)
        self._entries: dict[Hashable, tuple[Any, int, int | None, float]] = {}

    def get(self, key: Hashable) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[3] <= time.time():
            self._entries.pop(key, None)
            return None
        return entry[0]

    def put(self, key: Hashable, value: Any, user_id: int, epoch: int, expires_at: float | None = None,
            session_id: int | None = None) -> None:
        """Keep `value` (read when the epoch was `epoch`) unless something changed since."""
        if not self.live or epoch != self.epoch or self.max_age <= 0:
            return
        ceiling = time.time() + self.max_age
        if len(self._entries) >= self.max_entries:
            self._evict()
        self._entries[key] = (value, user_id, session_id,
                              ceiling if expires_at is None else min(expires_at, ceiling))

    async def get_or_load(self, key: Hashable, user_id: int,
                          load: Callable[[], Awaitable[tuple[Any, float | None]]],
                          session_id: int | None = None) -> Any:
        """The cached value, or the one `load()` reads (with its expiry), kept unless a change
        arrived while it was being read."""
        value = self.get(key)
        if value is None:
            epoch = self.epoch
            value, expires_at = await load()
            self.put(key, value, user_id, epoch, expires_at, session_id)
        return value

    def forget_user(self, user_id: int) -> None:
        self._forget(lambda entry: entry[1] == user_id)

    def forget_session(self, session_id: int) -> None:
        self._forget(lambda entry: entry[2] == session_id)

    def _forget(self, matches) -> None:
        self.epoch += 1
        for key in [key for key, entry in self._entries.items() if matches(entry)]:
            del self._entries[key]

    def clear(self) -> None:
        self.epoch += 1
        self._entries.clear()

    def set_live(self, live: bool) -> None:
        # Changes may have been missed while not listening: start from nothing either way.
        self.clear()
        self.live = live

    def heard(self, payload: str) -> None:
        """A notification: the user id whose actor changed, or '' for everyone."""
        if payload.isdigit():
            self.forget_user(int(payload))
        else:
            self.clear()

    def _evict(self) -> None:
        now = time.time()
        for key in [key for key, entry in self._entries.items() if entry[3] <= now]:
            del self._entries[key]
        while len(self._entries) >= self.max_entries:  # oldest first (dicts keep insertion order)
            del self._entries[next(iter(self._entries))]


async def listen(database_url: str, cache: PrincipalCache, listening: asyncio.Event) -> None:
    """Keep `cache` live while a LISTEN connection is up; reconnect when it drops."""
    while True:
        try:
            # TCP keepalives: a silently lost connection is noticed in ~25 s, inside the max age.
            async with aiopg.connect(database_url, keepalives=1, keepalives_idle=10, keepalives_interval=5,
                                     keepalives_count=3) as conn:
                async with conn.cursor() as cur:
                    await cur.execute(f"LISTEN {CHANNEL}")
                cache.set_live(True)
                listening.set()
                while True:
                    cache.heard((await conn.notifies.get()).payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database restarting: serve from the database until we hear again
            # Said once per outage, not on every retry.
            log_event(log, logging.WARNING if cache.live else logging.DEBUG, "actor cache off: not listening",
                      error=f"{type(exc).__name__}: {exc}"[:300])
        finally:
            cache.set_live(False)
        await asyncio.sleep(RECONNECT_SECONDS)


PRINCIPALS = web.AppKey("principals", PrincipalCache)


async def principals_ctx(app: web.Application):
    settings = app[SETTINGS]
    app[PRINCIPALS] = PrincipalCache(settings.principal_cache_seconds)
    task = None
    if settings.principal_cache_seconds > 0:
        listening = asyncio.Event()
        task = asyncio.create_task(listen(settings.database_url, app[PRINCIPALS], listening),
                                   name="actor-listener")
        # Start serving with the cache on when the database answers; without it, serve anyway.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(listening.wait(), STARTUP_WAIT_SECONDS)
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


SERVICE_ACTOR = Actor(user_id=None, is_service=True)


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError.unauthorized("Send an access token as 'Authorization: Bearer <token>'")
    if not token.isascii():  # tokens are ASCII; anything else cannot even be compared as bytes
        raise ApiError.unauthorized("The access token is invalid or has expired", "INVALID_TOKEN")
    return token.strip()


async def authenticate(request: web.Request, audience: str, accepts_service_token: bool = False) -> Actor:
    """The caller's Actor from its access token, for a route of this audience (tokens.STAFF or
    tokens.PATIENT); 401 unless the token is valid and names a live session of that audience."""
    settings = request.app[SETTINGS]
    token = bearer_token(request)
    if accepts_service_token and hmac.compare_digest(token.encode(), settings.service_token.encode()):
        return SERVICE_ACTOR
    cache = request.app[PRINCIPALS]
    key = (audience, token)
    # A hit skips even the signature check: an entry lives no longer than its token.
    actor = cache.get(key)
    if actor is not None:
        return actor
    try:
        claims = tokens.decode_access(settings, token, audience)
    except tokens.TokenError as exc:
        code = "TOKEN_EXPIRED" if str(exc) == "expired" else "INVALID_TOKEN"
        raise ApiError.unauthorized("The access token is invalid or has expired", code) from None

    async def load() -> tuple[Actor, float]:
        async with db.connection(request.app[DB]) as cur:
            found = await sessions.live_actor(cur, claims)
        if found is None:
            raise ApiError.unauthorized("The session has ended; sign in again", "SESSION_REVOKED")
        actor, session_ends_at = found
        return actor, min(claims.expires_at, session_ends_at)

    return await cache.get_or_load(key, claims.user_id, load, claims.session_id)


async def authenticate_either(request: web.Request) -> Actor:
    """The caller's Actor from a token of either audience, for routes a patient may call: a staff
    member's valid token is then refused by the route's permission (403), not taken for a bad token."""
    try:
        return await authenticate(request, tokens.PATIENT)
    except ApiError as refused:
        if refused.code != "INVALID_TOKEN":
            raise
        try:
            return await authenticate(request, tokens.STAFF)
        except ApiError:
            raise refused from None


def changes_principals(handler):
    """For handlers that change sessions, users, roles, centre assignments or clinician profiles:
    empty this process's cache when they finish, so the caller's next request sees the change
    even if the notification of its commit is still on its way."""
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            request.app[PRINCIPALS].clear()
    return wrapper

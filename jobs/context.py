"""Resources shared by the actors of one worker process, created lazily where they are used.

aiopg pools belong to the event loop that created them; async actors all run on the
AsyncIO middleware's loop, so the pool is created there on first use, never at import.
Provider clients are synchronous and not thread-safe (requests sessions, httplib2), so each
executor thread gets its own, and actors reach them only through `in_thread`.
"""

from __future__ import annotations

import asyncio
import functools
import threading

from jobs import broker as _broker
from mibo.core import db
from mibo.core.config import Settings
from mibo.providers.gallabox import GallaboxClient
from mibo.providers.google_calendar import GoogleCalendar

_pool = None
_lock: asyncio.Lock | None = None
_clients = threading.local()
_opened: list = []  # every client made, so that close_clients() can close them all


def _keep(client):
    _opened.append(client)
    return client


def settings() -> Settings:
    """The worker's settings (read through here so that tests can point them elsewhere)."""
    return _broker.settings


async def pool():
    global _pool, _lock
    if _pool is None:
        _lock = _lock or asyncio.Lock()
        async with _lock:
            if _pool is None:
                # DB_POOL_MAX should be at least the worker's --threads: a send holds its row's
                # lock (and so a connection) for the length of the provider call.
                _pool = await db.create_pool(settings(), minsize=1)
    return _pool


def gallabox() -> GallaboxClient:
    """This thread's Gallabox client. One HTTP attempt per call: Dramatiq's retries (and the
    scheduler's retry of FAILED rows) do the retrying, so every attempt is counted in
    notification_logs.attempts."""
    if not hasattr(_clients, "gallabox"):
        _clients.gallabox = _keep(GallaboxClient(settings(), attempts=1))
    return _clients.gallabox


def calendar() -> GoogleCalendar:
    if not hasattr(_clients, "calendar"):
        _clients.calendar = _keep(GoogleCalendar(settings()))
    return _clients.calendar


async def in_thread(call, *args, **kwargs):
    """Run a blocking call (provider client, broker send) off the worker's event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(call, *args, **kwargs))


async def gallabox_call(method: str, *args):
    """Call a GallaboxClient method in an executor thread, with that thread's own client."""
    return await in_thread(lambda: getattr(gallabox(), method)(*args))


async def calendar_call(method: str, *args):
    """Call a GoogleCalendar method in an executor thread, with that thread's own client."""
    return await in_thread(lambda: getattr(calendar(), method)(*args))


def close_clients() -> None:
    """Close every provider client's connections (worker shutdown, tests)."""
    global _clients
    while _opened:
        _opened.pop().close()
    _clients = threading.local()

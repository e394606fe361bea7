"""Resources shared by the actors of one worker process, created lazily where they are used.

Settings are read once, on first use, through `settings()`: every actor (and the broker, which
must exist before any actor is declared) reads them there, so tests and benches point a whole
worker elsewhere by replacing one value. aiopg pools belong to the event loop that created them;
async actors all run on the AsyncIO middleware's loop, so the pool is created there on first use,
never at import. Provider clients are synchronous and not thread-safe (requests sessions,
httplib2), so each executor thread gets its own, and actors reach them only through the typed
calls below, which run the client's method in that thread:

    await context.calendar_call(GoogleCalendar.cancel_event, calendar_id, event_id)

The method is named by reference, not by a string, so renaming it breaks the call where a type
checker (and the reader) can see it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from mibo.core import config, db
from mibo.core.config import Settings
from mibo.providers.gallabox import GallaboxClient
from mibo.providers.google_calendar import GoogleCalendar
from mibo.providers.razorpay_client import RazorpayClient

P = ParamSpec("P")
T = TypeVar("T")

_settings: Settings | None = None
_pool = None
_lock: asyncio.Lock | None = None
_clients = threading.local()
_opened: list = []  # every client made, so that close_clients() can close them all


def settings() -> Settings:
    """The worker's settings, loaded from the environment on first use."""
    global _settings
    if _settings is None:
        _settings = config.load()
    return _settings


async def pool():
    global _pool, _lock
    if _pool is None:
        _lock = _lock or asyncio.Lock()
        async with _lock:
            if _pool is None:
                # DB_POOL_MAX should be at least the worker's --threads: a WhatsApp send keeps
                # its connection (no transaction, no lock) through the call, so that its outcome
                # is written without waiting for the pool.
                _pool = await db.create_pool(settings(), minsize=1)
    return _pool


def _keep(client):
    _opened.append(client)
    return client


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


async def in_thread(call: Callable[..., T], *args, **kwargs) -> T:
    """Run a blocking call (a provider client) off the worker's event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(call, *args, **kwargs))


async def gallabox_call(method: Callable[Concatenate[GallaboxClient, P], T], *args: P.args,
                        **kwargs: P.kwargs) -> T:
    """`method(client, *args)` with this executor thread's own Gallabox client."""
    return await in_thread(lambda: method(gallabox(), *args, **kwargs))


async def calendar_call(method: Callable[Concatenate[GoogleCalendar, P], T], *args: P.args,
                        **kwargs: P.kwargs) -> T:
    """`method(client, *args)` with this executor thread's own Google Calendar client."""
    return await in_thread(lambda: method(calendar(), *args, **kwargs))


def _with_razorpay(settings: Settings, method, args, kwargs):
    with contextlib.closing(RazorpayClient(settings)) as client:
        return method(client, *args, **kwargs)


async def razorpay_call(settings: Settings, method: Callable[Concatenate[RazorpayClient, P], T],
                        *args: P.args, **kwargs: P.kwargs) -> T:
    """`method(client, *args)` with a Razorpay client for `settings`, made in an executor thread.

    The payment work functions take their settings as an argument (the actors pass
    `settings()`), so the client is made per call from those.
    """
    return await in_thread(_with_razorpay, settings, method, args, kwargs)


def close_clients() -> None:
    """Close every provider client's connections (worker shutdown, tests)."""
    global _clients
    while _opened:
        _opened.pop().close()
    _clients = threading.local()

"""Retry, time-limit and age-limit options shared by the actors.

Only transient failures are retried: a provider's retryable error (5xx, 429, timeout), a lost
database connection, Redis unreachable, a step that ran out of time (a slow provider). A 4xx
from a provider or a bug would fail the same way again, so it is not retried (and its outbox step
is closed with the error: see jobs.steps). Backoff is Dramatiq's exponential
one, bounded by max_backoff; every step is idempotent, so a retry is always safe.
"""

from __future__ import annotations

import psycopg2
import redis
from dramatiq.errors import Retry
from dramatiq.middleware import TimeLimitExceeded

from mibo.providers.errors import ProviderError

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR


class NotYet(Retry):
    """A step that must wait `delay` ms before it can run (an earlier call of it may still be running)."""


TRANSIENT = (NotYet, psycopg2.OperationalError, psycopg2.InterfaceError, redis.exceptions.ConnectionError,
             redis.exceptions.TimeoutError, ConnectionError, TimeoutError, TimeLimitExceeded)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ProviderError):
        return exc.retryable
    return isinstance(exc, TRANSIENT)


def retry_transient(max_retries: int):
    def retry_when(retries: int, exc: BaseException) -> bool:
        return retries < max_retries and is_transient(exc)

    return retry_when


def options(*, max_retries: int = 8, min_backoff: int = SECOND, max_backoff: int = 5 * MINUTE,
            time_limit: int = MINUTE, max_age: int = 7 * DAY, **extra) -> dict:
    """Keyword options for an actor: retries with bounded backoff, time and age limits.

    The age limit only drops a copy of a message that waited too long in Redis: its outbox step
    stays open and is published again, fresh, once its lease runs out (each step re-checks the
    appointment's current state before it acts). OTPs, which have no outbox step, are dropped
    for good, as they should be.
    """
    return {"retry_when": retry_transient(max_retries), "min_backoff": min_backoff,
            "max_backoff": max_backoff, "time_limit": time_limit, "max_age": max_age, **extra}

"""Retry, time-limit and age-limit options shared by the actors.

Only transient failures are retried: a provider's retryable error (5xx, 429, timeout), a lost
database connection, Redis unreachable while sending the next step, a step that ran out of
time (a slow provider: dropping it would lose its Meet link or message). A 4xx from a provider or a
bug would fail the same way again, so it is not retried. Backoff is Dramatiq's exponential
one, bounded by max_backoff; every step is idempotent, so a retry is always safe.
"""

from __future__ import annotations

import psycopg2
import redis
from dramatiq.middleware import TimeLimitExceeded

from mibo.providers.errors import ProviderError

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR


TRANSIENT = (psycopg2.OperationalError, psycopg2.InterfaceError, redis.exceptions.ConnectionError,
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
    """Keyword options for @dramatiq.actor: retries with bounded backoff, time and age limits.

    The outbox row is marked published once Redis has the message, so an expired message is
    work lost: the default age limit is long enough to outlast any worker outage we would
    survive (each step re-checks the appointment's current state before it acts). Actors whose
    work really goes stale (reminders, OTPs) set their own, shorter limits.
    """
    return {"retry_when": retry_transient(max_retries), "min_backoff": min_backoff,
            "max_backoff": max_backoff, "time_limit": time_limit, "max_age": max_age, **extra}

"""Housekeeping the scheduler asks for hourly: expired OTPs, dead sessions, old finished outbox rows.

The scheduler only enqueues `purge_expired` (one message per hour slot, by outbox dedupe key);
the deletes run here, in a worker. Deleting what is already gone deletes nothing, so a second
run, or two runs at once, change nothing.
"""

from __future__ import annotations

from jobs import context
from jobs.broker import actor
from jobs.options import HOUR, MINUTE, options
from mibo.core import db, outbox
from mibo.core.config import Settings

DELETE_EXPIRED_OTPS = "DELETE FROM otp_requests WHERE expires_at < now() - interval '1 day'"

# Revoked sessions are kept while their refresh token could still be replayed (reuse detection).
DELETE_DEAD_SESSIONS = """
DELETE FROM auth_sessions
WHERE expires_at < now() - interval '1 day' OR revoked_at < now() - make_interval(secs => %s)
"""

DELETE_OLD_OUTBOX = "DELETE FROM outbox WHERE done_at < now() - interval '7 days'"


async def purge(pool, settings: Settings) -> dict[str, int]:
    """Delete what has expired; returns how many rows of each kind went."""
    async with db.connection(pool) as cur:
        return {
            "otps": await db.execute(cur, DELETE_EXPIRED_OTPS),
            "sessions": await db.execute(cur, DELETE_DEAD_SESSIONS, (settings.jwt_refresh_ttl,)),
            "outbox": await db.execute(cur, DELETE_OLD_OUTBOX),
        }


# Periodic: the next hour's run is its retry.
@actor(outbox.PURGE_EXPIRED, **options(max_retries=0, time_limit=10 * MINUTE, max_age=HOUR))
async def purge_expired() -> None:
    await purge(await context.pool(), context.settings())

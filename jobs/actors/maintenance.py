"""Housekeeping the scheduler asks for: hourly, expired OTPs, dead sessions, old finished outbox
rows; every minute, website bookings left unpaid past their hold.

The scheduler only enqueues (one message per slot of the clock, by outbox dedupe key); the work
runs here, in a worker. Deleting what is already gone deletes nothing, and a hold released once
is CANCELLED and no longer unpaid-and-BOOKED, so a second run, or two runs at once (SKIP LOCKED),
change nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from jobs import context
from jobs.broker import actor
from jobs.options import HOUR, MINUTE, options
from mibo.core import db, outbox
from mibo.core.actor import WORKER, Actor
from mibo.core.config import Settings
from mibo.domain import appointments

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


async def release_holds(pool, settings: Settings, now: datetime) -> list[int]:
    """Cancel the website bookings unpaid for UNPAID_HOLD_MINUTES ("Payment not received"), each
    through the one status change (its cancellation message, its slot offered again)."""
    async with db.transaction(pool) as cur:
        return await appointments.release_unpaid_holds(cur, Actor.system(WORKER, outbox.RELEASE_UNPAID_HOLDS), now,
                                                       settings.unpaid_hold_minutes)


# Periodic: the next minute's run is its retry.
@actor(outbox.RELEASE_UNPAID_HOLDS, **options(max_retries=0, time_limit=MINUTE, max_age=5 * MINUTE))
async def release_unpaid_holds() -> None:
    await release_holds(await context.pool(), context.settings(), datetime.now(UTC))

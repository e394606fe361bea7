"""The periodic jobs (APScheduler 3, `mibo scheduler`). The scheduler only enqueues.

Every job writes outbox rows with a dedupe key (and publishes them), so two scheduler
processes running at once, or one restarting mid-run, enqueue each piece of work once:

    reminders          every 15 min: the day-before reminder of each live appointment starting
                       tomorrow in its centre's zone, from 09:00 local time on the day before
    notification retry every minute: FAILED messages whose next_attempt_at has come, once per attempt
    cleanup            hourly: jobs.actors.maintenance.purge_expired (expired OTPs, dead sessions, old outbox rows)
    unpaid holds       every minute: jobs.actors.maintenance.release_unpaid_holds (website bookings not paid in time)
    outbox sweep       every 10 s: publish what the API's relay left behind (Redis down, crash), steps
                       whose lease ran out, and every open step when Redis lost its messages
    repair sweeps      jobs.sweeps: stuck messages every minute; appointments without their messages or
                       Meet link, payments left open, and refunds not settled, every 5 min

Each sweep reports job health (SchedulerMetrics.swept): what it found stuck, what it queued again,
and the age of the oldest open item it watches.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from jobs import sweeps
from jobs.metrics import BacklogCollector, SchedulerMetrics, serve
from mibo.core import config, db
from mibo.core import outbox as names
from mibo.core.logs import log_event, setup_logging
from mibo.core.relay import Publisher, publish_pending
from mibo.domain.appointment_states import LIVE_SQL

log = logging.getLogger(__name__)

# Reminders go out from this local hour on the day before, never in the night.
REMINDER_FROM_HOUR = 9

# Tomorrow, in each centre's own zone, relative to %(now)s (a parameter so tests and the bench
# can say what "now" is). Dedupe key: one reminder per appointment and start time.
ENQUEUE_REMINDERS = f"""
INSERT INTO outbox (actor_name, args, dedupe_key)
SELECT %(actor)s, jsonb_build_array(a.id, a.scheduled_start_at),
       'reminder:' || a.id || ':' || EXTRACT(EPOCH FROM a.scheduled_start_at)::bigint
FROM appointments a
JOIN centres c ON c.id = a.centre_id
WHERE a.status IN {LIVE_SQL}
  AND a.scheduled_start_at >= %(now)s
  AND a.scheduled_start_at < %(now)s + interval '2 days'
  AND (a.scheduled_start_at AT TIME ZONE c.timezone)::date = (%(now)s AT TIME ZONE c.timezone)::date + 1
  AND EXTRACT(HOUR FROM %(now)s AT TIME ZONE c.timezone) >= %(from_hour)s
ON CONFLICT (dedupe_key) DO NOTHING
"""

ENQUEUE_NOTIFICATION_RETRIES = """
INSERT INTO outbox (actor_name, args, dedupe_key)
SELECT %(actor)s, jsonb_build_array(id), 'notification-retry:' || id || ':' || attempts
FROM notification_logs
WHERE status = 'FAILED' AND next_attempt_at <= now() AND attempts < %(max_attempts)s AND kind <> 'OTP'
  AND (lease_until IS NULL OR lease_until < now())
ON CONFLICT (dedupe_key) DO NOTHING
"""

ENQUEUE_ONCE = """
INSERT INTO outbox (actor_name, args, dedupe_key) VALUES (%s, '[]'::jsonb, %s)
ON CONFLICT (dedupe_key) DO NOTHING
"""

async def enqueue_reminders(pool, now: datetime) -> int:
    """Queue the day-before reminders due at `now`; returns how many new ones."""
    async with db.connection(pool) as cur:
        return await db.execute(cur, ENQUEUE_REMINDERS, {"actor": names.APPOINTMENT_REMINDER, "now": now,
                                                         "from_hour": REMINDER_FROM_HOUR})


async def enqueue_notification_retries(pool, settings: config.Settings) -> int:
    async with db.connection(pool) as cur:
        return await db.execute(cur, ENQUEUE_NOTIFICATION_RETRIES, {
            "actor": names.SEND_NOTIFICATION, "max_attempts": settings.notification_max_attempts})


async def enqueue_once_per_slot(pool, actor_name: str, now: datetime, slot_minutes: int) -> int:
    """Queue `actor_name` once per slot of the clock, however many schedulers ask (dedupe key)."""
    minutes = now.hour * 60 + now.minute
    start = minutes - minutes % slot_minutes
    slot = now.replace(hour=start // 60, minute=start % 60, second=0, microsecond=0)
    async with db.connection(pool) as cur:
        return await db.execute(cur, ENQUEUE_ONCE, (actor_name, f"{actor_name}:{slot:%Y%m%dT%H%M}"))


async def enqueue_purge(pool, now: datetime) -> int:
    return await enqueue_once_per_slot(pool, names.PURGE_EXPIRED, now, 60)


async def enqueue_hold_release(pool, now: datetime) -> int:
    return await enqueue_once_per_slot(pool, names.RELEASE_UNPAID_HOLDS, now, 1)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def build_scheduler(pool, settings: config.Settings, publisher: Publisher, metrics: SchedulerMetrics):
    scheduler = AsyncIOScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                               "misfire_grace_time": 60})

    def add(name: str, work, **trigger):
        async def run():
            try:
                result = await work()
            except Exception:  # one bad run must not stop the schedule; it is counted and logged
                metrics.failed(name)
                log.exception("periodic job %s failed", name)
                return
            metrics.succeeded(name)
            log_event(log, logging.DEBUG, "periodic job done", job=name, result=str(result))

        scheduler.add_job(run, "interval", id=name, name=name, next_run_time=_utcnow(), **trigger)

    def then_publish(enqueue):
        """Publish what a job queued at once, rather than waiting up to 10 s for the sweep."""
        async def work():
            queued = await enqueue()
            await publish_pending(pool, publisher)
            return queued
        return work

    def reported(name: str, sweep):
        """Record what a sweep saw before the run counts as a success."""
        async def work():
            result = await sweep()
            metrics.swept(name, result)
            return result
        return work

    add("reminders", then_publish(lambda: enqueue_reminders(pool, _utcnow())), minutes=15)
    add("notification_retry", then_publish(lambda: enqueue_notification_retries(pool, settings)), minutes=1)
    add("cleanup", then_publish(lambda: enqueue_purge(pool, _utcnow())), hours=1)
    add("unpaid_holds", then_publish(lambda: enqueue_hold_release(pool, _utcnow())), minutes=1)
    add("outbox_sweep", reported("outbox", lambda: sweeps.outbox_steps(pool, publisher)), seconds=10)
    add("notification_sweep", then_publish(reported("notifications", lambda: sweeps.notifications(pool, settings))),
        minutes=1)
    add("appointment_sweep", then_publish(reported("appointments",
                                                   lambda: sweeps.appointment_messages(pool, settings))), minutes=5)
    add("meet_link_sweep", then_publish(reported("meet_links", lambda: sweeps.meet_links(pool, settings))),
        minutes=5)
    add("payment_sweep", then_publish(reported("payments", lambda: sweeps.payments(pool, settings))), minutes=5)
    add("refund_sweep", then_publish(reported("refunds", lambda: sweeps.refunds(pool, settings))), minutes=5)
    return scheduler


async def run(settings: config.Settings) -> None:
    pool = await db.create_pool(settings, minsize=1, maxsize=4)
    publisher = Publisher(settings)
    metrics = SchedulerMetrics()
    metrics.registry.register(BacklogCollector(settings.database_url, settings.redis_url,
                                               (names.DEFAULT_QUEUE, names.REMINDERS_QUEUE),
                                               refund_waiting_alert=settings.refund_waiting_alert))
    if settings.scheduler_metrics_port:
        serve(metrics.registry, settings.scheduler_metrics_port, host=settings.metrics_host)
    scheduler = build_scheduler(pool, settings, publisher, metrics)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    scheduler.start()
    log.info("scheduler started")
    await stop.wait()
    scheduler.shutdown(wait=False)
    publisher.close()
    pool.close()
    await pool.wait_closed()


def main() -> None:
    settings = config.load()
    setup_logging(settings.log_level)
    asyncio.run(run(settings))

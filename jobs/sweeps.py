"""The scheduler's sweeps: each finds one kind of stuck work in the database and queues it again.

The outbox already republishes a step whose lease ran out. These sweeps look at the effects
themselves, so that work is repaired even when its step was closed without its effect, or was
never queued: the sweep checks what should exist and queues (or opens again) the step that makes
it. Every sweep only writes outbox rows (the scheduler only enqueues), acts on an item only once
it is older than OUTBOX_LEASE (younger ones are still on their way), and reports what it saw:

    outbox         open steps whose lease ran out, or whose Redis lost them → published again
    notifications  PENDING messages nobody is sending any more (no open step, no live attempt)
    appointments   live upcoming appointments without their booking, reschedule or confirmation
                   message → their chain is run again from its first step
    meet_links     live upcoming ONLINE appointments without a Meet link → create_meet_link
    payments       payments still open at Razorpay after PAYMENT_RECONCILE_AFTER_MINUTES →
                   reconcile_payment (which also finds a checkout order whose id was never stored)
    refunds        refunds Razorpay accepted but has not settled after REFUND_RECONCILE_AFTER_MINUTES
                   → reconcile_refund; REQUESTED ones whose issue_refund step is closed → issued again

A repair opens the work's usual step again (same dedupe key) rather than adding a new one, so a
repair that is still open is not queued twice. Only the last 7 days of appointments are looked
at: that is as long as the outbox keeps finished steps.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import redis

from mibo.core import db, outbox, relay
from mibo.core.config import Settings
from mibo.domain import messages
from mibo.domain.appointment_states import LIVE_SQL


@dataclass(frozen=True)
class Sweep:
    found: int  # stuck items seen in this run
    repaired: int  # of them, queued (or opened) again by this run
    oldest_seconds: float  # age of the oldest item still open of the kind the sweep watches


# Insert a step, or open it again once it is done; rows still open are left alone (not counted).
ENSURE = "ON CONFLICT (dedupe_key) DO UPDATE SET done_at = NULL, due_at = '-infinity' WHERE outbox.done_at IS NOT NULL"

OPEN_STEPS = """
SELECT count(*) FILTER (WHERE published_at IS NOT NULL AND due_at <= now()) AS found,
       COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) AS oldest
FROM outbox WHERE done_at IS NULL
"""

STUCK_NOTIFICATIONS = f"""
WITH stuck AS (
  SELECT n.id FROM notification_logs n
  WHERE n.status = 'PENDING' AND n.kind <> 'OTP' AND n.attempts < %(max_attempts)s
    AND n.created_at < now() - make_interval(secs => %(grace)s)
    AND (n.lease_until IS NULL OR n.lease_until < now())
    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.actor_name = %(actor)s AND o.args = jsonb_build_array(n.id)
                    AND o.done_at IS NULL)
), queued AS (
  INSERT INTO outbox (actor_name, args, dedupe_key)
  SELECT %(actor)s, jsonb_build_array(id), %(actor)s || ':' || id FROM stuck
  {ENSURE}
  RETURNING 1
)
SELECT (SELECT count(*) FROM stuck) AS found, (SELECT count(*) FROM queued) AS repaired,
       (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) FROM notification_logs
        WHERE status = 'PENDING' AND kind <> 'OTP') AS oldest
"""

# What each live upcoming appointment of the last week should have had sent, and since when: its
# booking message (a moved one: the reschedule message instead), and once confirmed by a
# transition, its confirmation. Patients without a phone are sent nothing, so nothing is missing.
MISSING_MESSAGES = f"""
WITH expected AS (
  SELECT a.id, a.created_at AS since,
         CASE WHEN a.parent_appointment_id IS NULL THEN %(booked)s ELSE %(rescheduled)s END AS kind,
         CASE WHEN a.parent_appointment_id IS NULL THEN %(booked_actor)s ELSE %(rescheduled_actor)s END AS actor,
         CASE WHEN a.parent_appointment_id IS NULL THEN jsonb_build_array(a.id)
              ELSE jsonb_build_array(a.parent_appointment_id, a.id) END AS args,
         CASE WHEN a.parent_appointment_id IS NULL THEN %(booked_actor)s || ':' || a.id
              ELSE %(rescheduled_actor)s || ':' || a.parent_appointment_id END AS dedupe_key
  FROM appointments a
  JOIN patient_profiles pp ON pp.id = a.patient_id
  JOIN users pu ON pu.id = pp.user_id
  WHERE a.status IN {LIVE_SQL} AND a.scheduled_start_at > now() AND a.created_at > now() - interval '7 days'
    AND pu.phone IS NOT NULL
    -- a website booking is told when its payment confirms it (the second branch), not when held
    AND (a.parent_appointment_id IS NOT NULL OR a.source <> 'WEB_PATIENT')
  UNION ALL
  SELECT a.id, h.created_at, %(confirmed)s, %(confirmed_actor)s, jsonb_build_array(a.id),
         %(confirmed_actor)s || ':' || a.id
  FROM appointments a
  JOIN appointment_status_history h ON h.appointment_id = a.id AND h.to_status = 'CONFIRMED'
                                   AND h.from_status IS NOT NULL
  JOIN patient_profiles pp ON pp.id = a.patient_id
  JOIN users pu ON pu.id = pp.user_id
  WHERE a.status = 'CONFIRMED' AND a.scheduled_start_at > now() AND a.created_at > now() - interval '7 days'
    AND pu.phone IS NOT NULL
), missing AS (
  SELECT e.* FROM expected e
  WHERE NOT EXISTS (SELECT 1 FROM notification_logs n WHERE n.appointment_id = e.id AND n.kind = e.kind)
), queued AS (
  INSERT INTO outbox (actor_name, args, dedupe_key)
  SELECT DISTINCT ON (dedupe_key) actor, args, dedupe_key FROM missing
  WHERE since < now() - make_interval(secs => %(grace)s)
  {ENSURE}
  RETURNING 1
)
SELECT (SELECT count(*) FROM missing WHERE since < now() - make_interval(secs => %(grace)s)) AS found,
       (SELECT count(*) FROM queued) AS repaired,
       (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(since)), 0) FROM missing) AS oldest
"""

MISSING_MEET_LINKS = f"""
WITH missing AS (
  SELECT id, created_at FROM appointments
  WHERE appointment_type = 'ONLINE' AND status IN {LIVE_SQL} AND meet_link IS NULL
    AND scheduled_start_at > now() AND created_at > now() - interval '7 days'
    AND NOT (status = 'BOOKED' AND source = 'WEB_PATIENT')  -- an unpaid website hold gets its link once paid
), queued AS (
  INSERT INTO outbox (actor_name, args, dedupe_key)
  SELECT %(actor)s, jsonb_build_array(id, ''), %(actor)s || ':' || id || ':' FROM missing
  WHERE created_at < now() - make_interval(secs => %(grace)s)
  {ENSURE}
  RETURNING 1
)
SELECT (SELECT count(*) FROM missing WHERE created_at < now() - make_interval(secs => %(grace)s)) AS found,
       (SELECT count(*) FROM queued) AS repaired,
       (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) FROM missing) AS oldest
"""

# Open Razorpay payments nobody settled for a while. Flagged ones wait for staff, not for us.
STALE_PAYMENTS = f"""
WITH open AS (
  SELECT id, created_at, updated_at FROM payments
  WHERE status IN ('CREATED', 'PENDING') AND channel <> 'DESK' AND flagged_at IS NULL
), stale AS (
  SELECT id FROM open WHERE updated_at < now() - make_interval(mins => %(after)s)
), queued AS (
  INSERT INTO outbox (actor_name, args, dedupe_key)
  SELECT %(actor)s, jsonb_build_array(id), %(actor)s || ':' || id FROM stale
  {ENSURE}
  RETURNING 1
)
SELECT (SELECT count(*) FROM stale) AS found, (SELECT count(*) FROM queued) AS repaired,
       (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) FROM open) AS oldest
"""


# PROCESSING: Razorpay took it on and no webhook settled it. REQUESTED without an open step: its
# issue_refund step was given up (its retries and leases ran out) and the refund never issued.
STUCK_REFUNDS = f"""
WITH open AS (
  SELECT id, status, created_at, processing_at FROM refunds WHERE status IN ('REQUESTED', 'PROCESSING')
), stuck AS (
  SELECT id, CASE WHEN status = 'PROCESSING' THEN %(reconcile)s ELSE %(issue)s END AS actor FROM open
  WHERE (status = 'PROCESSING' AND processing_at < now() - make_interval(mins => %(after)s))
     OR (status = 'REQUESTED' AND created_at < now() - make_interval(secs => %(grace)s)
         AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.actor_name = %(issue)s AND o.args = jsonb_build_array(open.id)
                         AND o.done_at IS NULL))
), queued AS (
  INSERT INTO outbox (actor_name, args, dedupe_key)
  SELECT actor, jsonb_build_array(id), actor || ':' || id FROM stuck
  {ENSURE}
  RETURNING 1
)
SELECT (SELECT count(*) FROM stuck) AS found, (SELECT count(*) FROM queued) AS repaired,
       (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) FROM open) AS oldest
"""


def _sweep(row: dict) -> Sweep:
    return Sweep(int(row["found"]), int(row["repaired"]), float(row["oldest"]))


async def outbox_steps(pool, publisher: relay.Publisher) -> Sweep:
    """The broker check, then every due step published; found/repaired count the steps due again.

    While Redis is unreachable nothing is published (the rows record why) and nothing is repaired.
    """
    with contextlib.suppress(redis.RedisError):
        await relay.check_broker(pool, publisher)
    row = await db.query_one(pool, OPEN_STEPS)
    _, again = await relay.publish_due(pool, publisher)
    return Sweep(int(row["found"]), again, float(row["oldest"]))


async def notifications(pool, settings: Settings) -> Sweep:
    async with db.connection(pool) as cur:
        return _sweep(await db.fetch_one(cur, STUCK_NOTIFICATIONS, {
            "actor": outbox.SEND_NOTIFICATION, "max_attempts": settings.notification_max_attempts,
            "grace": settings.notification_lease}))


async def appointment_messages(pool, settings: Settings) -> Sweep:
    async with db.connection(pool) as cur:
        return _sweep(await db.fetch_one(cur, MISSING_MESSAGES, {
            "booked": messages.BOOKED, "rescheduled": messages.RESCHEDULED, "confirmed": messages.CONFIRMED,
            "booked_actor": outbox.APPOINTMENT_BOOKED, "rescheduled_actor": outbox.APPOINTMENT_RESCHEDULED,
            "confirmed_actor": outbox.APPOINTMENT_CONFIRMED, "grace": settings.outbox_lease}))


async def meet_links(pool, settings: Settings) -> Sweep:
    async with db.connection(pool) as cur:
        return _sweep(await db.fetch_one(cur, MISSING_MEET_LINKS, {
            "actor": outbox.CREATE_MEET_LINK, "grace": settings.outbox_lease}))


async def payments(pool, settings: Settings) -> Sweep:
    async with db.connection(pool) as cur:
        return _sweep(await db.fetch_one(cur, STALE_PAYMENTS, {
            "actor": outbox.RECONCILE_PAYMENT, "after": settings.payment_reconcile_after_minutes}))


async def refunds(pool, settings: Settings) -> Sweep:
    async with db.connection(pool) as cur:
        return _sweep(await db.fetch_one(cur, STUCK_REFUNDS, {
            "reconcile": outbox.RECONCILE_REFUND, "issue": outbox.ISSUE_REFUND,
            "after": settings.refund_reconcile_after_minutes, "grace": settings.outbox_lease}))

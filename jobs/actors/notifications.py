"""WhatsApp notifications: one notification_logs row per message, sent at most once.

Two steps. `notify_appointment` writes the rows for a (appointment, kind) with
INSERT ... ON CONFLICT DO NOTHING on idempotency_key, so running it twice adds nothing, then
queues `send_notification` for each row still to send. `send_notification` locks its row,
re-checks the appointment as it is NOW (a message that no longer applies is marked SUPERSEDED,
not sent), calls Gallabox once and records the outcome. A row already SENT is left alone, and
a row another worker is sending is skipped (its lock is held for the duration of the call).

The contract other modules rely on (payments, OTPs): write a row with
mibo.domain.notifications.add (template_name, recipient_phone and payload
{"name": ..., "bodyValues": {...}}) and queue send_notification(row id) through the outbox.
"""

from __future__ import annotations

import logging
from datetime import datetime

from jobs import context
from jobs.broker import actor
from jobs.options import HOUR, MINUTE, SECOND, options
from mibo.core import db
from mibo.core import outbox as names
from mibo.core.logs import log_event, mask_phone
from mibo.domain import messages, notifications
from mibo.domain.appointments import PEOPLE_JOINS
from mibo.domain.otp_delivery import KIND as OTP_KIND
from mibo.providers.errors import ProviderError
from mibo.providers.gallabox import GallaboxClient

log = logging.getLogger(__name__)

APPOINTMENT_FOR_MESSAGES = f"""
SELECT a.id, a.status, a.appointment_type, a.scheduled_start_at, a.meet_link, a.cancellation_reason,
       c.name AS centre_name, c.timezone,
       pu.id AS patient_user_id, pu.full_name AS patient_name, pu.phone AS patient_phone,
       cu.id AS clinician_user_id, cu.full_name AS clinician_name, cu.phone AS clinician_phone
FROM appointments a {PEOPLE_JOINS}
WHERE a.id = %s
"""

NOTIFICATIONS_TO_SEND = """
SELECT id FROM notification_logs
WHERE idempotency_key = ANY(%s) AND status IN ('PENDING', 'FAILED')
ORDER BY id
"""

# SKIP LOCKED: a row locked by another worker is being sent right now; this message is a duplicate.
NOTIFICATION_FOR_SENDING = """
SELECT n.id, n.kind, n.status, n.attempts, n.template_name, n.recipient_phone, n.payload,
       a.status AS appointment_status, a.scheduled_start_at
FROM notification_logs n
LEFT JOIN appointments a ON a.id = n.appointment_id
WHERE n.id = %s
FOR UPDATE OF n SKIP LOCKED
"""

# last_error is kept: with attempts it tells what the earlier tries ran into. sent_at is when
# Gallabox accepted it (clock_timestamp(); now() would be the transaction start, before the call).
MARK_SENT = """
UPDATE notification_logs
SET status = 'SENT', attempts = attempts + 1, provider_message_id = %s, sent_at = clock_timestamp(),
    next_attempt_at = NULL
WHERE id = %s
"""

# The scheduler retries FAILED rows once next_attempt_at passes; NULL means "given up".
MARK_FAILED = """
UPDATE notification_logs
SET status = 'FAILED', attempts = attempts + 1, last_error = %(error)s,
    next_attempt_at = CASE WHEN %(retry_in)s::int IS NULL THEN NULL
                           ELSE now() + make_interval(secs => %(retry_in)s::int) END
WHERE id = %(id)s
"""

MARK_SUPERSEDED = "UPDATE notification_logs SET status = 'SUPERSEDED', next_attempt_at = NULL WHERE id = %s"


def retry_delay_seconds(attempts: int) -> int:
    """Wait before the scheduler tries a FAILED message again: 1, 2, 4 ... minutes, at most an hour."""
    return min(60 * 2 ** max(attempts - 1, 0), 3600)


async def queue_messages(appointment_id: int, kind: str, start_iso: str | None = None) -> list[int]:
    """Write the rows for (appointment, kind) once, and queue a send for each row not yet sent."""
    pool = await context.pool()
    async with db.transaction(pool) as cur:
        appt = await db.fetch_one(cur, APPOINTMENT_FOR_MESSAGES, (appointment_id,))
        if appt is None:
            log_event(log, logging.WARNING, "no such appointment", appointmentId=appointment_id, kind=kind)
            return []
        starts_at = datetime.fromisoformat(start_iso) if start_iso else appt["scheduled_start_at"]
        rows = messages.build_messages(appt, kind, starts_at)
        for row in rows:
            await notifications.add(cur, **row)
        pending = await db.fetch_all(cur, NOTIFICATIONS_TO_SEND, ([row["idempotency_key"] for row in rows],))
    ids = [row["id"] for row in pending]
    for notification_id in ids:
        await context.in_thread(send_notification.send, notification_id)
    return ids


@actor(names.NOTIFY_APPOINTMENT, **options(time_limit=30 * SECOND))
async def notify_appointment(appointment_id: int, kind: str) -> None:
    await queue_messages(appointment_id, kind)


@actor(names.APPOINTMENT_REMINDER, **options(time_limit=30 * SECOND, max_age=12 * HOUR))
async def appointment_reminder(appointment_id: int, start_iso: str) -> None:
    """The day-before reminder, for the start time it was queued for (see messages.is_superseded)."""
    await queue_messages(appointment_id, messages.REMINDER, start_iso)


@actor(names.SEND_NOTIFICATION,
       **options(max_retries=4, min_backoff=SECOND, max_backoff=MINUTE, time_limit=MINUTE))
async def send_notification(notification_log_id: int) -> None:
    await deliver(notification_log_id)


async def deliver(notification_log_id: int, secret_values: dict | None = None) -> str:
    """Send one notification_logs row if it still should be sent; returns the row's new status.

    `secret_values` are template values that must not be stored (the OTP); they are merged into
    the stored bodyValues for this call only. An OTP row cannot be sent without them.

    A retryable failure is recorded first (attempts, error, next_attempt_at) and then raised, so
    Dramatiq retries it soon; once attempts reach NOTIFICATION_MAX_ATTEMPTS it stays FAILED.
    """
    pool = await context.pool()
    failure: ProviderError | None = None
    async with db.transaction(pool) as cur:
        row = await db.fetch_one(cur, NOTIFICATION_FOR_SENDING, (notification_log_id,))
        if row is None:
            return "LOCKED_OR_MISSING"
        max_attempts = context.settings().notification_max_attempts
        if row["status"] not in ("PENDING", "FAILED") or row["attempts"] >= max_attempts:
            return row["status"]
        if row["kind"] == OTP_KIND and not secret_values:
            return row["status"]
        if messages.is_superseded(row["kind"], row["payload"], row["appointment_status"],
                                  row["scheduled_start_at"]):
            await db.execute(cur, MARK_SUPERSEDED, (row["id"],))
            log_event(log, logging.INFO, "notification superseded", notificationId=row["id"],
                      kind=row["kind"])
            return "SUPERSEDED"
        payload = row["payload"]
        try:
            message_id = await context.gallabox_call(
                GallaboxClient.send_template, row["recipient_phone"], payload.get("name") or "",
                row["template_name"], {**(payload.get("bodyValues") or {}), **(secret_values or {})})
        except ProviderError as exc:
            attempts = row["attempts"] + 1
            again = exc.retryable and attempts < max_attempts
            # An OTP cannot be retried later (its code is gone); its own message retries briefly.
            retry_in = retry_delay_seconds(attempts) if again and row["kind"] != OTP_KIND else None
            await db.execute(cur, MARK_FAILED, {"id": row["id"], "error": str(exc)[:500],
                                                "retry_in": retry_in})
            log_event(log, logging.WARNING, "notification failed", notificationId=row["id"],
                      phone=mask_phone(row["recipient_phone"]), attempts=attempts, error=exc.message[:200])
            failure = exc if again else None
            outcome = "FAILED"
        else:
            await db.execute(cur, MARK_SENT, (message_id, row["id"]))
            log_event(log, logging.INFO, "notification sent", notificationId=row["id"], kind=row["kind"],
                      phone=mask_phone(row["recipient_phone"]))
            outcome = "SENT"
    if failure is not None:
        raise failure
    return outcome

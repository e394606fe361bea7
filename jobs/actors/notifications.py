"""WhatsApp notifications: one notification_logs row per message, sent at most once but for a crash.

Two steps. `notify_appointment` writes the rows for a (appointment, kind) with
INSERT ... ON CONFLICT DO NOTHING on idempotency_key, so running it twice adds nothing, and
queues `send_notification` for each row still PENDING, through the outbox, in the same
transaction; the patient's notification on the website (mibo.domain.patient_notifications) is
stored in that transaction too, keyed by the same event, unless the message no longer applies.
`send_notification` re-checks the appointment as it is NOW (a message that no longer applies is
marked SUPERSEDED, not sent), commits its attempt, calls Gallabox once and
commits the outcome (see mibo.domain.notifications for why no transaction spans the call). A row
already SENT is left alone, and a row another worker is sending (its lease runs) is skipped.

The contract other modules rely on (payments, OTPs): write a row with
mibo.domain.notifications.add (template_name, recipient_phone and payload
{"name": ..., "bodyValues": {...}}) and queue send_notification(row id) through the outbox.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from jobs import context
from jobs.broker import actor
from jobs.options import HOUR, MINUTE, SECOND, options
from mibo.core import db, outbox
from mibo.core.logs import log_event, mask_phone
from mibo.domain import messages, notifications, patient_notifications
from mibo.domain.appointments import PEOPLE_JOINS
from mibo.domain.otp_delivery import KIND as OTP_KIND
from mibo.providers.errors import ProviderError
from mibo.providers.gallabox import GallaboxClient

log = logging.getLogger(__name__)

APPOINTMENT_FOR_MESSAGES = f"""
SELECT a.id, a.patient_id, a.status, a.appointment_type, a.scheduled_start_at, a.meet_link, a.cancellation_reason,
       a.cancelled_by_block_id,
       EXISTS (SELECT 1 FROM payments p WHERE p.appointment_id = a.id AND p.refund_requested_at IS NOT NULL)
           AS refund_due,
       c.name AS centre_name, c.timezone,
       pu.id AS patient_user_id, pu.full_name AS patient_name, pu.phone AS patient_phone,
       cu.id AS clinician_user_id, cu.full_name AS clinician_name, cu.phone AS clinician_phone
FROM appointments a {PEOPLE_JOINS}
WHERE a.id = %s
"""

# Only rows never tried: a FAILED row is tried again on its own schedule (next_attempt_at).
NOTIFICATIONS_TO_SEND = """
SELECT id FROM notification_logs
WHERE idempotency_key = ANY(%s) AND status = 'PENDING'
ORDER BY id
"""


async def queue_messages(appointment_id: int, kind: str, start_iso: str | None = None) -> list[int]:
    """Write the rows for (appointment, kind) once, and queue a send for each row not yet tried."""
    async with db.transaction(await context.pool()) as cur:
        appt = await db.fetch_one(cur, APPOINTMENT_FOR_MESSAGES, (appointment_id,))
        if appt is None:
            log_event(log, logging.WARNING, "no such appointment", appointmentId=appointment_id, kind=kind)
            return []
        starts_at = datetime.fromisoformat(start_iso) if start_iso else appt["scheduled_start_at"]
        if kind == messages.REMINDER and starts_at <= datetime.now(UTC):
            return []  # a reminder delayed past the appointment's start is of no use any more
        rows = messages.build_messages(appt, kind, starts_at)
        for row in rows:
            await notifications.add(cur, **row)
        if not messages.is_superseded(kind, {"startsAt": starts_at.isoformat()}, appt["status"],
                                      appt["scheduled_start_at"]):
            await patient_notifications.add(cur, **patient_notifications.about_appointment(appt, kind, starts_at))
        pending = await db.fetch_all(cur, NOTIFICATIONS_TO_SEND, ([row["idempotency_key"] for row in rows],))
        for row in pending:
            await outbox.enqueue_step(cur, outbox.SEND_NOTIFICATION, row["id"])
    return [row["id"] for row in pending]


@actor(outbox.NOTIFY_APPOINTMENT, fields=("appointmentId", "kind"), **options(time_limit=30 * SECOND))
async def notify_appointment(appointment_id: int, kind: str) -> None:
    await queue_messages(appointment_id, kind)


@actor(outbox.APPOINTMENT_REMINDER, fields=("appointmentId", "startsAt"),
       **options(time_limit=30 * SECOND, max_age=12 * HOUR))
async def appointment_reminder(appointment_id: int, start_iso: str) -> None:
    """The day-before reminder, for the start time it was queued for (see messages.is_superseded)."""
    await queue_messages(appointment_id, messages.REMINDER, start_iso)


@actor(outbox.SEND_NOTIFICATION, fields=("notificationId",),
       **options(max_retries=4, min_backoff=SECOND, max_backoff=MINUTE, time_limit=MINUTE))
async def send_notification(notification_log_id: int) -> None:
    await deliver(notification_log_id)


async def deliver(notification_log_id: int, secret_values: dict | None = None) -> str:
    """Send one notification_logs row if it still should be sent; returns the row's new status.

    `secret_values` are template values that must not be stored (the OTP); they are merged into
    the stored bodyValues for this call only. An OTP row cannot be sent without them.

    A retryable failure is recorded first (error, next_attempt_at) and then raised, so Dramatiq
    retries it soon; once attempts reach NOTIFICATION_MAX_ATTEMPTS it stays FAILED.
    """
    settings = context.settings()
    # One connection for the whole send, so that the outcome is written the moment Gallabox
    # answers, with no wait for the pool in between.
    async with db.connection(await context.pool()) as cur:
        async with cur.begin():
            row = await notifications.for_sending(cur, notification_log_id)
            if row is None:
                return "LOCKED_OR_MISSING"
            if row["status"] not in ("PENDING", "FAILED") or row["attempts"] >= settings.notification_max_attempts:
                return row["status"]
            if row["in_flight"]:
                return "IN_FLIGHT"  # another worker's attempt; if it died, the sweep queues the row again
            if row["kind"] == OTP_KIND and not secret_values:
                return row["status"]
            if messages.is_superseded(row["kind"], row["payload"], row["appointment_status"],
                                      row["scheduled_start_at"]):
                await notifications.supersede(cur, row["id"])
                log_event(log, logging.INFO, "notification superseded", notificationId=row["id"], kind=row["kind"])
                return "SUPERSEDED"
            await notifications.claim(cur, row["id"], settings.notification_lease)
        attempts = row["attempts"] + 1
        payload = row["payload"]
        try:
            message_id = await context.gallabox_call(
                GallaboxClient.send_template, row["recipient_phone"], payload.get("name") or "",
                row["template_name"], {**(payload.get("bodyValues") or {}), **(secret_values or {})})
        except ProviderError as exc:
            again = exc.retryable and attempts < settings.notification_max_attempts
            # An OTP cannot be retried later (its code is gone); its own message retries briefly.
            retry_in = notifications.retry_delay_seconds(attempts) if again and row["kind"] != OTP_KIND else None
            await notifications.record_failure(cur, row["id"], str(exc), retry_in)
            log_event(log, logging.WARNING, "notification failed", notificationId=row["id"],
                      phone=mask_phone(row["recipient_phone"]), attempts=attempts, error=exc.message[:200])
            if again:
                raise
            return "FAILED"
        await notifications.record_sent(cur, row["id"], message_id)
    log_event(log, logging.INFO, "notification sent", notificationId=row["id"], kind=row["kind"],
              phone=mask_phone(row["recipient_phone"]))
    return "SENT"

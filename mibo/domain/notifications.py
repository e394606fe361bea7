"""WhatsApp notifications: the notification_logs rows, sending them, and asking for an appointment's.

A row is one message to one recipient, keyed by its idempotency key (see messages.idempotency_key),
so whoever writes it (the booking chain, a payment link, an OTP, a repeated request) writes it
once. Asking for a confirmation or a reminder only queues work through the outbox: the same
actors as the booking chain write and send the rows.

Sending is three writes around one Gallabox call, none of them held open across it: `claim`
commits the attempt (attempts + 1, its start, a lease that keeps other workers off the row),
then Gallabox is called, then `record_sent` or `record_failure` commits the outcome. Gallabox has
no idempotency key, so an attempt whose outcome never got written (its worker died) cannot be
looked up: once its lease runs out the row is sent again. That is the one way a patient can get
a message twice, and only for a crash between the call and the write of its outcome.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from mibo.core import db, listing, outbox, tables
from mibo.core.actor import Actor
from mibo.core.errors import ApiError
from mibo.domain.access import check_centre
from mibo.domain.appointment_states import LIVE

INSERT_NOTIFICATION = """
INSERT INTO notification_logs (idempotency_key, appointment_id, user_id, channel, kind, template_name,
                               recipient_phone, payload)
VALUES (%(idempotency_key)s, %(appointment_id)s, %(user_id)s, 'WHATSAPP', %(kind)s, %(template_name)s,
        %(recipient_phone)s, %(payload)s::jsonb)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id
"""

# SKIP LOCKED: a row locked by another worker is being claimed right now; this message is a duplicate.
NOTIFICATION_FOR_SENDING = """
SELECT n.id, n.kind, n.status, n.attempts, n.template_name, n.recipient_phone, n.payload,
       COALESCE(n.lease_until > now(), false) AS in_flight,
       a.status AS appointment_status, a.scheduled_start_at
FROM notification_logs n
LEFT JOIN appointments a ON a.id = n.appointment_id
WHERE n.id = %s
FOR UPDATE OF n SKIP LOCKED
"""

CLAIM = """
UPDATE notification_logs
SET attempts = attempts + 1, attempt_started_at = clock_timestamp(),
    lease_until = clock_timestamp() + make_interval(secs => %s)
WHERE id = %s
"""

# last_error is kept: with attempts it tells what the earlier tries ran into. sent_at is when the
# outcome was written, right after Gallabox accepted it.
MARK_SENT = """
UPDATE notification_logs
SET status = 'SENT', provider_message_id = %s, sent_at = clock_timestamp(), next_attempt_at = NULL,
    lease_until = NULL
WHERE id = %s
"""

# The scheduler retries FAILED rows once next_attempt_at passes; NULL means "given up".
MARK_FAILED = """
UPDATE notification_logs
SET status = 'FAILED', last_error = %(error)s, lease_until = NULL,
    next_attempt_at = CASE WHEN %(retry_in)s::int IS NULL THEN NULL
                           ELSE now() + make_interval(secs => %(retry_in)s::int) END
WHERE id = %(id)s
"""

MARK_SUPERSEDED = "UPDATE notification_logs SET status = 'SUPERSEDED', next_attempt_at = NULL WHERE id = %s"

APPOINTMENT_TO_NOTIFY = """
SELECT id, patient_id, centre_id, clinician_id, status, appointment_type, scheduled_start_at, meet_link,
       calendar_event_id
FROM appointments WHERE id = %s
"""

# Reads the CTE `page` built by mibo.core.listing.
HISTORY_PAGE = """
SELECT n.id, n.appointment_id, n.user_id, n.channel, n.kind, n.template_name, n.recipient_phone, n.status,
       n.attempts, n.last_error, n.provider_message_id, n.next_attempt_at, n.sent_at, n.created_at,
       page.total
FROM page JOIN notification_logs n ON n.id = page.id
ORDER BY page.ord
"""


async def add(cur, *, idempotency_key: str, kind: str, template_name: str, recipient_phone: str,
              payload: dict, appointment_id: int | None = None, user_id: int | None = None) -> int | None:
    """Write one WhatsApp message to send; its id, or None when its key was already written."""
    return await db.fetch_value(cur, INSERT_NOTIFICATION, {
        "idempotency_key": idempotency_key, "appointment_id": appointment_id, "user_id": user_id, "kind": kind,
        "template_name": template_name, "recipient_phone": recipient_phone, "payload": json.dumps(payload),
    })


async def for_sending(cur, notification_id: int) -> dict[str, Any] | None:
    """The row to send, locked, with its appointment's status and start (to tell if it still applies);
    None when it does not exist or another worker holds it."""
    return await db.fetch_one(cur, NOTIFICATION_FOR_SENDING, (notification_id,))


async def claim(cur, notification_id: int, lease_seconds: int) -> None:
    """Put an attempt on record before the call: no other worker sends the row for `lease_seconds`."""
    await db.execute(cur, CLAIM, (lease_seconds, notification_id))


async def record_sent(cur, notification_id: int, provider_message_id: str) -> None:
    await db.execute(cur, MARK_SENT, (provider_message_id, notification_id))


async def record_failure(cur, notification_id: int, error: str, retry_in: int | None) -> None:
    """A failed attempt: retried after `retry_in` seconds by the scheduler, or never (None)."""
    await db.execute(cur, MARK_FAILED, {"id": notification_id, "error": error[:500], "retry_in": retry_in})


async def supersede(cur, notification_id: int) -> None:
    await db.execute(cur, MARK_SUPERSEDED, (notification_id,))


def retry_delay_seconds(attempts: int) -> int:
    """Wait before the scheduler tries a FAILED message again: 1, 2, 4 ... minutes, at most an hour."""
    return min(60 * 2 ** max(attempts - 1, 0), 3600)


async def appointment_to_notify(cur, appointment_id: int) -> dict[str, Any]:
    appt = await db.fetch_one(cur, APPOINTMENT_TO_NOTIFY, (appointment_id,))
    if appt is None:
        raise ApiError.not_found("appointment")
    return appt


async def live_appointment(cur, actor: Actor, appointment_id: int) -> dict[str, Any]:
    """An appointment to send messages about: 404 if missing, 403 outside the actor's centres,
    422 unless it is still booked or confirmed."""
    appt = await appointment_to_notify(cur, appointment_id)
    check_centre(actor, appt["centre_id"])
    if appt["status"] not in LIVE:
        raise ApiError.unprocessable(
            f"The appointment is {appt['status']}; only booked or confirmed ones qualify",
            {"appointmentId": [f"Appointment is {appt['status']}."]}, code="APPOINTMENT_NOT_LIVE")
    return appt


async def queue_confirmation(cur, actor: Actor, appointment_id: int) -> dict[str, Any]:
    """Queue the appointment's confirmation messages (sent once per recipient, however often asked)."""
    appt = await live_appointment(cur, actor, appointment_id)
    await outbox.enqueue(cur, outbox.APPOINTMENT_CONFIRMED, appt["id"])
    return appt


async def queue_reminder(cur, actor: Actor, appointment_id: int) -> tuple[dict[str, Any], bool]:
    """Queue the reminder for the appointment's current start; (appointment, queued now)."""
    appt = await live_appointment(cur, actor, appointment_id)
    start = appt["scheduled_start_at"]
    # The scheduler's key: a reminder asked for here is not sent again by the daily run.
    key = outbox.reminder_dedupe_key(appt["id"], int(start.timestamp()))
    outbox_id = await outbox.enqueue(cur, outbox.APPOINTMENT_REMINDER, appt["id"], start.isoformat(), dedupe_key=key)
    return appt, outbox_id is not None


def local_midnight(day: dt.date, tz: str) -> dt.datetime:
    """The instant `day` begins in zone `tz`."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(tz))


async def history(cur, filters: dict[str, Any], tz: str, limit: int, offset: int):
    """Messages matching `filters` (appointment_id, status, kind; from_/to as days in zone `tz`),
    newest first; returns (rows, total)."""
    n = tables.notification_logs
    where = [getattr(n.c, name) == filters[name] for name in ("appointment_id", "status", "kind") if name in filters]
    if "from_" in filters:
        where.append(n.c.created_at >= local_midnight(filters["from_"], tz))
    if "to" in filters:
        where.append(n.c.created_at < local_midnight(filters["to"] + dt.timedelta(days=1), tz))
    page = listing.page_of_ids(n.c.id, where, (n.c.created_at.desc(), n.c.id.desc()), limit, offset)
    return await listing.fetch_page(cur, page, HISTORY_PAGE, offset)

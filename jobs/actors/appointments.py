"""The appointment chains, started by the outbox rows the appointments domain writes.

Each actor is one step and takes ids only: it reads the appointment as it is now, makes its one
provider call (if any) outside any transaction, and queues the next step through the outbox in
the transaction that records its effect, never straight to Redis. Running any of them twice
changes nothing the second time (the Meet link and each message are keyed in the database;
moving or cancelling an event again is a no-op at Google).

    booked      → (ONLINE, no link yet) create_meet_link → notify BOOKED
    confirmed   → (ONLINE, no link yet) create_meet_link → notify CONFIRMED (patient + clinician)
    rescheduled → move the Calendar event to the new time → notify RESCHEDULED
    cancelled   → cancel the Calendar event → notify CANCELLED (with the reason)
"""

from __future__ import annotations

from jobs import context
from jobs.broker import actor
from jobs.options import MINUTE, SECOND, options
from mibo.core import db, outbox
from mibo.domain import messages
from mibo.providers.google_calendar import GoogleCalendar

APPOINTMENT_STATE = """
SELECT id, appointment_type, scheduled_start_at, scheduled_end_at, meet_link, calendar_event_id
FROM appointments WHERE id = %s
"""

# A rescheduled ONLINE consultation keeps its meeting: the new row takes over the old event.
CARRY_MEETING_OVER = """
UPDATE appointments AS new SET meet_link = old.meet_link, calendar_event_id = old.calendar_event_id
FROM appointments AS old
WHERE new.id = %s AND old.id = %s AND new.appointment_type = 'ONLINE'
  AND new.meet_link IS NULL AND old.meet_link IS NOT NULL
"""


async def _start_chain(appointment_id: int, kind: str) -> None:
    async with db.transaction(await context.pool()) as cur:
        appt = await db.fetch_one(cur, APPOINTMENT_STATE, (appointment_id,))
        if appt is None:
            return
        if appt["appointment_type"] == "ONLINE" and appt["meet_link"] is None:
            await outbox.enqueue_step(cur, outbox.CREATE_MEET_LINK, appointment_id, kind)
        else:
            await outbox.enqueue_step(cur, outbox.NOTIFY_APPOINTMENT, appointment_id, kind)


async def _notify(appointment_id: int, kind: str) -> None:
    async with db.transaction(await context.pool()) as cur:
        await outbox.enqueue_step(cur, outbox.NOTIFY_APPOINTMENT, appointment_id, kind)


@actor(outbox.APPOINTMENT_BOOKED, fields=("appointmentId",), **options(time_limit=30 * SECOND))
async def appointment_booked(appointment_id: int) -> None:
    await _start_chain(appointment_id, messages.BOOKED)


@actor(outbox.APPOINTMENT_CONFIRMED, fields=("appointmentId",), **options(time_limit=30 * SECOND))
async def appointment_confirmed(appointment_id: int) -> None:
    await _start_chain(appointment_id, messages.CONFIRMED)


@actor(outbox.APPOINTMENT_RESCHEDULED, fields=("fromAppointmentId", "appointmentId"),
       **options(time_limit=2 * MINUTE))
async def appointment_rescheduled(old_appointment_id: int, new_appointment_id: int) -> None:
    async with db.transaction(await context.pool()) as cur:
        await db.execute(cur, CARRY_MEETING_OVER, (new_appointment_id, old_appointment_id))
        old = await db.fetch_one(cur, APPOINTMENT_STATE, (old_appointment_id,))
        new = await db.fetch_one(cur, APPOINTMENT_STATE, (new_appointment_id,))
        if new is not None and new["appointment_type"] == "ONLINE" and new["meet_link"] is None:
            await outbox.enqueue_step(cur, outbox.CREATE_MEET_LINK, new_appointment_id, messages.RESCHEDULED)
            return
    if new is None:
        return
    calendar_id = context.settings().google_calendar_id
    if new["appointment_type"] == "ONLINE":
        if new["calendar_event_id"]:
            # Patching the time is idempotent: a second run sets the same time again.
            await context.calendar_call(GoogleCalendar.update_event_time, calendar_id, new["calendar_event_id"],
                                        new["scheduled_start_at"], new["scheduled_end_at"])
    elif old is not None and old["calendar_event_id"] and old["id"] != new["id"]:
        # Moved from online to in person: the old meeting must not stay in the calendars.
        await context.calendar_call(GoogleCalendar.cancel_event, calendar_id, old["calendar_event_id"])
    await _notify(new_appointment_id, messages.RESCHEDULED)


@actor(outbox.APPOINTMENT_CANCELLED, fields=("appointmentId",), **options(time_limit=2 * MINUTE))
async def appointment_cancelled(appointment_id: int) -> None:
    appt = await db.query_one(await context.pool(), APPOINTMENT_STATE, (appointment_id,))
    if appt is None:
        return
    if appt["calendar_event_id"]:
        # Deleting an already deleted event counts as done (see GoogleCalendar.cancel_event).
        await context.calendar_call(GoogleCalendar.cancel_event, context.settings().google_calendar_id,
                                    appt["calendar_event_id"])
    await _notify(appointment_id, messages.CANCELLED)

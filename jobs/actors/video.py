"""Google Meet links: one Calendar event with a Meet conference per appointment.

The conference requestId and the event id both derive from the appointment
(f"mibo-appt-{id}"), so a retried or duplicated step reuses Google's event instead of making
a second meeting; the link is stored with UPDATE ... WHERE meet_link IS NULL, so the first one
stored is the only one.
"""

from __future__ import annotations

from jobs import context
from jobs.broker import actor
from jobs.options import MINUTE, options
from mibo.core import db, outbox
from mibo.domain.appointment_states import LIVE
from mibo.domain.appointments import PEOPLE_JOINS
from mibo.providers.google_calendar import GoogleCalendar

APPOINTMENT_FOR_MEETING = f"""
SELECT a.id, a.status, a.appointment_type, a.scheduled_start_at, a.scheduled_end_at, a.meet_link,
       pu.email AS patient_email, cu.email AS clinician_email
FROM appointments a {PEOPLE_JOINS}
WHERE a.id = %s
"""

STORE_MEET_LINK = """
UPDATE appointments SET meet_link = %s, calendar_event_id = %s WHERE id = %s AND meet_link IS NULL
"""


def request_id(appointment_id: int) -> str:
    return f"mibo-appt-{appointment_id}"


@actor(outbox.CREATE_MEET_LINK, fields=("appointmentId", "kind"), **options(time_limit=2 * MINUTE))
async def create_meet_link(appointment_id: int, kind: str) -> None:
    """Create and store the Meet link of a live ONLINE appointment, then notify `kind` ("" for none).

    Google is called outside any transaction; the open outbox row of this step is the attempt on
    record. After a crash the step runs again and finds the meeting the first call made (the event
    id is fixed by the appointment), so the outcome is resolved at Google, never made twice.
    """
    pool = await context.pool()
    appt = await db.query_one(pool, APPOINTMENT_FOR_MEETING, (appointment_id,))
    if appt is None:
        return
    meeting = None
    if appt["appointment_type"] == "ONLINE" and appt["meet_link"] is None and appt["status"] in LIVE:
        attendees = [email for email in (appt["clinician_email"], appt["patient_email"]) if email]
        meeting = await context.calendar_call(
            GoogleCalendar.create_meet_event, context.settings().google_calendar_id, request_id(appointment_id),
            "Mibo online consultation", appt["scheduled_start_at"], appt["scheduled_end_at"], attendees)
    async with db.transaction(pool) as cur:
        if meeting is not None:
            event_id, link = meeting
            await db.execute(cur, STORE_MEET_LINK, (link, event_id, appointment_id))
        if kind:
            await outbox.enqueue_step(cur, outbox.NOTIFY_APPOINTMENT, appointment_id, kind)

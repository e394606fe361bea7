"""Google Meet links: one Calendar event with a Meet conference per appointment.

The conference requestId and the event id both derive from the appointment
(f"mibo-appt-{id}"), so a retried or duplicated step reuses Google's event instead of making
a second meeting; the link is stored with UPDATE ... WHERE meet_link IS NULL, so the first one
stored is the only one.
"""

from __future__ import annotations

from jobs import context
from jobs.actors.notifications import notify_appointment
from jobs.broker import actor
from jobs.options import MINUTE, options
from mibo.core import db
from mibo.core import outbox as names
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


@actor(names.CREATE_MEET_LINK, **options(time_limit=2 * MINUTE))
async def create_meet_link(appointment_id: int, kind: str) -> None:
    """Create and store the Meet link of a live ONLINE appointment, then notify `kind` ("" for none)."""
    pool = await context.pool()
    appt = await db.query_one(pool, APPOINTMENT_FOR_MEETING, (appointment_id,))
    if appt is None:
        return
    wanted = (appt["appointment_type"] == "ONLINE" and appt["meet_link"] is None
              and appt["status"] in LIVE)
    if wanted:
        attendees = [email for email in (appt["clinician_email"], appt["patient_email"]) if email]
        event_id, link = await context.calendar_call(
            GoogleCalendar.create_meet_event, context.settings().google_calendar_id, request_id(appointment_id),
            "Mibo online consultation", appt["scheduled_start_at"], appt["scheduled_end_at"], attendees)
        async with db.connection(pool) as cur:
            await db.execute(cur, STORE_MEET_LINK, (link, event_id, appointment_id))
    if kind:
        await context.in_thread(notify_appointment.send, appointment_id, kind)

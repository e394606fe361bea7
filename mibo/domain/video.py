"""The Google Meet link of an ONLINE appointment: reading it, and asking for it to be made.

Nothing here calls Google: asking queues create_meet_link through the outbox, and that actor
makes at most one meeting per appointment however often it is asked.
"""

from __future__ import annotations

from typing import Any

from mibo.core import outbox
from mibo.core.actor import Actor
from mibo.core.errors import ApiError
from mibo.domain.appointments import check_can_view
from mibo.domain.notifications import appointment_to_notify, live_appointment


async def meeting_of(cur, actor: Actor, appointment_id: int) -> dict[str, Any]:
    """The appointment's meeting fields, for an actor who may see the appointment."""
    appt = await appointment_to_notify(cur, appointment_id)
    check_can_view(actor, appt)  # a clinician: their own appointments only
    return appt


async def request_meet_link(cur, actor: Actor, appointment_id: int) -> tuple[dict[str, Any], bool]:
    """Queue the making of a live ONLINE appointment's link unless it exists; (appointment, queued)."""
    appt = await live_appointment(cur, actor, appointment_id)
    if appt["appointment_type"] != "ONLINE":
        raise ApiError.unprocessable("Only ONLINE consultations have a Meet link",
                                     {"appointmentId": ["Appointment is not ONLINE."]}, code="NOT_ONLINE")
    if appt["meet_link"]:
        return appt, False
    await outbox.enqueue(cur, outbox.CREATE_MEET_LINK, appt["id"], "")
    return appt, True

"""Booking on the patient website: what the site sends, read by the staff booking rules.

The site sends a wall-clock date and time; they are read in the centre's zone (never the
server's, never the browser's). It also sends the instant it computed in the browser
(`appointmentDateUTC`): when given, it must be the same instant, or the request is refused
rather than booked at a time the patient did not see. The booking itself, its cancellation and
its release when unpaid are mibo.domain.appointments' (book, cancel_by_patient,
release_unpaid_holds), with the patient as the actor: source WEB_PATIENT.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mibo.core import listing, tables
from mibo.core.actor import Actor
from mibo.core.errors import ApiError
from mibo.domain import appointments

UTC = dt.UTC


async def start_of(cur, centre_id: int, day: dt.date, wall: dt.time, stated: dt.datetime | None) -> dt.datetime:
    """The instant of `wall` on `day` at the centre, agreeing with `stated` when the site sent one."""
    centre = await appointments.bookable_centre(cur, centre_id)
    start = appointments.local_start(centre, day, wall)
    if stated is not None and stated.astimezone(UTC) != start:
        local = f"{day.isoformat()} {wall.strftime('%H:%M')} at the centre ({centre['timezone']})"
        raise ApiError.unprocessable(
            "appointmentDateUTC is not the instant of appointmentDate and appointmentTime at the centre",
            {"appointmentDateUTC": [f"{local} is {start.isoformat()}."]}, "APPOINTMENT_TIME_MISMATCH")
    return start


async def own_appointments(cur, actor: Actor, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """The signed-in patient's appointments, latest first; returns (rows, total)."""
    a = tables.appointments.c
    page = listing.page_of_ids(a.id, [a.patient_id == actor.patient_id],
                               (a.scheduled_start_at.desc(), a.id.desc()), limit, offset)
    return await listing.fetch_page(cur, page, appointments.APPOINTMENT_PAGE, offset)

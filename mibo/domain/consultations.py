"""The consultation, as the treating clinician runs it: their day, beginning and completing a
session, and booking the follow-up.

Sessions move the appointment through the one status change (IN_PROGRESS, then COMPLETED), so
they leave history and audit rows like every other change. A follow-up is a FOLLOW_UP appointment
booked through the normal booking rule, in the first free slot of the day asked for.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from mibo.core import db
from mibo.core.actor import Actor
from mibo.core.errors import ApiError
from mibo.domain import appointments, availability, schedule
from mibo.domain.appointment_states import (
    BOOKED,
    CANCELLED,
    COMPLETED,
    CONFIRMED,
    IN_PROGRESS,
    LIVE,
)

FOLLOW_UP = "FOLLOW_UP"
# The clinician's own lists are not paged (the panel shows them whole); past ones stop here.
PAST_LIMIT = 200

# The appointments of one clinician starting in [lo, hi), with what the clinician's views show.
CLINICIAN_APPOINTMENTS = f"""
SELECT {appointments.APPOINTMENT_COLUMNS}
FROM appointments a {appointments.PEOPLE_JOINS}
WHERE a.clinician_id = %(clinician_id)s AND a.status <> 'RESCHEDULED'
  AND a.scheduled_start_at >= %(lo)s AND (%(hi)s::timestamptz IS NULL OR a.scheduled_start_at < %(hi)s)
ORDER BY a.scheduled_start_at, a.id
LIMIT %(limit)s
"""

CLINICIAN_PAST_APPOINTMENTS = f"""
SELECT {appointments.APPOINTMENT_COLUMNS}
FROM appointments a {appointments.PEOPLE_JOINS}
WHERE a.clinician_id = %(clinician_id)s AND a.status <> 'RESCHEDULED' AND a.scheduled_start_at < %(before)s
ORDER BY a.scheduled_start_at DESC, a.id DESC
LIMIT %(limit)s
"""

CLINICIAN_ZONE = """
SELECT c.timezone FROM clinician_profiles cp JOIN centres c ON c.id = cp.primary_centre_id WHERE cp.id = %s
"""


def own(actor: Actor, appointment: dict[str, Any]) -> None:
    """Sessions are the treating clinician's: nobody else begins, completes or follows them up."""
    if actor.clinician_id is None or appointment["clinician_id"] != actor.clinician_id:
        raise ApiError.forbidden("Only the appointment's clinician can do this", "NOT_OWN_APPOINTMENT")


async def begin(cur, actor: Actor, appointment_id: int, now: dt.datetime) -> None:
    row = await appointments.locked_appointment(cur, actor, appointment_id)
    own(actor, row)
    await appointments.transition(cur, actor, row, IN_PROGRESS, "Session begun", now)


async def complete(cur, actor: Actor, appointment_id: int, now: dt.datetime) -> None:
    row = await appointments.locked_appointment(cur, actor, appointment_id)
    own(actor, row)
    await appointments.transition(cur, actor, row, COMPLETED, "Session completed", now)


async def book_follow_up(cur, actor: Actor, appointment_id: int, day: dt.date, notes: str | None,
                         now: dt.datetime) -> int:
    """Book a FOLLOW_UP with the same clinician, patient and centre in the first free slot of `day`."""
    parent = await appointments.locked_appointment(cur, actor, appointment_id)
    own(actor, parent)
    if parent["status"] not in (IN_PROGRESS, COMPLETED, CONFIRMED, BOOKED):
        raise ApiError.unprocessable(f"A {parent['status'].lower()} appointment has no follow-up",
                                     {"status": parent["status"]}, "NOT_FOLLOWABLE")
    clinician = await appointments.active_clinician(cur, parent["clinician_id"], lock=True)
    plan = await schedule.load(cur, clinician, day, day)
    free = [slot for slot in availability.slots_for_day(plan, day, now, parent["centre_id"])
            if slot["status"] == availability.AVAILABLE]
    if not free:
        raise ApiError.conflict("The clinician has no free slot that day", {"followUpDate": ["no free slot"]},
                                "NO_FREE_SLOT")
    reference = f"Follow-up of appointment {appointment_id}"
    return await appointments.book(
        cur, actor, patient_id=parent["patient_id"], clinician_id=parent["clinician_id"],
        centre_id=parent["centre_id"], appointment_type=FOLLOW_UP,
        start=dt.datetime.fromisoformat(free[0]["startAt"]), duration_minutes=None,
        notes=f"{reference}: {notes}" if notes else reference, now=now)


async def _zone(cur, actor: Actor) -> ZoneInfo:
    if actor.clinician_id is None:
        raise ApiError.forbidden("Only clinicians have a clinician's day", "NOT_A_CLINICIAN")
    return ZoneInfo(await db.fetch_value(cur, CLINICIAN_ZONE, (actor.clinician_id,)))


async def clinician_days(cur, actor: Actor, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    """The actor's own appointments over local dates first..last (in their primary centre's zone)."""
    zone = await _zone(cur, actor)
    lo = availability.day_bounds(first, zone)[0]
    hi = availability.day_bounds(last, zone)[1]
    return await db.fetch_all(cur, CLINICIAN_APPOINTMENTS, {"clinician_id": actor.clinician_id, "lo": lo,
                                                            "hi": hi, "limit": None})


def day_statistics(rows: list[dict[str, Any]]) -> dict[str, int]:
    """The counts of a clinician's day: waiting to be seen, in session, and the outcomes."""
    counts = {status: sum(1 for row in rows if row["status"] == status)
              for status in (BOOKED, CONFIRMED, IN_PROGRESS, COMPLETED, CANCELLED)}
    return {"total": len(rows), "waiting": counts[BOOKED], "confirmed": counts[CONFIRMED],
            "ongoing": counts[IN_PROGRESS], "completed": counts[COMPLETED], "cancelled": counts[CANCELLED]}


async def my_appointments(cur, actor: Actor, now: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    """The actor's appointments grouped: current (in session or under way), upcoming, past (latest first)."""
    await _zone(cur, actor)
    # From a day back: an appointment under way started before now.
    ahead = await db.fetch_all(cur, CLINICIAN_APPOINTMENTS, {
        "clinician_id": actor.clinician_id, "lo": now - dt.timedelta(days=1), "hi": None, "limit": None})
    current = [row for row in ahead if row["status"] == IN_PROGRESS
               or (row["status"] in LIVE and row["scheduled_start_at"] <= now < row["scheduled_end_at"])]
    # A session begun a little early is current, not upcoming as well.
    upcoming = [row for row in ahead if row["status"] in LIVE and row["scheduled_start_at"] > now
                and row not in current]
    seen = {row["id"] for row in current + upcoming}
    past = [row for row in await db.fetch_all(cur, CLINICIAN_PAST_APPOINTMENTS, {
        "clinician_id": actor.clinician_id, "before": now, "limit": PAST_LIMIT}) if row["id"] not in seen]
    return {"current": current, "upcoming": upcoming, "past": past}

"""Appointments: reading them, booking, rescheduling, notes, and the one status change.

Every surface (the staff API, the patient website, the admin panel's contract, the payment
actors, blocks, the scheduler) moves an appointment through `change_status`: it checks the state
machine against the locked row, writes the status history, the audit row and the outbox rows of
what follows (messages, refunds, closing payment links). Booking is one transaction: centre,
patient, the clinician (locked), the clinician's availability in the centre's zone, then the insert,
its history, outbox and audit rows. The exclusion constraints on appointments are the last word on
overlaps; the checks before them give the clearer error and cover what no constraint can express
(buffers, blocks, notice, horizon, the daily cap).

Lock order everywhere: clinician rows (by id), then appointment rows, then payment rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, and_, cast, func, literal

from mibo.core import audit, db, listing, outbox, tables
from mibo.core.actor import ADMIN, CARE_COORDINATOR, CENTRE_MANAGER, FRONT_DESK, MANAGER, Actor, primary_role
from mibo.core.errors import ApiError
from mibo.core.logs import log_event
from mibo.domain import access, availability, payment_links, refunds, schedule
from mibo.domain.appointment_states import BOOKED, CANCELLED, COMPLETED, CONFIRMED, RESCHEDULED, check_transition

log = logging.getLogger(__name__)

WEB_PATIENT = "WEB_PATIENT"
# Who booked, for the leads-by-source analytics.
SOURCE_BY_ROLE = {
    ADMIN: "ADMIN_MANAGER",
    MANAGER: "ADMIN_MANAGER",
    CENTRE_MANAGER: "ADMIN_MANAGER",
    CARE_COORDINATOR: "ADMIN_CARE_COORDINATOR",
    FRONT_DESK: "ADMIN_FRONT_DESK",
}

# --- SQL ------------------------------------------------------------------------

# The people and place of an appointment `a`: its patient (pp, pu), clinician (cp, cu) and centre (c).
PEOPLE_JOINS = """
JOIN patient_profiles pp ON pp.id = a.patient_id
JOIN users pu ON pu.id = pp.user_id
JOIN clinician_profiles cp ON cp.id = a.clinician_id
JOIN users cu ON cu.id = cp.user_id
JOIN centres c ON c.id = a.centre_id
"""

APPOINTMENT_COLUMNS = """
a.id, a.patient_id, pu.full_name AS patient_name, pu.phone AS patient_phone, pp.mrn AS patient_mrn,
a.clinician_id, cu.full_name AS clinician_name, a.centre_id, c.name AS centre_name, c.address_line1 AS centre_address,
c.timezone, a.appointment_type, a.scheduled_start_at, a.scheduled_end_at, a.duration_minutes, a.status,
a.parent_appointment_id, a.booked_by_user_id, a.source, a.meet_link, a.notes, a.cancellation_reason,
a.session_started_at, a.session_ended_at, a.created_at, a.updated_at
"""

APPOINTMENT_BY_ID = f"SELECT {APPOINTMENT_COLUMNS} FROM appointments a {PEOPLE_JOINS} WHERE a.id = %s"

# Reads the CTE `page` built by mibo.core.listing.
APPOINTMENT_PAGE = f"""
SELECT {APPOINTMENT_COLUMNS}, page.total
FROM page JOIN appointments a ON a.id = page.id {PEOPLE_JOINS}
ORDER BY page.ord
"""

APPOINTMENT_STATE = """
SELECT id, status, patient_id, clinician_id, centre_id, appointment_type, scheduled_start_at,
       duration_minutes, source, notes
FROM appointments WHERE id = %s
"""

APPOINTMENT_STATE_LOCKED = APPOINTMENT_STATE + "FOR UPDATE"

ACTIVE_PATIENT = """
SELECT pp.id, u.full_name FROM patient_profiles pp JOIN users u ON u.id = pp.user_id
WHERE pp.id = %s AND pp.is_active
"""

INSERT_APPOINTMENT = """
INSERT INTO appointments (patient_id, clinician_id, centre_id, appointment_type, scheduled_start_at,
                          scheduled_end_at, duration_minutes, status, parent_appointment_id,
                          booked_by_user_id, source, notes)
VALUES (%(patient_id)s, %(clinician_id)s, %(centre_id)s, %(appointment_type)s, %(start)s, %(end)s,
        %(duration_minutes)s, %(status)s, %(parent_appointment_id)s, %(user_id)s, %(source)s, %(notes)s)
RETURNING id
"""

INSERT_STATUS_HISTORY = """
INSERT INTO appointment_status_history (appointment_id, from_status, to_status, changed_by_user_id, reason)
VALUES (%s, %s, %s, %s, %s)
"""

# A session's instants are those of the changes that begin and end it.
SET_STATUS = """
UPDATE appointments
SET status = %(status)s,
    cancellation_reason = CASE WHEN %(status)s = 'CANCELLED' THEN %(reason)s ELSE cancellation_reason END,
    session_started_at = CASE WHEN %(status)s = 'IN_PROGRESS' THEN %(now)s ELSE session_started_at END,
    session_ended_at = CASE WHEN %(status)s = 'COMPLETED' AND status = 'IN_PROGRESS' THEN %(now)s
                            ELSE session_ended_at END
WHERE id = %(id)s
"""

SET_NOTES = "UPDATE appointments SET notes = %s WHERE id = %s"

# A patient's own website booking of this very slot, still unpaid.
OWN_UNPAID_HOLD = """
SELECT id FROM appointments
WHERE patient_id = %(patient_id)s AND clinician_id = %(clinician_id)s AND centre_id = %(centre_id)s
  AND scheduled_start_at = %(start)s AND appointment_type = %(appointment_type)s
  AND status = 'BOOKED' AND source = 'WEB_PATIENT'
"""

# Website bookings not paid within the hold window: no payment settled or under way (a PENDING
# payment was paid at checkout and waits for Razorpay's word).
UNPAID_HOLDS_FOR_UPDATE = """
SELECT a.id, a.status, a.centre_id, a.scheduled_start_at
FROM appointments a
WHERE a.status = 'BOOKED' AND a.source = 'WEB_PATIENT' AND a.created_at < %(before)s
  AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.appointment_id = a.id AND p.status IN ('SUCCESS', 'PENDING'))
ORDER BY a.id
LIMIT %(limit)s
FOR UPDATE OF a SKIP LOCKED
"""

# What a desk's list shows beside each appointment: who booked it, how it was paid, and the block
# over its time (a block cancels what it covers; unblocking frees the time again).
DESK_DETAILS = """
SELECT a.id, bu.full_name AS booked_by_name, paid.provider AS payment_method, paid.note AS payment_note,
       blk.id AS block_id
FROM appointments a
LEFT JOIN users bu ON bu.id = a.booked_by_user_id
LEFT JOIN LATERAL (
    SELECT p.provider, p.note FROM payments p
    WHERE p.appointment_id = a.id AND p.status = 'SUCCESS' ORDER BY p.id DESC LIMIT 1
) paid ON true
LEFT JOIN LATERAL (
    SELECT b.id FROM clinician_blocks b
    WHERE b.clinician_id = a.clinician_id AND b.removed_at IS NULL
      AND (b.centre_id IS NULL OR b.centre_id = a.centre_id)
      AND b.starts_at < a.scheduled_end_at AND b.ends_at > a.scheduled_start_at
    ORDER BY b.starts_at LIMIT 1
) blk ON true
WHERE a.id = ANY(%s::bigint[])
"""

# A reschedule carries the original's payments over to the new appointment.
MOVE_PAYMENTS = "UPDATE payments SET appointment_id = %s WHERE appointment_id = %s"


# --- reading ----------------------------------------------------------------------


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def booking_source(actor: Actor) -> str:
    if actor.is_patient:
        return WEB_PATIENT
    return SOURCE_BY_ROLE.get(primary_role(actor.roles), "ADMIN_MANAGER")


def check_can_view(actor: Actor, row: dict[str, Any]) -> None:
    """view_all: every appointment; view_centre: the actor's centres; view_own: the clinician's own;
    a patient: their own (anyone else's does not exist for them)."""
    if actor.is_patient:
        if row["patient_id"] != actor.patient_id:
            raise ApiError.not_found("appointment")
        return
    if access.can(actor, "appointments.view_all"):
        return
    if actor.clinician_id is not None and row["clinician_id"] == actor.clinician_id:
        return
    if access.can(actor, "appointments.view_centre"):
        access.check_centre(actor, row["centre_id"])
        return
    raise ApiError.forbidden("Clinicians see only their own appointments", "NOT_OWN_APPOINTMENT")


def patient_appointment_scope(actor: Actor) -> dict:
    """Which of a patient's appointments the actor sees: centre ids and/or a clinician, None = all;
    replaced: whether originals replaced by a reschedule are shown (the patient follows the new one)."""
    if actor.is_patient:
        return {"centre_ids": None, "clinician_id": None, "replaced": False}
    if access.can(actor, "appointments.view_centre"):
        return {"centre_ids": actor.centre_filter(), "clinician_id": None, "replaced": True}
    # Only a clinician's own appointments; -1 matches nothing when they have no profile.
    return {"centre_ids": None, "clinician_id": actor.clinician_id or -1, "replaced": True}


async def appointment(cur, appointment_id: int) -> dict[str, Any]:
    """One appointment with its people and place, or 404."""
    row = await db.fetch_one(cur, APPOINTMENT_BY_ID, (appointment_id,))
    if row is None:
        raise ApiError.not_found("appointment")
    return row


async def visible_appointment(cur, actor: Actor, appointment_id: int) -> dict[str, Any]:
    row = await appointment(cur, appointment_id)
    check_can_view(actor, row)
    return row


def list_conditions(actor: Actor, filters: dict[str, Any]) -> list:
    a, c = tables.appointments.c, tables.centres.c
    where = [a.centre_id == c.id]
    if access.can(actor, "appointments.view_all"):
        pass
    elif access.can(actor, "appointments.view_centre"):
        # A desk role at some centres who is also a clinician sees those centres and their own.
        where.append(a.centre_id.in_(sorted(actor.centre_ids)) | (a.clinician_id == actor.clinician_id))
    else:
        where.append(a.clinician_id == actor.clinician_id)
    for name in ("centre_id", "clinician_id", "patient_id", "status"):
        if name in filters:
            where.append(a[name] == filters[name])
    first = filters.get("date") or filters.get("from_")
    last = filters.get("date") or filters.get("to")
    # Dates are local to each appointment's centre. The ±14 h bounds on the bare column let the
    # index narrow the scan; the per-centre bound is the exact one.
    if first is not None:
        midnight = dt.datetime.combine(first, dt.time(0), dt.UTC)
        where.append(
            and_(
                a.scheduled_start_at >= midnight - dt.timedelta(hours=14),
                a.scheduled_start_at >= func.timezone(c.timezone, cast(literal(first), DateTime)),
            )
        )
    if last is not None:
        next_midnight = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), dt.UTC)
        where.append(
            and_(
                a.scheduled_start_at < next_midnight + dt.timedelta(hours=14),
                a.scheduled_start_at
                < func.timezone(c.timezone, cast(literal(last + dt.timedelta(days=1)), DateTime)),
            )
        )
    return where


async def list_page(cur, actor: Actor, filters: dict[str, Any], limit: int, offset: int, *,
                    newest_first: bool = False):
    """The appointments the actor sees that match `filters`, in time order (or the most recently
    booked first); returns (rows, total)."""
    if "centre_id" in filters and access.can(actor, "appointments.view_centre"):
        access.check_centre(actor, filters["centre_id"])
    a = tables.appointments.c
    order = (a.created_at.desc(), a.id.desc()) if newest_first else (a.scheduled_start_at, a.id)
    page = listing.page_of_ids(a.id, list_conditions(actor, filters), order, limit, offset)
    return await listing.fetch_page(cur, page, APPOINTMENT_PAGE, offset)


async def desk_details(cur, appointment_ids: list[int]) -> dict[int, dict[str, Any]]:
    """For appointments already read: who booked each, the method and note of its settled payment,
    and the id of the block over its time (None where there is none)."""
    rows = await db.fetch_all(cur, DESK_DETAILS, (appointment_ids,)) if appointment_ids else []
    return {row.pop("id"): row for row in rows}


async def slots(cur, actor: Actor, clinician_id: int, first: dt.date, last: dt.date, centre_id: int | None,
                now: dt.datetime) -> tuple[dict[str, Any], list[dict]]:
    """A clinician's slots over local dates first..last (at one centre or at those the actor sees)."""
    clinician = await active_clinician(cur, clinician_id)
    plan = await schedule.load(cur, clinician, first, last)
    if centre_id is not None:
        access.check_centre(actor, centre_id)
    elif not actor.chain_wide and actor.clinician_id != clinician["id"]:
        # Without a centre, a centre-scoped actor sees the clinician's slots at their own centres only.
        visible = [rule for rule in plan.rules if actor.can_access_centre(rule.centre_id)]
        if not visible:
            access.check_centre(actor, clinician["primary_centre_id"])
        plan = dataclasses.replace(plan, rules=visible)
    return clinician, availability.slots_for_range(plan, first, last, now, centre_id)


async def public_slots(cur, clinician_id: int, centre_id: int, first: dt.date, last: dt.date,
                       now: dt.datetime) -> tuple[dict[str, Any], availability.Schedule]:
    """A bookable clinician's schedule at a centre, for anyone to see (the public catalogue)."""
    clinician = await active_clinician(cur, clinician_id)
    await bookable_centre(cur, centre_id)
    return clinician, await schedule.load(cur, clinician, first, last)


def local_start(centre: dict[str, Any], day: dt.date, wall: dt.time) -> dt.datetime:
    """The instant of a wall-clock time on a date at the centre, read in the centre's zone."""
    instant = availability.wall_to_instant(day, wall, ZoneInfo(centre["timezone"]))
    if instant is None:
        raise ApiError.unprocessable("That time does not exist on that day at the centre (a clock change)",
                                     {"appointmentTime": ["does not exist on that date"]}, "NO_SUCH_TIME")
    return instant


# --- booking ----------------------------------------------------------------------


async def active_clinician(cur, clinician_id: int, *, lock: bool = False) -> dict:
    return require_active(await schedule.clinician(cur, clinician_id, lock=lock))


def require_active(row: dict | None, field: str = "clinicianId") -> dict:
    """The clinician a booking goes to must exist and be active."""
    if row is None:
        raise ApiError.not_found("clinician", field)
    if not row["is_active"]:
        raise ApiError.unprocessable("The clinician is not active", {field: ["inactive"]}, "CLINICIAN_INACTIVE")
    return row


async def check_slot(cur, clinician: dict[str, Any], centre: dict[str, Any], start: dt.datetime,
                     end: dt.datetime, now: dt.datetime) -> None:
    """Raise unless the clinician can take [start, end) at the centre (availability in the centre's zone)."""
    zone = ZoneInfo(centre["timezone"])
    local_day = start.astimezone(zone).date()
    plan = await schedule.load(cur, clinician, local_day, local_day)
    refusal = availability.booking_refusal(plan, centre["id"], zone, start, end, now)
    if refusal is not None:
        raise ApiError(refusal.status, refusal.code, refusal.message,
                       {"scheduledStartAt": [refusal.message], "reason": refusal.reason})


async def _insert(cur, actor: Actor, clinician: dict, centre: dict, values: dict[str, Any], reason: str,
                  now: dt.datetime) -> int:
    """Check the slot and insert an appointment with its first history row (booking and reschedule)."""
    start = values["start"].astimezone(dt.UTC)
    end = start + dt.timedelta(minutes=values["duration_minutes"])
    await check_slot(cur, clinician, centre, start, end, now)
    appointment_id = await db.fetch_value(cur, INSERT_APPOINTMENT, {
        **values, "start": start, "end": end, "clinician_id": clinician["id"], "centre_id": centre["id"],
        "user_id": actor.user_id,
    })
    await db.execute(cur, INSERT_STATUS_HISTORY, (appointment_id, None, values["status"], actor.user_id, reason))
    return appointment_id


async def bookable_centre(cur, centre_id: int) -> dict[str, Any]:
    centre = await schedule.centre(cur, centre_id)
    if centre is None or not centre["is_active"]:
        raise ApiError.not_found("centre", "centreId")
    return centre


async def book(cur, actor: Actor, *, patient_id: int, clinician_id: int, centre_id: int, appointment_type: str,
               start: dt.datetime, duration_minutes: int | None, notes: str | None, now: dt.datetime) -> int:
    """Book an appointment (BOOKED) and queue its chain; returns its id."""
    centre = await bookable_centre(cur, centre_id)
    if not actor.is_patient:
        access.check_centre(actor, centre["id"])
    elif actor.patient_id != patient_id:
        raise ApiError.forbidden("Patients book only for themselves")
    if await db.fetch_one(cur, ACTIVE_PATIENT, (patient_id,)) is None:
        raise ApiError.not_found("patient", "patientId")
    clinician = await active_clinician(cur, clinician_id, lock=True)
    if actor.is_patient:
        # A patient who tries to pay again books the same slot again: that is their own hold, not a clash.
        held = await db.fetch_value(cur, OWN_UNPAID_HOLD, {
            "patient_id": patient_id, "clinician_id": clinician["id"], "centre_id": centre["id"],
            "start": start.astimezone(dt.UTC), "appointment_type": appointment_type})
        if held is not None:
            return held
    appointment_id = await _insert(cur, actor, clinician, centre, {
        "patient_id": patient_id, "appointment_type": appointment_type, "start": start,
        "duration_minutes": duration_minutes or clinician["default_consultation_duration_minutes"],
        "status": BOOKED, "parent_appointment_id": None, "source": booking_source(actor), "notes": notes,
    }, "Booked", now)
    if booking_source(actor) != WEB_PATIENT:
        # A website booking is a hold until it is paid: the patient hears of it once, when the
        # payment confirms it (and an ONLINE one gets its Meet link then), not before.
        await outbox.enqueue(cur, outbox.APPOINTMENT_BOOKED, appointment_id,
                             dedupe_key=f"{outbox.APPOINTMENT_BOOKED}:{appointment_id}")
    await audit.record(cur, actor, "appointment.create", "appointment", appointment_id, centre["id"], {
        "clinicianId": clinician["id"], "patientId": patient_id, "scheduledStartAt": start.isoformat(),
    })
    return appointment_id


async def reschedule(cur, actor: Actor, appointment_id: int, *, start: dt.datetime, clinician_id: int | None,
                     duration_minutes: int | None, notes: str | None, reason: str | None,
                     now: dt.datetime) -> int:
    """The original becomes RESCHEDULED; the new slot is a new appointment pointing back to it.

    A paid (CONFIRMED) appointment stays paid: its payments move with it. The source stays the
    original lead's, so analytics by source are not distorted by moves.
    """
    original = await db.fetch_one(cur, APPOINTMENT_STATE, (appointment_id,))
    if original is None:
        raise ApiError.not_found("appointment")
    access.check_centre(actor, original["centre_id"])
    target_id = clinician_id or original["clinician_id"]
    # Lock order: clinicians by id, then the appointment. Only the new slot's clinician must be active.
    locked = {cid: await schedule.clinician(cur, cid, lock=True)
              for cid in sorted({original["clinician_id"], target_id})}
    clinician = require_active(locked[target_id])
    original = await locked_appointment(cur, actor, appointment_id)
    previous_status = original["status"]
    await transition(cur, actor, original, RESCHEDULED, reason or "Rescheduled", now)
    centre = await schedule.centre(cur, original["centre_id"])
    new_id = await _insert(cur, actor, clinician, centre, {
        "patient_id": original["patient_id"], "appointment_type": original["appointment_type"], "start": start,
        "duration_minutes": duration_minutes or original["duration_minutes"], "status": previous_status,
        "parent_appointment_id": appointment_id, "source": original["source"],
        "notes": original["notes"] if notes is None else notes,
    }, f"Rescheduled from appointment {appointment_id}", now)
    await db.execute(cur, MOVE_PAYMENTS, (new_id, appointment_id))
    await outbox.enqueue(cur, outbox.APPOINTMENT_RESCHEDULED, appointment_id, new_id,
                         dedupe_key=f"{outbox.APPOINTMENT_RESCHEDULED}:{appointment_id}")
    await audit.record(cur, actor, "appointment.reschedule", "appointment", new_id, original["centre_id"], {
        "from": appointment_id, "scheduledStartAt": start.isoformat(), "clinicianId": clinician["id"],
    })
    return new_id


# --- the one status change -----------------------------------------------------------


async def locked_appointment(cur, actor: Actor, appointment_id: int) -> dict[str, Any]:
    """Lock an appointment's row for a change, within the actor's centres."""
    row = await db.fetch_one(cur, APPOINTMENT_STATE_LOCKED, (appointment_id,))
    if row is None:
        raise ApiError.not_found("appointment")
    access.check_centre(actor, row["centre_id"])
    return row


async def transition(cur, actor: Actor, appointment: dict[str, Any], target: str, reason: str | None,
                     now: dt.datetime) -> None:
    """Move a locked appointment (a row of locked_appointment) to `target`.

    Writes the row, its history and audit rows, and what follows from the new status: a
    cancellation asks for the refund of what was paid (appointment["refund"] says what, for the
    answer), closes open payment links and queues its message; a confirmation queues its messages.
    An illegal move is refused (422) and logged, whoever asked for it.
    """
    try:
        check_transition(appointment["status"], target, appointment["scheduled_start_at"], now)
    except ApiError:
        log_event(log, logging.WARNING, "appointment transition refused", appointmentId=appointment["id"],
                  fromStatus=appointment["status"], toStatus=target, surface=actor.surface)
        raise
    appointment_id = appointment["id"]
    await db.execute(cur, SET_STATUS, {"id": appointment_id, "status": target, "reason": reason, "now": now})
    await db.execute(cur, INSERT_STATUS_HISTORY,
                     (appointment_id, appointment["status"], target, actor.user_id, reason))
    if target == CANCELLED:
        asked = await refunds.request_for_appointment(cur, actor, appointment_id,
                                                      f"Appointment cancelled: {reason or 'no reason given'}")
        appointment["refund"] = await refunds.cancellation_refund(cur, asked)
        await payment_links.close_open_links(cur, appointment_id)
        await outbox.enqueue(cur, outbox.APPOINTMENT_CANCELLED, appointment_id,
                             dedupe_key=f"{outbox.APPOINTMENT_CANCELLED}:{appointment_id}")
    elif target == CONFIRMED:
        await outbox.enqueue(cur, outbox.APPOINTMENT_CONFIRMED, appointment_id,
                             dedupe_key=f"{outbox.APPOINTMENT_CONFIRMED}:{appointment_id}")
    await audit.record(cur, actor, "appointment.status", "appointment", appointment_id, appointment["centre_id"],
                       {"from": appointment["status"], "to": target, "reason": reason})
    appointment["status"] = target


async def change_status(cur, actor: Actor, appointment_id: int, target: str, reason: str | None,
                        now: dt.datetime) -> dict[str, Any]:
    """Lock the appointment and move it to `target` (see `transition`); returns the locked row."""
    row = await locked_appointment(cur, actor, appointment_id)
    await transition(cur, actor, row, target, reason, now)
    return row


async def release_unpaid_holds(cur, actor: Actor, now: dt.datetime, hold_minutes: int, limit: int = 500) -> list[int]:
    """Cancel website bookings left unpaid for `hold_minutes`, offering their slots again."""
    rows = await db.fetch_all(cur, UNPAID_HOLDS_FOR_UPDATE,
                              {"before": now - dt.timedelta(minutes=hold_minutes), "limit": limit})
    for row in rows:
        await transition(cur, actor, row, CANCELLED, "Payment not received", now)
    return [row["id"] for row in rows]


async def cancel_by_patient(cur, actor: Actor, appointment_id: int, reason: str, now: dt.datetime,
                            cutoff_hours: int) -> dict[str, Any]:
    """A patient cancels their own appointment, up to `cutoff_hours` before it; returns the locked row,
    with `refund`: what is paid back (all of it, before the cut-off) and when, for the answer."""
    row = await db.fetch_one(cur, APPOINTMENT_STATE_LOCKED, (appointment_id,))
    if row is None or row["patient_id"] != actor.patient_id:
        raise ApiError.not_found("appointment")
    if row["status"] == CANCELLED:
        raise ApiError.unprocessable("Appointment is already cancelled", {"status": row["status"]},
                                     "ALREADY_CANCELLED")
    if row["status"] == COMPLETED:
        raise ApiError.unprocessable("Cannot cancel completed appointment", {"status": row["status"]},
                                     "APPOINTMENT_COMPLETED")
    cutoff = row["scheduled_start_at"] - dt.timedelta(hours=cutoff_hours)
    if now >= cutoff:
        raise ApiError.unprocessable(
            f"Appointments can be cancelled online until {cutoff_hours} hours before they start;"
            " please call the centre", {"cutoffHours": cutoff_hours, "cutoffAt": cutoff.isoformat()},
            "CANCELLATION_CUTOFF_PASSED")
    await transition(cur, actor, row, CANCELLED, reason, now)
    return row


async def set_notes(cur, actor: Actor, appointment_id: int, notes: str | None) -> None:
    row = await locked_appointment(cur, actor, appointment_id)
    await db.execute(cur, SET_NOTES, (notes, appointment_id))
    await audit.record(cur, actor, "appointment.notes", "appointment", appointment_id, row["centre_id"])

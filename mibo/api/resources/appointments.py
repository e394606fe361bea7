"""/api/appointments: availability, list, read, book, change status / reschedule / notes, cancel.

Booking follows the spec's Appointment Creation Flow in one transaction: patient, clinician,
centre, the clinician's availability in the centre's zone, then the insert, its status history,
its outbox row and its audit row. The exclusion constraints on appointments are the last word
on overlaps; the checks before them only give the clearer error (and cover buffers, blocks,
notice, horizon and the daily cap, which no constraint can express).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import DateTime, and_, cast, func, literal

from mibo.api.access import requires
from mibo.api.apidoc import documented
from mibo.api.http import load, ok, ok_page, path_id, read_json, read_query
from mibo.api.keys import ACTOR, DB
from mibo.api.resources.payments import cancel_open_links
from mibo.core import audit, db, listing, outbox, tables
from mibo.core.actor import ADMIN, CARE_COORDINATOR, CENTRE_MANAGER, FRONT_DESK, MANAGER, Actor, primary_role
from mibo.core.errors import ApiError
from mibo.domain import access, availability, schedule
from mibo.domain.access import check_centre
from mibo.domain.appointment_states import BOOKED, CANCELLED, CONFIRMED, RESCHEDULED, check_transition
from schemas.appointments import (
    AppointmentListQuerySchema,
    AppointmentSchema,
    AvailabilityQuerySchema,
    AvailabilitySchema,
    CancelAppointmentSchema,
    CreateAppointmentSchema,
    UpdateAppointmentSchema,
)

TAGS = ("Appointments",)

# Who booked, for the leads-by-source analytics. The patient website's route sets WEB_PATIENT.
SOURCE_BY_ROLE = {
    ADMIN: "ADMIN_MANAGER",
    MANAGER: "ADMIN_MANAGER",
    CENTRE_MANAGER: "ADMIN_MANAGER",
    CARE_COORDINATOR: "ADMIN_CARE_COORDINATOR",
    FRONT_DESK: "ADMIN_FRONT_DESK",
}

# --- SQL ------------------------------------------------------------------------

APPOINTMENT_COLUMNS = """
a.id, a.patient_id, pu.full_name AS patient_name, a.clinician_id, cu.full_name AS clinician_name,
a.centre_id, c.name AS centre_name, c.timezone, a.appointment_type, a.scheduled_start_at,
a.scheduled_end_at, a.duration_minutes, a.status, a.parent_appointment_id, a.booked_by_user_id,
a.source, a.meet_link, a.notes, a.cancellation_reason, a.created_at, a.updated_at
"""

APPOINTMENT_JOINS = """
JOIN patient_profiles pp ON pp.id = a.patient_id
JOIN users pu ON pu.id = pp.user_id
JOIN clinician_profiles cp ON cp.id = a.clinician_id
JOIN users cu ON cu.id = cp.user_id
JOIN centres c ON c.id = a.centre_id
"""

APPOINTMENT_BY_ID = f"SELECT {APPOINTMENT_COLUMNS} FROM appointments a {APPOINTMENT_JOINS} WHERE a.id = %s"

# Reads the CTE `page` built by mibo.core.listing.
APPOINTMENT_PAGE = f"""
SELECT {APPOINTMENT_COLUMNS}, page.total
FROM page JOIN appointments a ON a.id = page.id {APPOINTMENT_JOINS}
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

SET_STATUS = """
UPDATE appointments
SET status = %(status)s,
    cancellation_reason = CASE WHEN %(status)s = 'CANCELLED' THEN %(reason)s ELSE cancellation_reason END
WHERE id = %(id)s
"""

SET_NOTES = "UPDATE appointments SET notes = %s WHERE id = %s"

# Money taken for a cancelled appointment goes back; the payments workflow issues the refund.
REQUEST_REFUNDS = """
UPDATE payments SET refund_requested_at = now()
WHERE appointment_id = %s AND status = 'SUCCESS' AND refund_requested_at IS NULL
"""

# A reschedule carries the original's payments over to the new appointment.
MOVE_PAYMENTS = "UPDATE payments SET appointment_id = %s WHERE appointment_id = %s"


# --- rules ------------------------------------------------------------------------


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def booking_source(actor: Actor) -> str:
    return SOURCE_BY_ROLE.get(primary_role(actor.roles), "ADMIN_MANAGER")


_appointment_schema = AppointmentSchema()  # stateless when dumping: one instance for every row


def present(row: dict[str, Any]) -> dict[str, Any]:
    return _appointment_schema.dump(row)


def check_can_view(actor: Actor, row: dict[str, Any]) -> None:
    """view_all: every appointment; view_centre: the caller's centres; view_own: the clinician's own."""
    if access.can(actor, "appointments.view_all"):
        return
    if actor.clinician_id is not None and row["clinician_id"] == actor.clinician_id:
        return
    if access.can(actor, "appointments.view_centre"):
        check_centre(actor, row["centre_id"])
        return
    raise ApiError.forbidden("Clinicians see only their own appointments", "NOT_OWN_APPOINTMENT")


def refuse(refusal: availability.Refusal) -> ApiError:
    return ApiError(
        refusal.status,
        refusal.code,
        refusal.message,
        {"scheduledStartAt": [refusal.message], "reason": refusal.reason},
    )


def require_active(row: dict[str, Any] | None, field: str = "clinicianId") -> dict[str, Any]:
    """The clinician a booking goes to must exist and be active."""
    if row is None:
        raise ApiError(404, "CLINICIAN_NOT_FOUND", "No clinician with this id", {field: ["not found"]})
    if not row["is_active"]:
        raise ApiError.unprocessable(
            "The clinician is not active", {field: ["inactive"]}, "CLINICIAN_INACTIVE"
        )
    return row


async def check_slot(
    cur,
    clinician_row: dict[str, Any],
    centre_row: dict[str, Any],
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
) -> None:
    """Raise unless the clinician can take [start, end) at the centre (availability in the centre's zone)."""
    zone = ZoneInfo(centre_row["timezone"])
    local_day = start.astimezone(zone).date()
    plan = await schedule.load(cur, clinician_row, local_day, local_day)
    refusal = availability.booking_refusal(plan, centre_row["id"], zone, start, end, now)
    if refusal is not None:
        raise refuse(refusal)


async def insert_appointment(cur, request: web.Request, values: dict[str, Any], reason: str | None) -> int:
    user_id = request[ACTOR].user_id
    appointment_id = await db.fetch_value(cur, INSERT_APPOINTMENT, {**values, "user_id": user_id})
    await db.execute(cur, INSERT_STATUS_HISTORY, (appointment_id, None, values["status"], user_id, reason))
    return appointment_id


async def change_status(
    cur, request: web.Request, appointment: dict[str, Any], target: str, reason: str | None, now: dt.datetime
) -> None:
    """Move a locked appointment to `target`: the row, its history, refunds, outbox and audit."""
    check_transition(appointment["status"], target, appointment["scheduled_start_at"], now)
    appointment_id = appointment["id"]
    await db.execute(cur, SET_STATUS, {"id": appointment_id, "status": target, "reason": reason})
    await db.execute(
        cur,
        INSERT_STATUS_HISTORY,
        (appointment_id, appointment["status"], target, request[ACTOR].user_id, reason),
    )
    if target == CANCELLED:
        await db.execute(cur, REQUEST_REFUNDS, (appointment_id,))
        await cancel_open_links(cur, appointment_id)
        await outbox.enqueue(
            cur,
            outbox.APPOINTMENT_CANCELLED,
            appointment_id,
            dedupe_key=f"appointment_cancelled:{appointment_id}",
        )
    elif target == CONFIRMED:
        await outbox.enqueue(
            cur,
            outbox.APPOINTMENT_CONFIRMED,
            appointment_id,
            dedupe_key=f"appointment_confirmed:{appointment_id}",
        )
    await audit.record(cur, request[ACTOR],
        "appointment.status",
        "appointment",
        appointment_id,
        appointment["centre_id"],
        {"from": appointment["status"], "to": target, "reason": reason},
    )
    appointment["status"] = target


async def locked_appointment(cur, appointment_id: int, actor: Actor) -> dict[str, Any]:
    row = await db.fetch_one(cur, APPOINTMENT_STATE_LOCKED, (appointment_id,))
    if row is None:
        raise ApiError.not_found("No appointment with this id")
    check_centre(actor, row["centre_id"])
    return row


async def read_appointment(cur, appointment_id: int) -> dict[str, Any]:
    return present(await db.fetch_one(cur, APPOINTMENT_BY_ID, (appointment_id,)))


# --- handlers -------------------------------------------------------------------


@requires("availability.view")
@documented(
    "A clinician's slots for a date or a range of up to 31 days, with their status",
    tags=TAGS,
    query=AvailabilityQuerySchema,
    response=AvailabilitySchema,
    errors=(400, 403, 404, 422),
)
async def get_availability(request: web.Request) -> web.Response:
    query = read_query(request, AvailabilityQuerySchema())
    actor = request[ACTOR]
    first = query.get("date") or query["from_"]
    last = query.get("date") or query["to"]
    async with db.connection(request.app[DB]) as cur:
        clinician = await schedule.clinician(cur, query["clinician_id"])
        if clinician is None:
            raise ApiError(404, "CLINICIAN_NOT_FOUND", "No clinician with this id")
        if not clinician["is_active"]:
            raise ApiError.unprocessable("The clinician is not active", None, "CLINICIAN_INACTIVE")
        plan = await schedule.load(cur, clinician, first, last)
    centre_id = query.get("centre_id")
    if centre_id is not None:
        check_centre(actor, centre_id)
    elif not actor.chain_wide and actor.clinician_id != clinician["id"]:
        # Without a centre, a centre-scoped caller sees the clinician's slots at their own centres only.
        visible = [rule for rule in plan.rules if actor.can_access_centre(rule.centre_id)]
        if not visible and not actor.can_access_centre(clinician["primary_centre_id"]):
            check_centre(actor, clinician["primary_centre_id"])
        plan = dataclasses.replace(plan, rules=visible)
    slots = availability.slots_for_range(plan, first, last, utc_now(), centre_id)
    return ok(
        {
            "clinicianId": clinician["id"],
            "clinicianName": clinician["full_name"],
            "centreId": centre_id,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "slots": slots,
        }
    )


def list_conditions(query: dict[str, Any], actor: Actor) -> list:
    a, c = tables.appointments.c, tables.centres.c
    where = [a.centre_id == c.id]
    if access.can(actor, "appointments.view_all"):
        pass
    elif access.can(actor, "appointments.view_centre"):
        # A desk role at some centres who is also a clinician sees those centres and their own.
        where.append(
            a.centre_id.in_(sorted(actor.centre_ids)) | (a.clinician_id == actor.clinician_id)
        )
    else:
        where.append(a.clinician_id == actor.clinician_id)
    for name in ("centre_id", "clinician_id", "patient_id", "status"):
        if name in query:
            where.append(a[name] == query[name])
    first = query.get("date") or query.get("from_")
    last = query.get("date") or query.get("to")
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


@requires("appointments.view")
@documented(
    "Appointments, filtered and paginated; scoped by the caller's role",
    tags=TAGS,
    query=AppointmentListQuerySchema,
    response=AppointmentSchema,
    many=True,
    errors=(400, 403),
)
async def list_appointments(request: web.Request) -> web.Response:
    query = read_query(request, AppointmentListQuerySchema())
    actor = request[ACTOR]
    if "centre_id" in query and access.can(actor, "appointments.view_centre"):
        check_centre(actor, query["centre_id"])
    a = tables.appointments.c
    page = listing.page_of_ids(
        a.id, list_conditions(query, actor), (a.scheduled_start_at, a.id), query["limit"], query["offset"]
    )
    async with db.connection(request.app[DB]) as cur:
        rows, total = await listing.fetch_page(cur, page, APPOINTMENT_PAGE, query["offset"])
    return ok_page([present(row) for row in rows], total, query["limit"], query["offset"])


@requires("appointments.view")
@documented("One appointment", tags=TAGS, response=AppointmentSchema, errors=(403, 404))
async def get_appointment(request: web.Request) -> web.Response:
    appointment_id = path_id(request)
    row = await db.query_one(request.app[DB], APPOINTMENT_BY_ID, (appointment_id,))
    if row is None:
        raise ApiError.not_found("No appointment with this id")
    check_can_view(request[ACTOR], row)
    return ok(present(row))


@requires("appointments.create")
@documented(
    "Book an appointment (the spec's Appointment Creation Flow)",
    tags=TAGS,
    body=CreateAppointmentSchema,
    response=AppointmentSchema,
    status=201,
    errors=(400, 403, 404, 409, 422),
)
async def create_appointment(request: web.Request) -> web.Response:
    body = await read_json(request, CreateAppointmentSchema())
    actor = request[ACTOR]
    now = utc_now()
    async with db.transaction(request.app[DB]) as cur:
        centre = await schedule.centre(cur, body["centre_id"])
        if centre is None or not centre["is_active"]:
            raise ApiError(
                404, "CENTRE_NOT_FOUND", "No active centre with this id", {"centreId": ["not found"]}
            )
        check_centre(actor, centre["id"])
        if await db.fetch_one(cur, ACTIVE_PATIENT, (body["patient_id"],)) is None:
            raise ApiError(
                404, "PATIENT_NOT_FOUND", "No active patient with this id", {"patientId": ["not found"]}
            )
        clinician = require_active(await schedule.clinician(cur, body["clinician_id"], lock=True))
        duration = body.get("duration_minutes") or clinician["default_consultation_duration_minutes"]
        start = body["scheduled_start_at"].astimezone(dt.UTC)
        end = start + dt.timedelta(minutes=duration)
        await check_slot(cur, clinician, centre, start, end, now)
        appointment_id = await insert_appointment(
            cur,
            request,
            {
                "patient_id": body["patient_id"],
                "clinician_id": clinician["id"],
                "centre_id": centre["id"],
                "appointment_type": body["appointment_type"],
                "start": start,
                "end": end,
                "duration_minutes": duration,
                "status": BOOKED,
                "parent_appointment_id": None,
                "source": booking_source(actor),
                "notes": body.get("notes"),
            },
            reason="Booked",
        )
        await outbox.enqueue(
            cur, outbox.APPOINTMENT_BOOKED, appointment_id, dedupe_key=f"appointment_booked:{appointment_id}"
        )
        await audit.record(cur, request[ACTOR],
            "appointment.create",
            "appointment",
            appointment_id,
            centre["id"],
            {
                "clinicianId": clinician["id"],
                "patientId": body["patient_id"],
                "scheduledStartAt": start.isoformat(),
            },
        )
        data = await read_appointment(cur, appointment_id)
    return ok(data, status=201)


async def reschedule(
    cur, request: web.Request, appointment_id: int, body: dict[str, Any], now: dt.datetime
) -> int:
    """The original becomes RESCHEDULED; the new slot is a new appointment pointing back to it."""
    actor = request[ACTOR]
    original = await db.fetch_one(cur, APPOINTMENT_STATE, (appointment_id,))
    if original is None:
        raise ApiError.not_found("No appointment with this id")
    check_centre(actor, original["centre_id"])
    target_id = body.get("clinician_id", original["clinician_id"])
    # Lock order: clinicians by id, then the appointment. Only the new slot's clinician must be active.
    locked = {
        cid: await schedule.clinician(cur, cid, lock=True)
        for cid in sorted({original["clinician_id"], target_id})
    }
    clinician = require_active(locked[target_id])
    original = await locked_appointment(cur, appointment_id, actor)
    reason = body.get("reason") or "Rescheduled"
    previous_status = original["status"]
    await change_status(cur, request, original, RESCHEDULED, reason, now)
    centre = await schedule.centre(cur, original["centre_id"])
    duration = body.get("duration_minutes") or original["duration_minutes"]
    start = body["scheduled_start_at"].astimezone(dt.UTC)
    end = start + dt.timedelta(minutes=duration)
    await check_slot(cur, clinician, centre, start, end, now)
    # A paid (CONFIRMED) appointment stays paid: its payment moves with it. The source stays the
    # original lead's, so analytics by source are not distorted by moves.
    new_id = await insert_appointment(
        cur,
        request,
        {
            "patient_id": original["patient_id"],
            "clinician_id": clinician["id"],
            "centre_id": original["centre_id"],
            "appointment_type": original["appointment_type"],
            "start": start,
            "end": end,
            "duration_minutes": duration,
            "status": previous_status,
            "parent_appointment_id": appointment_id,
            "source": original["source"],
            "notes": body.get("notes", original["notes"]),
        },
        reason=f"Rescheduled from appointment {appointment_id}",
    )
    await db.execute(cur, MOVE_PAYMENTS, (new_id, appointment_id))
    await outbox.enqueue(
        cur,
        outbox.APPOINTMENT_RESCHEDULED,
        appointment_id,
        new_id,
        dedupe_key=f"appointment_rescheduled:{appointment_id}",
    )
    await audit.record(cur, request[ACTOR],
        "appointment.reschedule",
        "appointment",
        new_id,
        original["centre_id"],
        {"from": appointment_id, "scheduledStartAt": start.isoformat(), "clinicianId": clinician["id"]},
    )
    return new_id


@requires("appointments.update")
@documented(
    "Change an appointment's status, reschedule it (a new appointment replaces it) or edit its notes",
    tags=TAGS,
    body=UpdateAppointmentSchema,
    response=AppointmentSchema,
    errors=(400, 403, 404, 409, 422),
)
async def update_appointment(request: web.Request) -> web.Response:
    appointment_id = path_id(request)
    body = await read_json(request, UpdateAppointmentSchema())
    actor = request[ACTOR]
    now = utc_now()
    async with db.transaction(request.app[DB]) as cur:
        if "scheduled_start_at" in body:
            result_id = await reschedule(cur, request, appointment_id, body, now)
        else:
            result_id = appointment_id
            appointment = await locked_appointment(cur, appointment_id, actor)
            if "status" in body:
                await change_status(cur, request, appointment, body["status"], body.get("reason"), now)
            if "notes" in body:
                await db.execute(cur, SET_NOTES, (body["notes"], appointment_id))
                await audit.record(cur, request[ACTOR], "appointment.notes", "appointment", appointment_id, appointment["centre_id"]
                )
        data = await read_appointment(cur, result_id)
    return ok(data)


@requires("appointments.cancel")
@documented(
    "Cancel an appointment; the body gives the reason",
    tags=TAGS,
    body=CancelAppointmentSchema,
    response=AppointmentSchema,
    errors=(400, 403, 404, 422),
)
async def cancel_appointment(request: web.Request) -> web.Response:
    appointment_id = path_id(request)
    # A DELETE often comes without a body; the reason is still required (400, not 415).
    body = (
        await read_json(request, CancelAppointmentSchema())
        if request.body_exists
        else load(CancelAppointmentSchema(), {})
    )
    async with db.transaction(request.app[DB]) as cur:
        appointment = await locked_appointment(cur, appointment_id, request[ACTOR])
        await change_status(cur, request, appointment, CANCELLED, body["reason"], utc_now())
        data = await read_appointment(cur, appointment_id)
    return ok(data)


def setup_routes(app: web.Application) -> None:
    # The literal path first: /availability must never be taken for an id.
    app.router.add_get("/api/appointments/availability", get_availability)
    app.router.add_get("/api/appointments", list_appointments)
    app.router.add_post("/api/appointments", create_appointment)
    app.router.add_get(r"/api/appointments/{id:\d+}", get_appointment)
    app.router.add_put(r"/api/appointments/{id:\d+}", update_appointment)
    app.router.add_delete(r"/api/appointments/{id:\d+}", cancel_appointment)

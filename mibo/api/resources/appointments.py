"""/api/appointments: availability, list, read, book, change status / reschedule / notes, cancel.

Thin handlers over mibo.domain.appointments, which holds the booking flow and the one status change.
"""

from __future__ import annotations

from aiohttp import web

from mibo.api.access import requires
from mibo.api.apidoc import documented
from mibo.api.http import load, ok, ok_page, path_id, read_json, read_query
from mibo.api.keys import ACTOR, DB
from mibo.core import db
from mibo.core.actor import Actor
from mibo.domain import appointments
from mibo.domain.appointment_states import CANCELLED
from schemas.appointments import (
    AppointmentListQuerySchema,
    AppointmentSchema,
    AvailabilityQuerySchema,
    AvailabilitySchema,
    CancelAppointmentSchema,
    CancelledAppointmentSchema,
    CreateAppointmentSchema,
    UpdateAppointmentSchema,
)

TAGS = ("Appointments",)

_appointment_schema = AppointmentSchema()  # stateless when dumping: one instance for every row
_cancelled_schema = CancelledAppointmentSchema()


def present(row: dict) -> dict:
    return _appointment_schema.dump(row)


@requires("availability.view")
@documented(
    "A clinician's slots for a date or a range of up to 31 days, with their status",
    tags=TAGS, query=AvailabilityQuerySchema, response=AvailabilitySchema, errors=(400, 403, 404, 422),
)
async def get_availability(request: web.Request) -> web.Response:
    query = read_query(request, AvailabilityQuerySchema())
    first = query.get("date") or query["from_"]
    last = query.get("date") or query["to"]
    async with db.connection(request.app[DB]) as cur:
        clinician, slots = await appointments.slots(cur, request[ACTOR], query["clinician_id"], first, last,
                                                    query.get("centre_id"), appointments.utc_now())
    return ok({"clinicianId": clinician["id"], "clinicianName": clinician["full_name"],
               "centreId": query.get("centre_id"), "from": first.isoformat(), "to": last.isoformat(),
               "slots": slots})


@requires("appointments.view")
@documented(
    "Appointments, filtered and paginated; scoped by the caller's role",
    tags=TAGS, query=AppointmentListQuerySchema, response=AppointmentSchema, many=True, errors=(400, 403),
)
async def list_appointments(request: web.Request) -> web.Response:
    query = read_query(request, AppointmentListQuerySchema())
    async with db.connection(request.app[DB]) as cur:
        rows, total = await appointments.list_page(cur, request[ACTOR], query, query["limit"], query["offset"])
    return ok_page([present(row) for row in rows], total, query["limit"], query["offset"])


@requires("appointments.view")
@documented("One appointment", tags=TAGS, response=AppointmentSchema, errors=(403, 404))
async def get_appointment(request: web.Request) -> web.Response:
    appointment_id = path_id(request)
    async with db.connection(request.app[DB]) as cur:
        row = await appointments.visible_appointment(cur, request[ACTOR], appointment_id)
    return ok(present(row))


@requires("appointments.create")
@documented(
    "Book an appointment",
    tags=TAGS, body=CreateAppointmentSchema, response=AppointmentSchema, status=201,
    errors=(400, 403, 404, 409, 422),
)
async def create_appointment(request: web.Request) -> web.Response:
    body = await read_json(request, CreateAppointmentSchema())
    async with db.transaction(request.app[DB]) as cur:
        appointment_id = await appointments.book(
            cur, request[ACTOR], patient_id=body["patient_id"], clinician_id=body["clinician_id"],
            centre_id=body["centre_id"], appointment_type=body["appointment_type"],
            start=body["scheduled_start_at"], duration_minutes=body.get("duration_minutes"),
            notes=body.get("notes"), now=appointments.utc_now())
        row = await appointments.appointment(cur, appointment_id)
    return ok(present(row), status=201)


@requires("appointments.update")
@documented(
    "Change an appointment's status, reschedule it (a new appointment replaces it) or edit its notes",
    tags=TAGS, body=UpdateAppointmentSchema, response=AppointmentSchema, errors=(400, 403, 404, 409, 422),
)
async def update_appointment(request: web.Request) -> web.Response:
    appointment_id = path_id(request)
    body = await read_json(request, UpdateAppointmentSchema())
    async with db.transaction(request.app[DB]) as cur:
        row = await apply_update(cur, request[ACTOR], appointment_id, body)
    return ok(present(row))


async def apply_update(cur, actor: Actor, appointment_id: int, body: dict) -> dict:
    """An UpdateAppointmentSchema body: a reschedule, or a status change and/or notes; returns the
    appointment as it now is (after a reschedule, the new one)."""
    now = appointments.utc_now()
    if "scheduled_start_at" in body:
        appointment_id = await appointments.reschedule(
            cur, actor, appointment_id, start=body["scheduled_start_at"], clinician_id=body.get("clinician_id"),
            duration_minutes=body.get("duration_minutes"), notes=body.get("notes"), reason=body.get("reason"),
            now=now)
    else:
        if "status" in body:
            await appointments.change_status(cur, actor, appointment_id, body["status"], body.get("reason"), now)
        if "notes" in body:
            await appointments.set_notes(cur, actor, appointment_id, body["notes"])
    return await appointments.appointment(cur, appointment_id)


@requires("appointments.cancel")
@documented(
    "Cancel an appointment; the body gives the reason",
    tags=TAGS, body=CancelAppointmentSchema, response=CancelledAppointmentSchema, errors=(400, 403, 404, 422),
    description="What was paid through Razorpay is refunded in full; `refund` says how much and when.",
)
async def cancel_appointment(request: web.Request) -> web.Response:
    appointment_id = path_id(request)
    # A DELETE often comes without a body; the reason is still required (400, not 415).
    body = (await read_json(request, CancelAppointmentSchema()) if request.body_exists
            else load(CancelAppointmentSchema(), {}))
    async with db.transaction(request.app[DB]) as cur:
        cancelled = await appointments.change_status(cur, request[ACTOR], appointment_id, CANCELLED, body["reason"],
                                                     appointments.utc_now())
        row = {**await appointments.appointment(cur, appointment_id), "refund": cancelled["refund"]}
    return ok(_cancelled_schema.dump(row))


def setup_routes(app: web.Application) -> None:
    # The literal path first: /availability must never be taken for an id.
    app.router.add_get("/api/appointments/availability", get_availability)
    app.router.add_get("/api/appointments", list_appointments)
    app.router.add_post("/api/appointments", create_appointment)
    app.router.add_get(r"/api/appointments/{id:\d+}", get_appointment)
    app.router.add_put(r"/api/appointments/{id:\d+}", update_appointment)
    app.router.add_delete(r"/api/appointments/{id:\d+}", cancel_appointment)

"""The patient website's booking routes: book, the patient's appointments, one of them, cancel.

Thin handlers over mibo.domain.web_booking (the site's wall-clock times) and
mibo.domain.appointments (the staff booking rules and the one status change), with the signed-in
patient as the actor. Another patient's appointment does not exist for them (404).
"""

from __future__ import annotations

from aiohttp import web

from mibo.api.access import patient
from mibo.api.apidoc import documented
from mibo.api.http import load, ok, ok_page, path_id, read_json, read_query
from mibo.api.keys import ACTOR, DB, SETTINGS
from mibo.api.resources.appointments import present
from mibo.core import db
from mibo.domain import appointments, web_booking
from schemas.appointments import AppointmentSchema, CancelledAppointmentSchema
from schemas.base import PageQuerySchema
from schemas.patient_booking import BookingSchema, CreateBookingSchema, PatientCancelSchema

TAGS = ("Patient website",)
DEFAULT_REASON = "Cancelled by the patient"
_cancelled_schema = CancelledAppointmentSchema()


@patient
@documented("Book a slot for the signed-in patient (date and time at the centre)", tags=TAGS,
            body=CreateBookingSchema, response=BookingSchema, status=201, errors=(400, 404, 409, 422))
async def create_booking(request: web.Request) -> web.Response:
    body = await read_json(request, CreateBookingSchema())
    actor = request[ACTOR]
    now = appointments.utc_now()
    async with db.transaction(request.app[DB]) as cur:
        start = await web_booking.start_of(cur, body["centre_id"], body["appointment_date"],
                                           body["appointment_time"], body.get("appointment_date_utc"))
        appointment_id = await appointments.book(
            cur, actor, patient_id=actor.patient_id, clinician_id=body["clinician_id"], centre_id=body["centre_id"],
            appointment_type=body["appointment_type"], start=start, duration_minutes=None,
            notes=body.get("patient_notes"), now=now)
        row = await appointments.appointment(cur, appointment_id)
    return ok({"appointment": present(row)}, status=201)


@patient
@documented("The signed-in patient's appointments, latest first", tags=TAGS, query=PageQuerySchema,
            response=AppointmentSchema, many=True)
async def my_appointments(request: web.Request) -> web.Response:
    query = read_query(request, PageQuerySchema())
    async with db.connection(request.app[DB]) as cur:
        rows, total = await web_booking.own_appointments(cur, request[ACTOR], query["limit"], query["offset"])
    return ok_page([present(row) for row in rows], total, query["limit"], query["offset"])


@patient
@documented("One of the signed-in patient's appointments", tags=TAGS, response=AppointmentSchema, errors=(404,))
async def get_booking(request: web.Request) -> web.Response:
    appointment_id = path_id(request)
    async with db.connection(request.app[DB]) as cur:
        row = await appointments.visible_appointment(cur, request[ACTOR], appointment_id)
    return ok(present(row))


@patient
@documented("Cancel one of the signed-in patient's appointments, up to the cut-off before it", tags=TAGS,
            body=PatientCancelSchema, body_optional=True, response=CancelledAppointmentSchema, errors=(404, 422),
            description="Before the cut-off what was paid through Razorpay is refunded in full; `refund` says how "
                        "much and when. After it the site is told to call the centre (422).")
async def cancel_booking(request: web.Request) -> web.Response:
    appointment_id = path_id(request)
    body = await read_json(request, PatientCancelSchema()) if request.body_exists else load(PatientCancelSchema(), {})
    async with db.transaction(request.app[DB]) as cur:
        cancelled = await appointments.cancel_by_patient(
            cur, request[ACTOR], appointment_id, body.get("reason") or DEFAULT_REASON, appointments.utc_now(),
            request.app[SETTINGS].patient_cancel_cutoff_hours)
        row = {**await appointments.appointment(cur, appointment_id), "refund": cancelled["refund"]}
    return ok(_cancelled_schema.dump(row))


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/booking/create", create_booking)
    app.router.add_get("/api/booking/my-appointments", my_appointments)
    app.router.add_get(r"/api/booking/{id:\d+}", get_booking)
    app.router.add_post(r"/api/booking/{id:\d+}/cancel", cancel_booking)
    app.router.add_post(r"/api/patient/appointments/{id:\d+}/cancel", cancel_booking)

"""The panel's appointments at /appointments: the list, one appointment, booking, changes, notes and
cancelling, through the spec's rules (mibo.domain.appointments; a change through the spec handler's
own `apply_update`).

The panel never pages and filters on the client: a list holds at most LIST_CAP rows, the most
recently booked first when no date is asked for (so a booking made a moment ago is on the next
load), else in time order. Rows carry the desk's details (who booked, how it was paid, the block
over its time) read for the whole list at once.
"""

from __future__ import annotations

from aiohttp import web

from mibo.api import work
from mibo.api.access import requires
from mibo.api.http import load, path_id, read_json, read_query
from mibo.api.legacy.contract import panel_route
from mibo.api.legacy.envelope import ok
from mibo.api.resources.appointments import apply_update
from mibo.core.actor import Actor
from mibo.domain import appointments, patients
from mibo.domain.appointment_states import CANCELLED
from schemas.appointments import CancelAppointmentSchema
from schemas.legacy.appointments import (
    PanelAppointmentListQuerySchema,
    PanelAppointmentSchema,
    PanelCreateAppointmentSchema,
    PanelNotesSchema,
    PanelUpdateAppointmentSchema,
)
from schemas.legacy.base import LIST_CAP

APPOINTMENT = {"response": PanelAppointmentSchema}

_row = PanelAppointmentSchema()  # stateless when dumping: one instance for every row


async def shaped(cur, rows: list[dict]) -> list[dict]:
    """Rows of appointments as the panel reads them, with their desk details."""
    details = await appointments.desk_details(cur, [row["id"] for row in rows])
    return [_row.dump({**row, **details.get(row["id"], {})}) for row in rows]


async def shaped_one(cur, appointment_id: int) -> dict:
    return (await shaped(cur, [await appointments.appointment(cur, appointment_id)]))[0]


async def listed(cur, actor: Actor, filters: dict) -> list[dict]:
    rows, _ = await appointments.list_page(cur, actor, filters, LIST_CAP, 0, newest_first="date" not in filters)
    return await shaped(cur, rows)


async def one(cur, actor: Actor, appointment_id: int) -> dict:
    await appointments.visible_appointment(cur, actor, appointment_id)
    return await shaped_one(cur, appointment_id)


async def booked(cur, actor: Actor, body: dict) -> dict:
    patient_id = await patients.of_user(cur, actor, body["patient_id"])
    notes = "\n\n".join(filter(None, (body.get("notes"), body.get("patient_notes")))) or None
    appointment_id = await appointments.book(
        cur, actor, patient_id=patient_id, clinician_id=body["clinician_id"], centre_id=body["centre_id"],
        appointment_type=body["appointment_type"], start=body["scheduled_start_at"],
        duration_minutes=body.get("duration_minutes"), notes=notes, now=appointments.utc_now())
    return await shaped_one(cur, appointment_id)


async def updated(cur, actor: Actor, appointment_id: int, body: dict) -> dict:
    start = body.get("scheduled_start_at")
    if start is not None and start.tzinfo is None:
        current = await appointments.visible_appointment(cur, actor, appointment_id)
        body = {**body, "scheduled_start_at": appointments.local_start(current, start.date(), start.time())}
    row = await apply_update(cur, actor, appointment_id, body)
    return await shaped_one(cur, row["id"])


async def cancelled(cur, actor: Actor, appointment_id: int, reason: str) -> dict:
    await appointments.change_status(cur, actor, appointment_id, CANCELLED, reason, appointments.utc_now())
    return await shaped_one(cur, appointment_id)


@requires("appointments.view")
@panel_route(f"Appointments the caller sees, filtered; at most {LIST_CAP}, unpaged",
             translates=("GET", "/api/appointments"), query=PanelAppointmentListQuerySchema, many=True,
             errors=(400, 403), **APPOINTMENT)
async def list_appointments(request: web.Request) -> web.Response:
    query = read_query(request, PanelAppointmentListQuerySchema())
    return ok(await work.read(request, listed, query))


@requires("appointments.view")
@panel_route("One appointment", translates=("GET", "/api/appointments/{id}"), errors=(403, 404), **APPOINTMENT)
async def get_appointment(request: web.Request) -> web.Response:
    return ok(await work.read(request, one, path_id(request)))


@requires("appointments.create")
@panel_route("Book an appointment (the patient named by their user id)", translates=("POST", "/api/appointments"),
             body=PanelCreateAppointmentSchema, status=201, errors=(400, 403, 404, 409, 422), **APPOINTMENT)
async def create_appointment(request: web.Request) -> web.Response:
    body = await read_json(request, PanelCreateAppointmentSchema())
    return ok(await work.write(request, booked, body), message="Appointment created successfully", status=201)


@requires("appointments.update")
@panel_route("Reschedule, change the status or the notes", translates=("PUT", "/api/appointments/{id}"),
             body=PanelUpdateAppointmentSchema, errors=(400, 403, 404, 409, 422), **APPOINTMENT)
async def update_appointment(request: web.Request) -> web.Response:
    appointment_id = path_id(request)
    body = await read_json(request, PanelUpdateAppointmentSchema())
    return ok(await work.write(request, updated, appointment_id, body), message="Appointment updated")


@requires("appointments.update")
@panel_route("Edit an appointment's notes", translates=("PUT", "/api/appointments/{id}"), body=PanelNotesSchema,
             errors=(400, 403, 404), **APPOINTMENT)
async def update_notes(request: web.Request) -> web.Response:
    appointment_id = path_id(request)
    body = await read_json(request, PanelNotesSchema())
    return ok(await work.write(request, updated, appointment_id, {"notes": body["notes"]}),
              message="Notes updated successfully")


@requires("appointments.cancel")
@panel_route("Cancel an appointment; the body gives the reason", translates=("DELETE", "/api/appointments/{id}"),
             body=CancelAppointmentSchema, errors=(400, 403, 404, 422), **APPOINTMENT)
async def cancel_appointment(request: web.Request) -> web.Response:
    appointment_id = path_id(request)
    body = (await read_json(request, CancelAppointmentSchema()) if request.body_exists
            else load(CancelAppointmentSchema(), {}))
    return ok(await work.write(request, cancelled, appointment_id, body["reason"]),
              message="Appointment cancelled successfully")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/appointments", list_appointments)
    app.router.add_post("/api/appointments", create_appointment)
    app.router.add_get(r"/api/appointments/{id:\d+}", get_appointment)
    app.router.add_put(r"/api/appointments/{id:\d+}", update_appointment)
    app.router.add_delete(r"/api/appointments/{id:\d+}", cancel_appointment)
    app.router.add_patch(r"/api/appointments/{id:\d+}/notes", update_notes)

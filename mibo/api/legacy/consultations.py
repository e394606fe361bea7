"""The panel's clinician dashboard: the clinician's own appointments (grouped, or over a range of
days with their counts), beginning and ending a session, its clinical notes and the follow-up,
through mibo.domain.consultations and the medical notes of mibo.domain.patients.

Session notes are medical notes of the patient tied to the appointment, so the clinical-notes rules
hold: only the treating clinician and ADMIN add or read them. They are never written into the
appointment's own notes, which every desk role reads.
"""

from __future__ import annotations

from aiohttp import web

from mibo.api import work
from mibo.api.access import requires
from mibo.api.http import path_id, read_json, read_query
from mibo.api.legacy.appointments import APPOINTMENT, shaped, shaped_one
from mibo.api.legacy.contract import panel_route
from mibo.api.legacy.envelope import ok
from mibo.core.actor import Actor
from mibo.core.errors import ApiError
from mibo.domain import appointments, consultations, patients
from schemas.legacy.appointments import (
    PanelAppointmentSchema,
    PanelDayAppointmentsQuerySchema,
    PanelDayRangeQuerySchema,
    PanelDayStatisticsSchema,
    PanelFollowUpSchema,
    PanelMyAppointmentsSchema,
    PanelPreviousNotesQuerySchema,
    PanelSessionNoteSchema,
    PanelSessionNotesSchema,
    PanelSummarySchema,
)

_note = PanelSessionNoteSchema()
_summary = PanelSummarySchema()


def as_note(row: dict) -> dict:
    return _note.dump({**row, "scheduled_start_at": row["scheduled_start_at"] or row["created_at"]})


async def grouped(cur, actor: Actor) -> dict:
    groups = await consultations.my_appointments(cur, actor, appointments.utc_now())
    answer = {name: await shaped(cur, rows) for name, rows in groups.items()}
    answer["summary"] = _summary.dump({f"{name}_count": len(rows) for name, rows in groups.items()})
    return answer


async def statistics(cur, actor: Actor, query: dict) -> dict:
    return consultations.day_statistics(
        await consultations.clinician_days(cur, actor, query["start_date"], query["end_date"]))


async def days(cur, actor: Actor, query: dict) -> list[dict]:
    rows = await consultations.clinician_days(cur, actor, query["start_date"], query["end_date"])
    return await shaped(cur, [row for row in rows if query.get("status") in (None, row["status"])])


async def begun(cur, actor: Actor, appointment_id: int) -> dict:
    await consultations.begin(cur, actor, appointment_id, appointments.utc_now())
    return await shaped_one(cur, appointment_id)


async def completed(cur, actor: Actor, appointment_id: int) -> dict:
    await consultations.complete(cur, actor, appointment_id, appointments.utc_now())
    return await shaped_one(cur, appointment_id)


async def noted(cur, actor: Actor, appointment_id: int, text: str) -> dict:
    appointment = await appointments.visible_appointment(cur, actor, appointment_id)
    row = await patients.add_note(cur, actor, appointment["patient_id"], text, appointment_id)
    return as_note({**row, "scheduled_start_at": appointment["scheduled_start_at"],
                    "appointment_type": appointment["appointment_type"], "appointment_status": appointment["status"]})


async def previous(cur, actor: Actor, appointment_id: int, patient_id: int | None) -> list[dict]:
    """The patient's notes from other appointments (and from none), latest first."""
    appointment = await appointments.visible_appointment(cur, actor, appointment_id)
    if patient_id not in (None, appointment["patient_id"]):
        raise ApiError.validation({"patientId": ["Not the patient of this appointment."]})
    rows = await patients.notes(cur, actor, appointment["patient_id"])
    return [as_note(row) for row in rows if row["appointment_id"] != appointment_id]


async def followed_up(cur, actor: Actor, appointment_id: int, body: dict) -> dict:
    follow_up_id = await consultations.book_follow_up(cur, actor, appointment_id, body["follow_up_date"],
                                                      body.get("follow_up_notes") or None, appointments.utc_now())
    return await shaped_one(cur, follow_up_id)


@requires("appointments.view_own")
@panel_route("The clinician's own appointments: current (in session or under way), upcoming, past",
             translates=None, response=PanelMyAppointmentsSchema, errors=(403,))
async def my_appointments(request: web.Request) -> web.Response:
    return ok(await work.read(request, grouped))


@requires("appointments.view_own")
@panel_route("Counts of the clinician's appointments over local days", translates=None,
             query=PanelDayRangeQuerySchema, response=PanelDayStatisticsSchema, errors=(400, 403))
async def dashboard_stats(request: web.Request) -> web.Response:
    query = read_query(request, PanelDayRangeQuerySchema())
    return ok(await work.read(request, statistics, query))


@requires("appointments.view_own")
@panel_route("The clinician's appointments over local days, in time order", translates=None,
             query=PanelDayAppointmentsQuerySchema, response=PanelAppointmentSchema, many=True, errors=(400, 403))
async def dashboard_appointments(request: web.Request) -> web.Response:
    query = read_query(request, PanelDayAppointmentsQuerySchema())
    return ok(await work.read(request, days, query))


@requires("consultations.run")
@panel_route("Begin the session (IN_PROGRESS, its start time kept)", translates=None, errors=(403, 404, 422),
             **APPOINTMENT)
async def start_session(request: web.Request) -> web.Response:
    return ok(await work.write(request, begun, path_id(request)), message="Session started successfully")


@requires("consultations.run")
@panel_route("End the session (COMPLETED, its end time kept)", translates=None, errors=(403, 404, 422),
             **APPOINTMENT)
async def end_session(request: web.Request) -> web.Response:
    return ok(await work.write(request, completed, path_id(request)), message="Session completed successfully")


@requires("notes.create")
@panel_route("Add the session's clinical note", translates=("POST", "/api/patients/{id}/notes"),
             body=PanelSessionNotesSchema, response=PanelSessionNoteSchema, errors=(400, 403, 404),
             max_body=64 * 1024)
async def save_notes(request: web.Request) -> web.Response:
    appointment_id = path_id(request)
    body = await read_json(request, PanelSessionNotesSchema())
    return ok(await work.write(request, noted, appointment_id, body["session_notes"]),
              message="Notes saved successfully")


@requires("notes.view")
@panel_route("The patient's clinical notes of other appointments", translates=("GET", "/api/patients/{id}/notes"),
             query=PanelPreviousNotesQuerySchema, response=PanelSessionNoteSchema, many=True, errors=(400, 403, 404))
async def previous_notes(request: web.Request) -> web.Response:
    appointment_id = path_id(request)
    query = read_query(request, PanelPreviousNotesQuerySchema())
    return ok(await work.write(request, previous, appointment_id, query.get("patient_id")))


@requires("consultations.run")
@panel_route("Book a FOLLOW_UP in the first free slot of a day", translates=None, body=PanelFollowUpSchema,
             errors=(400, 403, 404, 409, 422), **APPOINTMENT)
async def schedule_follow_up(request: web.Request) -> web.Response:
    appointment_id = path_id(request)
    body = await read_json(request, PanelFollowUpSchema())
    return ok(await work.write(request, followed_up, appointment_id, body), message="Follow-up scheduled successfully")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/appointments/my-appointments", my_appointments)
    app.router.add_get("/api/appointments/dashboard/stats", dashboard_stats)
    app.router.add_get("/api/appointments/dashboard/appointments", dashboard_appointments)
    app.router.add_post(r"/api/appointments/{id:\d+}/start-session", start_session)
    app.router.add_post(r"/api/appointments/{id:\d+}/end-session", end_session)
    app.router.add_post(r"/api/appointments/{id:\d+}/clinician-notes", save_notes)
    app.router.add_get(r"/api/appointments/{id:\d+}/previous-notes", previous_notes)
    app.router.add_post(r"/api/appointments/{id:\d+}/schedule-followup", schedule_follow_up)

"""/api/patients: walk-in registration, search, look-up by phone, PatientDetail, and medical notes.

Thin handlers over mibo.domain.patients, which says who sees which patient (the centres that
care for them, a clinician for the patients in their care).
"""

from __future__ import annotations

from aiohttp import web

from mibo.api.access import requires
from mibo.api.apidoc import KB, documented
from mibo.api.http import ok, ok_page, path_id, read_json, read_query
from mibo.api.keys import ACTOR, DB
from mibo.core import db
from mibo.domain import patients
from schemas.base import PageQuerySchema
from schemas.patients import (
    CreateNoteSchema,
    CreatePatientSchema,
    MedicalNoteSchema,
    PatientAppointmentSchema,
    PatientDetailSchema,
    PatientLookupQuerySchema,
    PatientMatchSchema,
    PatientQuerySchema,
    PatientSchema,
    UpdatePatientSchema,
)

TAGS = ("Patients",)

_patient = PatientSchema()
_detail = PatientDetailSchema()
_appointment = PatientAppointmentSchema()
_note = MedicalNoteSchema()


@requires("patients.view")
@documented("Search the patients of the caller's centres (a clinician: those in their care) by name or phone",
            tags=TAGS, query=PatientQuerySchema, response=PatientSchema, many=True)
async def list_patients(request: web.Request) -> web.Response:
    query = read_query(request, PatientQuerySchema())
    async with db.connection(request.app[DB]) as cur:
        rows, total = await patients.list_page(cur, request[ACTOR], query, query["limit"], query["offset"])
    return ok_page(_patient.dump(rows, many=True), total, query["limit"], query["offset"])


@requires("patients.create")
@documented("Find a patient anywhere in the chain by their exact phone: id and name, to book them",
            tags=TAGS, query=PatientLookupQuerySchema, response=PatientMatchSchema, errors=(400, 404))
async def lookup_patient(request: web.Request) -> web.Response:
    query = read_query(request, PatientLookupQuerySchema())
    async with db.transaction(request.app[DB]) as cur:
        match = await patients.match_by_phone(cur, request[ACTOR], query["phone"])
    return ok(PatientMatchSchema().dump(match))


@requires("patients.view")
@documented("Get a patient with appointments, payments and (for clinical roles) medical notes",
            tags=TAGS, response=PatientDetailSchema, errors=(404,))
async def get_patient(request: web.Request) -> web.Response:
    patient_id = path_id(request)
    async with db.transaction(request.app[DB]) as cur:
        patient = await patients.detail(cur, request[ACTOR], patient_id)
    return ok(_detail.dump(patient))


@requires("patients.create")
@documented("Register a walk-in patient at one of the caller's centres", tags=TAGS, body=CreatePatientSchema,
            response=PatientSchema, status=201, errors=(400, 403, 409))
async def create_patient(request: web.Request) -> web.Response:
    body = await read_json(request, CreatePatientSchema())
    async with db.transaction(request.app[DB]) as cur:
        patient = await patients.register(cur, request[ACTOR], body)
    return ok(_patient.dump(patient), status=201)


@requires("patients.update")
@documented("Update a patient", tags=TAGS, body=UpdatePatientSchema, response=PatientSchema,
            errors=(400, 404, 409))
async def update_patient(request: web.Request) -> web.Response:
    patient_id = path_id(request)
    body = await read_json(request, UpdatePatientSchema())
    async with db.transaction(request.app[DB]) as cur:
        patient = await patients.update(cur, request[ACTOR], patient_id, body)
    return ok(_patient.dump(patient))


@requires("patients.view")
@documented("A patient's appointments (scoped to the caller's centres)", tags=TAGS, query=PageQuerySchema,
            response=PatientAppointmentSchema, many=True, errors=(404,))
async def patient_appointments(request: web.Request) -> web.Response:
    patient_id = path_id(request)
    query = read_query(request, PageQuerySchema())
    async with db.transaction(request.app[DB]) as cur:
        rows, total = await patients.appointments_page(cur, request[ACTOR], patient_id, query["limit"],
                                                       query["offset"])
    return ok_page(_appointment.dump(rows, many=True), total, query["limit"], query["offset"])


@requires("notes.view")
@documented("A patient's medical notes (clinical roles; a clinician only for patients in their care)",
            tags=TAGS, response=MedicalNoteSchema, many=True, errors=(403, 404))
async def list_notes(request: web.Request) -> web.Response:
    patient_id = path_id(request)
    async with db.transaction(request.app[DB]) as cur:
        rows = await patients.notes(cur, request[ACTOR], patient_id)
    return ok(_note.dump(rows, many=True))


@requires("notes.create")
@documented(
    "Add a medical note",
    tags=TAGS,
    body=CreateNoteSchema,
    response=MedicalNoteSchema,
    status=201,
    errors=(400, 403, 404),
    max_body=64 * KB,  # a long note in a script of three bytes a character
)
async def add_note(request: web.Request) -> web.Response:
    patient_id = path_id(request)
    body = await read_json(request, CreateNoteSchema())
    async with db.transaction(request.app[DB]) as cur:
        note = await patients.add_note(cur, request[ACTOR], patient_id, body["note"], body.get("appointment_id"))
    return ok(_note.dump(note), status=201)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/patients", list_patients)
    app.router.add_post("/api/patients", create_patient)
    app.router.add_get("/api/patients/lookup", lookup_patient)
    app.router.add_get(r"/api/patients/{id:\d+}", get_patient)
    app.router.add_put(r"/api/patients/{id:\d+}", update_patient)
    app.router.add_get(r"/api/patients/{id:\d+}/appointments", patient_appointments)
    app.router.add_get(r"/api/patients/{id:\d+}/notes", list_notes)
    app.router.add_post(r"/api/patients/{id:\d+}/notes", add_note)

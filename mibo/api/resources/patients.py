"""/api/patients: walk-in registration, search, PatientDetail, and medical notes.

Scoping decisions (the spec is silent):
- A patient is a chain-wide record: a walk-in may visit any centre, so desk and management
  roles may search any patient and read their demographic record, and create and update it
  anywhere (otherwise a front desk could not book a returning patient who was registered at
  another centre). A CLINICIAN, who books nobody, finds and reads only patients in their care
  (least privilege for mental-health records); any other patient is 403 NO_CARE_RELATIONSHIP.
- What the patient did at a centre is scoped like the rest of the API. In PatientDetail and
  /api/patients/{id}/appointments, centre-scoped desk roles see only appointments at their
  centres and payments for those appointments; a CLINICIAN sees only their own appointments
  (and their payments); ADMIN and MANAGER see everything.
- Medical notes are clinical content: only ADMIN and CLINICIAN (permission notes.view) read
  them; for every other role PatientDetail.medicalNotes is null. A CLINICIAN reads and adds
  notes only for patients in their care, meaning the patient has a non-cancelled appointment
  with them (any date); they then read all of the patient's notes, as continuity of care needs.
  A note tied to an appointment must be an appointment of this patient (and, for a
  CLINICIAN, their own); it takes that appointment's centre.
- Every read of the detail, the appointments or the notes, and every change, writes an audit row
  in the same transaction.
"""

from __future__ import annotations

import re

from aiohttp import web
from marshmallow import ValidationError
from sqlalchemy import exists, func, or_

from mibo.api.access import requires
from mibo.api.apidoc import KB, documented
from mibo.api.http import ok, ok_page, path_id, read_json, read_query
from mibo.api.keys import ACTOR, DB
from mibo.core import audit, db, listing, tables
from mibo.core.actor import ADMIN, Actor
from mibo.core.errors import ApiError
from mibo.domain import access
from schemas.base import PageQuerySchema, normalize_phone
from schemas.patients import (
    CreateNoteSchema,
    CreatePatientSchema,
    MedicalNoteSchema,
    PatientAppointmentSchema,
    PatientDetailSchema,
    PatientQuerySchema,
    PatientSchema,
    UpdatePatientSchema,
)

PATIENT_FROM = """
pp.id, pp.user_id, u.full_name, u.phone, u.email, pp.date_of_birth, pp.gender, pp.blood_group,
json_build_object('name', pp.emergency_contact_name, 'phone', pp.emergency_contact_phone)
    AS emergency_contact,
pp.is_active, pp.created_at, pp.updated_at
FROM patient_profiles pp JOIN users u ON u.id = pp.user_id
"""

PATIENT_BY_ID = f"SELECT {PATIENT_FROM} WHERE pp.id = %s"

LIST_DETAIL = f"SELECT page.total, {PATIENT_FROM} JOIN page ON page.id = pp.id ORDER BY page.ord"

PATIENT_FOR_UPDATE = "SELECT id, user_id FROM patient_profiles WHERE id = %s FOR UPDATE"

USER_BY_PHONE_FOR_UPDATE = """
SELECT u.id AS user_id, u.user_type, pp.id AS patient_id
FROM users u LEFT JOIN patient_profiles pp ON pp.user_id = u.id
WHERE u.phone = %s
FOR UPDATE OF u
"""

INSERT_PATIENT_USER = """
INSERT INTO users (full_name, phone, email, user_type) VALUES (%(full_name)s, %(phone)s, %(email)s, 'PATIENT')
RETURNING id
"""

INSERT_PATIENT_PROFILE = """
INSERT INTO patient_profiles (user_id, date_of_birth, gender, blood_group, emergency_contact_name,
                              emergency_contact_phone)
VALUES (%(user_id)s, %(date_of_birth)s, %(gender)s, %(blood_group)s, %(emergency_contact_name)s,
        %(emergency_contact_phone)s)
RETURNING id
"""

# Appointment scope: centre_ids NULL = every centre; clinician_id NULL = every clinician.
SCOPED_APPOINTMENT = """
a.patient_id = %(patient_id)s
AND (%(centre_ids)s::bigint[] IS NULL OR a.centre_id = ANY(%(centre_ids)s::bigint[]))
AND (%(clinician_id)s::bigint IS NULL OR a.clinician_id = %(clinician_id)s::bigint)
"""

APPOINTMENTS_OF_PATIENT = f"""
SELECT a.id, a.patient_id, a.clinician_id, cu.full_name AS clinician_name, a.centre_id, c.name AS centre_name,
       a.appointment_type, a.scheduled_start_at, a.scheduled_end_at, a.duration_minutes, a.status, a.source,
       a.parent_appointment_id, a.meet_link, a.created_at, count(*) OVER () AS total
FROM appointments a
JOIN clinician_profiles cp ON cp.id = a.clinician_id
JOIN users cu ON cu.id = cp.user_id
JOIN centres c ON c.id = a.centre_id
WHERE {SCOPED_APPOINTMENT}
ORDER BY a.scheduled_start_at DESC, a.id DESC
LIMIT %(limit)s OFFSET %(offset)s
"""

# Payments without an appointment belong to no centre: only chain-wide roles see them.
PAYMENTS_OF_PATIENT = f"""
SELECT p.id, p.appointment_id, p.provider, p.order_id, p.payment_id, p.amount, p.currency, p.status,
       p.paid_at, p.created_at
FROM payments p
LEFT JOIN appointments a ON a.id = p.appointment_id
WHERE p.patient_id = %(patient_id)s
  AND ((%(centre_ids)s::bigint[] IS NULL AND %(clinician_id)s::bigint IS NULL) OR ({SCOPED_APPOINTMENT}))
ORDER BY p.created_at DESC, p.id DESC
"""

NOTES_OF_PATIENT = """
SELECT n.id, n.patient_id, n.appointment_id, n.centre_id, n.author_user_id, u.full_name AS author_name,
       n.note, n.created_at
FROM medical_notes n JOIN users u ON u.id = n.author_user_id
WHERE n.patient_id = %s
ORDER BY n.created_at DESC, n.id DESC
"""

IN_CARE_OF = """
SELECT EXISTS (SELECT 1 FROM appointments
               WHERE patient_id = %s AND clinician_id = %s AND status <> 'CANCELLED')
"""

APPOINTMENT_OF_PATIENT = (
    "SELECT id, clinician_id, centre_id FROM appointments WHERE id = %s AND patient_id = %s"
)

INSERT_NOTE = """
WITH note AS (
    INSERT INTO medical_notes (patient_id, appointment_id, centre_id, author_user_id, note)
    VALUES (%(patient_id)s, %(appointment_id)s, %(centre_id)s, %(author_user_id)s, %(note)s)
    RETURNING *
)
SELECT note.id, note.patient_id, note.appointment_id, note.centre_id, note.author_user_id,
       u.full_name AS author_name, note.note, note.created_at
FROM note JOIN users u ON u.id = note.author_user_id
"""

USER_COLUMNS = {"full_name": "full_name", "phone": "phone", "email": "email"}
PROFILE_COLUMNS = {
    "date_of_birth": "date_of_birth",
    "gender": "gender",
    "blood_group": "blood_group",
    "emergency_contact_name": "emergency_contact_name",
    "emergency_contact_phone": "emergency_contact_phone",
}

_patient = PatientSchema()
_detail = PatientDetailSchema()
_appointment = PatientAppointmentSchema()
_note = MedicalNoteSchema()

_PHONE_DIGITS = re.compile(r"^\+?[\d\s-]{3,}$")

# --- business rules ----------------------------------------------------------------


def appointment_scope(actor: Actor) -> dict:
    """Which of a patient's appointments the caller sees: centre ids and/or a clinician, None = all."""
    if access.can(actor, "appointments.view_centre"):
        return {"centre_ids": actor.centre_filter(), "clinician_id": None}
    # Only a clinician's own appointments; -1 matches nothing when they have no profile.
    return {"centre_ids": None, "clinician_id": actor.clinician_id or -1}


def sees_every_patient(actor: Actor) -> bool:
    """Desk and management roles find any patient (walk-ins go to any centre); a clinician only those in their care."""
    return access.can(actor, "appointments.view_centre")


async def in_care_of(cur, actor: Actor, patient_id: int) -> bool:
    return actor.clinician_id is not None and bool(
        await db.fetch_value(cur, IN_CARE_OF, (patient_id, actor.clinician_id))
    )


async def ensure_may_view_patient(cur, actor: Actor, patient_id: int) -> None:
    if not sees_every_patient(actor) and not await in_care_of(cur, actor, patient_id):
        raise ApiError.forbidden(
            "Only a clinician caring for this patient may see their record", "NO_CARE_RELATIONSHIP"
        )


def care_condition(actor: Actor):
    """List filter for a clinician: patients with a live or past (not cancelled) appointment with them."""
    a = tables.appointments
    return exists().where(
        a.c.patient_id == tables.patient_profiles.c.id,
        a.c.clinician_id == (actor.clinician_id or -1),
        a.c.status != "CANCELLED",
    )


async def may_read_notes(cur, actor: Actor, patient_id: int) -> bool:
    if not access.can(actor, "notes.view"):
        return False
    if ADMIN in actor.roles:
        return True
    return await in_care_of(cur, actor, patient_id)


def search_condition(search: str):
    """A name fragment, a phone in any accepted format, or a run of its digits."""
    u = tables.users
    try:
        return or_(u.c.phone == normalize_phone(search), u.c.full_name.ilike(listing.like_pattern(search)))
    except ValidationError:
        pass
    if _PHONE_DIGITS.match(search):
        return u.c.phone.like(listing.like_pattern(re.sub(r"\D", "", search)))
    return u.c.full_name.ilike(listing.like_pattern(search))


def profile_values(body: dict) -> dict:
    """Flatten emergencyContact into its two columns (null contact clears both)."""
    values = {key: value for key, value in body.items() if key != "emergency_contact"}
    if "emergency_contact" in body:
        contact = body["emergency_contact"] or {"name": None, "phone": None}
        for key in ("name", "phone"):
            if key in contact:
                values[f"emergency_contact_{key}"] = contact[key]
    return values


async def patient_or_404(cur, patient_id: int) -> dict:
    patient = await db.fetch_one(cur, PATIENT_BY_ID, (patient_id,))
    if patient is None:
        raise ApiError.not_found("patient")
    return patient


# --- handlers -----------------------------------------------------------------


@requires("patients.view")
@documented(
    "Search patients by name or phone",
    tags=("Patients",),
    query=PatientQuerySchema,
    response=PatientSchema,
    many=True,
)
async def list_patients(request: web.Request) -> web.Response:
    query = read_query(request, PatientQuerySchema())
    pp, u = tables.patient_profiles, tables.users
    where = []
    if "search" in query:
        where.append(search_condition(query["search"]))
    if "phone" in query:
        where.append(u.c.phone == query["phone"])
    if not sees_every_patient(request[ACTOR]):
        where.append(care_condition(request[ACTOR]))
    page = listing.page_of_ids(pp.c.id, where, (func.lower(u.c.full_name), pp.c.id), query["limit"],
                               query["offset"], from_=pp.join(u, u.c.id == pp.c.user_id))
    async with db.connection(request.app[DB]) as cur:
        rows, total = await listing.fetch_page(cur, page, LIST_DETAIL, query["offset"])
    return ok_page(_patient.dump(rows, many=True), total, query["limit"], query["offset"])


@requires("patients.view")
@documented(
    "Get a patient with appointments, payments and (for clinical roles) medical notes",
    tags=("Patients",),
    response=PatientDetailSchema,
    errors=(404,),
)
async def get_patient(request: web.Request) -> web.Response:
    patient_id = path_id(request)
    actor = request[ACTOR]
    scope = {"patient_id": patient_id, **appointment_scope(actor)}
    async with db.transaction(request.app[DB]) as cur:
        patient = await patient_or_404(cur, patient_id)
        await ensure_may_view_patient(cur, actor, patient_id)
        appointments = await db.fetch_all(cur, APPOINTMENTS_OF_PATIENT, {**scope, "limit": None, "offset": 0})
        payments = await db.fetch_all(cur, PAYMENTS_OF_PATIENT, scope)
        notes_visible = await may_read_notes(cur, actor, patient_id)
        notes = await db.fetch_all(cur, NOTES_OF_PATIENT, (patient_id,)) if notes_visible else None
        await audit.record(cur, request[ACTOR], "patient.read", "patient", patient_id, None,
                           {"medicalNotes": notes_visible})
    return ok(
        _detail.dump({**patient, "appointments": appointments, "payments": payments, "medical_notes": notes})
    )


@requires("patients.create")
@documented(
    "Register a walk-in patient",
    tags=("Patients",),
    body=CreatePatientSchema,
    response=PatientSchema,
    status=201,
    errors=(400, 409),
)
async def create_patient(request: web.Request) -> web.Response:
    body = await read_json(request, CreatePatientSchema())
    values = {key: None for key in ("email", *PROFILE_COLUMNS)} | profile_values(body)
    async with db.transaction(request.app[DB]) as cur:
        existing = await db.fetch_one(cur, USER_BY_PHONE_FOR_UPDATE, (body["phone"],))
        if existing is not None and existing["patient_id"] is not None:
            raise ApiError.conflict(
                "A patient with this phone number already exists",
                {"existingPatientId": existing["patient_id"]},
                code="PATIENT_EXISTS",
            )
        if existing is not None and existing["user_type"] != "PATIENT":
            raise ApiError.conflict(
                "This phone number belongs to a staff account",
                {"phone": ["already belongs to a staff account"]},
                code="DUPLICATE",
            )
        # A patient who signed up on the website but never got a profile keeps their account.
        user_id = existing["user_id"] if existing else await db.fetch_value(cur, INSERT_PATIENT_USER, values)
        patient_id = await db.fetch_value(cur, INSERT_PATIENT_PROFILE, {**values, "user_id": user_id})
        patient = await patient_or_404(cur, patient_id)
        await audit.record(cur, request[ACTOR], "patient.create", "patient", patient_id)
    return ok(_patient.dump(patient), status=201)


@requires("patients.update")
@documented(
    "Update a patient",
    tags=("Patients",),
    body=UpdatePatientSchema,
    response=PatientSchema,
    errors=(400, 404, 409),
)
async def update_patient(request: web.Request) -> web.Response:
    patient_id = path_id(request)
    body = await read_json(request, UpdatePatientSchema())
    values = profile_values(body)
    async with db.transaction(request.app[DB]) as cur:
        current = await db.fetch_one(cur, PATIENT_FOR_UPDATE, (patient_id,))
        if current is None:
            raise ApiError.not_found("patient")
        if user := db.set_clause(USER_COLUMNS, values):
            await db.execute(
                cur, f"UPDATE users SET {user} WHERE id = %(id)s", {**values, "id": current["user_id"]}
            )
        if profile := db.set_clause(PROFILE_COLUMNS, values):
            await db.execute(
                cur, f"UPDATE patient_profiles SET {profile} WHERE id = %(id)s", {**values, "id": patient_id}
            )
        patient = await patient_or_404(cur, patient_id)
        await audit.record(cur, request[ACTOR], "patient.update", "patient", patient_id, None, {"fields": sorted(body)}
        )
    return ok(_patient.dump(patient))


@requires("patients.view")
@documented(
    "A patient's appointments (scoped to the caller's centres)",
    tags=("Patients",),
    query=PageQuerySchema,
    response=PatientAppointmentSchema,
    many=True,
    errors=(404,),
)
async def patient_appointments(request: web.Request) -> web.Response:
    patient_id = path_id(request)
    query = read_query(request, PageQuerySchema())
    scope = {"patient_id": patient_id, **appointment_scope(request[ACTOR]), **query}
    async with db.transaction(request.app[DB]) as cur:
        await patient_or_404(cur, patient_id)
        await ensure_may_view_patient(cur, request[ACTOR], patient_id)
        rows = await db.fetch_all(cur, APPOINTMENTS_OF_PATIENT, scope)
        await audit.record(cur, request[ACTOR], "patient.appointments.read", "patient", patient_id)
    total = rows[0]["total"] if rows else 0
    return ok_page(_appointment.dump(rows, many=True), total, query["limit"], query["offset"])


async def ensure_may_read_notes(cur, actor: Actor, patient_id: int) -> None:
    if not await may_read_notes(cur, actor, patient_id):
        raise ApiError.forbidden(
            "Only a clinician caring for this patient may see or add their notes", "NO_CARE_RELATIONSHIP"
        )


@requires("notes.view")
@documented(
    "A patient's medical notes (clinical roles; a clinician only for patients in their care)",
    tags=("Patients",),
    response=MedicalNoteSchema,
    many=True,
    errors=(403, 404),
)
async def list_notes(request: web.Request) -> web.Response:
    patient_id = path_id(request)
    async with db.transaction(request.app[DB]) as cur:
        await patient_or_404(cur, patient_id)
        await ensure_may_read_notes(cur, request[ACTOR], patient_id)
        notes = await db.fetch_all(cur, NOTES_OF_PATIENT, (patient_id,))
        await audit.record(cur, request[ACTOR], "patient.notes.read", "patient", patient_id)
    return ok(_note.dump(notes, many=True))


@requires("notes.create")
@documented(
    "Add a medical note",
    tags=("Patients",),
    body=CreateNoteSchema,
    response=MedicalNoteSchema,
    status=201,
    errors=(400, 403, 404),
    max_body=64 * KB,  # a long note in a script of three bytes a character
)
async def add_note(request: web.Request) -> web.Response:
    patient_id = path_id(request)
    body = await read_json(request, CreateNoteSchema())
    actor = request[ACTOR]
    async with db.transaction(request.app[DB]) as cur:
        await patient_or_404(cur, patient_id)
        centre_id = None
        if "appointment_id" in body:
            appointment = await db.fetch_one(
                cur, APPOINTMENT_OF_PATIENT, (body["appointment_id"], patient_id)
            )
            if appointment is None:
                raise ApiError.validation({"appointmentId": ["Not an appointment of this patient."]})
            if ADMIN not in actor.roles and appointment["clinician_id"] != actor.clinician_id:
                raise ApiError.forbidden("This appointment is another clinician's", "NO_CARE_RELATIONSHIP")
            centre_id = appointment["centre_id"]
        else:
            await ensure_may_read_notes(cur, actor, patient_id)
        note = await db.fetch_one(
            cur,
            INSERT_NOTE,
            {
                "patient_id": patient_id,
                "appointment_id": body.get("appointment_id"),
                "centre_id": centre_id,
                "author_user_id": actor.user_id,
                "note": body["note"],
            },
        )
        await audit.record(cur, request[ACTOR],
            "patient.note.create",
            "medical_note",
            note["id"],
            centre_id,
            {"patientId": patient_id},
        )
    return ok(_note.dump(note), status=201)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/patients", list_patients)
    app.router.add_post("/api/patients", create_patient)
    app.router.add_get(r"/api/patients/{id:\d+}", get_patient)
    app.router.add_put(r"/api/patients/{id:\d+}", update_patient)
    app.router.add_get(r"/api/patients/{id:\d+}/appointments", patient_appointments)
    app.router.add_get(r"/api/patients/{id:\d+}/notes", list_notes)
    app.router.add_post(r"/api/patients/{id:\d+}/notes", add_note)

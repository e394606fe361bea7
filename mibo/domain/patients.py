"""Patients: walk-in registration, search, the PatientDetail, and medical notes.

A patient's record belongs to the centres that care for them. Who sees a patient at all (anyone
else gets 404: a record one may not see does not exist for them):

- ADMIN and MANAGER (and our own processes): every patient;
- the desk and management roles of a centre: the patients who belong to one of their centres,
  registered there or with any appointment there (the table patient_centres, which the database
  keeps whichever surface registers or books);
- a CLINICIAN: the patients in their care, those with a held appointment with them (BOOKED,
  CONFIRMED, COMPLETED or NO_SHOW; a rescheduled original counts through its child);
- a patient signed in on the website: themselves.

The record, its updates, its appointments and its payments follow that rule. A desk meeting a
returning patient of another centre looks them up by their exact phone number
(`match_by_phone`), which answers their id and name only: enough to book them instead of
registering them twice, and booking them at this centre makes them this centre's patient.

What the patient did at a centre is scoped like the rest of the API: centre-scoped roles see only
the appointments at their centres and the payments for those; a CLINICIAN only their own
appointments (and their payments); ADMIN and MANAGER everything.

Medical notes are clinical content: only ADMIN and CLINICIAN (notes.view) read them, and for every
other role PatientDetail.medicalNotes is null. A CLINICIAN reads and adds notes only for patients
in their care; they then read all of the patient's notes, as continuity of care needs. A note tied
to an appointment must be an appointment of this patient (and, for a CLINICIAN, their own); it
takes that appointment's centre.

A patient signed in on the website reads and changes their own record (`own_record`, `update_own`):
their name, e-mail, date of birth and gender only, through the same write and audit as the desk's.

Every read of the detail, the appointments or the notes, every look-up and every change writes an
audit row in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import exists, false, func, or_, select

from mibo.core import audit, db, listing, tables
from mibo.core.actor import ADMIN, CLINICIAN, Actor
from mibo.core.errors import ApiError
from mibo.domain import access, appointments, refunds
from mibo.domain.appointment_states import HELD, HELD_SQL, LIVE_SQL

# --- SQL ------------------------------------------------------------------------

PATIENT_FROM = """
pp.id, pp.user_id, u.full_name, u.phone, u.email, pp.date_of_birth, pp.gender, pp.blood_group,
json_build_object('name', pp.emergency_contact_name, 'phone', pp.emergency_contact_phone)
    AS emergency_contact,
pp.registered_centre_id, pp.mrn, pp.notes, pp.is_active, pp.created_at, pp.updated_at
FROM patient_profiles pp JOIN users u ON u.id = pp.user_id
"""

PATIENT_BY_ID = f"SELECT {PATIENT_FROM} WHERE pp.id = %s"

PATIENT_PAGE = f"SELECT page.total, {PATIENT_FROM} JOIN page ON page.id = pp.id ORDER BY page.ord"

PATIENT_FOR_UPDATE = "SELECT id, user_id FROM patient_profiles WHERE id = %s FOR NO KEY UPDATE"

PATIENT_OF_USER = "SELECT id FROM patient_profiles WHERE user_id = %s"

PATIENT_BY_PHONE = """
SELECT pp.id, u.full_name FROM patient_profiles pp JOIN users u ON u.id = pp.user_id WHERE u.phone = %s
"""

USER_BY_PHONE_FOR_UPDATE = """
SELECT u.id AS user_id, u.user_type, pp.id AS patient_id
FROM users u LEFT JOIN patient_profiles pp ON pp.user_id = u.id
WHERE u.phone = %s
FOR UPDATE OF u
"""

ACTIVE_CENTRE = "SELECT id FROM centres WHERE id = %s AND is_active"

INSERT_PATIENT_USER = """
INSERT INTO users (full_name, phone, email, user_type) VALUES (%(full_name)s, %(phone)s, %(email)s, 'PATIENT')
RETURNING id
"""

INSERT_PATIENT_PROFILE = """
INSERT INTO patient_profiles (user_id, date_of_birth, gender, blood_group, emergency_contact_name,
                              emergency_contact_phone, mrn, notes, registered_centre_id)
VALUES (%(user_id)s, %(date_of_birth)s, %(gender)s, %(blood_group)s, %(emergency_contact_name)s,
        %(emergency_contact_phone)s, %(mrn)s, %(notes)s, %(registered_centre_id)s)
RETURNING id
"""

# Appointment scope (appointments.patient_appointment_scope): centre_ids NULL = every centre;
# clinician_id NULL = every clinician; replaced false leaves out originals replaced by a reschedule.
SCOPED_APPOINTMENT = """
a.patient_id = %(patient_id)s
AND (%(centre_ids)s::bigint[] IS NULL OR a.centre_id = ANY(%(centre_ids)s::bigint[]))
AND (%(clinician_id)s::bigint IS NULL OR a.clinician_id = %(clinician_id)s::bigint)
AND (%(replaced)s OR a.status <> 'RESCHEDULED')
"""

APPOINTMENTS_OF_PATIENT = f"""
SELECT a.id, a.patient_id, a.clinician_id, cu.full_name AS clinician_name, a.centre_id, c.name AS centre_name,
       c.timezone, a.appointment_type, a.scheduled_start_at, a.scheduled_end_at, a.duration_minutes, a.status,
       a.source, a.parent_appointment_id, a.meet_link, cp.consultation_fee, a.created_at,
       count(*) OVER () AS total
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
       p.paid_at, p.created_at, {refunds.REFUND_SUMMARY}
FROM payments p
LEFT JOIN appointments a ON a.id = p.appointment_id
WHERE p.patient_id = %(patient_id)s
  AND ((%(centre_ids)s::bigint[] IS NULL AND %(clinician_id)s::bigint IS NULL) OR ({SCOPED_APPOINTMENT}))
ORDER BY p.created_at DESC, p.id DESC
"""

# Per patient, over the appointments the actor sees (SCOPED_APPOINTMENT's scope): how many are
# ahead (live) and behind (held), and the next one.
VISITS_OF_PATIENTS = f"""
SELECT a.patient_id,
       count(*) FILTER (WHERE a.status IN {LIVE_SQL} AND a.scheduled_start_at >= now()) AS upcoming,
       count(*) FILTER (WHERE a.status IN {HELD_SQL} AND a.scheduled_start_at < now()) AS past,
       (array_agg(json_build_object('id', a.id, 'scheduled_start_at', a.scheduled_start_at,
                                    'centre_id', a.centre_id, 'clinician_id', a.clinician_id, 'status', a.status)
                  ORDER BY a.scheduled_start_at)
            FILTER (WHERE a.status IN {LIVE_SQL} AND a.scheduled_start_at >= now()))[1] AS next_appointment
FROM appointments a
WHERE a.patient_id = ANY(%(patient_ids)s::bigint[])
  AND (%(centre_ids)s::bigint[] IS NULL OR a.centre_id = ANY(%(centre_ids)s::bigint[]))
  AND (%(clinician_id)s::bigint IS NULL OR a.clinician_id = %(clinician_id)s::bigint)
GROUP BY a.patient_id
"""

NOTES_OF_PATIENT = """
SELECT n.id, n.patient_id, n.appointment_id, n.centre_id, n.author_user_id, u.full_name AS author_name,
       n.note, n.created_at, a.scheduled_start_at, a.appointment_type, a.status AS appointment_status
FROM medical_notes n JOIN users u ON u.id = n.author_user_id
LEFT JOIN appointments a ON a.id = n.appointment_id
WHERE n.patient_id = %s
ORDER BY n.created_at DESC, n.id DESC
"""

APPOINTMENT_OF_PATIENT = "SELECT id, clinician_id, centre_id FROM appointments WHERE id = %s AND patient_id = %s"

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
    "mrn": "mrn",
    "notes": "notes",
}

# --- who sees whom ----------------------------------------------------------------

_pp, _pc, _a, _u = tables.patient_profiles, tables.patient_centres, tables.appointments, tables.users


def in_care_of(clinician_id: int):
    """Patients (`patient_profiles`) with a held appointment with the clinician."""
    return exists().where(_a.c.patient_id == _pp.c.id, _a.c.clinician_id == clinician_id, _a.c.status.in_(HELD))


def visible_to(actor: Actor):
    """The patients (`patient_profiles`) the actor may see, as a condition; None for all of them."""
    if actor.is_patient:
        return _pp.c.id == actor.patient_id
    if actor.chain_wide:
        return None
    seen = []
    if access.can(actor, "appointments.view_centre") and actor.centre_ids:
        seen.append(exists().where(_pc.c.patient_id == _pp.c.id, _pc.c.centre_id.in_(sorted(actor.centre_ids))))
    if CLINICIAN in actor.roles and actor.clinician_id is not None:
        seen.append(in_care_of(actor.clinician_id))
    return or_(*seen) if seen else false()


async def matches(cur, patient_id: int, condition) -> bool:
    """Whether the patient exists and meets `condition` (None: exists)."""
    statement = select(_pp.c.id).where(_pp.c.id == patient_id)
    if condition is not None:
        statement = statement.where(condition)
    sql, params = tables.compile_query(statement)
    return await db.fetch_value(cur, sql, params) is not None


async def check_visible(cur, actor: Actor, patient_id: int) -> None:
    """404 PATIENT_NOT_FOUND unless the patient exists and the actor may see them."""
    if not await matches(cur, patient_id, visible_to(actor)):
        raise ApiError.not_found("patient")


async def may_read_notes(cur, actor: Actor, patient_id: int) -> bool:
    if not access.can(actor, "notes.view"):
        return False
    if ADMIN in actor.roles:
        return True
    return (CLINICIAN in actor.roles and actor.clinician_id is not None
            and await matches(cur, patient_id, in_care_of(actor.clinician_id)))


async def ensure_may_read_notes(cur, actor: Actor, patient_id: int) -> None:
    if not await may_read_notes(cur, actor, patient_id):
        raise ApiError.forbidden(
            "Only a clinician caring for this patient may see or add their notes", "NO_CARE_RELATIONSHIP"
        )


def search_condition(filters: dict[str, Any]):
    """A name fragment, a phone in any accepted format, or a run of its digits (see the query schema)."""
    if "search_phone" in filters:
        return or_(_u.c.phone == filters["search_phone"], _u.c.full_name.ilike(listing.like_pattern(filters["search"])))
    if "search_digits" in filters:
        return _u.c.phone.like(listing.like_pattern(filters["search_digits"]))
    return _u.c.full_name.ilike(listing.like_pattern(filters["search"]))


def profile_values(changes: dict[str, Any]) -> dict[str, Any]:
    """Flatten emergencyContact into its two columns (null contact clears both)."""
    values = {key: value for key, value in changes.items() if key != "emergency_contact"}
    if "emergency_contact" in changes:
        contact = changes["emergency_contact"] or {"name": None, "phone": None}
        for key in ("name", "phone"):
            if key in contact:
                values[f"emergency_contact_{key}"] = contact[key]
    return values


async def registration_centre(cur, actor: Actor, centre_id: int | None) -> int | None:
    """Where a walk-in registers: the centre asked for, else the actor's only centre (None for a
    chain-wide actor without one)."""
    if centre_id is None:
        if len(actor.centre_ids) == 1:
            return next(iter(actor.centre_ids))
        if actor.chain_wide:
            return None
        raise ApiError.validation({"centreId": ["Say at which of your centres the patient registers."]})
    access.check_centre(actor, centre_id)
    if await db.fetch_value(cur, ACTIVE_CENTRE, (centre_id,)) is None:
        raise ApiError.validation({"centreId": ["Unknown or inactive centre."]})
    return centre_id


# --- reading --------------------------------------------------------------------


async def patient_row(cur, patient_id: int) -> dict[str, Any]:
    patient = await db.fetch_one(cur, PATIENT_BY_ID, (patient_id,))
    if patient is None:
        raise ApiError.not_found("patient")
    return patient


async def list_page(cur, actor: Actor, filters: dict[str, Any], limit: int, offset: int,
                    newest_first: bool = False):
    """The patients the actor sees that match `filters` (search, phone), by name or newest first;
    returns (rows, total)."""
    where = []
    if "search" in filters:
        where.append(search_condition(filters))
    if "phone" in filters:
        where.append(_u.c.phone == filters["phone"])
    if (condition := visible_to(actor)) is not None:
        where.append(condition)
    order = (_pp.c.id.desc(),) if newest_first else (func.lower(_u.c.full_name), _pp.c.id)
    page = listing.page_of_ids(_pp.c.id, where, order, limit, offset,
                               from_=_pp.join(_u, _u.c.id == _pp.c.user_id))
    return await listing.fetch_page(cur, page, PATIENT_PAGE, offset)


async def visits(cur, actor: Actor, patient_ids: list[int]) -> dict[int, dict[str, Any]]:
    """For patients the actor sees, over the appointments the actor sees: {patient id: {upcoming,
    past, next_appointment}}; a patient without any is absent."""
    scope = appointments.patient_appointment_scope(actor)
    rows = await db.fetch_all(cur, VISITS_OF_PATIENTS, {"patient_ids": patient_ids, **scope})
    return {row.pop("patient_id"): row for row in rows}


async def of_user(cur, actor: Actor, user_id: int) -> int:
    """The patient id of a patient's user id (404 for none, or one the actor may not see)."""
    patient_id = await db.fetch_value(cur, PATIENT_OF_USER, (user_id,))
    if patient_id is None:
        raise ApiError.not_found("patient")
    await check_visible(cur, actor, patient_id)
    return patient_id


async def _match(cur, actor: Actor, phone: str) -> dict[str, Any] | None:
    access.require(actor, "patients.create")
    match = await db.fetch_one(cur, PATIENT_BY_PHONE, (phone,))
    if match is not None:
        await audit.record(cur, actor, "patient.lookup", "patient", match["id"])
    return match


async def match_by_phone(cur, actor: Actor, phone: str) -> dict[str, Any]:
    """The patient with exactly this phone, anywhere in the chain: their id and name only."""
    match = await _match(cur, actor, phone)
    if match is None:
        raise ApiError.not_found("patient")
    return match


async def match_or_register(cur, actor: Actor, data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The patient with this phone anywhere in the chain (their record is kept as it is), else a
    walk-in registered now (see `register`); returns (patient, registered now)."""
    match = await _match(cur, actor, data["phone"])
    if match is not None:
        return await patient_row(cur, match["id"]), False
    return await register(cur, actor, data), True


async def detail(cur, actor: Actor, patient_id: int) -> dict[str, Any]:
    """PatientDetail: the record with the appointments, payments and notes the actor may see."""
    await check_visible(cur, actor, patient_id)
    patient = await patient_row(cur, patient_id)
    scope = {"patient_id": patient_id, **appointments.patient_appointment_scope(actor)}
    booked = await db.fetch_all(cur, APPOINTMENTS_OF_PATIENT, {**scope, "limit": None, "offset": 0})
    paid = await db.fetch_all(cur, PAYMENTS_OF_PATIENT, scope)
    notes_visible = await may_read_notes(cur, actor, patient_id)
    medical_notes = await db.fetch_all(cur, NOTES_OF_PATIENT, (patient_id,)) if notes_visible else None
    await audit.record(cur, actor, "patient.read", "patient", patient_id, None, {"medicalNotes": notes_visible})
    return {**patient, "appointments": booked, "payments": paid, "medical_notes": medical_notes}


async def appointments_page(cur, actor: Actor, patient_id: int, limit: int, offset: int):
    """The patient's appointments the actor sees, newest first; returns (rows, total)."""
    await check_visible(cur, actor, patient_id)
    scope = {"patient_id": patient_id, **appointments.patient_appointment_scope(actor)}
    rows = await db.fetch_all(cur, APPOINTMENTS_OF_PATIENT, {**scope, "limit": limit, "offset": offset})
    await audit.record(cur, actor, "patient.appointments.read", "patient", patient_id)
    total = rows[0]["total"] if rows else 0
    return rows, total


async def notes(cur, actor: Actor, patient_id: int) -> list[dict[str, Any]]:
    access.require(actor, "notes.view")
    await check_visible(cur, actor, patient_id)
    await ensure_may_read_notes(cur, actor, patient_id)
    rows = await db.fetch_all(cur, NOTES_OF_PATIENT, (patient_id,))
    await audit.record(cur, actor, "patient.notes.read", "patient", patient_id)
    return rows


# --- writing --------------------------------------------------------------------


async def register(cur, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """A walk-in patient (no password: patients sign in on the website with an OTP), registered
    at a centre of the actor's; returns the patient."""
    access.require(actor, "patients.create")
    centre_id = await registration_centre(cur, actor, data.get("centre_id"))
    values = {key: None for key in ("email", *PROFILE_COLUMNS)} | profile_values(data)
    existing = await db.fetch_one(cur, USER_BY_PHONE_FOR_UPDATE, (data["phone"],))
    if existing is not None and existing["patient_id"] is not None:
        raise ApiError.conflict("A patient with this phone number already exists",
                                {"existingPatientId": existing["patient_id"]}, code="PATIENT_EXISTS")
    if existing is not None and existing["user_type"] != "PATIENT":
        raise ApiError.conflict("This phone number belongs to a staff account",
                                {"phone": ["already belongs to a staff account"]}, code="DUPLICATE")
    # A patient who signed up on the website but never got a profile keeps their account.
    user_id = existing["user_id"] if existing else await db.fetch_value(cur, INSERT_PATIENT_USER, values)
    patient_id = await db.fetch_value(cur, INSERT_PATIENT_PROFILE,
                                      {**values, "user_id": user_id, "registered_centre_id": centre_id})
    patient = await patient_row(cur, patient_id)
    await audit.record(cur, actor, "patient.create", "patient", patient_id, centre_id)
    return patient


async def update(cur, actor: Actor, patient_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    access.require(actor, "patients.update")
    await check_visible(cur, actor, patient_id)
    return await write(cur, actor, patient_id, profile_values(changes), sorted(changes))


async def write(cur, actor: Actor, patient_id: int, values: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Store checked changes (columns of USER_COLUMNS and PROFILE_COLUMNS) and audit them by `fields`."""
    current = await db.fetch_one(cur, PATIENT_FOR_UPDATE, (patient_id,))
    if user := db.set_clause(USER_COLUMNS, values):
        await db.execute(cur, f"UPDATE users SET {user} WHERE id = %(id)s", {**values, "id": current["user_id"]})
    if profile := db.set_clause(PROFILE_COLUMNS, values):
        await db.execute(cur, f"UPDATE patient_profiles SET {profile} WHERE id = %(id)s",
                         {**values, "id": patient_id})
    patient = await patient_row(cur, patient_id)
    await audit.record(cur, actor, "patient.update", "patient", patient_id, None, {"fields": fields})
    return patient


# --- the patient's own record (the website) --------------------------------------------------

# What a patient may change about themselves; their phone is their sign-in and stays with the desk.
OWN_FIELDS = frozenset({"first_name", "last_name", "email", "date_of_birth", "age", "gender"})


def name_parts(full_name: str) -> tuple[str, str]:
    """(first name, the rest): the website shows a first and a last name, we keep one full name."""
    first, _, rest = full_name.strip().partition(" ")
    return first, rest.strip()


def age_on(born: dt.date, day: dt.date) -> int:
    """Whole years from `born` to `day`."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def check_age(age: int, born: dt.date | None, today: dt.date) -> None:
    """An age sent with the date of birth must be the age it gives, on the chain's today or a day
    either side (the browser reckons the date in its own zone); it is never stored on its own."""
    if born is None:
        raise ApiError.validation({"age": ["Send dateOfBirth: the age is reckoned from it."]})
    if age not in {age_on(born, today + dt.timedelta(days=shift)) for shift in (-1, 0, 1)}:
        raise ApiError.validation({"age": [f"Does not match dateOfBirth (which gives {age_on(born, today)})."]})


def own_view(patient: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """The patient's record as the website shows it: the login (`user`) and the profile."""
    first, last = name_parts(patient["full_name"])
    born = patient["date_of_birth"]
    contact = patient["emergency_contact"]
    return {
        "user": {"id": patient["user_id"], "phone": patient["phone"], "full_name": patient["full_name"],
                 "first_name": first, "last_name": last, "email": patient["email"],
                 "created_at": patient["created_at"]},
        "profile": {"id": patient["id"], "date_of_birth": born, "age": age_on(born, today) if born else None,
                    "gender": patient["gender"], "blood_group": patient["blood_group"],
                    "emergency_contact_name": contact["name"], "emergency_contact_phone": contact["phone"]},
    }


async def own_record(cur, actor: Actor, today: dt.date) -> dict[str, Any]:
    """The signed-in patient's own record (see own_view)."""
    return own_view(await patient_row(cur, access.patient_self(actor)), today)


async def update_own(cur, actor: Actor, changes: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """The signed-in patient changes their own record: OWN_FIELDS only (any other is a 400, nothing
    written). A first or last name alone keeps the other part of the stored name."""
    patient_id = access.patient_self(actor)
    if refused := sorted(set(changes) - OWN_FIELDS):
        raise ApiError.validation({name: ["A patient cannot change this."] for name in refused})
    current = await patient_row(cur, patient_id)
    values = {name: changes[name] for name in ("email", "date_of_birth", "gender") if name in changes}
    if "first_name" in changes or "last_name" in changes:
        first, last = name_parts(current["full_name"])
        values["full_name"] = " ".join(part for part in (changes.get("first_name", first),
                                                         changes.get("last_name", last)) if part)
    if "age" in changes:
        check_age(changes["age"], values.get("date_of_birth", current["date_of_birth"]), today)
    return own_view(await write(cur, actor, patient_id, values, sorted(changes)), today)


async def add_note(cur, actor: Actor, patient_id: int, note: str, appointment_id: int | None) -> dict[str, Any]:
    access.require(actor, "notes.create")
    await check_visible(cur, actor, patient_id)
    centre_id = None
    if appointment_id is not None:
        appointment = await db.fetch_one(cur, APPOINTMENT_OF_PATIENT, (appointment_id, patient_id))
        if appointment is None:
            raise ApiError.validation({"appointmentId": ["Not an appointment of this patient."]})
        if ADMIN not in actor.roles and appointment["clinician_id"] != actor.clinician_id:
            raise ApiError.forbidden("This appointment is another clinician's", "NO_CARE_RELATIONSHIP")
        centre_id = appointment["centre_id"]
    else:
        await ensure_may_read_notes(cur, actor, patient_id)
    row = await db.fetch_one(cur, INSERT_NOTE, {
        "patient_id": patient_id, "appointment_id": appointment_id, "centre_id": centre_id,
        "author_user_id": actor.user_id, "note": note,
    })
    await audit.record(cur, actor, "patient.note.create", "medical_note", row["id"], centre_id,
                       {"patientId": patient_id})
    return row

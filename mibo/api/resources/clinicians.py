"""/api/clinicians: clinician profiles, their scheduling settings and weekly availability rules.

Scope: a clinician "works at" their primary centre and every centre their user is assigned to.
Centre-scoped roles see the clinicians who work at one of their centres; changing a clinician
(profile, availability, deactivation) needs access to the clinician's primary centre, so a
CENTRE_MANAGER manages the clinicians based at their own centre.

Availability rules are wall-clock windows in the centre's time zone. Replacing them is one
transaction (delete + insert), validated in Python first so that a bad rule names its index;
the exclusion constraint availability_rules_no_overlap stays as the final guard.
"""

from __future__ import annotations

import json
from collections import defaultdict

from aiohttp import web
from sqlalchemy import exists, func, or_, select

from mibo.api.access import requires
from mibo.api.apidoc import KB, documented
from mibo.api.http import ok, ok_page, path_id, read_json, read_query
from mibo.api.keys import ACTOR, DB
from mibo.api.principals import changes_principals
from mibo.api.resources import users
from mibo.core import audit, db, listing, tables
from mibo.core.actor import CLINICIAN, Actor
from mibo.core.errors import ApiError
from mibo.domain.access import check_centre
from schemas.clinicians import (
    AvailabilityRuleSchema,
    ClinicianDetailSchema,
    ClinicianQuerySchema,
    ClinicianSchema,
    CreateClinicianSchema,
    ReplaceAvailabilitySchema,
    UpdateClinicianSchema,
)

CLINICIAN_FROM = """
cp.id, cp.user_id, u.full_name AS name, u.email, u.phone, cp.specialization, cp.registration_number,
cp.years_of_experience, cp.consultation_fee, cp.default_consultation_duration_minutes AS default_duration,
cp.buffer_before_minutes, cp.buffer_after_minutes, cp.min_notice_minutes, cp.booking_horizon_days,
cp.max_daily_appointments, json_build_object('id', c.id, 'name', c.name, 'city', c.city) AS primary_centre,
w.centre_ids, cp.is_active, cp.created_at, cp.updated_at
FROM clinician_profiles cp
JOIN users u ON u.id = cp.user_id
JOIN centres c ON c.id = cp.primary_centre_id
CROSS JOIN LATERAL (
    SELECT array_agg(centre_id ORDER BY centre_id) AS centre_ids FROM (
        SELECT cp.primary_centre_id AS centre_id
        UNION
        SELECT csa.centre_id FROM centre_staff_assignments csa
        WHERE csa.user_id = cp.user_id AND csa.is_active
    ) works
) w
"""

RULES_JSON = """
(SELECT COALESCE(json_agg(json_build_object(
        'id', r.id, 'day_of_week', r.day_of_week, 'start_time', to_char(r.start_time, 'HH24:MI'),
        'end_time', to_char(r.end_time, 'HH24:MI'), 'slot_duration_minutes', r.slot_duration_minutes,
        'centre_id', r.centre_id, 'consultation_mode', r.consultation_mode, 'is_active', r.is_active)
    ORDER BY r.day_of_week, r.start_time), '[]')
 FROM clinician_availability_rules r WHERE r.clinician_id = cp.id AND r.is_active) AS availability_rules
"""

CLINICIAN_DETAIL_BY_ID = f"SELECT {RULES_JSON}, {CLINICIAN_FROM} WHERE cp.id = %(id)s"

LIST_DETAIL = f"SELECT page.total, {CLINICIAN_FROM} JOIN page ON page.id = cp.id ORDER BY page.ord"

CLINICIAN_FOR_UPDATE = """
SELECT id, user_id, primary_centre_id, default_consultation_duration_minutes AS default_duration
FROM clinician_profiles WHERE id = %s FOR UPDATE
"""

# Where a clinician may hold availability: their primary centre and the centres they are assigned to.
CLINICIAN_CENTRES = """
SELECT COALESCE(array_agg(c.id), '{}') FROM centres c
WHERE c.is_active AND (c.id = %(primary)s OR c.id IN (
    SELECT centre_id FROM centre_staff_assignments WHERE user_id = %(user_id)s AND is_active))
"""

ACTIVE_CENTRE = "SELECT id FROM centres WHERE id = %s AND is_active"

STAFF_USER_FOR_UPDATE = """
SELECT u.id, COALESCE((SELECT array_agg(csa.centre_id) FROM centre_staff_assignments csa
                       WHERE csa.user_id = u.id AND csa.is_active), '{}') AS centre_ids
FROM users u WHERE u.id = %s AND u.user_type = 'STAFF' AND u.is_active
FOR UPDATE OF u
"""

RULES_OF_CLINICIAN = """
SELECT id, day_of_week, to_char(start_time, 'HH24:MI') AS start_time,
       to_char(end_time, 'HH24:MI') AS end_time,
       slot_duration_minutes, centre_id, consultation_mode, is_active
FROM clinician_availability_rules WHERE clinician_id = %s AND is_active
ORDER BY day_of_week, start_time
"""

DELETE_RULES = "DELETE FROM clinician_availability_rules WHERE clinician_id = %s"

INSERT_RULES = """
INSERT INTO clinician_availability_rules
    (clinician_id, centre_id, day_of_week, start_time, end_time, slot_duration_minutes, consultation_mode)
SELECT %(clinician_id)s, r.centre_id, r.day_of_week, r.start_time::time, r.end_time::time,
       r.slot_duration_minutes, r.consultation_mode
FROM jsonb_to_recordset(%(rules)s::jsonb) AS r(
    centre_id bigint, day_of_week smallint, start_time text, end_time text, slot_duration_minutes integer,
    consultation_mode text)
"""

# API field -> clinician_profiles column.
PROFILE_COLUMNS = {
    "primary_centre_id": "primary_centre_id",
    "specialization": "specialization",
    "registration_number": "registration_number",
    "years_of_experience": "years_of_experience",
    "consultation_fee": "consultation_fee",
    "default_duration": "default_consultation_duration_minutes",
    "buffer_before_minutes": "buffer_before_minutes",
    "buffer_after_minutes": "buffer_after_minutes",
    "min_notice_minutes": "min_notice_minutes",
    "booking_horizon_days": "booking_horizon_days",
    "max_daily_appointments": "max_daily_appointments",
}
USER_COLUMNS = {"name": "full_name", "email": "email", "phone": "phone"}

_list_schema = ClinicianSchema()
_detail_schema = ClinicianDetailSchema()
_rule_schema = AvailabilityRuleSchema()

# --- business rules ----------------------------------------------------------------


def minutes_of(hh_mm: str) -> int:
    hours, minutes = hh_mm.split(":")
    return int(hours) * 60 + int(minutes)


def rule_errors(rules: list[dict], allowed_centres: set[int]) -> dict[int, dict[str, list[str]]]:
    """Problems of a weekly rule set, keyed by the index of the rule they belong to."""
    errors: dict[int, dict[str, list[str]]] = defaultdict(dict)
    windows_by_day: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for index, rule in enumerate(rules):
        start, end = minutes_of(rule["start_time"]), minutes_of(rule["end_time"])
        if rule["centre_id"] not in allowed_centres:
            errors[index]["centreId"] = ["The clinician does not work at this centre (or it is inactive)."]
        if start >= end:
            errors[index]["endTime"] = ["Must be after startTime."]
            continue
        if rule["slot_duration_minutes"] > end - start:
            errors[index]["slotDurationMinutes"] = ["Longer than the window: not one slot fits."]
        windows_by_day[rule["day_of_week"]].append((start, end, index))
    for windows in windows_by_day.values():
        windows.sort()
        latest_end, latest_index = -1, -1
        for start, end, index in windows:
            if start < latest_end:
                errors[index]["startTime"] = [f"Overlaps rule {latest_index} on the same day."]
            if end > latest_end:
                latest_end, latest_index = end, index
    return dict(errors)


def check_any_centre(actor: Actor, centre_ids: list[int]) -> None:
    """403 CENTRE_FORBIDDEN unless the caller shares at least one centre with the clinician."""
    check_centre(actor, next((c for c in centre_ids if actor.can_access_centre(c)), None))


async def detail(cur, clinician_id: int) -> dict:
    row = await db.fetch_one(cur, CLINICIAN_DETAIL_BY_ID, {"id": clinician_id})
    if row is None:
        raise ApiError.not_found("clinician")
    return row


async def locked_or_404(cur, clinician_id: int) -> dict:
    row = await db.fetch_one(cur, CLINICIAN_FOR_UPDATE, (clinician_id,))
    if row is None:
        raise ApiError.not_found("clinician")
    return row


async def check_active_centre(cur, centre_id: int, field: str = "primaryCentreId") -> None:
    if await db.fetch_value(cur, ACTIVE_CENTRE, (centre_id,)) is None:
        raise ApiError.validation({field: ["Unknown or inactive centre."]})


# --- handlers -----------------------------------------------------------------


@requires("clinicians.view")
@documented(
    "List clinicians", tags=("Clinicians",), query=ClinicianQuerySchema, response=ClinicianSchema, many=True
)
async def list_clinicians(request: web.Request) -> web.Response:
    query = read_query(request, ClinicianQuerySchema())
    cp, u, csa = tables.clinician_profiles, tables.users, tables.centre_staff_assignments

    def works_at(centre_ids: list[int]):
        return or_(
            cp.c.primary_centre_id.in_(centre_ids),
            exists(
                select(csa.c.id).where(
                    csa.c.user_id == cp.c.user_id, csa.c.is_active, csa.c.centre_id.in_(centre_ids)
                )
            ),
        )

    where = []
    scope = request[ACTOR].centre_filter()
    if scope is not None:
        where.append(works_at(scope))
    if "centre_id" in query:
        where.append(works_at([query["centre_id"]]))
    if "specialization" in query:
        where.append(cp.c.specialization.ilike(listing.like_pattern(query["specialization"])))
    if "search" in query:
        pattern = listing.like_pattern(query["search"])
        where.append(
            or_(
                u.c.full_name.ilike(pattern),
                u.c.phone.ilike(pattern),
                u.c.email.ilike(pattern),
                cp.c.specialization.ilike(pattern),
            )
        )
    if "is_active" in query:
        where.append(cp.c.is_active == query["is_active"])
    order = (func.lower(u.c.full_name), cp.c.id)
    page = listing.page_of_ids(cp.c.id, where, order, query["limit"], query["offset"],
                               from_=cp.join(u, u.c.id == cp.c.user_id))
    async with db.connection(request.app[DB]) as cur:
        rows, total = await listing.fetch_page(cur, page, LIST_DETAIL, query["offset"])
    return ok_page(_list_schema.dump(rows, many=True), total, query["limit"], query["offset"])


@requires("clinicians.view")
@documented(
    "Get a clinician with availability rules",
    tags=("Clinicians",),
    response=ClinicianDetailSchema,
    errors=(403, 404),
)
async def get_clinician(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    async with db.connection(request.app[DB]) as cur:
        clinician = await detail(cur, clinician_id)
    check_any_centre(request[ACTOR], clinician["centre_ids"])
    return ok(_detail_schema.dump(clinician))


@changes_principals
@requires("clinicians.create")
@documented(
    "Create a clinician (a new staff user, or an existing one by userId)",
    tags=("Clinicians",),
    body=CreateClinicianSchema,
    response=ClinicianDetailSchema,
    status=201,
    errors=(400, 403, 409),
)
async def create_clinician(request: web.Request) -> web.Response:
    body = await read_json(request, CreateClinicianSchema())
    check_centre(request[ACTOR], body["primary_centre_id"])
    password_hash = await users.hash_if_given(request, body.get("password"))
    async with db.transaction(request.app[DB]) as cur:
        await check_active_centre(cur, body["primary_centre_id"])
        if "user_id" in body:
            user_id = body["user_id"]
            staff = await db.fetch_one(cur, STAFF_USER_FOR_UPDATE, (user_id,))
            if staff is None:
                raise ApiError.validation({"userId": ["No active staff user with this id."]})
            # Only someone already on the caller's staff: a centre manager cannot take (and re-assign)
            # another centre's people.
            check_any_centre(request[ACTOR], staff["centre_ids"])
            await db.execute(cur, users.GRANT_ROLE, (user_id, CLINICIAN))
            await db.execute(cur, users.ASSIGN_CENTRES, (user_id, [body["primary_centre_id"]]))
        else:
            user_id = await users.create_staff_user(
                cur, {**body, "role": CLINICIAN, "centre_ids": [body["primary_centre_id"]]}, password_hash
            )
        columns = [name for name in PROFILE_COLUMNS if name in body]
        clinician_id = await db.fetch_value(
            cur,
            f"INSERT INTO clinician_profiles (user_id, {', '.join(PROFILE_COLUMNS[n] for n in columns)})"
            f" VALUES (%(user_id)s, {', '.join(f'%({n})s' for n in columns)}) RETURNING id",
            {**body, "user_id": user_id},
        )
        clinician = await detail(cur, clinician_id)
        await audit.record(cur, request[ACTOR],
            "clinician.create",
            "clinician",
            clinician_id,
            body["primary_centre_id"],
            {"userId": user_id},
        )
    return ok(_detail_schema.dump(clinician), status=201)


@changes_principals
@requires("clinicians.update")
@documented(
    "Update a clinician's profile and scheduling settings",
    tags=("Clinicians",),
    body=UpdateClinicianSchema,
    response=ClinicianDetailSchema,
    errors=(400, 403, 404, 409),
)
async def update_clinician(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    body = await read_json(request, UpdateClinicianSchema())
    actor = request[ACTOR]
    async with db.transaction(request.app[DB]) as cur:
        current = await locked_or_404(cur, clinician_id)
        check_centre(actor, current["primary_centre_id"])
        if "primary_centre_id" in body:
            check_centre(actor, body["primary_centre_id"])
            await check_active_centre(cur, body["primary_centre_id"])
            await db.execute(cur, users.ASSIGN_CENTRES, (current["user_id"], [body["primary_centre_id"]]))
        if profile := db.set_clause(PROFILE_COLUMNS, body):
            await db.execute(
                cur,
                f"UPDATE clinician_profiles SET {profile} WHERE id = %(id)s",
                {**body, "id": clinician_id},
            )
        if user := db.set_clause(USER_COLUMNS, body):
            await db.execute(
                cur, f"UPDATE users SET {user} WHERE id = %(id)s", {**body, "id": current["user_id"]}
            )
        clinician = await detail(cur, clinician_id)
        await audit.record(cur, request[ACTOR],
            "clinician.update",
            "clinician",
            clinician_id,
            clinician["primary_centre"]["id"],
            {"fields": sorted(body)},
        )
    return ok(_detail_schema.dump(clinician))


@changes_principals
@requires("clinicians.delete")
@documented(
    "Deactivate a clinician (refused while they have upcoming appointments)",
    tags=("Clinicians",),
    response=ClinicianDetailSchema,
    errors=(403, 404, 409),
)
async def delete_clinician(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    async with db.transaction(request.app[DB]) as cur:
        current = await locked_or_404(cur, clinician_id)
        check_centre(request[ACTOR], current["primary_centre_id"])
        await users.deactivate_staff(cur, current["user_id"])
        clinician = await detail(cur, clinician_id)
        await audit.record(cur, request[ACTOR],
            "clinician.deactivate",
            "clinician",
            clinician_id,
            current["primary_centre_id"],
            {"userId": current["user_id"]},
        )
    return ok(_detail_schema.dump(clinician))


@requires("clinicians.update")
@documented(
    "Replace a clinician's weekly availability rules",
    tags=("Clinicians",),
    body=ReplaceAvailabilitySchema,
    response=AvailabilityRuleSchema,
    many=True,
    errors=(400, 403, 404),
    max_body=32 * KB,  # up to 100 rules
)
async def replace_availability(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    body = await read_json(request, ReplaceAvailabilitySchema())
    async with db.transaction(request.app[DB]) as cur:
        current = await locked_or_404(cur, clinician_id)
        check_centre(request[ACTOR], current["primary_centre_id"])
        rules = [
            {
                "centre_id": current["primary_centre_id"],
                "slot_duration_minutes": current["default_duration"],
                **rule,
            }
            for rule in body["rules"]
        ]
        allowed = set(
            await db.fetch_value(
                cur,
                CLINICIAN_CENTRES,
                {"primary": current["primary_centre_id"], "user_id": current["user_id"]},
            )
        )
        if errors := rule_errors(rules, allowed):
            raise ApiError.validation({"rules": errors}, "Some availability rules are invalid")
        await db.execute(cur, DELETE_RULES, (clinician_id,))
        await db.execute(cur, INSERT_RULES, {"clinician_id": clinician_id, "rules": json.dumps(rules)})
        saved = await db.fetch_all(cur, RULES_OF_CLINICIAN, (clinician_id,))
        await audit.record(cur, request[ACTOR],
            "clinician.availability.replace",
            "clinician",
            clinician_id,
            current["primary_centre_id"],
            {"rules": len(saved)},
        )
    return ok(_rule_schema.dump(saved, many=True))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/clinicians", list_clinicians)
    app.router.add_post("/api/clinicians", create_clinician)
    app.router.add_get(r"/api/clinicians/{id:\d+}", get_clinician)
    app.router.add_put(r"/api/clinicians/{id:\d+}", update_clinician)
    app.router.add_delete(r"/api/clinicians/{id:\d+}", delete_clinician)
    app.router.add_put(r"/api/clinicians/{id:\d+}/availability", replace_availability)

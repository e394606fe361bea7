"""/api/clinicians: clinician profiles, their scheduling settings and weekly availability rules.

Thin handlers over mibo.domain.clinicians. These routes change the clinician profile only; the
login behind it changes through /api/users (mibo.domain.staff).
"""

from __future__ import annotations

from aiohttp import web

from mibo.api.access import requires
from mibo.api.apidoc import KB, documented
from mibo.api.http import ok, ok_page, path_id, read_json, read_query
from mibo.api.keys import ACTOR, DB
from mibo.api.password_hashing import hash_if_given
from mibo.api.principals import changes_principals
from mibo.core import db
from mibo.domain import clinicians
from schemas.clinicians import (
    AvailabilityRuleSchema,
    ClinicianDetailSchema,
    ClinicianQuerySchema,
    ClinicianSchema,
    CreateClinicianSchema,
    ReplaceAvailabilitySchema,
    UpdateClinicianSchema,
)

TAGS = ("Clinicians",)

_list_schema = ClinicianSchema()
_detail_schema = ClinicianDetailSchema()
_rule_schema = AvailabilityRuleSchema()


@requires("clinicians.view")
@documented("List clinicians", tags=TAGS, query=ClinicianQuerySchema, response=ClinicianSchema, many=True)
async def list_clinicians(request: web.Request) -> web.Response:
    query = read_query(request, ClinicianQuerySchema())
    async with db.connection(request.app[DB]) as cur:
        rows, total = await clinicians.list_page(cur, request[ACTOR], query, query["limit"], query["offset"])
    return ok_page(_list_schema.dump(rows, many=True), total, query["limit"], query["offset"])


@requires("clinicians.view")
@documented("Get a clinician with availability rules", tags=TAGS, response=ClinicianDetailSchema,
            errors=(403, 404))
async def get_clinician(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    async with db.connection(request.app[DB]) as cur:
        clinician = await clinicians.visible_detail(cur, request[ACTOR], clinician_id)
    return ok(_detail_schema.dump(clinician))


@changes_principals
@requires("clinicians.create")
@documented(
    "Create a clinician (a new staff user, or an existing one by userId: ADMIN for a user with other roles)",
    tags=TAGS, body=CreateClinicianSchema, response=ClinicianDetailSchema, status=201, errors=(400, 403, 409),
)
async def create_clinician(request: web.Request) -> web.Response:
    body = await read_json(request, CreateClinicianSchema())
    password_hash = await hash_if_given(request, body.pop("password", None))
    async with db.transaction(request.app[DB]) as cur:
        clinician = await clinicians.create(cur, request[ACTOR], body, password_hash)
    return ok(_detail_schema.dump(clinician), status=201)


@changes_principals
@requires("clinicians.update")
@documented("Update a clinician's profile and scheduling settings", tags=TAGS, body=UpdateClinicianSchema,
            response=ClinicianDetailSchema, errors=(400, 403, 404, 409))
async def update_clinician(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    body = await read_json(request, UpdateClinicianSchema())
    async with db.transaction(request.app[DB]) as cur:
        clinician = await clinicians.update(cur, request[ACTOR], clinician_id, body)
    return ok(_detail_schema.dump(clinician))


@changes_principals
@requires("clinicians.delete")
@documented(
    "Remove a clinician: unbookable, and the login deactivated only if it holds no other role"
    " (refused while they have upcoming appointments)",
    tags=TAGS, response=ClinicianDetailSchema, errors=(400, 403, 404, 409),
)
async def delete_clinician(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    async with db.transaction(request.app[DB]) as cur:
        clinician = await clinicians.remove(cur, request[ACTOR], clinician_id)
    return ok(_detail_schema.dump(clinician))


@requires("clinicians.update")
@documented(
    "Replace a clinician's weekly availability rules",
    tags=TAGS,
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
        saved = await clinicians.replace_availability(cur, request[ACTOR], clinician_id, body["rules"])
    return ok(_rule_schema.dump(saved, many=True))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/clinicians", list_clinicians)
    app.router.add_post("/api/clinicians", create_clinician)
    app.router.add_get(r"/api/clinicians/{id:\d+}", get_clinician)
    app.router.add_put(r"/api/clinicians/{id:\d+}", update_clinician)
    app.router.add_delete(r"/api/clinicians/{id:\d+}", delete_clinician)
    app.router.add_put(r"/api/clinicians/{id:\d+}/availability", replace_availability)

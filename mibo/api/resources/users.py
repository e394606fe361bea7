"""/api/users: staff accounts, their role, their centres and their staff profile.

Thin handlers over mibo.domain.staff, which says who may change which account (ADMIN any; a
CENTRE_MANAGER only their own clinicians' logins). Passwords are hashed before the transaction,
off the event loop.
"""

from __future__ import annotations

from aiohttp import web

from mibo.api.access import requires
from mibo.api.apidoc import documented
from mibo.api.http import ok, ok_page, path_id, read_json, read_query
from mibo.api.keys import ACTOR, DB
from mibo.api.password_hashing import hash_if_given
from mibo.api.principals import changes_principals
from mibo.core import db
from mibo.domain import staff
from schemas.users import CreateStaffSchema, StaffQuerySchema, StaffUserSchema, UpdateStaffSchema

TAGS = ("Users",)

_schema = StaffUserSchema()


@requires("users.view")
@documented("List staff users", tags=TAGS, query=StaffQuerySchema, response=StaffUserSchema, many=True)
async def list_users(request: web.Request) -> web.Response:
    query = read_query(request, StaffQuerySchema())
    async with db.connection(request.app[DB]) as cur:
        rows, total = await staff.list_page(cur, request[ACTOR], query, query["limit"], query["offset"])
    return ok_page(_schema.dump(rows, many=True), total, query["limit"], query["offset"])


@requires("users.view")
@documented("Get a staff user", tags=TAGS, response=StaffUserSchema, errors=(404,))
async def get_user(request: web.Request) -> web.Response:
    user_id = path_id(request)
    async with db.connection(request.app[DB]) as cur:
        return ok(_schema.dump(await staff.visible_staff_user(cur, request[ACTOR], user_id)))


@requires("users.create")
@documented("Create a staff user", tags=TAGS, body=CreateStaffSchema, response=StaffUserSchema, status=201,
            errors=(400, 409))
async def create_user(request: web.Request) -> web.Response:
    body = await read_json(request, CreateStaffSchema())
    password_hash = await hash_if_given(request, body.pop("password", None))
    async with db.transaction(request.app[DB]) as cur:
        user = await staff.create(cur, request[ACTOR], body, password_hash)
    return ok(_schema.dump(user), status=201)


@changes_principals
@requires("users.update_clinician_logins")
@documented(
    "Update a staff user (ADMIN; a CENTRE_MANAGER only the logins of their own clinicians, no role or password)",
    tags=TAGS, body=UpdateStaffSchema, response=StaffUserSchema, errors=(400, 403, 404, 409),
)
async def update_user(request: web.Request) -> web.Response:
    user_id = path_id(request)
    body = await read_json(request, UpdateStaffSchema())
    password_hash = await hash_if_given(request, body.pop("password", None))
    async with db.transaction(request.app[DB]) as cur:
        user = await staff.update(cur, request[ACTOR], user_id, body, password_hash)
    return ok(_schema.dump(user))


@changes_principals
@requires("users.delete")
@documented("Deactivate a staff user and revoke their sessions", tags=TAGS, response=StaffUserSchema,
            errors=(400, 404, 409))
async def delete_user(request: web.Request) -> web.Response:
    user_id = path_id(request)
    async with db.transaction(request.app[DB]) as cur:
        user = await staff.deactivate(cur, request[ACTOR], user_id)
    return ok(_schema.dump(user))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/users", list_users)
    app.router.add_post("/api/users", create_user)
    app.router.add_get(r"/api/users/{id:\d+}", get_user)
    app.router.add_put(r"/api/users/{id:\d+}", update_user)
    app.router.add_delete(r"/api/users/{id:\d+}", delete_user)

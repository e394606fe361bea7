"""The panel's staff pages at /users: the spec's account rules (mibo.domain.staff: an ADMIN manages
any login, a CENTRE_MANAGER only their own clinicians'), the original backend's role ids and paths,
and rows carrying the first centre's id and name.

Lists hold every match up to LIST_CAP, newest first, and search on the server when the panel sends
`search`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mibo.api import work
from mibo.api.access import requires
from mibo.api.http import path_id, read_json, read_query
from mibo.api.legacy.contract import panel_route
from mibo.api.legacy.envelope import ok
from mibo.api.legacy.names import centre_names
from mibo.api.password_hashing import hash_if_given
from mibo.api.principals import changes_principals
from mibo.core.actor import CARE_COORDINATOR, CENTRE_MANAGER, FRONT_DESK, MANAGER, Actor
from mibo.domain import staff
from schemas.legacy.base import LIST_CAP
from schemas.legacy.centres import ToggleActiveSchema
from schemas.legacy.staff import (
    ROLE_IDS,
    CreatePanelStaffSchema,
    PanelStaffQuerySchema,
    PanelStaffSchema,
    UpdatePanelStaffSchema,
)

_row = PanelStaffSchema()

# The panel's creation path of each role.
ROLE_PATHS = {MANAGER: "managers", CENTRE_MANAGER: "centre-managers", CARE_COORDINATOR: "care-coordinators",
              FRONT_DESK: "front-desk"}


def shaped(user: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    first = user["centre_ids"][0] if user["centre_ids"] else None
    return _row.dump({**user, "centre_id": first, "centre_name": names.get(first)})


async def listed(cur, actor: Actor, filters: dict[str, Any]) -> list[dict[str, Any]]:
    rows, _ = await staff.list_page(cur, actor, filters, LIST_CAP, 0, newest_first=True)
    names = await centre_names(cur, actor)
    return [shaped(row, names) for row in rows]


async def one(cur, actor: Actor, user_id: int) -> dict[str, Any]:
    return shaped(await staff.visible_staff_user(cur, actor, user_id), await centre_names(cur, actor))


async def updated(cur, actor: Actor, user_id: int, changes: dict[str, Any], password_hash: str | None):
    user = await staff.update(cur, actor, user_id, changes, password_hash)
    return shaped(user, await centre_names(cur, actor))


def login_changes(body: dict[str, Any]) -> dict[str, Any]:
    """The panel's names for a login's fields, as mibo.domain.staff names them."""
    changes = {key: value for key, value in body.items() if key not in ("full_name", "centre_id")}
    if "full_name" in body:
        changes["name"] = body["full_name"]
    if body.get("centre_id") is not None:
        changes["centre_ids"] = [body["centre_id"]]
    return changes


@requires("users.view")
@panel_route(f"Staff users (?roleId= the original's role id), newest first, at most {LIST_CAP}",
             translates=("GET", "/api/users"), query=PanelStaffQuerySchema, response=PanelStaffSchema, many=True)
async def list_users(request: web.Request) -> web.Response:
    query = read_query(request, PanelStaffQuerySchema())
    if "role_id" in query:
        query["role"] = ROLE_IDS[query.pop("role_id")]
    return ok(await work.read(request, listed, query))


@requires("users.view")
@panel_route("A staff user", translates=("GET", "/api/users/{id}"), response=PanelStaffSchema, errors=(404,))
async def get_user(request: web.Request) -> web.Response:
    return ok(await work.read(request, one, path_id(request)))


@changes_principals
@requires("users.update_clinician_logins")
@panel_route("Update a staff user (full_name, phone, email, username, centre_ids, password)",
             translates=("PUT", "/api/users/{id}"), body=UpdatePanelStaffSchema, response=PanelStaffSchema,
             errors=(400, 403, 404, 409))
async def update_user(request: web.Request) -> web.Response:
    user_id = path_id(request)
    body = await read_json(request, UpdatePanelStaffSchema())
    password_hash = await hash_if_given(request, body.pop("password", None))
    user = await work.write(request, updated, user_id, login_changes(body), password_hash)
    return ok(user, message="Staff user updated")


@changes_principals
@requires("users.update_clinician_logins")
@panel_route("Activate or deactivate a staff user", translates=("PUT", "/api/users/{id}"), body=ToggleActiveSchema,
             response=PanelStaffSchema, errors=(400, 403, 404, 409))
async def toggle_user(request: web.Request) -> web.Response:
    user_id = path_id(request)
    body = await read_json(request, ToggleActiveSchema())
    user = await work.write(request, updated, user_id, body, None)
    return ok(user, message="Staff user activated" if user["isActive"] else "Staff user deactivated")


@changes_principals
@requires("users.delete")
@panel_route("Deactivate a staff user", translates=("DELETE", "/api/users/{id}"), response=PanelStaffSchema,
             errors=(400, 404, 409))
async def delete_user(request: web.Request) -> web.Response:
    async def deactivated(cur, actor, user_id):
        return shaped(await staff.deactivate(cur, actor, user_id), await centre_names(cur, actor))

    return ok(await work.write(request, deactivated, path_id(request)), message="Staff user deactivated")


def lister(role: str):
    """The handler listing the users of `role` at the panel's path for it (as ?roleId= does)."""

    @requires("users.view")
    @panel_route(f"Every {role}, newest first (at most {LIST_CAP})", translates=("GET", "/api/users"),
                 query=PanelStaffQuerySchema, response=PanelStaffSchema, many=True)
    async def list_role(request: web.Request) -> web.Response:
        query = read_query(request, PanelStaffQuerySchema())
        query.pop("role_id", None)
        return ok(await work.read(request, listed, {**query, "role": role}))

    list_role.__name__ = f"list_{ROLE_PATHS[role].replace('-', '_')}"
    return list_role


def creator(role: str):
    """The handler creating a user of `role` at the panel's path for it."""

    async def created(cur, actor, data, password_hash):
        return shaped(await staff.create(cur, actor, data, password_hash), await centre_names(cur, actor))

    @requires("users.create")
    @panel_route(f"Create a {role} (centreId: their centre)", translates=("POST", "/api/users"),
                 body=CreatePanelStaffSchema, response=PanelStaffSchema, status=201, errors=(400, 409))
    async def create_user(request: web.Request) -> web.Response:
        body = await read_json(request, CreatePanelStaffSchema())
        password_hash = await hash_if_given(request, body.pop("password"))
        user = await work.write(request, created, {**login_changes(body), "role": role}, password_hash)
        return ok(user, message=f"{role.replace('_', ' ').title()} created", status=201)

    create_user.__name__ = f"create_{ROLE_PATHS[role].replace('-', '_')}"
    return create_user


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/users", list_users)
    for role, path in ROLE_PATHS.items():
        app.router.add_get(f"/api/users/{path}", lister(role))
        app.router.add_post(f"/api/users/{path}", creator(role))
    app.router.add_get(r"/api/users/{id:\d+}", get_user)
    app.router.add_put(r"/api/users/{id:\d+}", update_user)
    app.router.add_delete(r"/api/users/{id:\d+}", delete_user)
    app.router.add_patch(r"/api/users/{id:\d+}/toggle-active", toggle_user)

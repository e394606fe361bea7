"""The panel's centres at /centres: the spec's rules (mibo.domain.centres), the panel's row, and the
toggle PATCH /centres/{id}/toggle-active, which is the spec's update of isActive (an ADMIN's, and
refused while the centre has appointments ahead)."""

from __future__ import annotations

from aiohttp import web

from mibo.api import work
from mibo.api.access import requires
from mibo.api.http import path_id, read_json
from mibo.api.keys import SETTINGS
from mibo.api.legacy.contract import panel_route
from mibo.api.legacy.envelope import ok
from mibo.domain import centres
from schemas.centres import CreateCentreSchema, UpdateCentreSchema
from schemas.legacy.base import LIST_CAP
from schemas.legacy.centres import PanelCentreSchema, ToggleActiveSchema

_centre = PanelCentreSchema()


@requires("centres.view")
@panel_route(f"Every centre the caller sees, by name (at most {LIST_CAP})", translates=("GET", "/api/centres"),
             response=PanelCentreSchema, many=True)
async def list_centres(request: web.Request) -> web.Response:
    rows, _ = await work.read(request, centres.list_page, {}, LIST_CAP, 0)
    return ok(_centre.dump(rows, many=True))


@requires("centres.view")
@panel_route("A centre", translates=("GET", "/api/centres/{id}"), response=PanelCentreSchema, errors=(403, 404))
async def get_centre(request: web.Request) -> web.Response:
    return ok(_centre.dump(await work.read(request, centres.visible_centre, path_id(request))))


@requires("centres.create")
@panel_route("Create a centre", translates=("POST", "/api/centres"), body=CreateCentreSchema,
             response=PanelCentreSchema, status=201)
async def create_centre(request: web.Request) -> web.Response:
    body = await read_json(request, CreateCentreSchema())
    centre = await work.write(request, centres.create, body, request.app[SETTINGS].chain_timezone)
    return ok(_centre.dump(centre), message="Centre created", status=201)


@requires("centres.update")
@panel_route("Update a centre", translates=("PUT", "/api/centres/{id}"), body=UpdateCentreSchema,
             response=PanelCentreSchema, errors=(403, 404, 409))
async def update_centre(request: web.Request) -> web.Response:
    centre_id = path_id(request)
    body = await read_json(request, UpdateCentreSchema())
    return ok(_centre.dump(await work.write(request, centres.update, centre_id, body)), message="Centre updated")


@requires("centres.update")
@panel_route("Open or close a centre (ADMIN; closing is refused while it has appointments ahead)",
             translates=("PUT", "/api/centres/{id}"), body=ToggleActiveSchema, response=PanelCentreSchema,
             errors=(403, 404, 409))
async def toggle_centre(request: web.Request) -> web.Response:
    centre_id = path_id(request)
    body = await read_json(request, ToggleActiveSchema())
    centre = await work.write(request, centres.update, centre_id, body)
    return ok(_centre.dump(centre), message="Centre activated" if centre["is_active"] else "Centre deactivated")


@requires("centres.delete")
@panel_route("Close a centre", translates=("DELETE", "/api/centres/{id}"), response=PanelCentreSchema,
             errors=(404, 409))
async def delete_centre(request: web.Request) -> web.Response:
    return ok(_centre.dump(await work.write(request, centres.deactivate, path_id(request))),
              message="Centre deactivated")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/centres", list_centres)
    app.router.add_post("/api/centres", create_centre)
    app.router.add_get(r"/api/centres/{id:\d+}", get_centre)
    app.router.add_put(r"/api/centres/{id:\d+}", update_centre)
    app.router.add_delete(r"/api/centres/{id:\d+}", delete_centre)
    app.router.add_patch(r"/api/centres/{id:\d+}/toggle-active", toggle_centre)

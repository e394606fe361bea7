"""/api/centres: the hospital's locations. Thin handlers over mibo.domain.centres."""

from __future__ import annotations

from aiohttp import web

from mibo.api.access import requires
from mibo.api.apidoc import documented
from mibo.api.http import ok, ok_page, path_id, read_json, read_query
from mibo.api.keys import ACTOR, DB, SETTINGS
from mibo.api.public_answers import cached
from mibo.api.resources.public_catalogue import CATALOGUE_CACHE
from mibo.core import db
from mibo.domain import catalogue, centres
from schemas.centres import CentreQuerySchema, CentreSchema, CreateCentreSchema, UpdateCentreSchema
from schemas.public_catalogue import PublicCentreSchema

TAGS = ("Centres",)

_schema = CentreSchema()
_public_schema = PublicCentreSchema()


@requires("centres.view")
@documented("List centres", tags=TAGS, query=CentreQuerySchema, response=CentreSchema, many=True)
async def list_centres(request: web.Request) -> web.Response:
    query = read_query(request, CentreQuerySchema())
    async with db.connection(request.app[DB]) as cur:
        rows, total = await centres.list_page(cur, request[ACTOR], query, query["limit"], query["offset"])
    return ok_page(_schema.dump(rows, many=True), total, query["limit"], query["offset"])


@requires("centres.view", anonymous=True)
@documented("Get a centre", tags=TAGS, response=CentreSchema, errors=(403, 404),
            description="Without a token (the patient website), an active centre's public fields, in snake_case: "
                        "id, name, city, address_line_1, address_line_2, pincode, contact_phone, is_active.")
async def get_centre(request: web.Request) -> web.Response:
    centre_id = path_id(request)
    if ACTOR not in request:
        async def build():
            async with db.connection(request.app[DB]) as cur:
                return _public_schema.dump(await catalogue.centre(cur, centre_id))

        return await cached(request, build, CATALOGUE_CACHE)
    async with db.connection(request.app[DB]) as cur:
        return ok(_schema.dump(await centres.visible_centre(cur, request[ACTOR], centre_id)))


@requires("centres.create")
@documented("Create a centre (its time zone defaults to the chain's)", tags=TAGS, body=CreateCentreSchema,
            response=CentreSchema, status=201)
async def create_centre(request: web.Request) -> web.Response:
    body = await read_json(request, CreateCentreSchema())
    async with db.transaction(request.app[DB]) as cur:
        centre = await centres.create(cur, request[ACTOR], body, request.app[SETTINGS].chain_timezone)
    return ok(_schema.dump(centre), status=201)


@requires("centres.update")
@documented("Update a centre", tags=TAGS, body=UpdateCentreSchema, response=CentreSchema,
            errors=(403, 404, 409))
async def update_centre(request: web.Request) -> web.Response:
    centre_id = path_id(request)
    body = await read_json(request, UpdateCentreSchema())
    async with db.transaction(request.app[DB]) as cur:
        centre = await centres.update(cur, request[ACTOR], centre_id, body)
    return ok(_schema.dump(centre))


@requires("centres.delete")
@documented("Deactivate a centre", tags=TAGS, response=CentreSchema, errors=(404, 409))
async def delete_centre(request: web.Request) -> web.Response:
    centre_id = path_id(request)
    async with db.transaction(request.app[DB]) as cur:
        centre = await centres.deactivate(cur, request[ACTOR], centre_id)
    return ok(_schema.dump(centre))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/centres", list_centres)
    app.router.add_post("/api/centres", create_centre)
    app.router.add_get(r"/api/centres/{id:\d+}", get_centre)
    app.router.add_put(r"/api/centres/{id:\d+}", update_centre)
    app.router.add_delete(r"/api/centres/{id:\d+}", delete_centre)

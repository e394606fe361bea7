"""/api/clinicians/{id}/blocks: block a clinician's time, list blocks, unblock (mibo.domain.blocks)."""

from __future__ import annotations

from aiohttp import web

from mibo.api.access import requires
from mibo.api.apidoc import documented
from mibo.api.http import ok, ok_page, path_id, read_json, read_query
from mibo.api.keys import ACTOR, DB
from mibo.core import db
from mibo.domain import blocks
from mibo.domain.appointments import utc_now
from schemas.blocks import BlockListQuerySchema, BlockSchema, CreateBlockSchema, CreatedBlockSchema

TAGS = ("Clinicians",)


@requires("blocks.manage")
@documented(
    "Block a clinician's time: a slot, a range, a day or a date range",
    tags=TAGS, body=CreateBlockSchema, response=CreatedBlockSchema, status=201, errors=(400, 403, 404, 409),
)
async def create_block(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    body = await read_json(request, CreateBlockSchema())
    async with db.transaction(request.app[DB]) as cur:
        block, cancelled = await blocks.create(
            cur, request[ACTOR], clinician_id, body, centre_id=body.get("centre_id"), reason=body["reason"],
            cancel_appointments=body["cancel_appointments"], now=utc_now())
    return ok(CreatedBlockSchema().dump({**block, "cancelled_appointment_ids": [row["id"] for row in cancelled]}),
              status=201)


@requires("blocks.manage")
@documented(
    "A clinician's active blocks; from/to are local dates at the primary centre",
    tags=TAGS, query=BlockListQuerySchema, response=BlockSchema, many=True, errors=(400, 403, 404),
)
async def list_blocks(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    query = read_query(request, BlockListQuerySchema())
    async with db.connection(request.app[DB]) as cur:
        rows, total = await blocks.active_blocks(cur, request[ACTOR], clinician_id, query.get("from_"),
                                                 query.get("to"), query["limit"], query["offset"], utc_now())
    return ok_page(BlockSchema(many=True).dump(rows), total, query["limit"], query["offset"])


@requires("blocks.manage")
@documented("Unblock: remove a block, freeing its time", tags=TAGS, response=BlockSchema, errors=(403, 404))
async def remove_block(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    block_id = path_id(request, "blockId")
    async with db.transaction(request.app[DB]) as cur:
        removed = await blocks.remove(cur, request[ACTOR], clinician_id, block_id)
    return ok(BlockSchema().dump(removed))


def setup_routes(app: web.Application) -> None:
    app.router.add_post(r"/api/clinicians/{id:\d+}/blocks", create_block)
    app.router.add_get(r"/api/clinicians/{id:\d+}/blocks", list_blocks)
    app.router.add_delete(r"/api/clinicians/{id:\d+}/blocks/{blockId:\d+}", remove_block)

"""/api/centres: the hospital's locations, each with the IANA time zone of its wall-clock rules.

Centres are scoped like everything else: ADMIN and MANAGER see every centre, other roles only
the centres they are assigned to. Delete is a soft delete (is_active = false), refused while
the centre still has live appointments ahead of it.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func

from mibo.api.access import requires
from mibo.api.apidoc import documented
from mibo.api.http import ok, ok_page, path_id, read_json, read_query
from mibo.api.keys import ACTOR, DB
from mibo.core import audit, db, listing, tables
from mibo.core.actor import ADMIN
from mibo.core.errors import ApiError
from mibo.domain.access import check_centre
from schemas.centres import CentreQuerySchema, CentreSchema, CreateCentreSchema, UpdateCentreSchema

COLUMNS = (
    "id, name, city, address_line1, address_line2, pincode, contact_phone, timezone, is_active,"
    " created_at, updated_at"
)

CENTRE_BY_ID = f"SELECT {COLUMNS} FROM centres WHERE id = %s"

# Locked so that a booking racing a deactivation sees one or the other, not half of each.
CENTRE_FOR_UPDATE = f"SELECT {COLUMNS} FROM centres WHERE id = %s FOR UPDATE"

INSERT_CENTRE = f"""
INSERT INTO centres (name, city, address_line1, address_line2, pincode, contact_phone, timezone)
VALUES (%(name)s, %(city)s, %(address_line1)s, %(address_line2)s, %(pincode)s, %(contact_phone)s,
        %(timezone)s)
RETURNING {COLUMNS}
"""

UPDATABLE = (
    "name",
    "city",
    "address_line1",
    "address_line2",
    "pincode",
    "contact_phone",
    "timezone",
    "is_active",
)

DEACTIVATE_CENTRE = f"UPDATE centres SET is_active = FALSE WHERE id = %s RETURNING {COLUMNS}"

FUTURE_LIVE_APPOINTMENTS_AT_CENTRE = """
SELECT count(*) FROM appointments
WHERE centre_id = %s AND status IN ('BOOKED', 'CONFIRMED') AND scheduled_end_at > now()
"""

LIST_DETAIL = f"SELECT page.total, {COLUMNS} FROM page JOIN centres USING (id) ORDER BY page.ord"

_schema = CentreSchema()


def update_sql(fields: list[str]) -> str:
    assignments = ", ".join(f"{name} = %({name})s" for name in fields)
    return f"UPDATE centres SET {assignments} WHERE id = %(id)s RETURNING {COLUMNS}"


async def centre_or_404(cur, centre_id: int, *, lock: bool = False) -> dict:
    centre = await db.fetch_one(cur, CENTRE_FOR_UPDATE if lock else CENTRE_BY_ID, (centre_id,))
    if centre is None:
        raise ApiError.not_found("centre")
    return centre


async def ensure_no_future_appointments(cur, centre_id: int) -> None:
    count = await db.fetch_value(cur, FUTURE_LIVE_APPOINTMENTS_AT_CENTRE, (centre_id,))
    if count:
        raise ApiError.conflict(
            f"The centre has {count} upcoming appointment(s); move or cancel them first",
            {"futureAppointments": count},
            code="CENTRE_HAS_APPOINTMENTS",
        )


@requires("centres.view")
@documented("List centres", tags=("Centres",), query=CentreQuerySchema, response=CentreSchema, many=True)
async def list_centres(request: web.Request) -> web.Response:
    query = read_query(request, CentreQuerySchema())
    c = tables.centres
    where = []
    if "city" in query:
        where.append(c.c.city == query["city"])
    if "is_active" in query:
        where.append(c.c.is_active == query["is_active"])
    scope = request[ACTOR].centre_filter()
    if scope is not None:
        where.append(c.c.id.in_(scope))
    page = listing.page_of_ids(c.c.id, where, (func.lower(c.c.name), c.c.id), query["limit"], query["offset"])
    async with db.connection(request.app[DB]) as cur:
        rows, total = await listing.fetch_page(cur, page, LIST_DETAIL, query["offset"])
    return ok_page(_schema.dump(rows, many=True), total, query["limit"], query["offset"])


@requires("centres.view")
@documented("Get a centre", tags=("Centres",), response=CentreSchema, errors=(403, 404))
async def get_centre(request: web.Request) -> web.Response:
    centre_id = path_id(request)
    async with db.connection(request.app[DB]) as cur:
        centre = await centre_or_404(cur, centre_id)
    check_centre(request[ACTOR], centre_id)
    return ok(_schema.dump(centre))


@requires("centres.create")
@documented("Create a centre", tags=("Centres",), body=CreateCentreSchema, response=CentreSchema, status=201)
async def create_centre(request: web.Request) -> web.Response:
    body = await read_json(request, CreateCentreSchema())
    async with db.transaction(request.app[DB]) as cur:
        centre = await db.fetch_one(cur, INSERT_CENTRE, {"address_line2": None, **body})
        await audit.record(cur, request[ACTOR], "centre.create", "centre", centre["id"], centre["id"],
                           {"name": centre["name"]})
    return ok(_schema.dump(centre), status=201)


@requires("centres.update")
@documented(
    "Update a centre",
    tags=("Centres",),
    body=UpdateCentreSchema,
    response=CentreSchema,
    errors=(403, 404, 409),
)
async def update_centre(request: web.Request) -> web.Response:
    centre_id = path_id(request)
    body = await read_json(request, UpdateCentreSchema())
    actor = request[ACTOR]
    async with db.transaction(request.app[DB]) as cur:
        current = await centre_or_404(cur, centre_id, lock=True)
        check_centre(actor, centre_id)
        if "is_active" in body and ADMIN not in actor.roles:
            raise ApiError.forbidden("Only an administrator can activate or deactivate a centre")
        if body.get("is_active") is False and current["is_active"]:
            await ensure_no_future_appointments(cur, centre_id)
        changed = [name for name in UPDATABLE if name in body]
        centre = (
            await db.fetch_one(cur, update_sql(changed), {**body, "id": centre_id}) if changed else current
        )
        await audit.record(cur, request[ACTOR], "centre.update", "centre", centre_id, centre_id, {"fields": changed})
    return ok(_schema.dump(centre))


@requires("centres.delete")
@documented("Deactivate a centre", tags=("Centres",), response=CentreSchema, errors=(404, 409))
async def delete_centre(request: web.Request) -> web.Response:
    centre_id = path_id(request)
    async with db.transaction(request.app[DB]) as cur:
        await centre_or_404(cur, centre_id, lock=True)
        await ensure_no_future_appointments(cur, centre_id)
        centre = await db.fetch_one(cur, DEACTIVATE_CENTRE, (centre_id,))
        await audit.record(cur, request[ACTOR], "centre.delete", "centre", centre_id, centre_id)
    return ok(_schema.dump(centre))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/centres", list_centres)
    app.router.add_post("/api/centres", create_centre)
    app.router.add_get(r"/api/centres/{id:\d+}", get_centre)
    app.router.add_put(r"/api/centres/{id:\d+}", update_centre)
    app.router.add_delete(r"/api/centres/{id:\d+}", delete_centre)

"""The patient website's public reads, no token: the clinician catalogue and the free slots.

Answers carry an ETag (If-None-Match → 304). The catalogue may be kept for a few minutes, and
each API process keeps it PUBLIC_CACHE_SECONDS (mibo.api.public_answers). Slots must be asked
again every time (`no-cache`: revalidated, so a slot just booked is never shown free from a
cache), which the ETag makes cheap. Slots come from the staff availability code
(mibo.domain.appointments.public_slots and mibo.domain.availability): rules, blocks, buffers,
notice, horizon and daily cap, in the centre's zone.
"""

from __future__ import annotations

from aiohttp import web

from mibo.api.access import public
from mibo.api.apidoc import documented
from mibo.api.http import path_id, read_query
from mibo.api.keys import DB
from mibo.api.public_answers import cached, fresh
from mibo.core import db
from mibo.domain import appointments, availability, catalogue
from schemas.public_catalogue import (
    AvailableSlotsQuerySchema,
    AvailableSlotsSchema,
    DateSlotCountSchema,
    DatesWithSlotsQuerySchema,
    PublicClinicianSchema,
    PublicCliniciansQuerySchema,
)

TAGS = ("Patient website",)
CATALOGUE_CACHE = "public, max-age=300"
SLOTS_CACHE = "no-cache"

_clinician_schema = PublicClinicianSchema()
_clinicians_query = PublicCliniciansQuerySchema()
_dates_query = DatesWithSlotsQuerySchema()
_day_query = AvailableSlotsQuerySchema()


@public
@documented("The bookable clinicians, public fields only", tags=TAGS, query=PublicCliniciansQuerySchema,
            response=PublicClinicianSchema, many=True, cached=True)
async def list_clinicians(request: web.Request) -> web.Response:
    async def build():
        # Read only when building: an answer kept for this path and query was built from a valid one.
        query = read_query(request, _clinicians_query)
        if not query.get("is_active", True):
            return []
        async with db.connection(request.app[DB]) as cur:
            return _clinician_schema.dump(await catalogue.clinicians(cur, query.get("centre_id")), many=True)

    return await cached(request, build, CATALOGUE_CACHE)


@public
@documented("One bookable clinician, public fields only", tags=TAGS, response=PublicClinicianSchema,
            errors=(404,), cached=True)
async def get_clinician(request: web.Request) -> web.Response:
    clinician_id = path_id(request)

    async def build():
        async with db.connection(request.app[DB]) as cur:
            return _clinician_schema.dump(await catalogue.clinician(cur, clinician_id))

    return await cached(request, build, CATALOGUE_CACHE)


@public
@documented("The dates of a range (at most 60 days) with a free slot, and how many", tags=TAGS,
            query=DatesWithSlotsQuerySchema, response=DateSlotCountSchema, many=True, errors=(404,), cached=True)
async def dates_with_slots(request: web.Request) -> web.Response:
    query = read_query(request, _dates_query)
    now = appointments.utc_now()
    async with db.connection(request.app[DB]) as cur:
        _, schedule = await appointments.public_slots(cur, query["clinician_id"], query["centre_id"],
                                                      query["start_date"], query["end_date"], now)
    counts = availability.free_slot_counts(schedule, query["start_date"], query["end_date"], now,
                                           query["centre_id"])
    return fresh(request, counts, SLOTS_CACHE)


@public
@documented("A date's slots at a centre, as wall-clock times there, and whether each is free", tags=TAGS,
            query=AvailableSlotsQuerySchema, response=AvailableSlotsSchema, errors=(404,), cached=True)
async def available_slots(request: web.Request) -> web.Response:
    query = read_query(request, _day_query)
    day, now = query["date"], appointments.utc_now()
    async with db.connection(request.app[DB]) as cur:
        _, schedule = await appointments.public_slots(cur, query["clinician_id"], query["centre_id"], day, day, now)
    slots = availability.wall_clock_slots(schedule, day, now, query["centre_id"])
    return fresh(request, {"date": day.isoformat(), "slots": slots}, SLOTS_CACHE)


def setup_routes(app: web.Application) -> None:
    # Literal paths: /api/users/{id} takes digits only, so "clinicians" is never read as an id.
    app.router.add_get("/api/users/clinicians", list_clinicians)
    app.router.add_get(r"/api/users/clinicians/{id:\d+}", get_clinician)
    app.router.add_get("/api/booking/dates-with-slots", dates_with_slots)
    app.router.add_get("/api/booking/available-slots", available_slots)

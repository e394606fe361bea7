"""/api/clinicians/{id}/blocks: block a clinician's time at any granularity, list blocks, unblock.

One mechanism: every block is a range of instants. Whole days are the centre's local days
(midnight to midnight in its zone), converted once, here. Active blocks of a clinician never
overlap (an exclusion constraint), so removing a block always frees exactly its time.
A block over live appointments is refused (409 BLOCK_CONFLICT, listing them) unless the
request asks to cancel them, which then happens in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from mibo.api.access import requires
from mibo.api.apidoc import documented
from mibo.api.http import ok, ok_page, path_id, read_json, read_query
from mibo.api.keys import ACTOR, DB
from mibo.api.resources.appointments import change_status, utc_now
from mibo.core import audit, db
from mibo.core.actor import Actor
from mibo.core.errors import ApiError
from mibo.domain import schedule
from mibo.domain.access import check_centre
from mibo.domain.appointment_states import CANCELLED
from mibo.domain.availability import day_bounds
from schemas.blocks import BlockListQuerySchema, BlockSchema, CreateBlockSchema, CreatedBlockSchema

TAGS = ("Clinicians",)

BLOCK_COLUMNS = """
id, clinician_id, centre_id, starts_at, ends_at, reason, created_by_user_id, created_at,
removed_at, removed_by_user_id
"""

INSERT_BLOCK = f"""
INSERT INTO clinician_blocks (clinician_id, centre_id, starts_at, ends_at, reason, created_by_user_id)
VALUES (%s, %s, %s, %s, %s, %s)
RETURNING {BLOCK_COLUMNS}
"""

OVERLAPPING_BLOCKS = """
SELECT id, starts_at, ends_at FROM clinician_blocks
WHERE clinician_id = %s AND removed_at IS NULL AND starts_at < %s AND ends_at > %s
ORDER BY starts_at
"""

# Live appointments inside the block, locked so that they can be cancelled with it.
LIVE_APPOINTMENTS_IN_SPAN = """
SELECT a.id, a.status, a.centre_id, a.scheduled_start_at, a.scheduled_end_at, u.full_name AS patient_name
FROM appointments a
JOIN patient_profiles pp ON pp.id = a.patient_id
JOIN users u ON u.id = pp.user_id
WHERE a.clinician_id = %(clinician_id)s AND a.status IN ('BOOKED', 'CONFIRMED')
  AND a.scheduled_start_at < %(end)s AND a.scheduled_end_at > %(start)s
  AND (%(centre_id)s::bigint IS NULL OR a.centre_id = %(centre_id)s)
ORDER BY a.scheduled_start_at
FOR UPDATE OF a
"""

BLOCKS_PAGE = f"""
SELECT {BLOCK_COLUMNS}, count(*) OVER () AS total
FROM clinician_blocks
WHERE clinician_id = %(clinician_id)s AND removed_at IS NULL
  AND ends_at > %(lo)s AND (%(hi)s::timestamptz IS NULL OR starts_at < %(hi)s)
ORDER BY starts_at, id
LIMIT %(limit)s OFFSET %(offset)s
"""

BLOCK_BY_ID = f"SELECT {BLOCK_COLUMNS} FROM clinician_blocks WHERE id = %s AND clinician_id = %s"

REMOVE_BLOCK = f"""
UPDATE clinician_blocks SET removed_at = now(), removed_by_user_id = %s
WHERE id = %s AND removed_at IS NULL
RETURNING {BLOCK_COLUMNS}
"""


def block_span(body: dict[str, Any], zone: ZoneInfo, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The instants a block request covers. Raises 400 for a block that starts in the past;
    a whole-day block of today starts now (the part of today already gone needs no block)."""
    if "start_at" in body:
        start, end = body["start_at"].astimezone(dt.UTC), body["end_at"].astimezone(dt.UTC)
        if start < now:
            raise ApiError.validation(
                {"startAt": ["Must not be in the past."]}, "Blocks cannot start in the past"
            )
        return start, end
    first = body.get("date") or body["from_date"]
    last = body.get("date") or body["to_date"]
    if first < now.astimezone(zone).date():
        field = "date" if "date" in body else "fromDate"
        raise ApiError.validation({field: ["Must not be in the past."]}, "Blocks cannot start in the past")
    return max(day_bounds(first, zone)[0], now), day_bounds(last, zone)[1]


def check_clinician_scope(actor: Actor, clinician: dict[str, Any], centre_id: int | None) -> None:
    """A centre-scoped caller manages blocks at their centres; a block for every centre (centre_id
    None) needs the clinician's primary centre."""
    check_centre(actor, centre_id if centre_id is not None else clinician["primary_centre_id"])


async def existing_clinician(cur, clinician_id: int, *, lock: bool = False) -> dict[str, Any]:
    clinician = await schedule.clinician(cur, clinician_id, lock=lock)
    if clinician is None:
        raise ApiError(404, "CLINICIAN_NOT_FOUND", "No clinician with this id")
    return clinician


def conflict_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "status": row["status"],
        "patientName": row["patient_name"],
        "scheduledStartAt": row["scheduled_start_at"].isoformat(),
        "scheduledEndAt": row["scheduled_end_at"].isoformat(),
    }


@requires("blocks.manage")
@documented(
    "Block a clinician's time: a slot, a range, a day or a date range",
    tags=TAGS,
    body=CreateBlockSchema,
    response=CreatedBlockSchema,
    status=201,
    errors=(400, 403, 404, 409),
)
async def create_block(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    body = await read_json(request, CreateBlockSchema())
    actor = request[ACTOR]
    now = utc_now()
    async with db.transaction(request.app[DB]) as cur:
        clinician = await existing_clinician(cur, clinician_id, lock=True)
        centre_id = body.get("centre_id")
        zone_name = clinician["primary_timezone"]
        if centre_id is not None:
            centre = await schedule.centre(cur, centre_id)
            if centre is None:
                raise ApiError(404, "CENTRE_NOT_FOUND", "No centre with this id", {"centreId": ["not found"]})
            zone_name = centre["timezone"]
        check_clinician_scope(actor, clinician, centre_id)
        start, end = block_span(body, ZoneInfo(zone_name), now)
        overlapping = await db.fetch_all(cur, OVERLAPPING_BLOCKS, (clinician_id, end, start))
        if overlapping:
            raise ApiError.conflict(
                "The clinician already has a block then",
                {
                    "blocks": [
                        {
                            "id": b["id"],
                            "startsAt": b["starts_at"].isoformat(),
                            "endsAt": b["ends_at"].isoformat(),
                        }
                        for b in overlapping
                    ]
                },
                code="BLOCK_OVERLAP",
            )
        live = await db.fetch_all(
            cur,
            LIVE_APPOINTMENTS_IN_SPAN,
            {"clinician_id": clinician_id, "start": start, "end": end, "centre_id": centre_id},
        )
        if live and not body["cancel_appointments"]:
            raise ApiError.conflict(
                f"The time holds {len(live)} live appointment(s); send cancelAppointments: true to cancel",
                {"appointments": [conflict_item(row) for row in live]},
                code="BLOCK_CONFLICT",
            )
        block = await db.fetch_one(
            cur, INSERT_BLOCK, (clinician_id, centre_id, start, end, body["reason"], actor.user_id)
        )
        for appointment in live:
            await change_status(
                cur, request, appointment, CANCELLED, f"Clinician unavailable: {body['reason']}", now
            )
        await audit.record(cur, request[ACTOR],
            "clinician_block.create",
            "clinician_block",
            block["id"],
            centre_id,
            {
                "clinicianId": clinician_id,
                "startsAt": start.isoformat(),
                "endsAt": end.isoformat(),
                "cancelledAppointmentIds": [row["id"] for row in live],
            },
        )
    return ok(
        CreatedBlockSchema().dump({**block, "cancelled_appointment_ids": [row["id"] for row in live]}),
        status=201,
    )


@requires("blocks.manage")
@documented(
    "A clinician's active blocks; from/to are local dates at the primary centre",
    tags=TAGS,
    query=BlockListQuerySchema,
    response=BlockSchema,
    many=True,
    errors=(400, 403, 404),
)
async def list_blocks(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    query = read_query(request, BlockListQuerySchema())
    async with db.connection(request.app[DB]) as cur:
        clinician = await existing_clinician(cur, clinician_id)
        check_clinician_scope(request[ACTOR], clinician, None)
        zone = ZoneInfo(clinician["primary_timezone"])
        # Without `from`, the list starts today (local): past blocks no longer matter.
        first = query.get("from_") or utc_now().astimezone(zone).date()
        hi = day_bounds(query["to"], zone)[1] if "to" in query else None
        rows = await db.fetch_all(
            cur,
            BLOCKS_PAGE,
            {
                "clinician_id": clinician_id,
                "lo": day_bounds(first, zone)[0],
                "hi": hi,
                "limit": query["limit"],
                "offset": query["offset"],
            },
        )
    total = rows[0]["total"] if rows else 0
    return ok_page(BlockSchema(many=True).dump(rows), total, query["limit"], query["offset"])


@requires("blocks.manage")
@documented("Unblock: remove a block, freeing its time", tags=TAGS, response=BlockSchema, errors=(403, 404))
async def remove_block(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    block_id = path_id(request, "blockId")
    actor = request[ACTOR]
    async with db.transaction(request.app[DB]) as cur:
        clinician = await existing_clinician(cur, clinician_id, lock=True)
        block = await db.fetch_one(cur, BLOCK_BY_ID, (block_id, clinician_id))
        if block is None or block["removed_at"] is not None:
            raise ApiError(404, "BLOCK_NOT_FOUND", "No active block with this id for this clinician")
        check_clinician_scope(actor, clinician, block["centre_id"])
        removed = await db.fetch_one(cur, REMOVE_BLOCK, (actor.user_id, block_id))
        await audit.record(cur, request[ACTOR],
            "clinician_block.remove",
            "clinician_block",
            block_id,
            block["centre_id"],
            {"clinicianId": clinician_id},
        )
    return ok(BlockSchema().dump(removed))


def setup_routes(app: web.Application) -> None:
    app.router.add_post(r"/api/clinicians/{id:\d+}/blocks", create_block)
    app.router.add_get(r"/api/clinicians/{id:\d+}/blocks", list_blocks)
    app.router.add_delete(r"/api/clinicians/{id:\d+}/blocks/{blockId:\d+}", remove_block)

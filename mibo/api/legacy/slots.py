"""The panel's slot blocking (/admin/slots/*) and clinician slot exceptions, all onto the one block
mechanism (mibo.domain.blocks): a slot is its wall-clock times on a local date at the centre, a
day is the centre's local day.

As in the panel's original backend, blocking from /admin/slots cancels the live appointments in
the time (through the one status change, which asks for refunds and tells the patients), and the
affected-patients preview lists exactly what such a block would cancel (the same query). A slot
exception from the clinician's page is refused over a live appointment instead (409 BLOCK_CONFLICT).
block-multiple blocks each slot in a transaction of its own and answers per slot.
"""

from __future__ import annotations

import functools

from aiohttp import web

from mibo.api import work
from mibo.api.access import requires
from mibo.api.http import path_id, read_json, read_query
from mibo.api.legacy.contract import panel_route
from mibo.api.legacy.envelope import ok
from mibo.core.actor import Actor
from mibo.core.errors import ApiError
from mibo.domain import appointments, blocks
from mibo.domain.availability import BLOCKED
from schemas.legacy.base import LIST_CAP, NO_DATA
from schemas.legacy.slots import (
    PanelAffectedListSchema,
    PanelBlockDaySchema,
    PanelBlockedListSchema,
    PanelBlockedOneSchema,
    PanelBlockedQuerySchema,
    PanelBlockMultipleSchema,
    PanelBlockResultSchema,
    PanelSlotExceptionResultSchema,
    PanelSlotExceptionSchema,
    PanelSlotSchema,
    PanelSlotsSchema,
    reason_of,
)

BLOCK = ("POST", "/api/clinicians/{id}/blocks")


def span_of(slot: dict) -> dict:
    return {key: slot[key] for key in ("date", "start_time", "end_time") if key in slot}


async def blocked(cur, actor: Actor, clinician_id: int, centre_id: int, span: dict, reason: str, *,
                  cancel: bool) -> tuple[dict, list[dict]]:
    return await blocks.create(cur, actor, clinician_id, span, centre_id=centre_id, reason=reason,
                               cancel_appointments=cancel, now=appointments.utc_now())


block_cancelling = functools.partial(blocked, cancel=True)


async def block_slot_of(request: web.Request, slot: dict, reason: str) -> tuple[dict, list[dict]]:
    return await work.write(request, block_cancelling, slot["clinician_id"], slot["centre_id"], span_of(slot),
                            reason)


async def day_blocked(cur, actor: Actor, body: dict) -> dict:
    made, cancelled = await blocks.create_around(cur, actor, body["clinician_id"], {"date": body["date"]},
                                                 centre_id=body["centre_id"], reason=reason_of(body.get("reason")),
                                                 cancel_appointments=True, now=appointments.utc_now())
    _, slots = await appointments.slots(cur, actor, body["clinician_id"], body["date"], body["date"],
                                        body["centre_id"], appointments.utc_now())
    return {"success": True, "blocked_count": sum(slot["status"] == BLOCKED for slot in slots), "failed_count": 0,
            "blocked_slot_ids": [block["id"] for block in made], "failed_slots": [], "affected_patients": cancelled}


async def affected_by(cur, actor: Actor, slots: list[dict]) -> list[dict]:
    """Each appointment once, however many of the slots cover it."""
    found: dict[int, dict] = {}
    for slot in slots:
        for row in await blocks.affected(cur, actor, slot["clinician_id"], span_of(slot),
                                         centre_id=slot["centre_id"], now=appointments.utc_now()):
            found.setdefault(row["id"], row)
    return list(found.values())


async def matching(cur, actor: Actor, query: dict) -> list[dict]:
    return await blocks.matching(cur, actor, clinician_id=query.get("clinician_id"),
                                 centre_id=query.get("centre_id"), first=query.get("date_from"),
                                 last=query.get("date_to"), active=query["is_blocked"], limit=LIST_CAP)


@requires("blocks.manage")
@panel_route("Block one slot, cancelling the appointments in it", translates=BLOCK, body=PanelSlotSchema,
             response=PanelBlockedOneSchema, errors=(400, 403, 404, 409, 422))
async def block_slot(request: web.Request) -> web.Response:
    slot = await read_json(request, PanelSlotSchema())
    block, cancelled = await block_slot_of(request, slot, reason_of(slot.get("reason")))
    return ok(PanelBlockedOneSchema().dump({"blocked_slot": block, "affected_patients": cancelled}),
              message="Slot blocked successfully")


@requires("blocks.manage")
@panel_route("Block several slots, each on its own: the answer says which were blocked and why others were not",
             translates=BLOCK, body=PanelBlockMultipleSchema, response=PanelBlockResultSchema, errors=(400, 403))
async def block_multiple(request: web.Request) -> web.Response:
    raw = await read_json(request, PanelBlockMultipleSchema())
    result = {"blocked_slot_ids": [], "failed_slots": [], "affected_patients": []}
    for slot in raw["slots"]:
        try:
            block, cancelled = await block_slot_of(request, slot, reason_of(raw.get("reason") or slot.get("reason")))
        except ApiError as refused:
            sent = {**slot, "date": slot["date"].isoformat(), "start_time": slot["start_time"].strftime("%H:%M"),
                    "end_time": slot["end_time"].strftime("%H:%M")}
            result["failed_slots"].append({"slot": sent, "error": refused.message, "code": refused.code})
            continue
        result["blocked_slot_ids"].append(block["id"])
        result["affected_patients"] += cancelled
    result.update(blocked_count=len(result["blocked_slot_ids"]), failed_count=len(result["failed_slots"]),
                  success=not result["failed_slots"])
    return ok(PanelBlockResultSchema().dump(result))


@requires("blocks.manage")
@panel_route("Block a clinician's whole local day at a centre (what of it is not blocked yet), cancelling its"
             " appointments", translates=BLOCK,
             body=PanelBlockDaySchema, response=PanelBlockResultSchema, errors=(400, 403, 404, 409))
async def block_day(request: web.Request) -> web.Response:
    body = await read_json(request, PanelBlockDaySchema())
    return ok(PanelBlockResultSchema().dump(await work.write(request, day_blocked, body)))


@requires("blocks.manage")
@panel_route("Unblock: the block's time is free again", translates=("DELETE", "/api/clinicians/{id}/blocks/{blockId}"),
             response=NO_DATA, errors=(403, 404))
async def unblock(request: web.Request) -> web.Response:
    await work.write(request, blocks.remove_block, path_id(request))
    return ok(None, message="Slot unblocked successfully")


@requires("blocks.manage")
@panel_route(f"Blocks at the caller's centres (or the removed ones), newest first; at most {LIST_CAP}",
             translates=("GET", "/api/clinicians/{id}/blocks"), query=PanelBlockedQuerySchema,
             response=PanelBlockedListSchema, errors=(400, 403))
async def list_blocked(request: web.Request) -> web.Response:
    query = read_query(request, PanelBlockedQuerySchema())
    rows = await work.read(request, matching, query)
    return ok(PanelBlockedListSchema().dump({"blocked_slots": rows, "total": len(rows)}))


@requires("blocks.manage")
@panel_route("Preview: the patients whose appointments blocking these slots would cancel", translates=None,
             body=PanelSlotsSchema, response=PanelAffectedListSchema, errors=(400, 403, 404, 422))
async def affected_patients(request: web.Request) -> web.Response:
    body = await read_json(request, PanelSlotsSchema())
    found = await work.read(request, affected_by, body["slots"])
    return ok(PanelAffectedListSchema().dump({"affected_patients": found, "total_count": len(found)}))


@requires("blocks.manage")
@panel_route("Block one slot of a clinician (refused over a live appointment)", translates=BLOCK,
             body=PanelSlotExceptionSchema, response=PanelSlotExceptionResultSchema, status=201,
             errors=(400, 403, 404, 409, 422))
async def slot_exception(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    body = await read_json(request, PanelSlotExceptionSchema())
    block, _ = await work.write(request, functools.partial(blocked, cancel=False), clinician_id, body["centre_id"],
                                span_of(body), reason_of(body.get("reason")))
    return ok(PanelSlotExceptionResultSchema().dump({**block, "mode": body.get("mode")}),
              message="Slot blocked successfully", status=201)


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/admin/slots/block", block_slot)
    app.router.add_post("/api/admin/slots/block-multiple", block_multiple)
    app.router.add_post("/api/admin/slots/block-day", block_day)
    app.router.add_post(r"/api/admin/slots/unblock/{id:\d+}", unblock)
    app.router.add_get("/api/admin/slots/blocked", list_blocked)
    app.router.add_post("/api/admin/slots/affected-patients", affected_patients)
    app.router.add_post(r"/api/users/clinicians/{id:\d+}/slot-exceptions", slot_exception)

"""The panel's slot grids at /users/clinicians/{id}/slots (a day) and /booking/clinician-slots (up to
62 days, read in the spans the rule reads at once): the spec's availability
(mibo.domain.appointments.slots: the same statuses and scope as GET /api/appointments/availability),
with what the panel shows beside each slot — its end at the centre's wall clock, the mode of the rule
it comes from, and for those who manage blocks, the id of the block closing it."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from mibo.api import work
from mibo.api.access import requires
from mibo.api.http import path_id, read_query
from mibo.api.legacy.contract import panel_route
from mibo.api.legacy.envelope import ok
from mibo.core.actor import Actor
from mibo.domain import access, appointments, availability, blocks, centres, clinicians
from schemas.legacy.base import LIST_CAP
from schemas.legacy.calendar import (
    DaySlotsQuerySchema,
    PanelSlotSchema,
    RangeSlotsQuerySchema,
    local_time,
)

_slot = PanelSlotSchema()
AVAILABILITY = ("GET", "/api/appointments/availability")


def windows(first: dt.date, last: dt.date) -> list[tuple[dt.date, dt.date]]:
    """first..last in the spans the availability rule reads at once."""
    spans, start = [], first
    while start <= last:
        end = min(last, start + dt.timedelta(days=availability.MAX_RANGE_DAYS - 1))
        spans.append((start, end))
        start = end + dt.timedelta(days=1)
    return spans


def rule_mode(rules: list[dict[str, Any]], slot: dict[str, Any]) -> str | None:
    """The consultation mode of the weekly rule a slot was cut from."""
    day = dt.date.fromisoformat(slot["date"]).weekday()
    return next((rule["consultation_mode"] for rule in rules
                 if rule["centre_id"] == slot["centreId"] and rule["day_of_week"] == day
                 and rule["start_time"] <= slot["localStart"] < rule["end_time"]), None)


def closing_block(found: list[dict[str, Any]], slot: dict[str, Any]) -> int | None:
    start, end = dt.datetime.fromisoformat(slot["startAt"]), dt.datetime.fromisoformat(slot["endAt"])
    return next((block["id"] for block in found if block["starts_at"] < end and block["ends_at"] > start
                 and block["centre_id"] in (None, slot["centreId"])), None)


async def panel_slots(cur, actor: Actor, clinician_id: int, first: dt.date, last: dt.date,
                      centre_id: int | None) -> list[dict[str, Any]]:
    now = appointments.utc_now()
    slots = []
    for start, end in windows(first, last):
        slots += (await appointments.slots(cur, actor, clinician_id, start, end, centre_id, now))[1]
    detail = await clinicians.visible_detail(cur, actor, clinician_id)
    rows, _ = await centres.list_page(cur, actor, {}, LIST_CAP, 0)
    zones = {row["id"]: ZoneInfo(row["timezone"]) for row in rows}
    found: list[dict[str, Any]] = []
    if access.can(actor, "blocks.manage") and actor.can_access_centre(detail["primary_centre"]["id"]):
        found, _ = await blocks.active_blocks(cur, actor, clinician_id, first, last, LIST_CAP, 0, now)
    shaped = []
    for slot in slots:
        blocked = closing_block(found, slot) if slot["status"] == "blocked" else None
        shaped.append(_slot.dump({
            "id": f"{slot['date']}-{slot['localStart']}-{slot['centreId']}", "date": slot["date"],
            "start_time": slot["localStart"], "end_time": local_time(slot["endAt"], zones[slot["centreId"]]),
            "start_at": slot["startAt"], "end_at": slot["endAt"], "status": slot["status"],
            "available": slot["status"] == "available", "reason": slot["reason"], "centre_id": slot["centreId"],
            "mode": rule_mode(detail["availability_rules"], slot), "blocked_slot_id": blocked}))
    return shaped


@requires("availability.view")
@panel_route("A clinician's slots on a day, as the slot-blocking page shows them", translates=AVAILABILITY,
             query=DaySlotsQuerySchema, response=PanelSlotSchema, many=True, errors=(400, 403, 404, 422))
async def day_slots(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    query = read_query(request, DaySlotsQuerySchema())
    return ok(await work.read(request, panel_slots, clinician_id, query["date"], query["date"],
                              query.get("centre_id")))


@requires("availability.view")
@panel_route("A clinician's slots over up to 62 days, as the booking and clinician pages show them",
             translates=AVAILABILITY, query=RangeSlotsQuerySchema, response=PanelSlotSchema, many=True,
             errors=(400, 403, 404, 422))
async def range_slots(request: web.Request) -> web.Response:
    query = read_query(request, RangeSlotsQuerySchema())
    return ok(await work.read(request, panel_slots, query["clinician_id"], query["start_date"], query["end_date"],
                              query.get("centre_id")))


def setup_routes(app: web.Application) -> None:
    app.router.add_get(r"/api/users/clinicians/{id:\d+}/slots", day_slots)
    app.router.add_get("/api/booking/clinician-slots", range_slots)

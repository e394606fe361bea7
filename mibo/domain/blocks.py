"""Blocking a clinician's time at any granularity, listing blocks, unblocking.

One mechanism: every block is a range of instants. Whole days are the centre's local days
(midnight to midnight in its zone), and wall-clock times on a date are read in the centre's
zone, converted once, here. Active blocks of a clinician never
overlap (an exclusion constraint), so removing a block always frees exactly its time.
A block over live appointments is refused (409 BLOCK_CONFLICT, listing them) unless the
request asks to cancel them, which then happens in the same transaction, through the one
status change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from mibo.core import audit, db
from mibo.core.actor import Actor
from mibo.core.errors import ApiError
from mibo.domain import appointments, schedule
from mibo.domain.access import check_centre
from mibo.domain.appointment_states import CANCELLED, LIVE_SQL
from mibo.domain.availability import day_bounds, wall_to_instant

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

# Live appointments inside a block's span: those a block with cancellation cancels, and what the
# people affected need to be told (their contact, and whether money goes back to them).
LIVE_APPOINTMENTS_IN_SPAN = f"""
SELECT a.id, a.status, a.centre_id, c.timezone, a.patient_id, a.scheduled_start_at, a.scheduled_end_at,
       u.full_name AS patient_name, u.phone AS patient_phone, u.email AS patient_email,
       cu.full_name AS clinician_name,
       (SELECT p.status FROM payments p WHERE p.appointment_id = a.id
        ORDER BY p.status = 'SUCCESS' DESC, p.id DESC LIMIT 1) AS payment_status
FROM appointments a
JOIN patient_profiles pp ON pp.id = a.patient_id
JOIN users u ON u.id = pp.user_id
JOIN clinician_profiles cp ON cp.id = a.clinician_id
JOIN users cu ON cu.id = cp.user_id
JOIN centres c ON c.id = a.centre_id
WHERE a.clinician_id = %(clinician_id)s AND a.status IN {LIVE_SQL}
  AND a.scheduled_start_at < %(end)s AND a.scheduled_end_at > %(start)s
  AND (%(centre_id)s::bigint IS NULL OR a.centre_id = %(centre_id)s)
ORDER BY a.scheduled_start_at
"""

# The same, locked so that they can be cancelled with the block.
LIVE_APPOINTMENTS_IN_SPAN_LOCKED = LIVE_APPOINTMENTS_IN_SPAN + "FOR UPDATE OF a"

# A clinician works at their primary centre and at every centre their user is assigned to.
WORKS_AT_CENTRE = """
SELECT EXISTS (
    SELECT 1 FROM clinician_profiles cp
    WHERE cp.id = %(clinician_id)s AND (cp.primary_centre_id = %(centre_id)s OR EXISTS (
        SELECT 1 FROM centre_staff_assignments csa
        WHERE csa.user_id = cp.user_id AND csa.centre_id = %(centre_id)s AND csa.is_active)))
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

CLINICIAN_OF_BLOCK = "SELECT clinician_id FROM clinician_blocks WHERE id = %s"

# Blocks across clinicians, with the names a list shows. A block for every centre belongs to the
# clinician's primary centre (as for scoping, check_clinician_scope); dates are local to that centre.
BLOCKS_MATCHING = """
SELECT b.id, b.clinician_id, cu.full_name AS clinician_name, b.centre_id,
       c.name AS centre_name, c.timezone, b.starts_at, b.ends_at, b.reason, b.created_by_user_id,
       bu.full_name AS created_by_name, b.created_at, b.removed_at, b.removed_by_user_id
FROM clinician_blocks b
JOIN clinician_profiles cp ON cp.id = b.clinician_id
JOIN users cu ON cu.id = cp.user_id
JOIN centres c ON c.id = COALESCE(b.centre_id, cp.primary_centre_id)
LEFT JOIN users bu ON bu.id = b.created_by_user_id
WHERE (b.removed_at IS NULL) = %(active)s
  AND (%(clinician_id)s::bigint IS NULL OR b.clinician_id = %(clinician_id)s)
  AND (%(centre_id)s::bigint IS NULL OR c.id = %(centre_id)s)
  AND (%(centre_ids)s::bigint[] IS NULL OR c.id = ANY(%(centre_ids)s::bigint[]))
  AND (%(first)s::date IS NULL OR b.ends_at > timezone(c.timezone, %(first)s::date::timestamp))
  AND (%(last)s::date IS NULL OR b.starts_at < timezone(c.timezone, (%(last)s::date + 1)::timestamp))
ORDER BY b.created_at DESC, b.id DESC
LIMIT %(limit)s
"""
# Read by the cancellation's messages: the patient is told their clinician became unavailable.
MARK_CANCELLED_BY_BLOCK = "UPDATE appointments SET cancelled_by_block_id = %s WHERE id = ANY(%s)"

REMOVE_BLOCK = f"""
UPDATE clinician_blocks SET removed_at = now(), removed_by_user_id = %s
WHERE id = %s AND removed_at IS NULL
RETURNING {BLOCK_COLUMNS}
"""


def wall_span(body: dict[str, Any], zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """start_time..end_time, wall clock on `date` in the zone; 422 for a time a clock change skips."""
    start, end = (wall_to_instant(body["date"], body[key], zone) for key in ("start_time", "end_time"))
    if start is None or end is None:
        field = "startTime" if start is None else "endTime"
        raise ApiError.unprocessable("That time does not exist on that day at the centre (a clock change)",
                                     {field: ["does not exist on that date"]}, "NO_SUCH_TIME")
    if end <= start:
        raise ApiError.validation({"endTime": ["Must be after startTime."]})
    return start, end


def block_span(body: dict[str, Any], zone: ZoneInfo, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The instants a block request covers: start_at/end_at, start_time/end_time on a date, a date,
    or from_date/to_date. Raises 400 for a block that starts in the past; a whole-day block of
    today starts now (the part of today already gone needs no block)."""
    if "start_at" in body or "start_time" in body:
        start, end = ((body["start_at"].astimezone(dt.UTC), body["end_at"].astimezone(dt.UTC))
                      if "start_at" in body else wall_span(body, zone))
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
        raise ApiError.not_found("clinician")
    return clinician


def conflict_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "status": row["status"],
        "patientName": row["patient_name"],
        "scheduledStartAt": row["scheduled_start_at"].isoformat(),
        "scheduledEndAt": row["scheduled_end_at"].isoformat(),
    }



async def _target(cur, actor: Actor, clinician_id: int, span: dict[str, Any], centre_id: int | None,
                  now: dt.datetime, *, lock: bool) -> tuple[dt.datetime, dt.datetime, str]:
    """Check who may block the clinician's time where; returns the instants `span` covers and the
    zone they were read in."""
    clinician = await existing_clinician(cur, clinician_id, lock=lock)
    zone_name = clinician["primary_timezone"]
    if centre_id is not None:
        centre = await schedule.centre(cur, centre_id)
        if centre is None:
            raise ApiError.not_found("centre", "centreId")
        zone_name = centre["timezone"]
    check_clinician_scope(actor, clinician, centre_id)
    # The centre must be one of the caller's (above) and one where the clinician works: else a
    # coordinator could block another centre's clinician by naming their own centre.
    if centre_id is not None and not await db.fetch_value(
            cur, WORKS_AT_CENTRE, {"clinician_id": clinician_id, "centre_id": centre_id}):
        raise ApiError.validation({"centreId": ["The clinician does not work at this centre."]})
    return *block_span(span, ZoneInfo(zone_name), now), zone_name


async def _live_in_span(cur, clinician_id: int, start: dt.datetime, end: dt.datetime, centre_id: int | None,
                        *, lock: bool) -> list[dict[str, Any]]:
    return await db.fetch_all(cur, LIVE_APPOINTMENTS_IN_SPAN_LOCKED if lock else LIVE_APPOINTMENTS_IN_SPAN,
                              {"clinician_id": clinician_id, "start": start, "end": end, "centre_id": centre_id})


async def affected(cur, actor: Actor, clinician_id: int, span: dict[str, Any], *, centre_id: int | None,
                   now: dt.datetime) -> list[dict[str, Any]]:
    """The live appointments a block of `span` would cancel (`create` with cancel_appointments), as of now."""
    start, end, _ = await _target(cur, actor, clinician_id, span, centre_id, now, lock=False)
    return await _live_in_span(cur, clinician_id, start, end, centre_id, lock=False)


async def create(cur, actor: Actor, clinician_id: int, span: dict[str, Any], *, centre_id: int | None, reason: str,
                 cancel_appointments: bool, now: dt.datetime) -> tuple[dict[str, Any], list[int]]:
    """Block the clinician's time (`span`: see block_span); returns the block (with the zone its
    times were read in) and the appointments it cancelled."""
    start, end, zone_name = await _target(cur, actor, clinician_id, span, centre_id, now, lock=True)
    overlapping = await db.fetch_all(cur, OVERLAPPING_BLOCKS, (clinician_id, end, start))
    if overlapping:
        raise ApiError.conflict(
            "The clinician already has a block then",
            {"blocks": [{"id": b["id"], "startsAt": b["starts_at"].isoformat(), "endsAt": b["ends_at"].isoformat()}
                        for b in overlapping]},
            code="BLOCK_OVERLAP",
        )
    live = await _live_in_span(cur, clinician_id, start, end, centre_id, lock=True)
    if live and not cancel_appointments:
        raise ApiError.conflict(
            f"The time holds {len(live)} live appointment(s); send cancelAppointments: true to cancel",
            {"appointments": [conflict_item(row) for row in live]},
            code="BLOCK_CONFLICT",
        )
    block = await db.fetch_one(cur, INSERT_BLOCK, (clinician_id, centre_id, start, end, reason, actor.user_id))
    for appointment in live:
        await appointments.transition(cur, actor, appointment, CANCELLED, f"Clinician unavailable: {reason}", now)
    cancelled = [row["id"] for row in live]
    if cancelled:
        await db.execute(cur, MARK_CANCELLED_BY_BLOCK, (block["id"], cancelled))
    await audit.record(cur, actor, "clinician_block.create", "clinician_block", block["id"], centre_id, {
        "clinicianId": clinician_id, "startsAt": start.isoformat(), "endsAt": end.isoformat(),
        "cancelledAppointmentIds": cancelled,
    })
    return {**block, "timezone": zone_name}, live


Span = tuple[dt.datetime, dt.datetime]


def free_parts(start: dt.datetime, end: dt.datetime, taken: list[dict[str, Any]]) -> list[Span]:
    """The parts of start..end outside the `taken` blocks (in time order)."""
    parts, cursor = [], start
    for block in taken:
        if block["starts_at"] > cursor:
            parts.append((cursor, min(block["starts_at"], end)))
        cursor = max(cursor, block["ends_at"])
    if cursor < end:
        parts.append((cursor, end))
    return parts


async def create_around(cur, actor: Actor, clinician_id: int, span: dict[str, Any], *, centre_id: int | None,
                        reason: str, cancel_appointments: bool, now: dt.datetime) -> tuple[list[dict], list[dict]]:
    """Block what of `span` the clinician's active blocks leave free, one block per free part (none when
    it is all blocked already): blocking a day that has a blocked hour blocks the rest of it, and
    unblocking still frees exactly each block's time. Returns the blocks and the appointments cancelled."""
    start, end, _ = await _target(cur, actor, clinician_id, span, centre_id, now, lock=True)
    taken = await db.fetch_all(cur, OVERLAPPING_BLOCKS, (clinician_id, end, start))
    made, cancelled = [], []
    for part_start, part_end in free_parts(start, end, taken):
        block, live = await create(cur, actor, clinician_id, {"start_at": part_start, "end_at": part_end},
                                   centre_id=centre_id, reason=reason, cancel_appointments=cancel_appointments,
                                   now=now)
        made.append(block)
        cancelled += live
    return made, cancelled


async def active_blocks(cur, actor: Actor, clinician_id: int, first: dt.date | None, last: dt.date | None,
                        limit: int, offset: int, now: dt.datetime) -> tuple[list[dict], int]:
    """A clinician's active blocks over local dates at the primary centre (from today when no `first`)."""
    clinician = await existing_clinician(cur, clinician_id)
    check_clinician_scope(actor, clinician, None)
    zone = ZoneInfo(clinician["primary_timezone"])
    first = first or now.astimezone(zone).date()  # past blocks no longer matter
    rows = await db.fetch_all(cur, BLOCKS_PAGE, {
        "clinician_id": clinician_id, "lo": day_bounds(first, zone)[0],
        "hi": day_bounds(last, zone)[1] if last is not None else None, "limit": limit, "offset": offset,
    })
    return rows, rows[0]["total"] if rows else 0


async def remove(cur, actor: Actor, clinician_id: int, block_id: int) -> dict[str, Any]:
    """Unblock: the block's time is free again."""
    clinician = await existing_clinician(cur, clinician_id, lock=True)
    block = await db.fetch_one(cur, BLOCK_BY_ID, (block_id, clinician_id))
    if block is None or block["removed_at"] is not None:
        raise ApiError.not_found("block")
    check_clinician_scope(actor, clinician, block["centre_id"])
    removed = await db.fetch_one(cur, REMOVE_BLOCK, (actor.user_id, block_id))
    await audit.record(cur, actor, "clinician_block.remove", "clinician_block", block_id, block["centre_id"],
                       {"clinicianId": clinician_id})
    return removed


async def remove_block(cur, actor: Actor, block_id: int) -> dict[str, Any]:
    """Unblock by the block's id alone (see `remove`)."""
    clinician_id = await db.fetch_value(cur, CLINICIAN_OF_BLOCK, (block_id,))
    if clinician_id is None:
        raise ApiError.not_found("block")
    return await remove(cur, actor, clinician_id, block_id)


async def matching(cur, actor: Actor, *, clinician_id: int | None, centre_id: int | None, first: dt.date | None,
                   last: dt.date | None, active: bool, limit: int) -> list[dict[str, Any]]:
    """Blocks of any clinician at the actor's centres (or removed ones), newest first, at most `limit`;
    first/last are local dates at each block's centre."""
    if centre_id is not None:
        check_centre(actor, centre_id)
    return await db.fetch_all(cur, BLOCKS_MATCHING, {
        "active": active, "clinician_id": clinician_id, "centre_id": centre_id,
        "centre_ids": actor.centre_filter(), "first": first, "last": last, "limit": limit,
    })

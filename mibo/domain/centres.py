"""Centres: the hospital's locations, each with the IANA time zone of its wall-clock rules.

Centres are scoped like everything else: ADMIN and MANAGER see every centre, other roles only
the centres they are assigned to; a CENTRE_MANAGER edits their own centres' details, only an
ADMIN opens, closes or reopens one. Closing is a soft delete (is_active = false), refused while
the centre still has live appointments ahead of it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func

from mibo.core import audit, db, listing, tables
from mibo.core.actor import ADMIN, Actor
from mibo.core.errors import ApiError
from mibo.domain import access
from mibo.domain.appointment_states import LIVE_SQL

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

UPDATABLE = ("name", "city", "address_line1", "address_line2", "pincode", "contact_phone", "timezone", "is_active")

DEACTIVATE_CENTRE = f"UPDATE centres SET is_active = FALSE WHERE id = %s RETURNING {COLUMNS}"

FUTURE_LIVE_APPOINTMENTS_AT_CENTRE = f"""
SELECT count(*) FROM appointments
WHERE centre_id = %s AND status IN {LIVE_SQL} AND scheduled_end_at > now()
"""

CENTRE_PAGE = f"SELECT page.total, {COLUMNS} FROM page JOIN centres USING (id) ORDER BY page.ord"


def update_sql(fields: list[str]) -> str:
    assignments = ", ".join(f"{name} = %({name})s" for name in fields)
    return f"UPDATE centres SET {assignments} WHERE id = %(id)s RETURNING {COLUMNS}"


async def centre_or_404(cur, centre_id: int, *, lock: bool = False) -> dict[str, Any]:
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


async def list_page(cur, actor: Actor, filters: dict[str, Any], limit: int, offset: int):
    """The centres the actor sees that match `filters` (city, active), by name; returns (rows, total)."""
    c = tables.centres
    where = []
    if "city" in filters:
        where.append(c.c.city == filters["city"])
    if "is_active" in filters:
        where.append(c.c.is_active == filters["is_active"])
    scope = actor.centre_filter()
    if scope is not None:
        where.append(c.c.id.in_(scope))
    page = listing.page_of_ids(c.c.id, where, (func.lower(c.c.name), c.c.id), limit, offset)
    return await listing.fetch_page(cur, page, CENTRE_PAGE, offset)


async def visible_centre(cur, actor: Actor, centre_id: int) -> dict[str, Any]:
    centre = await centre_or_404(cur, centre_id)
    access.check_centre(actor, centre_id)
    return centre


async def create(cur, actor: Actor, data: dict[str, Any], default_timezone: str) -> dict[str, Any]:
    """A new centre; its zone is the chain's unless given."""
    access.require(actor, "centres.create")
    centre = await db.fetch_one(cur, INSERT_CENTRE, {"address_line2": None, "timezone": default_timezone, **data})
    await audit.record(cur, actor, "centre.create", "centre", centre["id"], centre["id"], {"name": centre["name"]})
    return centre


async def update(cur, actor: Actor, centre_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    access.require(actor, "centres.update")
    current = await centre_or_404(cur, centre_id, lock=True)
    access.check_centre(actor, centre_id)
    if "is_active" in changes and ADMIN not in actor.roles:
        raise ApiError.forbidden("Only an administrator can activate or deactivate a centre")
    if changes.get("is_active") is False and current["is_active"]:
        await ensure_no_future_appointments(cur, centre_id)
    changed = [name for name in UPDATABLE if name in changes]
    centre = await db.fetch_one(cur, update_sql(changed), {**changes, "id": centre_id}) if changed else current
    await audit.record(cur, actor, "centre.update", "centre", centre_id, centre_id, {"fields": changed})
    return centre


async def deactivate(cur, actor: Actor, centre_id: int) -> dict[str, Any]:
    access.require(actor, "centres.delete")
    await centre_or_404(cur, centre_id, lock=True)
    await ensure_no_future_appointments(cur, centre_id)
    centre = await db.fetch_one(cur, DEACTIVATE_CENTRE, (centre_id,))
    await audit.record(cur, actor, "centre.delete", "centre", centre_id, centre_id)
    return centre

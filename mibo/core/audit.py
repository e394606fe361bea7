"""The audit trail: one writer for every surface, and its search.

A row is written in the same transaction as the change (or the read) it records, so it exists
exactly when the change does; the table refuses UPDATE and DELETE by trigger. The actor is
whoever acted: a staff user, a patient, the service token, or one of our own processes (a
worker step names itself in request_id).
"""

from __future__ import annotations

import json
from typing import Any

from mibo.core import listing, tables
from mibo.core.actor import Actor

INSERT_AUDIT = """
INSERT INTO audit_log (actor_user_id, actor_kind, surface, action, entity_type, entity_id, centre_id,
                       request_id, details)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)
"""

ENTRIES_PAGE = """
SELECT page.total, a.id, a.actor_user_id, u.full_name AS actor_name, a.actor_kind, a.surface, a.action,
       a.entity_type, a.entity_id, a.centre_id, a.request_id, a.details, a.created_at
FROM page JOIN audit_log a ON a.id = page.id LEFT JOIN users u ON u.id = a.actor_user_id
ORDER BY page.ord
"""

EQUALITY_FILTERS = ("actor_user_id", "entity_type", "entity_id", "action", "centre_id")


async def record(cur, actor: Actor, action: str, entity_type: str, entity_id: int | None,
                 centre_id: int | None = None, details: dict[str, Any] | None = None) -> None:
    """Record `action` (e.g. 'patient.read', 'appointment.status') by `actor`."""
    await cur.execute(INSERT_AUDIT, (
        actor.user_id, actor.kind, actor.surface, action, entity_type, entity_id, centre_id,
        actor.request_id, json.dumps(details or {}, default=str),
    ))


async def search(cur, filters: dict[str, Any], limit: int, offset: int) -> tuple[list[dict], int]:
    """Entries matching `filters` (the EQUALITY_FILTERS, `from_`, `to`), newest first."""
    a = tables.audit_log.c
    where = [a[name] == filters[name] for name in EQUALITY_FILTERS if name in filters]
    if "from_" in filters:
        where.append(a.created_at >= filters["from_"])
    if "to" in filters:
        where.append(a.created_at < filters["to"])
    page = listing.page_of_ids(a.id, where, (a.created_at.desc(), a.id.desc()), limit, offset)
    return await listing.fetch_page(cur, page, ENTRIES_PAGE, offset)

"""Append-only audit rows (the table refuses UPDATE and DELETE by trigger).

Written in the same transaction as the change it records, so an audit row exists exactly
when the change does. Reads of patient records are audited too.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from schemas.audit import AuditEntrySchema, AuditQuerySchema

from . import db, listing, tables
from .apidoc import documented
from .http import ok_page, read_query
from .keys import DB, PRINCIPAL, REQUEST_ID
from .permissions import requires

INSERT_AUDIT = """
INSERT INTO audit_log (actor_user_id, actor_kind, action, entity_type, entity_id, centre_id, request_id,
                       details)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb)
"""


async def record(cur, request: web.Request, action: str, entity_type: str, entity_id: int | None,
                 centre_id: int | None = None, details: dict[str, Any] | None = None) -> None:
    """Record `action` (e.g. 'patient.read', 'appointment.cancel') by the request's caller."""
    principal = request.get(PRINCIPAL)
    actor_kind = "SERVICE" if principal is not None and principal.is_service else "USER"
    await cur.execute(INSERT_AUDIT, (
        principal.user_id if principal is not None else None,
        actor_kind, action, entity_type, entity_id, centre_id,
        request.get(REQUEST_ID), json.dumps(details or {}, default=str),
    ))


LIST_DETAIL = """
SELECT page.total, a.id, a.actor_user_id, u.full_name AS actor_name, a.actor_kind, a.action, a.entity_type,
       a.entity_id, a.centre_id, a.request_id, a.details, a.created_at
FROM page JOIN audit_log a ON a.id = page.id LEFT JOIN users u ON u.id = a.actor_user_id
ORDER BY page.ord
"""

_entry = AuditEntrySchema()


@requires("audit.view")
@documented("Search the audit trail", tags=("Audit",), query=AuditQuerySchema, response=AuditEntrySchema,
            many=True)
async def list_audit(request: web.Request) -> web.Response:
    query = read_query(request, AuditQuerySchema())
    a = tables.audit_log
    filters = {"actor_user_id": a.c.actor_user_id, "entity_type": a.c.entity_type, "entity_id": a.c.entity_id,
               "action": a.c.action, "centre_id": a.c.centre_id}
    where = [column == query[name] for name, column in filters.items() if name in query]
    if "from_" in query:
        where.append(a.c.created_at >= query["from_"])
    if "to" in query:
        where.append(a.c.created_at < query["to"])
    order = (a.c.created_at.desc(), a.c.id.desc())
    page = listing.page_of_ids(a.c.id, where, order, query["limit"], query["offset"])
    async with db.connection(request.app[DB]) as cur:
        rows, total = await listing.fetch_page(cur, page, LIST_DETAIL, query["offset"])
    return ok_page(_entry.dump(rows, many=True), total, query["limit"], query["offset"])


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/audit", list_audit)

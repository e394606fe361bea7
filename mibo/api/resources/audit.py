"""GET /api/audit: search the audit trail (ADMIN)."""

from __future__ import annotations

from aiohttp import web

from mibo.api.access import requires
from mibo.api.apidoc import documented
from mibo.api.http import ok_page, read_query
from mibo.api.keys import DB
from mibo.core import audit, db
from schemas.audit import AuditEntrySchema, AuditQuerySchema

_entry = AuditEntrySchema()


@requires("audit.view")
@documented("Search the audit trail", tags=("Audit",), query=AuditQuerySchema, response=AuditEntrySchema,
            many=True)
async def list_audit(request: web.Request) -> web.Response:
    query = read_query(request, AuditQuerySchema())
    async with db.connection(request.app[DB]) as cur:
        rows, total = await audit.search(cur, query, query["limit"], query["offset"])
    return ok_page(_entry.dump(rows, many=True), total, query["limit"], query["offset"])


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/audit", list_audit)

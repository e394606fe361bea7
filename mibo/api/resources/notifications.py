"""/api/notifications/*: queue an appointment's confirmation or reminder, and the message history.

Handlers never call Gallabox: mibo.domain.notifications queues outbox rows and the booking
chain's actors do the work. Messages are keyed per (appointment, kind, recipient), so asking
twice never sends twice.
"""

from __future__ import annotations

from aiohttp import web

from mibo.api.access import requires
from mibo.api.apidoc import documented
from mibo.api.http import ok, ok_page, read_json, read_query
from mibo.api.keys import ACTOR, DB, SETTINGS
from mibo.core import db
from mibo.core.errors import ApiError
from mibo.core.logs import mask_phone
from mibo.domain import notifications
from schemas.notifications import AppointmentRefSchema, NotificationHistoryQuerySchema, NotificationSchema, QueuedSchema


@requires("notifications.send", service=True)
@documented("Send the appointment confirmation over WhatsApp (queued)", tags=("Notifications",),
            body=AppointmentRefSchema, response=QueuedSchema, status=202, errors=(403, 404, 422))
async def send_confirmation(request: web.Request) -> web.Response:
    body = await read_json(request, AppointmentRefSchema())
    async with db.transaction(request.app[DB]) as cur:
        appt = await notifications.queue_confirmation(cur, request[ACTOR], body["appointment_id"])
    return ok({"appointmentId": appt["id"], "queued": True}, status=202)


@requires("notifications.send", service=True)
@documented("Send the appointment reminder over WhatsApp (queued; once per appointment and time)",
            tags=("Notifications",), body=AppointmentRefSchema, response=QueuedSchema, status=202,
            errors=(403, 404, 422))
async def send_reminder(request: web.Request) -> web.Response:
    body = await read_json(request, AppointmentRefSchema())
    async with db.transaction(request.app[DB]) as cur:
        appt, queued = await notifications.queue_reminder(cur, request[ACTOR], body["appointment_id"])
    return ok({"appointmentId": appt["id"], "queued": queued}, status=202)


@requires("notifications.view")
@documented("Notification history", tags=("Notifications",), query=NotificationHistoryQuerySchema,
            response=NotificationSchema, many=True)
async def history(request: web.Request) -> web.Response:
    query = read_query(request, NotificationHistoryQuerySchema())
    if "from_" in query and "to" in query and query["from_"] > query["to"]:
        raise ApiError.validation({"to": ["Must not be before from."]})
    # Days are the chain's calendar days, not the server's or UTC's.
    tz = request.app[SETTINGS].chain_timezone
    async with db.connection(request.app[DB]) as cur:
        rows, total = await notifications.history(cur, query, tz, query["limit"], query["offset"])
    for row in rows:
        row["recipient_phone"] = mask_phone(row["recipient_phone"]) or None
    return ok_page(NotificationSchema().dump(rows, many=True), total, query["limit"], query["offset"])


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/notifications/appointment-confirmation", send_confirmation)
    app.router.add_post("/api/notifications/appointment-reminder", send_reminder)
    app.router.add_get("/api/notifications/history", history)

"""/api/patient/notifications: what the patient was told, as the website's notifications list.

A patient's token only (staff tokens get 403); another patient's notification is a 404. The rows
are written by whoever told the patient (mibo.domain.patient_notifications); here they are only
read and marked read.
"""

from __future__ import annotations

from aiohttp import web

from mibo.api.access import patient
from mibo.api.apidoc import documented
from mibo.api.http import ok, path_id, read_json, read_query
from mibo.api.keys import ACTOR, DB, SETTINGS
from mibo.core import db
from mibo.domain import patient_notifications
from schemas.patient_notifications import (
    MarkReadSchema,
    NotificationQuerySchema,
    PatientNotificationSchema,
    PatientNotificationsSchema,
    UnreadCountSchema,
)

TAGS = ("Patient website",)

_list = PatientNotificationsSchema()
_notification = PatientNotificationSchema()


@patient
@documented("The signed-in patient's notifications, newest first, with their unread count", tags=TAGS,
            query=NotificationQuerySchema, response=PatientNotificationsSchema)
async def list_notifications(request: web.Request) -> web.Response:
    query = read_query(request, NotificationQuerySchema())
    async with db.connection(request.app[DB]) as cur:
        rows, unread = await patient_notifications.page(cur, request[ACTOR], query, query["limit"], query["offset"],
                                                        request.app[SETTINGS].chain_timezone)
    return ok(_list.dump({"notifications": rows, "unread_count": unread}))


@patient
@documented("How many of the signed-in patient's notifications are unread", tags=TAGS, response=UnreadCountSchema)
async def unread_count(request: web.Request) -> web.Response:
    async with db.connection(request.app[DB]) as cur:
        unread = await patient_notifications.unread_count(cur, request[ACTOR])
    return ok(UnreadCountSchema().dump({"unread_count": unread}))


@patient
@documented("Mark one of the signed-in patient's notifications read", tags=TAGS, body=MarkReadSchema,
            body_optional=True, response=PatientNotificationSchema)
async def mark_read(request: web.Request) -> web.Response:
    notification_id = path_id(request)
    if request.body_exists:
        await read_json(request, MarkReadSchema())
    async with db.transaction(request.app[DB]) as cur:
        row = await patient_notifications.mark_read(cur, request[ACTOR], notification_id,
                                                    request.app[SETTINGS].chain_timezone)
    return ok(_notification.dump(row))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/patient/notifications", list_notifications)
    app.router.add_get("/api/patient/notifications/unread-count", unread_count)
    app.router.add_put(r"/api/patient/notifications/{id:\d+}/read", mark_read)

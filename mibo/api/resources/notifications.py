"""/api/notifications/*: queue an appointment's confirmation or reminder, and the message history.

Handlers never call Gallabox: they write an outbox row and the same actors as the booking
chain do the work (jobs/appointments.py, jobs/notifications.py). Messages are keyed per
(appointment, kind, recipient), so asking twice never sends twice.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from mibo.api.access import requires
from mibo.api.apidoc import documented
from mibo.api.http import ok, ok_page, read_json, read_query
from mibo.api.keys import ACTOR, DB, SETTINGS
from mibo.core import db, listing, outbox, tables
from mibo.core.errors import ApiError
from mibo.core.logs import mask_phone
from mibo.domain.access import check_centre
from schemas.notifications import AppointmentRefSchema, NotificationHistoryQuerySchema, NotificationSchema, QueuedSchema

APPOINTMENT_TO_NOTIFY = """
SELECT id, centre_id, clinician_id, status, appointment_type, scheduled_start_at, meet_link, calendar_event_id
FROM appointments WHERE id = %s
"""

HISTORY_DETAIL = """
SELECT n.id, n.appointment_id, n.user_id, n.channel, n.kind, n.template_name, n.recipient_phone, n.status,
       n.attempts, n.last_error, n.provider_message_id, n.next_attempt_at, n.sent_at, n.created_at,
       page.total
FROM page JOIN notification_logs n ON n.id = page.id
ORDER BY page.ord
"""

LIVE_STATUSES = ("BOOKED", "CONFIRMED")


def local_midnight(day: date, tz: str) -> datetime:
    """The instant `day` begins in zone `tz`."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz))


async def live_appointment(request: web.Request, cur, appointment_id: int) -> dict:
    """The appointment named in the body: 404 if missing, 403 outside the caller's centres, 422 if over."""
    appt = await db.fetch_one(cur, APPOINTMENT_TO_NOTIFY, (appointment_id,))
    if appt is None:
        raise ApiError.not_found("appointment")
    check_centre(request[ACTOR], appt["centre_id"])
    if appt["status"] not in LIVE_STATUSES:
        raise ApiError.unprocessable(
            f"The appointment is {appt['status']}; only booked or confirmed ones qualify",
            {"appointmentId": [f"Appointment is {appt['status']}."]}, code="APPOINTMENT_NOT_LIVE")
    return appt


@requires("notifications.send", service=True)
@documented("Send the appointment confirmation over WhatsApp (queued)", tags=("Notifications",),
            body=AppointmentRefSchema, response=QueuedSchema, status=202, errors=(403, 404, 422))
async def send_confirmation(request: web.Request) -> web.Response:
    body = await read_json(request, AppointmentRefSchema())
    async with db.transaction(request.app[DB]) as cur:
        appt = await live_appointment(request, cur, body["appointment_id"])
        await outbox.enqueue(cur, outbox.APPOINTMENT_CONFIRMED, appt["id"])
    return ok({"appointmentId": appt["id"], "queued": True}, status=202)


@requires("notifications.send", service=True)
@documented("Send the appointment reminder over WhatsApp (queued; once per appointment and time)",
            tags=("Notifications",), body=AppointmentRefSchema, response=QueuedSchema, status=202,
            errors=(403, 404, 422))
async def send_reminder(request: web.Request) -> web.Response:
    body = await read_json(request, AppointmentRefSchema())
    async with db.transaction(request.app[DB]) as cur:
        appt = await live_appointment(request, cur, body["appointment_id"])
        start = appt["scheduled_start_at"]
        # The scheduler's key: a reminder asked for here is not sent again by the daily run.
        key = outbox.reminder_dedupe_key(appt["id"], int(start.timestamp()))
        outbox_id = await outbox.enqueue(cur, outbox.APPOINTMENT_REMINDER, appt["id"], start.isoformat(),
                                         dedupe_key=key)
    return ok({"appointmentId": appt["id"], "queued": outbox_id is not None}, status=202)


@requires("notifications.view")
@documented("Notification history", tags=("Notifications",), query=NotificationHistoryQuerySchema,
            response=NotificationSchema, many=True)
async def history(request: web.Request) -> web.Response:
    query = read_query(request, NotificationHistoryQuerySchema())
    if "from_" in query and "to" in query and query["from_"] > query["to"]:
        raise ApiError.validation({"to": ["Must not be before from."]})
    n = tables.notification_logs
    where = [getattr(n.c, name) == query[name]
             for name in ("appointment_id", "status", "kind") if name in query]
    # Days are the chain's calendar days, not the server's or UTC's.
    tz = request.app[SETTINGS].chain_timezone
    if "from_" in query:
        where.append(n.c.created_at >= local_midnight(query["from_"], tz))
    if "to" in query:
        where.append(n.c.created_at < local_midnight(query["to"] + timedelta(days=1), tz))
    order = (n.c.created_at.desc(), n.c.id.desc())
    page = listing.page_of_ids(n.c.id, where, order, query["limit"], query["offset"])
    async with db.connection(request.app[DB]) as cur:
        rows, total = await listing.fetch_page(cur, page, HISTORY_DETAIL, query["offset"])
    for row in rows:
        row["recipient_phone"] = mask_phone(row["recipient_phone"]) or None
    return ok_page(NotificationSchema().dump(rows, many=True), total, query["limit"], query["offset"])


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/notifications/appointment-confirmation", send_confirmation)
    app.router.add_post("/api/notifications/appointment-reminder", send_reminder)
    app.router.add_get("/api/notifications/history", history)

"""/api/video/*: the Google Meet link of an ONLINE appointment.

Generating never calls Google from the handler: it queues create_meet_link through the outbox
(jobs/video.py), which creates at most one meeting per appointment however often it is asked.
"""

from __future__ import annotations

from aiohttp import web

from mibo.api.access import requires
from mibo.api.apidoc import documented
from mibo.api.http import ok, path_id, read_json
from mibo.api.keys import ACTOR, DB
from mibo.api.resources.notifications import APPOINTMENT_TO_NOTIFY, live_appointment
from mibo.core import db, outbox
from mibo.core.errors import ApiError
from mibo.domain.appointments import check_can_view
from schemas.notifications import AppointmentRefSchema, MeetLinkSchema

_schema = MeetLinkSchema()


def meet_link_view(appt: dict) -> dict:
    if appt["appointment_type"] != "ONLINE":
        status = "NOT_ONLINE"
    else:
        status = "READY" if appt["meet_link"] else "PENDING"
    return _schema.dump({"appointment_id": appt["id"], "appointment_type": appt["appointment_type"],
                         "meet_link": appt["meet_link"], "calendar_event_id": appt["calendar_event_id"],
                         "status": status})


@requires("video.generate", service=True)
@documented("Generate the Google Meet link of an ONLINE appointment (queued unless it exists)",
            tags=("Video",), body=AppointmentRefSchema, response=MeetLinkSchema, status=202,
            errors=(403, 404, 422))
async def generate_meet_link(request: web.Request) -> web.Response:
    body = await read_json(request, AppointmentRefSchema())
    async with db.transaction(request.app[DB]) as cur:
        appt = await live_appointment(request, cur, body["appointment_id"])
        if appt["appointment_type"] != "ONLINE":
            raise ApiError.unprocessable("Only ONLINE consultations have a Meet link",
                                         {"appointmentId": ["Appointment is not ONLINE."]}, code="NOT_ONLINE")
        if appt["meet_link"]:
            return ok(meet_link_view(appt))
        await outbox.enqueue(cur, outbox.CREATE_MEET_LINK, appt["id"], "")
    return ok(meet_link_view(appt), status=202)


@requires("video.view")
@documented("Get the Meet link of an appointment", tags=("Video",), response=MeetLinkSchema,
            errors=(403, 404))
async def get_meet_link(request: web.Request) -> web.Response:
    appointment_id = path_id(request)
    async with db.connection(request.app[DB]) as cur:
        appt = await db.fetch_one(cur, APPOINTMENT_TO_NOTIFY, (appointment_id,))
    if appt is None:
        raise ApiError.not_found("appointment")
    check_can_view(request[ACTOR], appt)  # a clinician: their own appointments only
    return ok(meet_link_view(appt))


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/video/generate-meet-link", generate_meet_link)
    app.router.add_get(r"/api/video/appointment/{id:\d+}/meet-link", get_meet_link)

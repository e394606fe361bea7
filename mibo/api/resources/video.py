"""/api/video/*: the Google Meet link of an ONLINE appointment.

Generating never calls Google from the handler: mibo.domain.video queues create_meet_link
through the outbox, which creates at most one meeting per appointment however often it is asked.
"""

from __future__ import annotations

from aiohttp import web

from mibo.api.access import requires
from mibo.api.apidoc import documented
from mibo.api.http import ok, path_id, read_json
from mibo.api.keys import ACTOR, DB
from mibo.core import db
from mibo.domain import video
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
        appt, queued = await video.request_meet_link(cur, request[ACTOR], body["appointment_id"])
    return ok(meet_link_view(appt), status=202 if queued else 200)


@requires("video.view")
@documented("Get the Meet link of an appointment", tags=("Video",), response=MeetLinkSchema,
            errors=(403, 404))
async def get_meet_link(request: web.Request) -> web.Response:
    async with db.connection(request.app[DB]) as cur:
        appt = await video.meeting_of(cur, request[ACTOR], path_id(request))
    return ok(meet_link_view(appt))


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/video/generate-meet-link", generate_meet_link)
    app.router.add_get(r"/api/video/appointment/{id:\d+}/meet-link", get_meet_link)

"""Fake Google: the OAuth token endpoint (jwt-bearer grant) and Calendar events with a Meet conference.

    /google/token
    /google/calendar/v3/calendars/{calendarId}/events[/{eventId}]
"""

from __future__ import annotations

import re
import secrets
import string
from datetime import datetime

import jwt
from aiohttp import web

from mibo.providers.sandbox.state import SANDBOX, SandboxState, iso_now, json_object

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")  # Calendar's rule for event ids
EVENTS = "/google/calendar/v3/calendars/{calendar_id}/events"


def google_error(status: int, message: str, reason: str = "invalid") -> web.Response:
    error = {"code": status, "message": message,
             "errors": [{"domain": "global", "reason": reason, "message": message}]}
    return web.json_response({"error": error}, status=status)


def denied(request: web.Request, state: SandboxState) -> web.Response | None:
    if request.path == "/google/token":
        return None
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if token in state.tokens:
        return None
    return google_error(401, "Request had invalid authentication credentials.", "authError")


async def google_token(request: web.Request) -> web.Response:
    form = await request.post()
    if form.get("grant_type") != JWT_BEARER:
        return web.json_response({"error": "unsupported_grant_type"}, status=400)
    try:
        # The key is the caller's own (often ephemeral) one, and `aud` is Google's URL: read the
        # claims without checking either, as a fake cannot.
        claims = jwt.decode(form.get("assertion", ""), options={"verify_signature": False})
    except jwt.InvalidTokenError:
        claims = {}
    if not claims.get("iss") or "calendar" not in claims.get("scope", ""):
        return web.json_response({"error": "invalid_grant", "error_description": "Invalid JWT"}, status=400)
    token = "ya29.sandbox-" + secrets.token_urlsafe(24)
    request.app[SANDBOX].tokens.add(token)
    return web.json_response({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})


def _times_problem(event: dict) -> str | None:
    try:
        start = datetime.fromisoformat(event["start"]["dateTime"])
        end = datetime.fromisoformat(event["end"]["dateTime"])
    except (KeyError, TypeError, ValueError):
        return "Missing or invalid start/end dateTime."
    if start.tzinfo is None or end.tzinfo is None:
        return "Missing time zone definition for start/end time."
    return "The specified time range is empty." if end <= start else None


def _conference(state: SandboxState, create_request: dict) -> dict:
    """One conference per requestId, as Google does: a retried create gets the same meeting."""
    request_id = create_request["requestId"]
    if request_id not in state.conferences:
        code = "-".join("".join(secrets.choice(string.ascii_lowercase) for _ in range(n)) for n in (3, 4, 3))
        state.conferences[request_id] = {
            "createRequest": {**create_request, "status": {"statusCode": "success"}},
            "entryPoints": [{"entryPointType": "video", "uri": f"https://meet.google.com/{code}",
                             "label": f"meet.google.com/{code}"}],
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
            "conferenceId": code,
        }
    return state.conferences[request_id]


async def insert_event(request: web.Request) -> web.Response:
    state = request.app[SANDBOX]
    calendar_id = request.match_info["calendar_id"]
    body = await json_object(request)
    if body is None:
        return google_error(400, "Bad Request")
    problem = _times_problem(body)
    if problem:
        return google_error(400, problem, "timeRangeEmpty" if "empty" in problem else "required")
    event_id = body.get("id") or "".join(secrets.choice(BASE32HEX) for _ in range(26))
    if not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
        return google_error(400, "Invalid resource id value.", "invalidResourceId")
    if (calendar_id, event_id) in state.events:
        return google_error(409, "The requested identifier already exists.", "duplicate")
    event = {
        "kind": "calendar#event", "id": event_id, "status": "confirmed",
        "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
        "created": iso_now(), "updated": iso_now(), "summary": body.get("summary", ""),
        "start": body["start"], "end": body["end"], "attendees": body.get("attendees", []),
        "organizer": {"email": calendar_id, "self": True}, "sequence": 0, "iCalUID": f"{event_id}@google.com",
    }
    conference_data = body.get("conferenceData")
    create_request = conference_data.get("createRequest") if isinstance(conference_data, dict) else None
    # Like Google, conference data is ignored unless the client opts in with conferenceDataVersion=1.
    opted_in = request.query.get("conferenceDataVersion") == "1"
    if opted_in and isinstance(create_request, dict) and isinstance(create_request.get("requestId"), str):
        conference = _conference(state, create_request)
        event["conferenceData"] = conference
        event["hangoutLink"] = conference["entryPoints"][0]["uri"]
    state.events[(calendar_id, event_id)] = event
    return web.json_response(event)


def _stored_event(request: web.Request) -> dict | None:
    key = (request.match_info["calendar_id"], request.match_info["event_id"])
    return request.app[SANDBOX].events.get(key)


async def get_event(request: web.Request) -> web.Response:
    event = _stored_event(request)
    return web.json_response(event) if event else google_error(404, "Not Found", "notFound")


async def patch_event(request: web.Request) -> web.Response:
    event = _stored_event(request)
    body = await json_object(request)
    if not event:
        return google_error(404, "Not Found", "notFound")
    if body is None:
        return google_error(400, "Bad Request")
    changed = {**event, **{k: v for k, v in body.items()
                          if k in ("summary", "description", "start", "end", "attendees", "status")}}
    problem = _times_problem(changed)
    if problem:
        return google_error(400, problem)
    event.update(changed, sequence=event["sequence"] + 1, updated=iso_now())
    return web.json_response(event)


async def delete_event(request: web.Request) -> web.Response:
    event = _stored_event(request)
    if not event:
        return google_error(404, "Not Found", "notFound")
    if event["status"] == "cancelled":
        return google_error(410, "Resource has been deleted", "deleted")
    event.update(status="cancelled", updated=iso_now())
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/google/token", google_token)
    app.router.add_post(EVENTS, insert_event)
    app.router.add_get(f"{EVENTS}/{{event_id}}", get_event)
    app.router.add_patch(f"{EVENTS}/{{event_id}}", patch_event)
    app.router.add_delete(f"{EVENTS}/{{event_id}}", delete_event)

"""A local stand-in for Razorpay, Gallabox and Google Calendar/Meet (`mibo sandbox`).

The real services cannot be reached from development machines or CI, and they cannot be told
to fail on demand. This one server speaks the subset of their APIs our clients use, through the
official client libraries, so the same code runs against it and against production:

    /razorpay/v1/orders, /orders/{id}, /orders/{id}/payments, /payment_links, /payment_links/{id},
                /payment_links/{id}/cancel
    /gallabox/devapi/messages/whatsapp
    /google/token                                         (OAuth jwt-bearer grant)
    /google/calendar/v3/calendars/{calendarId}/events[/{eventId}]

It checks the credentials the clients send (the configured ones), records every request, and
has control endpoints under /_sandbox/ for tests and demos:

    GET    /_sandbox/requests[?provider=]   every provider request: method, path, body, status, time
    DELETE /_sandbox/requests               forget recorded requests, messages and pending faults
    POST   /_sandbox/faults                 {provider, status?, count=1, delay=0, path?}: the next
                                            `count` matching calls wait `delay` s, then fail with
                                            `status` (or proceed normally when no status)
    GET    /_sandbox/gallabox/messages      WhatsApp messages accepted
    POST   /_sandbox/razorpay/pay           {orderId | paymentLinkId, outcome, webhookUrl?, amount?,
                                            currency?}: a payment, and its signed webhook
    POST   /_sandbox/razorpay/expire-link   {paymentLinkId, webhookUrl?}

Webhooks are signed as Razorpay signs them: HMAC-SHA256 hex of the raw body with the WEBHOOK
secret in X-Razorpay-Signature, and a unique X-Razorpay-Event-Id. Paying an order also returns
the checkout fields (razorpay_order_id, razorpay_payment_id, razorpay_signature = HMAC-SHA256 hex
of "order_id|payment_id" with the KEY secret) that the browser would post to /payments/verify.
Without webhookUrl nothing is delivered, but the body, headers and signature are returned, so a
test can deliver them itself: replayed, reordered or tampered with.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import string
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import aiohttp
import jwt
from aiohttp import web

from mibo.core.config import Settings

PROVIDERS = ("razorpay", "gallabox", "google")
MASKED_HEADERS = {"authorization", "apisecret"}
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")  # Calendar's rule for event ids


@dataclass
class Fault:
    provider: str
    status: int | None
    remaining: int
    delay: float
    path: str


@dataclass
class SandboxState:
    settings: Settings
    requests: list[dict] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    orders: dict[str, dict] = field(default_factory=dict)
    payments: dict[str, dict] = field(default_factory=dict)
    links: dict[str, dict] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    events: dict[tuple[str, str], dict] = field(default_factory=dict)
    conferences: dict[str, dict] = field(default_factory=dict)

    def take_fault(self, provider: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.provider == provider and path.startswith(fault.path):
                fault.remaining -= 1
                if not fault.remaining:
                    self.faults.remove(fault)
                return fault
        return None


SANDBOX = web.AppKey("sandbox", SandboxState)


def _now() -> int:
    return int(time.time())


def _iso_now() -> str:
    return datetime.now(UTC).isoformat()


def _random_id(prefix: str, length: int = 14) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


# --- errors in each provider's own shape (the client libraries parse them) ---

def razorpay_error(status: int, description: str, field_name: str | None = None) -> web.Response:
    code = "SERVER_ERROR" if status >= 500 else "BAD_REQUEST_ERROR"
    return web.json_response({"error": {"code": code, "description": description, "field": field_name}},
                             status=status)


def gallabox_error(status: int, message: str) -> web.Response:
    return web.json_response({"statusCode": status, "message": message}, status=status)


def google_error(status: int, message: str, reason: str = "invalid") -> web.Response:
    error = {"code": status, "message": message,
             "errors": [{"domain": "global", "reason": reason, "message": message}]}
    return web.json_response({"error": error}, status=status)


ERRORS = {"razorpay": razorpay_error, "gallabox": gallabox_error, "google": google_error}


# --- credentials, checked the way each provider checks them ---

def _razorpay_denied(request: web.Request, settings: Settings) -> web.Response | None:
    try:
        auth = aiohttp.BasicAuth.decode(request.headers.get("Authorization", ""))
    except ValueError:
        auth = None
    if auth and _same(auth.login, settings.razorpay_key_id) and _same(auth.password,
                                                                      settings.razorpay_key_secret):
        return None
    return razorpay_error(401, "The api key provided is invalid")


def _gallabox_denied(request: web.Request, settings: Settings) -> web.Response | None:
    if _same(request.headers.get("apiKey"), settings.gallabox_api_key) and _same(
            request.headers.get("apiSecret"), settings.gallabox_api_secret):
        return None
    return gallabox_error(401, "Unauthorized")


def _google_denied(request: web.Request, state: SandboxState) -> web.Response | None:
    if request.path == "/google/token":
        return None
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if token in state.tokens:
        return None
    return google_error(401, "Request had invalid authentication credentials.", "authError")


def _denied(provider: str, request: web.Request, state: SandboxState) -> web.Response | None:
    if provider == "razorpay":
        return _razorpay_denied(request, state.settings)
    if provider == "gallabox":
        return _gallabox_denied(request, state.settings)
    return _google_denied(request, state)


# --- recording and fault injection ---

def _recorded_body(raw: bytes, content_type: str):
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    if content_type == "application/json":
        try:
            return json.loads(text)
        except ValueError:
            return text
    if content_type == "application/x-www-form-urlencoded":
        form = dict(parse_qsl(text))
        if "assertion" in form:
            form["assertion"] = "***"  # a signed credential: do not keep it
        return form
    return text


@web.middleware
async def provider_middleware(request: web.Request, handler):
    """Record each provider request, apply a pending fault, then check credentials."""
    provider = request.path.split("/")[1]
    if provider not in PROVIDERS:
        return await handler(request)
    state = request.app[SANDBOX]
    entry = {
        "provider": provider,
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "headers": {name: "***" if name.lower() in MASKED_HEADERS else value
                    for name, value in request.headers.items()},
        "body": _recorded_body(await request.read(), request.content_type),
        "status": None,
        "time": _iso_now(),
    }
    state.requests.append(entry)
    fault = state.take_fault(provider, request.path)
    if fault and fault.delay:
        await asyncio.sleep(fault.delay)
    try:
        if fault and fault.status:
            response = ERRORS[provider](fault.status, "sandbox fault")
        else:
            response = _denied(provider, request, state) or await handler(request)
    except web.HTTPException as exc:  # e.g. a path the sandbox does not speak: 404/405
        entry["status"] = exc.status
        raise
    entry["status"] = response.status
    return response


async def _json_object(request: web.Request) -> dict | None:
    try:
        data = json.loads(await request.read() or b"null")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _find(entities: dict[str, dict], entity_id) -> dict | None:
    return entities.get(entity_id) if isinstance(entity_id, str) else None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bad(message: str, status: int = 400) -> web.Response:
    """Errors of the /_sandbox/ control endpoints themselves."""
    return web.json_response({"error": message}, status=status)


# --- Razorpay ---

def _amount_problem(data: dict | None) -> web.Response | None:
    """Razorpay's answer to a body (orders, payment links) that is not an object or whose
    amount, currency or notes are invalid; None when they are fine."""
    if data is None:
        return razorpay_error(400, "The request body must be a JSON object")
    if not _is_int(data.get("amount")) or data["amount"] < 100:
        return razorpay_error(400, "The amount must be atleast INR 1.00", "amount")
    if not isinstance(data.get("currency"), str) or not re.fullmatch(r"[A-Z]{3}", data["currency"]):
        return razorpay_error(400, "The currency field is invalid", "currency")
    if not isinstance(data.get("notes", {}), dict):
        return razorpay_error(400, "The notes field must be an object", "notes")
    return None


def _long_text_problem(data: dict, field: str, label: str) -> web.Response | None:
    """Razorpay caps receipts and reference ids at 40 characters."""
    value = data.get(field)
    if value is not None and (not isinstance(value, str) or len(value) > 40):
        return razorpay_error(400, f"The {label} may not be greater than 40 characters", field)
    return None


def _new_order(state: SandboxState, amount: int, currency: str, receipt: str | None, notes: dict) -> dict:
    order = {"id": _random_id("order_"), "entity": "order", "amount": amount, "amount_paid": 0,
             "amount_due": amount, "currency": currency, "receipt": receipt, "offer_id": None,
             "status": "created", "attempts": 0, "notes": notes, "created_at": _now()}
    state.orders[order["id"]] = order
    return order


async def create_order(request: web.Request) -> web.Response:
    data = await _json_object(request)
    problem = _amount_problem(data) or _long_text_problem(data, "receipt", "receipt")
    if problem:
        return problem
    order = _new_order(request.app[SANDBOX], data["amount"], data["currency"], data.get("receipt"),
                       data.get("notes") or {})
    return web.json_response(order)


async def list_orders(request: web.Request) -> web.Response:
    """GET /orders[?receipt=]: Razorpay's collection, newest first."""
    receipt = request.query.get("receipt")
    orders = [o for o in request.app[SANDBOX].orders.values() if receipt is None or o["receipt"] == receipt]
    orders.sort(key=lambda o: o["created_at"], reverse=True)
    return web.json_response({"entity": "collection", "count": len(orders), "items": orders})


async def fetch_order(request: web.Request) -> web.Response:
    order = request.app[SANDBOX].orders.get(request.match_info["order_id"])
    if not order:
        return razorpay_error(400, "The id provided does not exist", "id")
    return web.json_response(order)


async def order_payments(request: web.Request) -> web.Response:
    state = request.app[SANDBOX]
    order_id = request.match_info["order_id"]
    if order_id not in state.orders:
        return razorpay_error(400, "The id provided does not exist", "id")
    items = [p for p in state.payments.values() if p["order_id"] == order_id]
    return web.json_response({"entity": "collection", "count": len(items), "items": items})


async def create_payment_link(request: web.Request) -> web.Response:
    state = request.app[SANDBOX]
    data = await _json_object(request)
    problem = _amount_problem(data) or _long_text_problem(data, "reference_id", "reference id")
    if problem:
        return problem
    reference_id = data.get("reference_id")
    if reference_id and any(link["reference_id"] == reference_id for link in state.links.values()):
        return razorpay_error(400, f"Payment Link with reference_id {reference_id} already exists",
                              "reference_id")
    expire_by = data.get("expire_by", 0)
    if not _is_int(expire_by) or (expire_by and expire_by <= _now()):
        return razorpay_error(400, "The expire by should be a future timestamp", "expire_by")
    link_id = _random_id("plink_")
    link = {"id": link_id, "amount": data["amount"], "amount_paid": 0, "currency": data["currency"],
            "accept_partial": False, "description": data.get("description", ""),
            "customer": data.get("customer") or {}, "notify": data.get("notify") or {},
            "reminder_enable": bool(data.get("reminder_enable")), "reference_id": reference_id or "",
            "notes": data.get("notes") or {}, "expire_by": expire_by, "expired_at": 0, "cancelled_at": 0,
            "status": "created", "payments": None, "created_at": _now(), "updated_at": _now(),
            "short_url": f"https://rzp.io/i/{link_id.removeprefix('plink_')[:10]}", "user_id": ""}
    state.links[link_id] = link
    return web.json_response(link)


async def list_payment_links(request: web.Request) -> web.Response:
    reference_id = request.query.get("reference_id")
    links = [link for link in request.app[SANDBOX].links.values()
             if reference_id is None or link["reference_id"] == reference_id]
    return web.json_response({"payment_links": links})


async def fetch_payment_link(request: web.Request) -> web.Response:
    link = request.app[SANDBOX].links.get(request.match_info["link_id"])
    if not link:
        return razorpay_error(400, "The id provided does not exist", "id")
    return web.json_response(link)


async def cancel_payment_link(request: web.Request) -> web.Response:
    """Razorpay cancels only an unpaid, open link; a paid, cancelled or expired one is a 400."""
    link = request.app[SANDBOX].links.get(request.match_info["link_id"])
    if not link:
        return razorpay_error(400, "The id provided does not exist", "id")
    if link["status"] != "created":
        return razorpay_error(400, f"Payment link cannot be cancelled as it is already {link['status']}")
    link.update(status="cancelled", cancelled_at=_now(), updated_at=_now())
    return web.json_response(link)


# --- Gallabox ---

def _gallabox_problem(data: dict | None, channel_id: str) -> str | None:
    if data is None:
        return "body must be a JSON object"
    recipient = data.get("recipient")
    whatsapp = data.get("whatsapp")
    template = whatsapp.get("template") if isinstance(whatsapp, dict) else None
    if data.get("channelId") != channel_id:
        return "channelId is not a channel of this account"
    if data.get("channelType") != "whatsapp":
        return "channelType must be whatsapp"
    if not isinstance(recipient, dict) or not isinstance(recipient.get("name"), str) or not recipient["name"]:
        return "recipient.name is required"
    if not isinstance(recipient.get("phone"), str) or not re.fullmatch(r"[1-9]\d{9,14}", recipient["phone"]):
        return "recipient.phone must be digits with the country code, without +"
    if not isinstance(template, dict) or whatsapp.get("type") != "template":
        return "whatsapp.type must be template, with whatsapp.template"
    if not isinstance(template.get("templateName"), str) or not template["templateName"]:
        return "whatsapp.template.templateName is required"
    values = template.get("bodyValues", {})
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        return "whatsapp.template.bodyValues must be an object of strings"
    return None


async def gallabox_send(request: web.Request) -> web.Response:
    state = request.app[SANDBOX]
    data = await _json_object(request)
    problem = _gallabox_problem(data, state.settings.gallabox_channel_id)
    if problem:
        return gallabox_error(400, problem)
    template = data["whatsapp"]["template"]
    message = {"id": secrets.token_hex(12), "phone": data["recipient"]["phone"],
               "name": data["recipient"]["name"], "templateName": template["templateName"],
               "bodyValues": template.get("bodyValues", {}), "time": _iso_now()}
    state.messages.append(message)
    return web.json_response({"id": message["id"], "status": "ACCEPTED",
                              "message": "Message received successfully"}, status=202)


# --- Google OAuth token and Calendar ---

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
    body = await _json_object(request)
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
        "created": _iso_now(), "updated": _iso_now(), "summary": body.get("summary", ""),
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
    body = await _json_object(request)
    if not event:
        return google_error(404, "Not Found", "notFound")
    if body is None:
        return google_error(400, "Bad Request")
    changed = {**event, **{k: v for k, v in body.items()
                          if k in ("summary", "description", "start", "end", "attendees", "status")}}
    problem = _times_problem(changed)
    if problem:
        return google_error(400, problem)
    event.update(changed, sequence=event["sequence"] + 1, updated=_iso_now())
    return web.json_response(event)


async def delete_event(request: web.Request) -> web.Response:
    event = _stored_event(request)
    if not event:
        return google_error(404, "Not Found", "notFound")
    if event["status"] == "cancelled":
        return google_error(410, "Resource has been deleted", "deleted")
    event.update(status="cancelled", updated=_iso_now())
    return web.Response(status=204)


# --- control endpoints ---

async def list_requests(request: web.Request) -> web.Response:
    provider = request.query.get("provider")
    recorded = [r for r in request.app[SANDBOX].requests if provider is None or r["provider"] == provider]
    return web.json_response({"requests": recorded})


async def reset_requests(request: web.Request) -> web.Response:
    state = request.app[SANDBOX]
    state.requests.clear()
    state.messages.clear()
    state.faults.clear()
    return web.Response(status=204)


async def add_fault(request: web.Request) -> web.Response:
    data = await _json_object(request) or {}
    provider, status = data.get("provider"), data.get("status")
    count, delay, path = data.get("count", 1), data.get("delay", 0), data.get("path", "")
    if provider not in PROVIDERS:
        return _bad(f"provider must be one of {', '.join(PROVIDERS)}")
    if status is not None and not (_is_int(status) and 400 <= status <= 599):
        return _bad("status must be an HTTP error status (400-599)")
    if not _is_int(count) or count < 1:
        return _bad("count must be a positive integer")
    if not isinstance(delay, int | float) or isinstance(delay, bool) or not 0 <= delay <= 120:
        return _bad("delay must be between 0 and 120 seconds")
    if not isinstance(path, str):
        return _bad("path must be a path prefix such as /google/calendar")
    if status is None and not delay:
        return _bad("give a status, a delay, or both")
    request.app[SANDBOX].faults.append(Fault(provider, status, count, float(delay), path))
    return web.json_response({"provider": provider, "status": status, "count": count, "delay": delay,
                              "path": path}, status=201)


async def list_messages(request: web.Request) -> web.Response:
    return web.json_response({"messages": request.app[SANDBOX].messages})


async def _deliver_webhook(state: SandboxState, event: str, entities: dict, webhook_url: str | None) -> dict:
    """Build the webhook as Razorpay would, sign the exact bytes, and POST them if asked to."""
    body = json.dumps({
        "entity": "event", "account_id": "acc_sandbox", "event": event, "contains": list(entities),
        "payload": {name: {"entity": entity} for name, entity in entities.items()}, "created_at": _now(),
    }).encode()
    headers = {"Content-Type": "application/json",
               "X-Razorpay-Signature": _hmac_hex(state.settings.razorpay_webhook_secret, body),
               "X-Razorpay-Event-Id": _random_id("evt_")}
    result = {"event": event, "eventId": headers["X-Razorpay-Event-Id"], "headers": headers,
              "body": body.decode(), "delivery": None}
    if webhook_url:
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session, \
                    session.post(webhook_url, data=body, headers=headers) as response:
                result["delivery"] = {"status": response.status, "body": (await response.text())[:500]}
        except (aiohttp.ClientError, TimeoutError) as exc:
            result["delivery"] = {"error": type(exc).__name__}
    return result


def _order_for_link(state: SandboxState, link: dict) -> dict:
    # Razorpay makes an order behind every payment link when the customer opens it.
    order = _new_order(state, link["amount"], link["currency"], link["reference_id"] or None, link["notes"])
    link["order_id"] = order["id"]
    return order


async def simulate_payment(request: web.Request) -> web.Response:
    state = request.app[SANDBOX]
    data = await _json_object(request) or {}
    outcome = data.get("outcome")
    if outcome not in ("captured", "failed"):
        return _bad("outcome must be captured or failed")
    link = None
    if "paymentLinkId" in data:
        link = _find(state.links, data["paymentLinkId"])
        if not link:
            return _bad("no such payment link", 404)
        if link["status"] != "created":
            return _bad(f"payment link is {link['status']}", 409)
        order = state.orders.get(link.get("order_id")) or _order_for_link(state, link)
    else:
        order = _find(state.orders, data.get("orderId"))
        if not order:
            return _bad("give the orderId of an existing order, or a paymentLinkId", 404)
    if order["status"] == "paid":
        return _bad("order is already paid", 409)
    # amount/currency overrides let tests send a webhook that does not match the order.
    amount, currency = data.get("amount", order["amount"]), data.get("currency", order["currency"])
    captured = outcome == "captured"
    payment = {"id": _random_id("pay_"), "entity": "payment", "amount": amount, "currency": currency,
               "status": outcome, "order_id": order["id"], "method": "upi", "captured": captured,
               "notes": order["notes"], "error_code": None if captured else "BAD_REQUEST_ERROR",
               "error_description": None if captured else "Payment failed", "created_at": _now()}
    state.payments[payment["id"]] = payment
    order["attempts"] += 1
    order["status"] = "paid" if captured else "attempted"
    if captured:
        order.update(amount_paid=amount, amount_due=0)
    if link and captured:
        link.update(status="paid", amount_paid=amount, updated_at=_now(),
                    payments=[{"payment_id": payment["id"], "amount": amount, "status": "captured"}])
        result = await _deliver_webhook(state, "payment_link.paid",
                                        {"payment_link": link, "order": order, "payment": payment},
                                        data.get("webhookUrl"))
    else:
        result = await _deliver_webhook(state, f"payment.{outcome}", {"payment": payment},
                                        data.get("webhookUrl"))
    result["payment"] = payment
    if not link:
        result["checkout"] = {"razorpay_order_id": order["id"], "razorpay_payment_id": payment["id"],
                              "razorpay_signature": _hmac_hex(state.settings.razorpay_key_secret,
                                                              f"{order['id']}|{payment['id']}".encode())}
    return web.json_response(result)


async def expire_link(request: web.Request) -> web.Response:
    state = request.app[SANDBOX]
    data = await _json_object(request) or {}
    link = _find(state.links, data.get("paymentLinkId"))
    if not link:
        return _bad("no such payment link", 404)
    if link["status"] != "created":
        return _bad(f"payment link is {link['status']}", 409)
    link.update(status="expired", expired_at=_now(), updated_at=_now())
    result = await _deliver_webhook(state, "payment_link.expired", {"payment_link": link},
                                    data.get("webhookUrl"))
    return web.json_response(result)


def create_sandbox_app(settings: Settings) -> web.Application:
    """The sandbox for these settings: it accepts the credentials and signs with the secrets they hold."""
    app = web.Application(middlewares=[provider_middleware])
    app[SANDBOX] = SandboxState(settings)
    rzp, cal = "/razorpay/v1", "/google/calendar/v3/calendars/{calendar_id}/events"
    app.router.add_post(f"{rzp}/orders", create_order)
    app.router.add_get(f"{rzp}/orders", list_orders)
    app.router.add_get(f"{rzp}/orders/{{order_id}}", fetch_order)
    app.router.add_get(f"{rzp}/orders/{{order_id}}/payments", order_payments)
    app.router.add_post(f"{rzp}/payment_links", create_payment_link)
    app.router.add_get(f"{rzp}/payment_links", list_payment_links)
    app.router.add_get(f"{rzp}/payment_links/{{link_id}}", fetch_payment_link)
    app.router.add_post(f"{rzp}/payment_links/{{link_id}}/cancel", cancel_payment_link)
    app.router.add_post("/gallabox/devapi/messages/whatsapp", gallabox_send)
    app.router.add_post("/google/token", google_token)
    app.router.add_post(cal, insert_event)
    app.router.add_get(f"{cal}/{{event_id}}", get_event)
    app.router.add_patch(f"{cal}/{{event_id}}", patch_event)
    app.router.add_delete(f"{cal}/{{event_id}}", delete_event)
    app.router.add_get("/_sandbox/requests", list_requests)
    app.router.add_delete("/_sandbox/requests", reset_requests)
    app.router.add_post("/_sandbox/faults", add_fault)
    app.router.add_get("/_sandbox/gallabox/messages", list_messages)
    app.router.add_post("/_sandbox/razorpay/pay", simulate_payment)
    app.router.add_post("/_sandbox/razorpay/expire-link", expire_link)
    return app

"""/api/payments/*: Razorpay checkout orders, verification, webhooks, payment links, desk payments.

Thin handlers over mibo.domain.payments (the rules) and mibo.api.checkout (making an order at
Razorpay between the rules' transactions).
"""

from __future__ import annotations

import hashlib
import logging

from aiohttp import web

from mibo.api import checkout
from mibo.api.access import public, requires
from mibo.api.apidoc import KB, documented
from mibo.api.http import ok, ok_page, parse_json, path_id, read_body, read_json, read_query
from mibo.api.keys import ACTOR, DB, SETTINGS
from mibo.core import db
from mibo.core.errors import ApiError
from mibo.core.logs import log_event
from mibo.domain import payments, refunds
from mibo.domain.appointments import utc_now
from mibo.providers.razorpay_client import verify_webhook_signature
from schemas.base import PageQuerySchema
from schemas.payments import (
    AppointmentPaymentSchema,
    DeskPaymentSchema,
    OrderSchema,
    PaymentSchema,
    RefundRequestSchema,
    RefundSchema,
    VerifyPaymentSchema,
    VerifyResultSchema,
    WebhookResultSchema,
)

log = logging.getLogger(__name__)

_payment_schema = PaymentSchema()
_refund_schema = RefundSchema()


@requires("payments.create", patients=True)
@documented("Create a Razorpay order for an appointment", tags=("Payments",), body=AppointmentPaymentSchema,
            response=OrderSchema, errors=(400, 403, 404, 409, 422, 502),
            description="A patient's own order on the website includes the one-time registration fee until "
                        "it is paid.")
async def create_order(request: web.Request) -> web.Response:
    body = await read_json(request, AppointmentPaymentSchema())
    attempt = await checkout.order_for_appointment(request.app, request[ACTOR], body["appointment_id"])
    key_id = request.app[SETTINGS].razorpay_key_id
    return ok(OrderSchema().dump({"order_id": attempt["order_id"], "amount": payments.to_paise(attempt["amount"]),
                                  "currency": attempt["currency"], "key_id": key_id, "razorpay_key_id": key_id,
                                  "payment_id": attempt["id"], "registration_fee": attempt["registration_fee"]}))


@requires("payments.create", patients=True)
@documented("Verify a Razorpay Checkout payment", tags=("Payments",), body=VerifyPaymentSchema,
            response=VerifyResultSchema, errors=(400, 403, 404))
async def verify_payment(request: web.Request) -> web.Response:
    body = await read_json(request, VerifyPaymentSchema())
    order_id, razorpay_payment_id = body["razorpay_order_id"], body["razorpay_payment_id"]
    if not checkout.signature_ok(request.app[SETTINGS], order_id, razorpay_payment_id, body["razorpay_signature"]):
        raise ApiError.bad_request("The payment signature does not match", code="INVALID_SIGNATURE")
    async with db.transaction(request.app[DB]) as cur:
        payment_id, status = await payments.paid_at_checkout(cur, request[ACTOR], order_id, razorpay_payment_id,
                                                             body.get("appointment_id"))
    return ok(VerifyResultSchema().dump({"payment_id": payment_id, "status": status}))


# Fields of the entities in a webhook's payload that the payment actors read, and their JSON types:
# anything else there is refused before it is stored, so processing never meets a surprise.
ENTITY_FIELD_TYPES = {"id": str, "order_id": str, "payment_id": str, "receipt": str, "status": str,
                      "currency": str, "amount": int, "amount_paid": int, "error_code": str,
                      "error_description": str}
WEBHOOK_MAX_BODY = 64 * KB  # Razorpay's events are a few KB


def webhook_event(raw: bytes) -> tuple[str, dict]:
    """(event type, payload) of a signed body, or a 400 naming what is wrong with it."""
    try:
        event = parse_json(raw.decode())
    except UnicodeDecodeError:
        raise ApiError.bad_request("The body is not UTF-8 JSON", code="INVALID_JSON") from None
    if not isinstance(event, dict):
        raise ApiError.bad_request("The body must be a JSON object", code="INVALID_JSON")
    event_type = event.get("event")
    if not isinstance(event_type, str) or not 0 < len(event_type) <= 100:
        raise ApiError.validation({"event": ["Must name the event."]})
    payload = event.get("payload")
    if not isinstance(payload, dict):
        raise ApiError.validation({"payload": ["Must be an object."]})
    errors = {}
    for kind, container in payload.items():
        if not isinstance(container, dict) or not isinstance(container.get("entity", {}), dict):
            errors[f"payload.{kind}"] = ["Must be an object with an entity object."]
            continue
        for name, kind_of in ENTITY_FIELD_TYPES.items():
            value = container.get("entity", {}).get(name)
            if value is not None and (not isinstance(value, kind_of) or isinstance(value, bool)):
                errors[f"payload.{kind}.entity.{name}"] = [f"Must be a {kind_of.__name__}."]
    if errors:
        raise ApiError.validation(errors)
    return event_type, payload


def signed_key(event_type: str, payload: dict, raw: bytes) -> str:
    """What the signature covers and makes an event one event: its type and the id and state of the
    entity it is about ('payment.captured' -> payload.payment.entity); a digest of the whole
    body for an event that names no such entity."""
    entity = (payload.get(event_type.split(".", 1)[0]) or {}).get("entity") or {}
    if isinstance(entity.get("id"), str):
        return f"{event_type}:{entity['id'][:100]}:{str(entity.get('status'))[:50]}"
    return "sha256:" + hashlib.sha256(raw).hexdigest()


@public
@documented(
    "Razorpay webhook", tags=("Payments",), response=WebhookResultSchema, errors=(400,),
    description="Razorpay's event, verified by its signature (HMAC-SHA256 of the raw body with the webhook "
                "secret). Each event is kept once, by what the signature covers (event type, entity id and "
                "state), and processed by the worker; a duplicate is answered 200 with duplicate: true.",
    raw_body={"type": "object", "required": ["event", "payload"], "properties": {
        "entity": {"type": "string", "example": "event"},
        "event": {"type": "string", "minLength": 1, "maxLength": 100, "example": "payment.captured"},
        "payload": {"type": "object", "additionalProperties": {
            "type": "object", "properties": {"entity": {"type": "object"}}}},
        "created_at": {"type": "integer"}}},
    headers=(("X-Razorpay-Signature", "Hex HMAC-SHA256 of the raw body with the webhook secret", True),
             ("X-Razorpay-Event-Id", "Razorpay's id of the event (at most 200 characters)", False)),
    max_body=WEBHOOK_MAX_BODY,
)
async def razorpay_webhook(request: web.Request) -> web.Response:
    raw = await read_body(request)
    settings = request.app[SETTINGS]
    # Over the bytes as received, with the WEBHOOK secret (not the key secret).
    if not verify_webhook_signature(raw, request.headers.get("X-Razorpay-Signature"),
                                    settings.razorpay_webhook_secret):
        log_event(log, logging.WARNING, "webhook signature mismatch")
        raise ApiError.bad_request("The webhook signature does not match", code="INVALID_SIGNATURE")
    event_type, payload = webhook_event(raw)
    key = signed_key(event_type, payload, raw)
    event_id = request.headers.get("X-Razorpay-Event-Id") or key
    if len(event_id) > 200:
        raise ApiError.validation({"X-Razorpay-Event-Id": ["Must be at most 200 characters."]})
    async with db.transaction(request.app[DB]) as cur:
        webhook_event_id = await payments.store_webhook_event(cur, event_id, event_type, raw.decode(), key)
    duplicate = webhook_event_id is None
    log_event(log, logging.INFO, "razorpay webhook", event=event_type, eventId=event_id, duplicate=duplicate)
    return ok({"received": True, "duplicate": duplicate})


@requires("payments.record")
@documented("Send a Razorpay payment link to the patient over WhatsApp", tags=("Payments",),
            body=AppointmentPaymentSchema, response=PaymentSchema, status=201,
            errors=(400, 403, 404, 409, 422))
async def create_payment_link(request: web.Request) -> web.Response:
    body = await read_json(request, AppointmentPaymentSchema())
    async with db.transaction(request.app[DB]) as cur:
        payment, made = await payments.request_payment_link(cur, request[ACTOR], body["appointment_id"])
    return ok(_payment_schema.dump(payment), status=201 if made else 200)


@requires("payments.record")
@documented("Record a payment taken at the desk (cash, card, UPI)", tags=("Payments",),
            body=DeskPaymentSchema, response=PaymentSchema, status=201, errors=(400, 403, 404, 409, 422))
async def desk_payment(request: web.Request) -> web.Response:
    body = await read_json(request, DeskPaymentSchema())
    async with db.transaction(request.app[DB]) as cur:
        payment_id = await payments.record_desk_payment(
            cur, request[ACTOR], body["appointment_id"], method=body["method"], amount=body.get("amount"),
            note=body["note"], reference=body["reference"], now=utc_now(), waiver_reason=body.get("waiver_reason"))
        payment = await payments.payment(cur, payment_id)
    return ok(_payment_schema.dump(payment), status=201)


@requires("payments.view")
@documented("A patient's payments (in the caller's centres)", tags=("Payments",), query=PageQuerySchema,
            response=PaymentSchema, many=True, errors=(403, 404))
async def patient_payments(request: web.Request) -> web.Response:
    patient_id = path_id(request)
    query = read_query(request, PageQuerySchema())
    async with db.transaction(request.app[DB]) as cur:
        rows, total = await payments.payments_of_patient(cur, request[ACTOR], patient_id, query["limit"],
                                                         query["offset"])
    return ok_page(_payment_schema.dump(rows, many=True), total, query["limit"], query["offset"])


@requires("payments.refund")
@documented("Refund a Razorpay payment, fully or in part", tags=("Payments",), body=RefundRequestSchema,
            response=RefundSchema, status=201, errors=(400, 403, 404, 409),
            description="Issued at Razorpay by the worker (REQUESTED → PROCESSING → PROCESSED | FAILED). "
                        "409 REFUND_EXCEEDS_PAYMENT when the payment's live refunds would add up to more than "
                        "it captured; 409 PAYMENT_NOT_REFUNDABLE for a payment not captured through Razorpay.")
async def refund_payment(request: web.Request) -> web.Response:
    payment_id = path_id(request)
    body = await read_json(request, RefundRequestSchema())
    amount = body.get("amount")
    async with db.transaction(request.app[DB]) as cur:
        refund = await refunds.request(cur, request[ACTOR], payment_id,
                                       None if amount is None else payments.to_paise(amount), body["reason"])
    return ok(_refund_schema.dump(refund), status=201)


@requires("payments.refunds_view")
@documented("A payment's refunds", tags=("Payments",), response=RefundSchema, many=True, errors=(403, 404))
async def payment_refunds(request: web.Request) -> web.Response:
    payment_id = path_id(request)
    async with db.transaction(request.app[DB]) as cur:
        rows = await refunds.refunds_of_payment(cur, request[ACTOR], payment_id)
    return ok(_refund_schema.dump(rows, many=True))


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/payments/create-order", create_order)
    app.router.add_post("/api/payments/verify", verify_payment)
    app.router.add_post("/api/payments/webhook", razorpay_webhook)
    app.router.add_post("/api/payments/payment-link", create_payment_link)
    app.router.add_post("/api/payments/desk", desk_payment)
    app.router.add_get(r"/api/payments/patient/{id:\d+}", patient_payments)
    app.router.add_post(r"/api/payments/{id:\d+}/refunds", refund_payment)
    app.router.add_get(r"/api/payments/{id:\d+}/refunds", payment_refunds)

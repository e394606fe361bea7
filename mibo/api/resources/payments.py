"""/api/payments/*: Razorpay checkout orders, verification, webhooks, payment links, desk payments.

Thin handlers over mibo.domain.payments (the rules) and mibo.api.checkout (making an order at
Razorpay between the rules' transactions).
"""

from __future__ import annotations

import hashlib
import json
import logging

from aiohttp import web

from mibo.api import checkout
from mibo.api.access import public, requires
from mibo.api.apidoc import documented
from mibo.api.http import ok, ok_page, path_id, read_json, read_query
from mibo.api.keys import ACTOR, DB, SETTINGS
from mibo.core import db
from mibo.core.errors import ApiError
from mibo.core.logs import log_event
from mibo.domain import payments
from mibo.domain.appointments import utc_now
from mibo.providers.razorpay_client import verify_webhook_signature
from schemas.base import PageQuerySchema
from schemas.payments import (
    AppointmentPaymentSchema,
    DeskPaymentSchema,
    OrderSchema,
    PaymentSchema,
    VerifyPaymentSchema,
    VerifyResultSchema,
    WebhookResultSchema,
)

log = logging.getLogger(__name__)

_payment_schema = PaymentSchema()


@requires("payments.create")
@documented("Create a Razorpay order for an appointment", tags=("Payments",), body=AppointmentPaymentSchema,
            response=OrderSchema, errors=(400, 403, 404, 409, 422, 502))
async def create_order(request: web.Request) -> web.Response:
    body = await read_json(request, AppointmentPaymentSchema())
    attempt = await checkout.order_for_appointment(request.app, request[ACTOR], body["appointment_id"])
    return ok(OrderSchema().dump({"order_id": attempt["order_id"], "amount": payments.to_paise(attempt["amount"]),
                                  "currency": attempt["currency"], "key_id": request.app[SETTINGS].razorpay_key_id,
                                  "payment_id": attempt["id"]}))


@requires("payments.create")
@documented("Verify a Razorpay Checkout payment", tags=("Payments",), body=VerifyPaymentSchema,
            response=VerifyResultSchema, errors=(400, 403, 404))
async def verify_payment(request: web.Request) -> web.Response:
    body = await read_json(request, VerifyPaymentSchema())
    order_id, razorpay_payment_id = body["razorpay_order_id"], body["razorpay_payment_id"]
    if not checkout.signature_ok(request.app[SETTINGS], order_id, razorpay_payment_id, body["razorpay_signature"]):
        raise ApiError.bad_request("The payment signature does not match", code="INVALID_SIGNATURE")
    async with db.transaction(request.app[DB]) as cur:
        payment_id, status = await payments.paid_at_checkout(cur, request[ACTOR], order_id, razorpay_payment_id)
    return ok(VerifyResultSchema().dump({"payment_id": payment_id, "status": status}))


@public
@documented("Razorpay webhook (signature-verified)", tags=("Payments",), response=WebhookResultSchema,
            errors=(400,))
async def razorpay_webhook(request: web.Request) -> web.Response:
    raw = await request.read()
    settings = request.app[SETTINGS]
    # Over the bytes as received, with the WEBHOOK secret (not the key secret).
    if not verify_webhook_signature(raw, request.headers.get("X-Razorpay-Signature"),
                                    settings.razorpay_webhook_secret):
        log_event(log, logging.WARNING, "webhook signature mismatch")
        raise ApiError.bad_request("The webhook signature does not match", code="INVALID_SIGNATURE")
    try:
        event = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError.bad_request("The body is not valid JSON", code="INVALID_JSON") from None
    event_type = event.get("event") if isinstance(event, dict) else None
    if not isinstance(event_type, str) or not 0 < len(event_type) <= 100:
        raise ApiError.validation({"event": ["Must name the event."]})
    # Razorpay sends a unique id per event; a body without one is deduplicated by its content.
    event_id = request.headers.get("X-Razorpay-Event-Id") or "sha256:" + hashlib.sha256(raw).hexdigest()
    if len(event_id) > 200:
        raise ApiError.validation({"X-Razorpay-Event-Id": ["Must be at most 200 characters."]})
    async with db.transaction(request.app[DB]) as cur:
        webhook_event_id = await payments.store_webhook_event(cur, event_id, event_type, raw.decode())
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


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/payments/create-order", create_order)
    app.router.add_post("/api/payments/verify", verify_payment)
    app.router.add_post("/api/payments/webhook", razorpay_webhook)
    app.router.add_post("/api/payments/payment-link", create_payment_link)
    app.router.add_post("/api/payments/desk", desk_payment)
    app.router.add_get(r"/api/payments/patient/{id:\d+}", patient_payments)

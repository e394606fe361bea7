"""/api/payments/*: Razorpay checkout orders, verification, webhooks, payment links, desk payments.

Razorpay is the authority on money. The browser's checkout signature only proves the payment
happened (PENDING); a payment becomes SUCCESS when a verified webhook, or a worker asking
Razorpay itself, says it was captured for the amount and currency of the stored order.

The rules that move a payment and its appointment live here as plain functions over a cursor,
shared by the handlers and the actors of jobs/payments.py. Every one of them takes its row locks
in one order, appointment first and then payment, so that concurrent events cannot deadlock,
and each only ever moves state forwards, so that duplicated or reordered events change nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
from decimal import Decimal

from aiohttp import web
from sqlalchemy import select

from mibo.api.access import public, requires
from mibo.api.apidoc import documented
from mibo.api.http import ok, ok_page, path_id, read_json, read_query
from mibo.api.keys import ACTOR, DB, EXECUTOR, SETTINGS
from mibo.api.resources.patients import appointment_scope
from mibo.core import audit, db, listing, outbox, tables
from mibo.core.actor import Actor
from mibo.core.config import Settings
from mibo.core.errors import ApiError
from mibo.core.logs import log_event
from mibo.domain.access import check_centre
from mibo.providers.errors import ProviderError
from mibo.providers.razorpay_client import RazorpayClient, verify_webhook_signature
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

CURRENCY = "INR"
PROVIDER = "RAZORPAY"
OPEN = ("CREATED", "PENDING")
SETTLED = ("SUCCESS", "REFUNDED")

# What happened to a payment; also stored as webhook_events.outcome.
CONFIRMED = "CONFIRMED"  # paid, and the appointment went BOOKED -> CONFIRMED
PAID = "PAID"  # paid; the appointment was already confirmed (e.g. by hand)
ALREADY_PAID = "ALREADY_PAID"  # a duplicate or late event for a settled payment: nothing changed
FLAGGED = "FLAGGED"  # money that does not add up: recorded for staff, nothing confirmed
FAILED = "FAILED"
LINK_EXPIRED = "LINK_EXPIRED"
UNCHANGED = "UNCHANGED"  # an event that cannot move the payment forwards (failed after success...)

# --- SQL ------------------------------------------------------------------------

PAYMENT_COLUMNS = """
p.id, p.patient_id, p.appointment_id, a.centre_id, p.provider, p.channel, p.order_id, p.payment_id,
p.payment_link_id, p.payment_link_url, p.amount, p.currency, p.status, p.recorded_by_user_id, p.note,
p.reference, p.failure_reason, p.flag_reason, p.paid_at, p.expires_at, p.created_at, p.updated_at
"""

PAYMENT_BY_ID = f"""
SELECT {PAYMENT_COLUMNS} FROM payments p LEFT JOIN appointments a ON a.id = p.appointment_id WHERE p.id = %s
"""

PAYMENT_BY_ORDER_ID = f"""
SELECT {PAYMENT_COLUMNS} FROM payments p LEFT JOIN appointments a ON a.id = p.appointment_id
WHERE p.order_id = %s
"""

PAYMENT_PAGE_DETAIL = f"""
SELECT {PAYMENT_COLUMNS}, page.total
FROM page JOIN payments p ON p.id = page.id LEFT JOIN appointments a ON a.id = p.appointment_id
ORDER BY page.ord
"""

PAYABLE_APPOINTMENT_FOR_UPDATE = """
SELECT a.id, a.status, a.centre_id, a.patient_id, cp.consultation_fee
FROM appointments a JOIN clinician_profiles cp ON cp.id = a.clinician_id
WHERE a.id = %s
FOR UPDATE OF a
"""

# The open checkout order (or payment link) of an appointment: at most one, by a unique index.
OPEN_ATTEMPT = f"""
SELECT {PAYMENT_COLUMNS} FROM payments p JOIN appointments a ON a.id = p.appointment_id
WHERE p.appointment_id = %s AND p.channel = %s AND p.status IN ('CREATED', 'PENDING')
"""

INSERT_CHECKOUT_PAYMENT = """
INSERT INTO payments (patient_id, appointment_id, provider, channel, order_id, amount, currency, status,
                      recorded_by_user_id)
VALUES (%(patient_id)s, %(appointment_id)s, 'RAZORPAY', 'CHECKOUT', %(order_id)s, %(amount)s, %(currency)s,
        'CREATED', %(user_id)s)
RETURNING id
"""

INSERT_LINK_PAYMENT = """
INSERT INTO payments (patient_id, appointment_id, provider, channel, amount, currency, status,
                      recorded_by_user_id)
VALUES (%(patient_id)s, %(appointment_id)s, 'RAZORPAY', 'PAYMENT_LINK', %(amount)s, %(currency)s, 'CREATED',
        %(user_id)s)
RETURNING id
"""

INSERT_DESK_PAYMENT = """
INSERT INTO payments (patient_id, appointment_id, provider, channel, amount, currency, status,
                      recorded_by_user_id, note, reference, paid_at)
VALUES (%(patient_id)s, %(appointment_id)s, %(method)s, 'DESK', %(amount)s, %(currency)s, 'SUCCESS',
        %(user_id)s, %(note)s, %(reference)s, now())
RETURNING id
"""

# The checkout says the customer paid; the webhook (or reconciliation) will say SUCCESS.
MARK_PENDING = """
UPDATE payments SET status = 'PENDING', payment_id = COALESCE(payment_id, %s), failure_reason = NULL
WHERE id = %s AND status IN ('CREATED', 'FAILED')
"""

PAYMENT_APPOINTMENT_ID = "SELECT appointment_id FROM payments WHERE id = %s"

PAYMENT_STATUS = "SELECT status FROM payments WHERE id = %s"

APPOINTMENT_FOR_UPDATE = "SELECT id, status FROM appointments WHERE id = %s FOR UPDATE"

PAYMENT_FOR_UPDATE = """
SELECT id, appointment_id, status, amount, currency, flagged_at FROM payments WHERE id = %s FOR UPDATE
"""

# FAILED may still become SUCCESS: a customer can pay on the same order after a failed attempt.
MARK_SUCCESS = """
UPDATE payments SET status = 'SUCCESS', payment_id = COALESCE(%s, payment_id), paid_at = now(),
                    failure_reason = NULL
WHERE id = %s AND status IN ('CREATED', 'PENDING', 'FAILED')
"""

MARK_FAILED = """
UPDATE payments SET status = 'FAILED', failure_reason = %s
WHERE id = %s AND status IN ('CREATED', 'PENDING')
"""

# Money kept but not wanted (a second payment, an appointment that is gone) is also marked for
# refund, like the payments of an appointment cancelled after it was paid.
FLAG_PAYMENT = """
UPDATE payments SET flag_reason = %(reason)s, flagged_at = now(),
       refund_requested_at = CASE WHEN %(refund)s AND status = 'SUCCESS'
                                  THEN COALESCE(refund_requested_at, now()) ELSE refund_requested_at END
WHERE id = %(id)s
"""

# The payment links of an appointment that the patient could still pay, but for the payment being
# settled (if it is one of them). At most one, by payments_open_attempt_key (see OPEN_ATTEMPT).
OTHER_OPEN_LINKS = """
SELECT id FROM payments
WHERE appointment_id = %s AND channel = 'PAYMENT_LINK' AND status IN ('CREATED', 'PENDING')
  AND id IS DISTINCT FROM %s
"""

OTHER_SUCCESSFUL_PAYMENTS = """
SELECT count(*) FROM payments WHERE appointment_id = %s AND id <> %s AND status = 'SUCCESS'
"""

SET_APPOINTMENT_STATUS = """
UPDATE appointments SET status = %(to_status)s,
       cancellation_reason = CASE WHEN %(to_status)s = 'CANCELLED' THEN %(reason)s
                                  ELSE cancellation_reason END
WHERE id = %(id)s AND status = %(from_status)s
"""

INSERT_STATUS_HISTORY = """
INSERT INTO appointment_status_history (appointment_id, from_status, to_status, changed_by_user_id, reason)
VALUES (%(id)s, %(from_status)s, %(to_status)s, %(user_id)s, %(reason)s)
"""

PATIENT_EXISTS = "SELECT EXISTS (SELECT 1 FROM patient_profiles WHERE id = %s)"

INSERT_WEBHOOK_EVENT = """
INSERT INTO webhook_events (provider, event_id, event_type, payload)
VALUES ('RAZORPAY', %s, %s, %s::jsonb)
ON CONFLICT (provider, event_id) DO NOTHING
RETURNING id
"""

_payment_schema = PaymentSchema()


# --- money and the provider ----------------------------------------------------------


def to_paise(amount: Decimal) -> int:
    """Rupees (NUMERIC(10,2)) to the integer paise Razorpay counts in."""
    return int((Decimal(amount) * 100).to_integral_value())


def razorpay_client(settings: Settings) -> RazorpayClient:
    # A request waits on this call: fewer, shorter tries than the actors make.
    return RazorpayClient(settings, timeout=(3.0, 10.0), attempts=2, backoff=0.3)


def _create_order_sync(settings: Settings, amount_paise: int, receipt: str, notes: dict) -> dict:
    with contextlib.closing(razorpay_client(settings)) as client:
        return client.create_order(amount_paise, CURRENCY, receipt, notes)


def checkout_signature_ok(settings: Settings, order_id: str, payment_id: str, signature: str) -> bool:
    # An HMAC over two short strings with the KEY secret: no I/O, fine on the event loop.
    with contextlib.closing(razorpay_client(settings)) as client:
        return client.verify_payment_signature(order_id, payment_id, signature)


# --- the rules ------------------------------------------------------------------


async def payable_appointment(cur, actor: Actor, appointment_id: int) -> dict:
    """Lock an appointment that is in the caller's centres and still waiting to be paid."""
    appointment = await db.fetch_one(cur, PAYABLE_APPOINTMENT_FOR_UPDATE, (appointment_id,))
    if appointment is None:
        raise ApiError.not_found("Appointment not found")
    check_centre(actor, appointment["centre_id"])
    if appointment["status"] == "CONFIRMED":
        raise ApiError.conflict("The appointment is already paid and confirmed", code="ALREADY_CONFIRMED")
    if appointment["status"] != "BOOKED":
        raise ApiError.conflict(f"A {appointment['status'].lower()} appointment cannot be paid for",
                                {"status": appointment["status"]}, code="APPOINTMENT_NOT_PAYABLE")
    return appointment


def online_fee(appointment: dict) -> Decimal:
    fee = appointment["consultation_fee"]
    if fee < 1:  # Razorpay's minimum is INR 1.00
        raise ApiError.unprocessable("The clinician has no consultation fee to pay online",
                                     code="NO_FEE_TO_PAY")
    return fee


async def lock_payment(cur, payment_id: int) -> tuple[dict, dict | None]:
    """Lock a payment's appointment and then the payment: the lock order every path uses.

    A reschedule moves payments to the new appointment; if that happened between reading the
    appointment id and locking the payment, lock the new appointment too and look again.
    """
    appointment_id = await db.fetch_value(cur, PAYMENT_APPOINTMENT_ID, (payment_id,))
    while True:
        appointment = None
        if appointment_id is not None:
            appointment = await db.fetch_one(cur, APPOINTMENT_FOR_UPDATE, (appointment_id,))
        payment = await db.fetch_one(cur, PAYMENT_FOR_UPDATE, (payment_id,))
        if payment["appointment_id"] == appointment_id:
            return payment, appointment
        appointment_id = payment["appointment_id"]


async def flag_payment(cur, payment_id: int, reason: str, *, refund: bool = False) -> None:
    await db.execute(cur, FLAG_PAYMENT, {"reason": reason, "refund": refund, "id": payment_id})
    log_event(log, logging.WARNING, "payment flagged", paymentId=payment_id, reason=reason)


async def change_appointment_status(cur, appointment_id: int, from_status: str, to_status: str,
                                    user_id: int | None, reason: str) -> bool:
    """Move the appointment if it is still in `from_status`, with its history row."""
    params = {"id": appointment_id, "from_status": from_status, "to_status": to_status,
              "user_id": user_id, "reason": reason}
    if not await db.execute(cur, SET_APPOINTMENT_STATUS, params):
        return False
    await db.execute(cur, INSERT_STATUS_HISTORY, params)
    return True


async def cancel_open_links(cur, appointment_id: int, paid_payment_id: int | None = None) -> None:
    """Queue the closing of the appointment's open payment links (all but `paid_payment_id`).

    For an appointment that was just paid another way or cancelled: an open link could still be
    paid, charging the patient twice or for nothing. The caller holds the appointment's lock,
    so no new link can be requested for it meanwhile (that needs a BOOKED appointment).
    """
    for link in await db.fetch_all(cur, OTHER_OPEN_LINKS, (appointment_id, paid_payment_id)):
        await outbox.enqueue(cur, outbox.CANCEL_PAYMENT_LINK, link["id"],
                             dedupe_key=f"{outbox.CANCEL_PAYMENT_LINK}:{link['id']}")


async def confirm_for_payment(cur, appointment: dict | None, payment_id: int, user_id: int | None,
                              reason: str) -> str:
    """After a payment succeeded: BOOKED -> CONFIRMED and the confirmation chain, exactly once.

    Money for an appointment that can no longer take it (cancelled, moved) or that was already
    paid is kept as SUCCESS, because it was taken, and flagged so that staff can refund it.
    Whatever the case, the appointment's other payment links are no longer wanted.
    """
    if appointment is None:
        return PAID
    await cancel_open_links(cur, appointment["id"], payment_id)
    if appointment["status"] == "BOOKED":
        await change_appointment_status(cur, appointment["id"], "BOOKED", "CONFIRMED", user_id, reason)
        await outbox.enqueue(cur, outbox.APPOINTMENT_CONFIRMED, appointment["id"],
                             dedupe_key=f"{outbox.APPOINTMENT_CONFIRMED}:{appointment['id']}")
        return CONFIRMED
    if appointment["status"] not in ("CONFIRMED", "COMPLETED"):
        await flag_payment(cur, payment_id, f"PAID_BUT_APPOINTMENT_{appointment['status']}", refund=True)
        return FLAGGED
    if await db.fetch_value(cur, OTHER_SUCCESSFUL_PAYMENTS, (appointment["id"], payment_id)):
        await flag_payment(cur, payment_id, "DUPLICATE_PAYMENT", refund=True)
        return FLAGGED
    return PAID


async def mark_paid_and_confirm(cur, payment_id: int, razorpay_payment_id: str | None, amount_paise,
                                currency, reason: str) -> str:
    """Razorpay says money was captured for this payment: SUCCESS, then confirm the appointment.

    The one path for the webhook actor and reconciliation. Captured money that does not match
    the stored order (amount or currency) is flagged and confirms nothing.
    """
    payment, appointment = await lock_payment(cur, payment_id)
    if payment["status"] in SETTLED:
        return ALREADY_PAID
    expected = to_paise(payment["amount"])
    if amount_paise != expected or currency != payment["currency"]:
        await flag_payment(cur, payment_id, f"AMOUNT_MISMATCH: order {expected} {payment['currency']},"
                                            f" captured {amount_paise} {currency}")
        return FLAGGED
    await db.execute(cur, MARK_SUCCESS, (razorpay_payment_id, payment_id))
    return await confirm_for_payment(cur, appointment, payment_id, None, reason)


async def mark_failed(cur, payment_id: int, reason: str) -> str:
    """A failed attempt. Never undoes a success; a later capture can still succeed."""
    await lock_payment(cur, payment_id)
    return FAILED if await db.execute(cur, MARK_FAILED, (reason[:500], payment_id)) else UNCHANGED


async def expire_payment_link(cur, payment_id: int) -> str:
    """The link expired unpaid: the payment FAILED and a still-unpaid appointment CANCELLED (slot freed)."""
    _, appointment = await lock_payment(cur, payment_id)
    if not await db.execute(cur, MARK_FAILED, ("Payment link expired", payment_id)):
        return UNCHANGED
    if appointment is not None and await change_appointment_status(
            cur, appointment["id"], "BOOKED", "CANCELLED", None, "Payment link expired unpaid"):
        await outbox.enqueue(cur, outbox.APPOINTMENT_CANCELLED, appointment["id"],
                             dedupe_key=f"{outbox.APPOINTMENT_CANCELLED}:{appointment['id']}")
    return LINK_EXPIRED


async def payment_json(cur, payment_id: int) -> dict:
    return _payment_schema.dump(await db.fetch_one(cur, PAYMENT_BY_ID, (payment_id,)))


# --- handlers -----------------------------------------------------------------


@requires("payments.create")
@documented("Create a Razorpay order for an appointment", tags=("Payments",), body=AppointmentPaymentSchema,
            response=OrderSchema, errors=(400, 403, 404, 409, 422, 502))
async def create_order(request: web.Request) -> web.Response:
    body = await read_json(request, AppointmentPaymentSchema())
    actor = request[ACTOR]
    settings = request.app[SETTINGS]
    async with db.transaction(request.app[DB]) as cur:
        appointment = await payable_appointment(cur, actor, body["appointment_id"])
        payment = await db.fetch_one(cur, OPEN_ATTEMPT, (appointment["id"], "CHECKOUT"))
        if payment is None:
            amount = online_fee(appointment)
            # The appointment stays locked while Razorpay answers, so a concurrent request waits
            # and then finds this order instead of making a second one. The client is synchronous:
            # it runs in the executor, never on the event loop.
            call = functools.partial(_create_order_sync, settings, to_paise(amount),
                                     f"appointment-{appointment['id']}",
                                     {"appointmentId": str(appointment["id"])})
            try:
                order = await asyncio.get_running_loop().run_in_executor(request.app[EXECUTOR], call)
            except ProviderError as exc:
                log_event(log, logging.WARNING, "razorpay order failed", error=exc.message,
                          status=exc.status)
                raise ApiError(502, "PAYMENT_PROVIDER_ERROR",
                               "Razorpay could not create the order; try again") from None
            payment_id = await db.fetch_value(cur, INSERT_CHECKOUT_PAYMENT, {
                "patient_id": appointment["patient_id"], "appointment_id": appointment["id"],
                "order_id": order["id"], "amount": amount, "currency": CURRENCY, "user_id": actor.user_id,
            })
            await audit.record(cur, request[ACTOR], "payment.order_created", "payment", payment_id,
                               appointment["centre_id"], {"orderId": order["id"]})
            payment = await db.fetch_one(cur, PAYMENT_BY_ID, (payment_id,))
    return ok(OrderSchema().dump({"order_id": payment["order_id"], "amount": to_paise(payment["amount"]),
                                  "currency": payment["currency"], "key_id": settings.razorpay_key_id,
                                  "payment_id": payment["id"]}))


@requires("payments.create")
@documented("Verify a Razorpay Checkout payment", tags=("Payments",), body=VerifyPaymentSchema,
            response=VerifyResultSchema, errors=(400, 403, 404))
async def verify_payment(request: web.Request) -> web.Response:
    body = await read_json(request, VerifyPaymentSchema())
    order_id, razorpay_payment_id = body["razorpay_order_id"], body["razorpay_payment_id"]
    signature = body["razorpay_signature"]
    if not checkout_signature_ok(request.app[SETTINGS], order_id, razorpay_payment_id, signature):
        raise ApiError.bad_request("The payment signature does not match", code="INVALID_SIGNATURE")
    async with db.transaction(request.app[DB]) as cur:
        payment = await db.fetch_one(cur, PAYMENT_BY_ORDER_ID, (order_id,))
        if payment is None:
            raise ApiError.not_found("No payment for this order")
        check_centre(request[ACTOR], payment["centre_id"])
        await lock_payment(cur, payment["id"])
        if await db.execute(cur, MARK_PENDING, (razorpay_payment_id, payment["id"])):
            # Ask Razorpay from a worker now rather than wait for the webhook or the sweep.
            await outbox.enqueue(cur, outbox.RECONCILE_PAYMENT, payment["id"],
                                 dedupe_key=f"{outbox.RECONCILE_PAYMENT}:{payment['id']}:{razorpay_payment_id}")
        status = await db.fetch_value(cur, PAYMENT_STATUS, (payment["id"],))
    return ok(VerifyResultSchema().dump({"payment_id": payment["id"], "status": status}))


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
        webhook_event_id = await db.fetch_value(cur, INSERT_WEBHOOK_EVENT,
                                                (event_id, event_type, raw.decode()))
        if webhook_event_id is not None:
            await outbox.enqueue(cur, outbox.PROCESS_RAZORPAY_EVENT, webhook_event_id,
                                 dedupe_key=f"{outbox.PROCESS_RAZORPAY_EVENT}:{webhook_event_id}")
    duplicate = webhook_event_id is None
    log_event(log, logging.INFO, "razorpay webhook", event=event_type, eventId=event_id, duplicate=duplicate)
    return ok({"received": True, "duplicate": duplicate})


@requires("payments.record")
@documented("Send a Razorpay payment link to the patient over WhatsApp", tags=("Payments",),
            body=AppointmentPaymentSchema, response=PaymentSchema, status=201,
            errors=(400, 403, 404, 409, 422))
async def create_payment_link(request: web.Request) -> web.Response:
    body = await read_json(request, AppointmentPaymentSchema())
    actor = request[ACTOR]
    async with db.transaction(request.app[DB]) as cur:
        appointment = await payable_appointment(cur, actor, body["appointment_id"])
        existing = await db.fetch_one(cur, OPEN_ATTEMPT, (appointment["id"], "PAYMENT_LINK"))
        if existing is not None:
            return ok(_payment_schema.dump(existing))
        payment_id = await db.fetch_value(cur, INSERT_LINK_PAYMENT, {
            "patient_id": appointment["patient_id"], "appointment_id": appointment["id"],
            "amount": online_fee(appointment), "currency": CURRENCY, "user_id": actor.user_id,
        })
        # The worker makes the link at Razorpay and sends it over WhatsApp.
        await outbox.enqueue(cur, outbox.CREATE_PAYMENT_LINK, payment_id,
                             dedupe_key=f"{outbox.CREATE_PAYMENT_LINK}:{payment_id}")
        await audit.record(cur, request[ACTOR], "payment.link_requested", "payment", payment_id,
                           appointment["centre_id"])
        data = await payment_json(cur, payment_id)
    return ok(data, status=201)


@requires("payments.record")
@documented("Record a payment taken at the desk (cash, card, UPI)", tags=("Payments",),
            body=DeskPaymentSchema, response=PaymentSchema, status=201, errors=(400, 403, 404, 409))
async def desk_payment(request: web.Request) -> web.Response:
    body = await read_json(request, DeskPaymentSchema())
    actor = request[ACTOR]
    async with db.transaction(request.app[DB]) as cur:
        appointment = await payable_appointment(cur, actor, body["appointment_id"])
        payment_id = await db.fetch_value(cur, INSERT_DESK_PAYMENT, {
            "patient_id": appointment["patient_id"], "appointment_id": appointment["id"],
            "method": body["method"], "amount": body.get("amount", appointment["consultation_fee"]),
            "currency": CURRENCY, "user_id": actor.user_id, "note": body["note"],
            "reference": body["reference"],
        })
        await confirm_for_payment(cur, appointment, payment_id, actor.user_id,
                                  f"Paid at the desk ({body['method']})")
        await audit.record(cur, request[ACTOR], "payment.desk_recorded", "payment", payment_id,
                           appointment["centre_id"], {"method": body["method"]})
        data = await payment_json(cur, payment_id)
    return ok(data, status=201)


@requires("payments.view")
@documented("A patient's payments (in the caller's centres)", tags=("Payments",), query=PageQuerySchema,
            response=PaymentSchema, many=True, errors=(403, 404))
async def patient_payments(request: web.Request) -> web.Response:
    patient_id = path_id(request)
    query = read_query(request, PageQuerySchema())
    actor = request[ACTOR]
    p, a = tables.payments, tables.appointments
    where = [p.c.patient_id == patient_id]
    scope = appointment_scope(actor)
    if scope["centre_ids"] is not None:
        where.append(p.c.appointment_id.in_(select(a.c.id).where(a.c.centre_id.in_(scope["centre_ids"]))))
    if scope["clinician_id"] is not None:
        where.append(p.c.appointment_id.in_(select(a.c.id).where(a.c.clinician_id == scope["clinician_id"])))
    page = listing.page_of_ids(p.c.id, where, (p.c.created_at.desc(), p.c.id.desc()), query["limit"],
                               query["offset"])
    async with db.transaction(request.app[DB]) as cur:
        if not await db.fetch_value(cur, PATIENT_EXISTS, (patient_id,)):
            raise ApiError.not_found("Patient not found")
        rows, total = await listing.fetch_page(cur, page, PAYMENT_PAGE_DETAIL, query["offset"])
        await audit.record(cur, request[ACTOR], "payments.read", "patient", patient_id)
    return ok_page(_payment_schema.dump(rows, many=True), total, query["limit"], query["offset"])


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/payments/create-order", create_order)
    app.router.add_post("/api/payments/verify", verify_payment)
    app.router.add_post("/api/payments/webhook", razorpay_webhook)
    app.router.add_post("/api/payments/payment-link", create_payment_link)
    app.router.add_post("/api/payments/desk", desk_payment)
    app.router.add_get(r"/api/payments/patient/{id:\d+}", patient_payments)

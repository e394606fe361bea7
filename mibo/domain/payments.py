"""Payments: what moves a payment and its appointment, whoever asks.

Razorpay is the authority on money. The browser's checkout signature only proves the payment
happened (PENDING); a payment becomes SUCCESS when a verified webhook, or a worker asking
Razorpay itself, says it was captured for the amount and currency of the stored order. A desk
payment (cash, card, UPI) is SUCCESS when the staff member records it.

Every rule takes its row locks in one order, appointment first and then payment, so that
concurrent events cannot deadlock, and only ever moves state forwards, so that duplicated or
reordered events change nothing. Appointments move only through
mibo.domain.appointments.transition. Nothing here calls Razorpay: the callers (a handler, an
actor) make the call between the transactions of these rules.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from mibo.core import audit, db, listing, outbox, tables
from mibo.core.actor import Actor
from mibo.core.errors import ApiError
from mibo.core.logs import log_event
from mibo.domain import access, appointments, messages, patients, payment_links, refunds, registration_fee
from mibo.domain.appointment_states import BOOKED, CANCELLED, COMPLETED, CONFIRMED

log = logging.getLogger(__name__)

CURRENCY = "INR"
OPEN = ("CREATED", "PENDING")
SETTLED = ("SUCCESS", "REFUNDED")
# A checkout attempt whose order is still being made at Razorpay by another request is waited
# for this long; after it, the maker is presumed dead and the order is looked up by its receipt.
ORDER_CREATION_LEASE_SECONDS = 30

# What happened to a payment; also stored as webhook_events.outcome.
PAID_AND_CONFIRMED = "CONFIRMED"  # paid, and the appointment went BOOKED -> CONFIRMED
PAID = "PAID"  # paid; the appointment was already confirmed (e.g. by hand)
ALREADY_PAID = "ALREADY_PAID"  # a duplicate or late event for a settled payment: nothing changed
FLAGGED = "FLAGGED"  # money that does not add up: recorded for staff, nothing confirmed
FAILED = "FAILED"
LINK_EXPIRED = "LINK_EXPIRED"
UNCHANGED = "UNCHANGED"  # an event that cannot move the payment forwards (failed after success...)

# --- SQL ------------------------------------------------------------------------

PAYMENT_COLUMNS = f"""
p.id, p.patient_id, p.appointment_id, a.centre_id, a.clinician_id, p.provider, p.channel, p.order_id, p.payment_id,
p.payment_link_id, p.payment_link_url, p.amount, p.currency, p.status, p.recorded_by_user_id, p.note,
p.reference, p.failure_reason, p.flag_reason, p.waived_amount, p.waiver_reason, p.paid_at, p.expires_at,
p.created_at, p.updated_at, p.registration_fee, {refunds.REFUND_SUMMARY}
"""

PAYMENT_BY_ID = f"""
SELECT {PAYMENT_COLUMNS} FROM payments p LEFT JOIN appointments a ON a.id = p.appointment_id WHERE p.id = %s
"""

PAYMENT_BY_ORDER_ID = f"""
SELECT {PAYMENT_COLUMNS} FROM payments p LEFT JOIN appointments a ON a.id = p.appointment_id
WHERE p.order_id = %s
"""

PAYMENT_PAGE = f"""
SELECT {PAYMENT_COLUMNS}, page.total
FROM page JOIN payments p ON p.id = page.id LEFT JOIN appointments a ON a.id = p.appointment_id
ORDER BY page.ord
"""

PAYABLE_APPOINTMENT_FOR_UPDATE = """
SELECT a.id, a.status, a.centre_id, a.clinician_id, a.patient_id, a.scheduled_start_at, cp.consultation_fee
FROM appointments a JOIN clinician_profiles cp ON cp.id = a.clinician_id
WHERE a.id = %s
FOR UPDATE OF a
"""

# The open checkout order (or payment link) of an appointment: at most one, by a unique index.
OPEN_ATTEMPT = f"""
SELECT {PAYMENT_COLUMNS},
       p.order_id IS NULL AND p.updated_at < now() - make_interval(secs => {ORDER_CREATION_LEASE_SECONDS})
           AS order_lease_over
FROM payments p JOIN appointments a ON a.id = p.appointment_id
WHERE p.appointment_id = %s AND p.channel = %s AND p.status IN ('CREATED', 'PENDING')
"""

ATTEMPT_BY_ID = f"""
SELECT id, status, order_id,
       order_id IS NULL AND updated_at < now() - make_interval(secs => {ORDER_CREATION_LEASE_SECONDS})
           AS order_lease_over
FROM payments WHERE id = %s
"""

INSERT_ATTEMPT = """
INSERT INTO payments (patient_id, appointment_id, provider, channel, amount, currency, status, recorded_by_user_id,
                      registration_fee)
VALUES (%(patient_id)s, %(appointment_id)s, 'RAZORPAY', %(channel)s, %(amount)s, %(currency)s, 'CREATED',
        %(user_id)s, %(registration_fee)s)
RETURNING id
"""

# Take over the making of an order whose maker's lease ran out (it crashed or timed out).
RENEW_ORDER_LEASE = f"""
UPDATE payments SET updated_at = now()
WHERE id = %s AND order_id IS NULL AND status = 'CREATED'
  AND updated_at < now() - make_interval(secs => {ORDER_CREATION_LEASE_SECONDS})
"""

STORE_ORDER = "UPDATE payments SET order_id = %s WHERE id = %s AND order_id IS NULL"

DROP_ORDERLESS_ATTEMPT = "DELETE FROM payments WHERE id = %s AND order_id IS NULL AND status = 'CREATED'"

ORDER_OF_PAYMENT = "SELECT order_id FROM payments WHERE id = %s"

INSERT_DESK_PAYMENT = """
INSERT INTO payments (patient_id, appointment_id, provider, channel, amount, currency, status,
                      recorded_by_user_id, note, reference, paid_at, waived_amount, waiver_reason)
VALUES (%(patient_id)s, %(appointment_id)s, %(method)s, 'DESK', %(amount)s, %(currency)s, 'SUCCESS',
        %(user_id)s, %(note)s, %(reference)s, now(), %(waived_amount)s, %(waiver_reason)s)
RETURNING id
"""

# The checkout says the customer paid; the webhook (or reconciliation) will say SUCCESS.
MARK_PENDING = """
UPDATE payments SET status = 'PENDING', payment_id = COALESCE(payment_id, %s), failure_reason = NULL
WHERE id = %s AND status IN ('CREATED', 'FAILED')
"""

PAYMENT_APPOINTMENT_ID = "SELECT appointment_id FROM payments WHERE id = %s"

PAYMENT_STATUS = "SELECT status FROM payments WHERE id = %s"

APPOINTMENT_FOR_UPDATE = appointments.APPOINTMENT_STATE_LOCKED

PAYMENT_FOR_UPDATE = """
SELECT id, patient_id, appointment_id, status, amount, currency, flagged_at, registration_fee
FROM payments WHERE id = %s FOR UPDATE
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

FLAG_PAYMENT = "UPDATE payments SET flag_reason = %s, flagged_at = now() WHERE id = %s"

OTHER_SUCCESSFUL_PAYMENTS = """
SELECT count(*) FROM payments WHERE appointment_id = %s AND id <> %s AND status = 'SUCCESS'
"""

INSERT_WEBHOOK_EVENT = """
INSERT INTO webhook_events (provider, event_id, event_type, payload, signed_key)
VALUES ('RAZORPAY', %s, %s, %s::jsonb, %s)
ON CONFLICT DO NOTHING
RETURNING id
"""


# --- money ------------------------------------------------------------------------------


def to_paise(amount: Decimal) -> int:
    """Rupees (NUMERIC(10,2)) to the integer paise Razorpay counts in."""
    return int((Decimal(amount) * 100).to_integral_value())


def receipt(payment_id: int) -> str:
    """Our reference for a payment at Razorpay (an order's receipt, a link's reference_id)."""
    return f"mibo-payment-{payment_id}"


def online_fee(appointment: dict) -> Decimal:
    fee = appointment["consultation_fee"]
    if fee < 1:  # Razorpay's minimum is INR 1.00
        raise ApiError.unprocessable("The clinician has no consultation fee to pay online", code="NO_FEE_TO_PAY")
    return fee


async def payment(cur, payment_id: int) -> dict[str, Any]:
    row = await db.fetch_one(cur, PAYMENT_BY_ID, (payment_id,))
    if row is None:
        raise ApiError.not_found("payment")
    return row


# --- locks and settlement (webhooks, reconciliation, desk) ------------------------------------


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
        locked = await db.fetch_one(cur, PAYMENT_FOR_UPDATE, (payment_id,))
        if locked["appointment_id"] == appointment_id:
            return locked, appointment
        appointment_id = locked["appointment_id"]


async def flag_payment(cur, payment_id: int, reason: str) -> None:
    await db.execute(cur, FLAG_PAYMENT, (reason, payment_id))
    log_event(log, logging.WARNING, "payment flagged", paymentId=payment_id, reason=reason)


async def refund_unwanted(cur, actor: Actor, payment_id: int, reason: str) -> None:
    """Money kept but not wanted (a second payment, an appointment that is gone): flagged for staff,
    and all of it refunded, like the payments of an appointment cancelled after it was paid."""
    await flag_payment(cur, payment_id, reason)
    await refunds.request_rest(cur, actor, payment_id, reason)


async def confirm_for_payment(cur, actor: Actor, appointment: dict | None, payment_id: int, reason: str,
                              now: dt.datetime) -> str:
    """After a payment succeeded: BOOKED -> CONFIRMED and the confirmation chain, exactly once.

    Money for an appointment that can no longer take it (cancelled, moved) or that was already
    paid is kept as SUCCESS, because it was taken, flagged, and refunded (refund_unwanted).
    Whatever the case, the appointment's other payment links are no longer wanted.
    """
    if appointment is None:
        return PAID
    await payment_links.close_open_links(cur, appointment["id"], payment_id)
    if appointment["status"] == BOOKED:
        await appointments.transition(cur, actor, appointment, CONFIRMED, reason, now)
        return PAID_AND_CONFIRMED
    if appointment["status"] not in (CONFIRMED, COMPLETED):
        await refund_unwanted(cur, actor, payment_id, f"PAID_BUT_APPOINTMENT_{appointment['status']}")
        if appointment["status"] == CANCELLED:  # paid after it was cancelled (an unpaid hold released...)
            await outbox.enqueue(cur, outbox.NOTIFY_APPOINTMENT, appointment["id"], messages.REFUND_DUE,
                                 dedupe_key=f"{outbox.NOTIFY_APPOINTMENT}:{messages.REFUND_DUE}:{payment_id}")
        return FLAGGED
    if await db.fetch_value(cur, OTHER_SUCCESSFUL_PAYMENTS, (appointment["id"], payment_id)):
        await refund_unwanted(cur, actor, payment_id, "DUPLICATE_PAYMENT")
        return FLAGGED
    return PAID


async def mark_paid_and_confirm(cur, actor: Actor, payment_id: int, razorpay_payment_id: str | None,
                                amount_paise, currency, reason: str) -> str:
    """Razorpay says money was captured for this payment: SUCCESS, then confirm the appointment.

    The one path for the webhook actor and reconciliation. Captured money that does not match
    the stored order (amount or currency) is flagged and confirms nothing.
    """
    locked, appointment = await lock_payment(cur, payment_id)
    if locked["status"] in SETTLED:
        return ALREADY_PAID
    expected = to_paise(locked["amount"])
    if amount_paise != expected or currency != locked["currency"]:
        await flag_payment(cur, payment_id, f"AMOUNT_MISMATCH: order {expected} {locked['currency']},"
                                            f" captured {amount_paise} {currency}")
        return FLAGGED
    fee_once = await registration_fee.settle_once(cur, locked)
    await db.execute(cur, MARK_SUCCESS, (razorpay_payment_id, payment_id))
    await audit.record(cur, actor, "payment.captured", "payment", payment_id,
                       appointment["centre_id"] if appointment else None, {"reason": reason})
    outcome = await confirm_for_payment(cur, actor, appointment, payment_id, reason, appointments.utc_now())
    if not fee_once and outcome != FLAGGED:
        # The fee was settled by another payment a moment before: this one gives the fee back.
        await flag_payment(cur, payment_id, f"REGISTRATION_FEE_PAID_TWICE: refund {locked['registration_fee']}")
        await refunds.request(cur, actor, payment_id, to_paise(locked["registration_fee"]),
                              "The registration fee was already paid")
        return FLAGGED
    return outcome


async def mark_failed(cur, payment_id: int, reason: str) -> str:
    """A failed attempt. Never undoes a success; a later capture can still succeed."""
    await lock_payment(cur, payment_id)
    return FAILED if await db.execute(cur, MARK_FAILED, (reason[:500], payment_id)) else UNCHANGED


async def expire_payment_link(cur, actor: Actor, payment_id: int) -> str:
    """The link expired unpaid: the payment FAILED and a still-unpaid appointment CANCELLED (slot freed)."""
    _, appointment = await lock_payment(cur, payment_id)
    if not await db.execute(cur, MARK_FAILED, ("Payment link expired", payment_id)):
        return UNCHANGED
    if appointment is not None and appointment["status"] == BOOKED:
        await appointments.transition(cur, actor, appointment, CANCELLED, "Payment link expired unpaid",
                                      appointments.utc_now())
    return LINK_EXPIRED


# --- what staff and patients ask for ------------------------------------------------------


async def payable_appointment(cur, actor: Actor, appointment_id: int) -> dict:
    """Lock an appointment the actor may see that is still waiting to be paid."""
    appointment = await db.fetch_one(cur, PAYABLE_APPOINTMENT_FOR_UPDATE, (appointment_id,))
    if appointment is None:
        raise ApiError.not_found("appointment", "appointmentId")
    appointments.check_can_view(actor, appointment)
    if appointment["status"] == CONFIRMED:
        raise ApiError.conflict("The appointment is already paid and confirmed", code="ALREADY_CONFIRMED")
    if appointment["status"] != BOOKED:
        raise ApiError.conflict(f"A {appointment['status'].lower()} appointment cannot be paid for",
                                {"status": appointment["status"]}, code="APPOINTMENT_NOT_PAYABLE")
    return appointment


async def checkout_attempt(cur, actor: Actor, appointment_id: int, registration_fee_rupees: int = 0) -> dict:
    """The appointment's open checkout payment, made now if there is none.

    A patient's own checkout on the website carries the registration fee (`registration_fee_rupees`)
    until they have paid it once (mibo.domain.registration_fee).

    Its `order_id` is None while the order is still to be made at Razorpay: the caller makes it
    (outside this transaction) when `needs_order(attempt)`, and stores it with `store_order`.
    """
    appointment = await payable_appointment(cur, actor, appointment_id)
    attempt = await db.fetch_one(cur, OPEN_ATTEMPT, (appointment["id"], "CHECKOUT"))
    if attempt is None:
        fee = await registration_fee.due_with_order(cur, actor, appointment["patient_id"], registration_fee_rupees)
        payment_id = await db.fetch_value(cur, INSERT_ATTEMPT, {
            "patient_id": appointment["patient_id"], "appointment_id": appointment["id"], "channel": "CHECKOUT",
            "amount": online_fee(appointment) + fee, "currency": CURRENCY, "user_id": actor.user_id,
            "registration_fee": fee,
        })
        await audit.record(cur, actor, "payment.order_requested", "payment", payment_id, appointment["centre_id"])
        attempt = {**await db.fetch_one(cur, OPEN_ATTEMPT, (appointment["id"], "CHECKOUT")), "mine": True}
    return attempt


async def order_attempt(cur, payment_id: int) -> dict:
    """A checkout attempt as it is now (to wait for an order another request is making)."""
    row = await db.fetch_one(cur, ATTEMPT_BY_ID, (payment_id,))
    if row is None or row["status"] not in OPEN:
        raise ApiError.conflict("The payment was closed while its order was being made; try again",
                                code="PAYMENT_CLOSED")
    return row


async def take_over_order(cur, payment_id: int) -> bool:
    """Claim the making of an order whose maker's lease ran out; False if someone else has it."""
    return bool(await db.execute(cur, RENEW_ORDER_LEASE, (payment_id,)))


async def store_order(cur, payment_id: int, order_id: str) -> str:
    """Keep the first order made for an attempt; returns the order that stands."""
    await db.execute(cur, STORE_ORDER, (order_id, payment_id))
    return await db.fetch_value(cur, ORDER_OF_PAYMENT, (payment_id,))


async def order_not_made(cur, payment_id: int) -> None:
    """Razorpay refused or did not answer: drop the attempt (it holds no money and no order of
    ours), so that the next request starts afresh."""
    await db.execute(cur, DROP_ORDERLESS_ATTEMPT, (payment_id,))


async def paid_at_checkout(cur, actor: Actor, order_id: str, razorpay_payment_id: str,
                           appointment_id: int | None = None) -> tuple[int, str]:
    """The browser's checkout says the order was paid (signature already checked): PENDING.

    Returns (payment id, status now). A worker is asked to settle it with Razorpay at once.
    """
    row = await db.fetch_one(cur, PAYMENT_BY_ORDER_ID, (order_id,))
    if row is None or (appointment_id is not None and row["appointment_id"] != appointment_id):
        raise ApiError.not_found("payment", "razorpayOrderId")
    if row["appointment_id"] is not None:
        appointments.check_can_view(actor, row)
    elif not actor.chain_wide:  # a payment of no appointment belongs to no centre
        raise ApiError.not_found("payment", "razorpayOrderId")
    await lock_payment(cur, row["id"])
    if await db.execute(cur, MARK_PENDING, (razorpay_payment_id, row["id"])):
        await outbox.enqueue(cur, outbox.RECONCILE_PAYMENT, row["id"],
                             dedupe_key=f"{outbox.RECONCILE_PAYMENT}:{row['id']}:{razorpay_payment_id}")
    return row["id"], await db.fetch_value(cur, PAYMENT_STATUS, (row["id"],))


async def store_webhook_event(cur, event_id: str, event_type: str, raw: str, signed_key: str) -> int | None:
    """Keep a verified webhook event once (by its header id and by what its signature covers) and
    queue its processing; None for a duplicate."""
    webhook_event_id = await db.fetch_value(cur, INSERT_WEBHOOK_EVENT, (event_id, event_type, raw, signed_key))
    if webhook_event_id is not None:
        await outbox.enqueue(cur, outbox.PROCESS_RAZORPAY_EVENT, webhook_event_id,
                             dedupe_key=f"{outbox.PROCESS_RAZORPAY_EVENT}:{webhook_event_id}")
    return webhook_event_id


async def request_payment_link(cur, actor: Actor, appointment_id: int) -> tuple[dict, bool]:
    """The appointment's open payment link, requested now if there is none; (payment, made now)."""
    appointment = await payable_appointment(cur, actor, appointment_id)
    existing = await db.fetch_one(cur, OPEN_ATTEMPT, (appointment["id"], "PAYMENT_LINK"))
    if existing is not None:
        return existing, False
    payment_id = await db.fetch_value(cur, INSERT_ATTEMPT, {
        "patient_id": appointment["patient_id"], "appointment_id": appointment["id"], "channel": "PAYMENT_LINK",
        "amount": online_fee(appointment), "currency": CURRENCY, "user_id": actor.user_id, "registration_fee": 0,
    })
    # The worker makes the link at Razorpay and sends it over WhatsApp.
    await outbox.enqueue(cur, outbox.CREATE_PAYMENT_LINK, payment_id,
                         dedupe_key=f"{outbox.CREATE_PAYMENT_LINK}:{payment_id}")
    await audit.record(cur, actor, "payment.link_requested", "payment", payment_id, appointment["centre_id"])
    return await payment(cur, payment_id), True


def desk_amount(actor: Actor, due: Decimal, amount: Decimal | None, waiver_reason: str | None) -> Decimal | None:
    """What a desk payment waives of what is due (None: nothing), or why it cannot be taken.

    Money taken at the desk confirms the appointment, so it must be what is due. Less is a
    waiver (a discount, a hardship case): only a role allowed to waive records one, with a
    reason. More is never taken.
    """
    if amount is None or amount == due:
        if waiver_reason is not None:
            raise ApiError.validation({"waiverReason": ["Nothing is waived when the amount due is paid."]})
        return None
    if amount > due:
        raise ApiError.unprocessable(f"The amount is more than the {due} due", {"amount": [f"At most {due}."]},
                                     code="AMOUNT_NOT_DUE")
    if not access.can(actor, "payments.waive"):
        raise ApiError.unprocessable(f"The amount must be the {due} due; a manager can waive the rest",
                                     {"amount": [f"Must be {due}."]}, code="AMOUNT_NOT_DUE")
    if waiver_reason is None:
        raise ApiError.validation({"waiverReason": ["Say why the rest of what is due is waived."]})
    return due - amount


async def record_desk_payment(cur, actor: Actor, appointment_id: int, *, method: str, amount: Decimal | None,
                              note: str | None, reference: str | None, now: dt.datetime,
                              waiver_reason: str | None = None) -> int:
    """Money taken at the desk (cash, card, UPI): SUCCESS at once, and the appointment confirmed.

    The amount is the clinician's fee unless given; less than that is a waiver (see desk_amount).
    """
    appointment = await payable_appointment(cur, actor, appointment_id)
    due = appointment["consultation_fee"]
    waived = desk_amount(actor, due, amount, waiver_reason)
    paid = due if amount is None else amount
    payment_id = await db.fetch_value(cur, INSERT_DESK_PAYMENT, {
        "patient_id": appointment["patient_id"], "appointment_id": appointment["id"], "method": method,
        "amount": paid, "currency": CURRENCY, "user_id": actor.user_id, "note": note, "reference": reference,
        "waived_amount": waived, "waiver_reason": waiver_reason if waived else None,
    })
    await confirm_for_payment(cur, actor, appointment, payment_id, f"Paid at the desk ({method})", now)
    details = {"method": method, "amount": paid, "due": due}
    if waived:
        details["waiver"] = {"amount": waived, "reason": waiver_reason}
    await audit.record(cur, actor, "payment.desk_recorded", "payment", payment_id, appointment["centre_id"], details)
    return payment_id


async def payments_of_patient(cur, actor: Actor, patient_id: int, limit: int, offset: int):
    """A patient's payments the actor may see (the patient must be one they see; then their
    appointments' scope); returns (rows, total)."""
    await patients.check_visible(cur, actor, patient_id)
    p, a = tables.payments, tables.appointments
    where = [p.c.patient_id == patient_id]
    scope = appointments.patient_appointment_scope(actor)
    if scope["centre_ids"] is not None:
        where.append(p.c.appointment_id.in_(select(a.c.id).where(a.c.centre_id.in_(scope["centre_ids"]))))
    if scope["clinician_id"] is not None:
        where.append(p.c.appointment_id.in_(select(a.c.id).where(a.c.clinician_id == scope["clinician_id"])))
    page = listing.page_of_ids(p.c.id, where, (p.c.created_at.desc(), p.c.id.desc()), limit, offset)
    rows, total = await listing.fetch_page(cur, page, PAYMENT_PAGE, offset)
    await audit.record(cur, actor, "payments.read", "patient", patient_id)
    return rows, total

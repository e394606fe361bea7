"""Payment actors: webhook events, payment links, and reconciliation with Razorpay.

Each actor is one step, keyed in the database, and safe to run twice:
- process_razorpay_event: a verified, stored webhook event (webhook_events.processed_at marks it done);
- create_payment_link: the link for a payments row (reference_id = the row, so Razorpay makes one)
  and its WhatsApp message (notification_logs idempotency key);
- reconcile_payment: ask Razorpay about an open payment the webhook did not settle (queued after
  checkout verify, and by the scheduler's payments sweep for every payment left open too long);
  a checkout attempt whose order id was never stored is first looked up by its receipt;
- cancel_payment_link: close a link whose appointment was paid another way or cancelled, at Razorpay
  first and then its payments row (FAILED), so that the patient cannot pay it twice.
All money decisions go through the rules of mibo.domain.payments (mark_paid_and_confirm and friends),
so a webhook, a reconciliation and a retry of either reach the same state by the same path.

The work functions take the pool and settings, so tests run them against the test database and
the sandbox; the actors pass the worker's own (jobs.context.settings()).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from jobs import context
from jobs.actors import refunds as refund_jobs
from jobs.broker import actor
from jobs.options import MINUTE, SECOND, options
from mibo.core import db, outbox
from mibo.core.actor import WORKER, Actor
from mibo.core.config import Settings
from mibo.core.logs import log_event
from mibo.domain import notifications, patient_notifications
from mibo.domain import payments as rules
from mibo.domain.appointments import PEOPLE_JOINS
from mibo.domain.messages import local_when, rupees
from mibo.providers.errors import ProviderError
from mibo.providers.razorpay_client import RazorpayClient

log = logging.getLogger(__name__)

PAID_EVENTS = ("payment.captured", "order.paid")
LINK_CLOSED_EVENTS = ("payment_link.expired", "payment_link.cancelled")
PAYMENT_LINK_KIND = "PAYMENT_LINK"
PAYMENT_LINK_TEMPLATE = "mibo_payment_link"
UNMATCHED = "UNMATCHED"  # an event about an order or link that is not ours (or not stored)
IGNORED = "IGNORED"  # an event type we do not act on
LINK_PAID = "LINK_PAID"  # a link to cancel was paid first: the paid event or reconciliation settles it
CLOSED = "CLOSED"  # the payment was closed while Razorpay made its link: the link is cancelled unsent

# --- SQL ------------------------------------------------------------------------

WEBHOOK_EVENT_FOR_UPDATE = """
SELECT id, event_type, payload, processed_at FROM webhook_events WHERE id = %s FOR UPDATE
"""

FINISH_WEBHOOK_EVENT = """
UPDATE webhook_events SET processed_at = now(), outcome = %s, matched_payment_id = %s, matched_refund_id = %s
WHERE id = %s
"""

PAYMENT_ID_BY_ORDER_ID = "SELECT id FROM payments WHERE order_id = %s"

PAYMENT_ID_BY_LINK_ID = "SELECT id FROM payments WHERE payment_link_id = %s"

LINK_PAYMENT_WITH_CONTEXT = f"""
SELECT p.id, p.patient_id, p.status, p.amount, p.currency, p.payment_link_id,
       a.id AS appointment_id, a.status AS appointment_status, a.scheduled_start_at,
       c.name AS centre_name, c.timezone,
       pu.id AS patient_user_id, pu.full_name AS patient_name, pu.phone AS patient_phone,
       cu.full_name AS clinician_name
FROM payments p
JOIN appointments a ON a.id = p.appointment_id {PEOPLE_JOINS}
WHERE p.id = %s AND p.channel = 'PAYMENT_LINK'
"""

STORE_PAYMENT_LINK = """
UPDATE payments SET payment_link_id = %s, payment_link_url = %s, expires_at = %s
WHERE id = %s AND payment_link_id IS NULL AND status = 'CREATED'
"""

PAYMENT_LINK_ID = "SELECT payment_link_id FROM payments WHERE id = %s"

LINK_TO_CANCEL = """
SELECT p.status, p.payment_link_id, a.status AS appointment_status
FROM payments p JOIN appointments a ON a.id = p.appointment_id
WHERE p.id = %s AND p.channel = 'PAYMENT_LINK'
"""

# No link made yet: nothing to cancel at Razorpay. Exclusive with STORE_PAYMENT_LINK (both need
# payment_link_id NULL and the payment open), so either the link is stored, and then cancelled,
# or the payment is closed first and make_payment_link cancels the link it made (CLOSED).
FAIL_UNMADE_LINK = """
UPDATE payments SET status = 'FAILED', failure_reason = %s
WHERE id = %s AND payment_link_id IS NULL AND status IN ('CREATED', 'PENDING')
"""

OPEN_PAYMENT = """
SELECT id, channel, status, order_id, payment_link_id, flagged_at,
       created_at < now() - make_interval(mins => %s) AS order_expired
FROM payments WHERE id = %s
"""



# --- webhook events -------------------------------------------------------------


def _entity(payload: dict, name: str) -> dict:
    """payload.<name>.entity of a Razorpay event, or {} when the event does not carry it."""
    container = (payload.get("payload") or {}).get(name) if isinstance(payload, dict) else None
    entity = container.get("entity") if isinstance(container, dict) else None
    return entity if isinstance(entity, dict) else {}


async def apply_razorpay_event(cur, actor: Actor, event_type: str,
                               payload: dict) -> tuple[str, int | None, int | None]:
    """Apply one event to the payment (or refund) it is about; returns (outcome, payments.id or
    None, refunds.id or None)."""
    if event_type in refund_jobs.EVENT_TARGETS:
        return await refund_jobs.apply_refund_event(cur, event_type, _entity(payload, "refund"))
    payment = _entity(payload, "payment")
    link = _entity(payload, "payment_link")
    if event_type in PAID_EVENTS or event_type == "payment.failed":
        order_id = payment.get("order_id") or _entity(payload, "order").get("id")
        payment_id = order_id and await db.fetch_value(cur, PAYMENT_ID_BY_ORDER_ID, (str(order_id),))
    elif event_type == "payment_link.paid" or event_type in LINK_CLOSED_EVENTS:
        payment_id = link.get("id") and await db.fetch_value(cur, PAYMENT_ID_BY_LINK_ID, (str(link["id"]),))
    else:
        return IGNORED, None, None
    if not payment_id:
        return UNMATCHED, None, None
    if event_type in PAID_EVENTS:
        outcome = await rules.mark_paid_and_confirm(cur, actor, payment_id, payment.get("id"), payment.get("amount"),
                                                    payment.get("currency"), "Payment received (Razorpay)")
    elif event_type == "payment_link.paid":
        # The payment entity is the money; the link's own amount_paid says the same when it is absent.
        amount = payment.get("amount", link.get("amount_paid"))
        currency = payment.get("currency", link.get("currency"))
        outcome = await rules.mark_paid_and_confirm(cur, actor, payment_id, payment.get("id"), amount, currency,
                                                    "Payment link paid (Razorpay)")
    elif event_type == "payment.failed":
        reason = payment.get("error_description") or payment.get("error_code") or "Payment failed"
        outcome = await rules.mark_failed(cur, payment_id, str(reason))
    else:
        outcome = await rules.expire_payment_link(cur, actor, payment_id)
    return outcome, payment_id, None


async def handle_razorpay_event(pool, webhook_event_id: int) -> str | None:
    """Process a stored webhook event once; the event row is locked, so duplicates wait and then skip."""
    async with db.transaction(pool) as cur:
        event = await db.fetch_one(cur, WEBHOOK_EVENT_FOR_UPDATE, (webhook_event_id,))
        if event is None or event["processed_at"] is not None:
            return None
        actor = Actor.system(WORKER, f"{outbox.PROCESS_RAZORPAY_EVENT}:{webhook_event_id}")
        outcome, payment_id, refund_id = await apply_razorpay_event(cur, actor, event["event_type"],
                                                                    event["payload"])
        await db.execute(cur, FINISH_WEBHOOK_EVENT, (outcome, payment_id, refund_id, webhook_event_id))
    log_event(log, logging.INFO, "razorpay event processed", webhookEventId=webhook_event_id,
              event=event["event_type"], outcome=outcome, paymentId=payment_id, refundId=refund_id)
    return outcome


# --- payment links ----------------------------------------------------------------


def link_message(row: dict, short_url: str, expires_at: datetime) -> dict:
    """The notification_logs row carrying the link to the patient, times in the centre's zone."""
    tz = row["timezone"]
    values = {
        "patientName": row["patient_name"],
        "clinicianName": row["clinician_name"],
        "centre": row["centre_name"],
        "when": local_when(row["scheduled_start_at"], tz),
        "amount": rupees(row["amount"]),
        "link": short_url,
        "expiresAt": local_when(expires_at, tz),
    }
    return {
        "idempotency_key": f"payment:{row['id']}:{PAYMENT_LINK_KIND}:patient",
        "appointment_id": row["appointment_id"],
        "user_id": row["patient_user_id"],
        "kind": PAYMENT_LINK_KIND,
        "template_name": PAYMENT_LINK_TEMPLATE,
        "recipient_phone": row["patient_phone"],
        "payload": {"name": row["patient_name"], "bodyValues": values},
    }


async def make_payment_link(pool, settings: Settings, payment_id: int) -> str:
    """Create the Razorpay link for a PAYMENT_LINK payment, store it, and queue its WhatsApp message."""
    row = await db.query_one(pool, LINK_PAYMENT_WITH_CONTEXT, (payment_id,))
    if row is None or row["payment_link_id"] is not None:
        return "DONE"
    if row["status"] != "CREATED" or row["appointment_status"] != "BOOKED":
        return "NOT_PAYABLE"
    expire_by = datetime.now(UTC) + timedelta(minutes=settings.payment_link_expiry_minutes)
    customer = {"name": row["patient_name"], "contact": row["patient_phone"] or ""}
    try:
        link = await context.razorpay_call(
            settings, RazorpayClient.create_payment_link, rules.to_paise(row["amount"]), row["currency"],
            f"Consultation with {row['clinician_name']}", customer, int(expire_by.timestamp()),
            # Razorpay keeps one link per reference_id: a retried create finds the first link.
            rules.receipt(payment_id),
            {"paymentId": str(payment_id), "appointmentId": str(row["appointment_id"])})
    except ProviderError as exc:
        if exc.retryable:
            raise
        # Razorpay refused the request itself: retrying cannot help. Close the attempt so that
        # staff can send a new link (or take the payment at the desk).
        async with db.transaction(pool) as cur:
            await rules.mark_failed(cur, payment_id, f"Payment link refused by Razorpay: {exc.message}")
        log_event(log, logging.WARNING, "payment link refused", paymentId=payment_id, status=exc.status)
        return "REFUSED"
    expires_at = datetime.fromtimestamp(link.get("expire_by") or int(expire_by.timestamp()), UTC)
    outcome = await store_payment_link(pool, row, link, expires_at)
    if outcome == CLOSED:
        await cancel_unsent_link(settings, payment_id, link["id"])
    return outcome


async def store_payment_link(pool, row: dict, link: dict, expires_at: datetime) -> str:
    """Store the link on its payments row and queue its WhatsApp message (and store the patient's
    notification of it), in one transaction."""
    payment_id = row["id"]
    async with db.transaction(pool) as cur:
        if not await db.execute(cur, STORE_PAYMENT_LINK, (link["id"], link.get("short_url"), expires_at,
                                                          payment_id)):
            # Another run stored this same link first (and queued the message with it), or the
            # payment was closed meanwhile (paid another way, appointment cancelled).
            return "DONE" if await db.fetch_value(cur, PAYMENT_LINK_ID, (payment_id,)) == link["id"] else CLOSED
        await patient_notifications.add(cur, **patient_notifications.about_payment_link(
            row, link.get("short_url") or "", expires_at))
        if not row["patient_phone"]:
            log_event(log, logging.WARNING, "payment link without a phone to send it to",
                      paymentId=payment_id)
            return "NO_PHONE"
        notification_id = await notifications.add(cur, **link_message(row, link.get("short_url") or "", expires_at))
        if notification_id is not None:
            await outbox.enqueue_step(cur, outbox.SEND_NOTIFICATION, notification_id)
    log_event(log, logging.INFO, "payment link created", paymentId=payment_id)
    return "SENT"


async def cancel_unsent_link(settings: Settings, payment_id: int, link_id: str) -> None:
    """Cancel a link made for a payment closed meanwhile, rather than leave it open until it expires.

    Best effort, never retried: it was neither stored nor sent (Razorpay notifies nobody: see
    RazorpayClient.create_payment_link), so the patient cannot pay it, and a retry of this actor
    would not find it again (the payment is closed, so it returns NOT_PAYABLE).
    """
    try:
        await context.razorpay_call(settings, RazorpayClient.cancel_payment_link, link_id)
    except ProviderError as exc:
        log_event(log, logging.WARNING, "unsent payment link left to expire", paymentId=payment_id,
                  error=exc.message[:200])


def cancel_reason(appointment_status: str) -> str:
    # Queued only for an appointment just paid (confirm_for_payment) or cancelled.
    why = "appointment cancelled" if appointment_status == "CANCELLED" else "paid another way"
    return f"Payment link cancelled: {why}"


async def close_payment_link(pool, settings: Settings, payment_id: int) -> str:
    """Cancel an open link at Razorpay, then mark its payment FAILED; the appointment is left alone."""
    row = await db.query_one(pool, LINK_TO_CANCEL, (payment_id,))
    if row is None or row["status"] not in rules.OPEN:
        return rules.UNCHANGED
    reason = cancel_reason(row["appointment_status"])
    if row["payment_link_id"] is None:
        async with db.transaction(pool) as cur:
            if await db.execute(cur, FAIL_UNMADE_LINK, (reason, payment_id)):
                log_event(log, logging.INFO, "unmade payment link closed", paymentId=payment_id, reason=reason)
                return rules.FAILED
        # make_payment_link stored its link in the meantime: that is the one to cancel.
        return await close_payment_link(pool, settings, payment_id)
    if not await closed_at_razorpay(settings, row["payment_link_id"]):
        log_event(log, logging.WARNING, "payment link paid before it could be cancelled", paymentId=payment_id)
        return LINK_PAID
    async with db.transaction(pool) as cur:
        outcome = await rules.mark_failed(cur, payment_id, reason)
    log_event(log, logging.INFO, "payment link cancelled", paymentId=payment_id, reason=reason, outcome=outcome)
    return outcome


async def closed_at_razorpay(settings: Settings, link_id: str) -> bool:
    """Cancel the link; False if it was paid first (then Razorpay refuses the cancel)."""
    try:
        await context.razorpay_call(settings, RazorpayClient.cancel_payment_link, link_id)
        return True
    except ProviderError as exc:
        if exc.retryable:
            raise
        status = (await context.razorpay_call(settings, RazorpayClient.fetch_payment_link, link_id)).get("status")
        if status == "paid":
            return False
        # Already closed (an earlier run cancelled it and stopped short of the database, or it
        # expired): nobody can pay it any more. Any other refusal is not ours to paper over.
        if status in ("cancelled", "expired"):
            return True
        raise


# --- reconciliation -------------------------------------------------------------


async def reconcile_one(pool, settings: Settings, payment_id: int) -> str:
    """Settle one open payment with what Razorpay says about its order or link."""
    row = await db.query_one(pool, OPEN_PAYMENT, (settings.payment_order_expiry_minutes, payment_id))
    if row is None or row["status"] not in rules.OPEN or row["flagged_at"] is not None:
        return rules.UNCHANGED
    actor = Actor.system(WORKER, f"{outbox.RECONCILE_PAYMENT}:{payment_id}")
    if row["channel"] == "CHECKOUT" and row["order_id"] is None:
        found = await order_made_for(pool, settings, payment_id)
        if found in (rules.UNCHANGED, rules.FAILED):
            return found
        row = {**row, "order_id": found}
    if row["channel"] == "CHECKOUT":
        attempts = await context.razorpay_call(settings, RazorpayClient.fetch_order_payments, row["order_id"])
        captured = next((p for p in attempts if p.get("status") == "captured"), None)
        async with db.transaction(pool) as cur:
            if captured is not None:
                return await rules.mark_paid_and_confirm(
                    cur, actor, payment_id, captured.get("id"), captured.get("amount"), captured.get("currency"),
                    "Payment found by reconciliation")
            if row["order_expired"]:
                return await rules.mark_failed(cur, payment_id, "Order expired unpaid")
        return rules.UNCHANGED
    if row["channel"] == "PAYMENT_LINK" and row["payment_link_id"]:
        link = await context.razorpay_call(settings, RazorpayClient.fetch_payment_link, row["payment_link_id"])
        async with db.transaction(pool) as cur:
            if link.get("status") == "paid":
                paid = next((p for p in link.get("payments") or [] if p.get("status") == "captured"), {})
                return await rules.mark_paid_and_confirm(
                    cur, actor, payment_id, paid.get("payment_id"), paid.get("amount", link.get("amount_paid")),
                    link.get("currency"), "Payment link paid (found by reconciliation)")
            if link.get("status") in ("expired", "cancelled"):
                return await rules.expire_payment_link(cur, actor, payment_id)
    return rules.UNCHANGED


async def order_made_for(pool, settings: Settings, payment_id: int) -> str:
    """The order of a checkout attempt whose maker never stored it, found at Razorpay by our receipt.

    Returns the order id (now stored), FAILED when Razorpay has no such order (the attempt holds
    no money), or UNCHANGED while a request is still making it (its lease has not run out).
    """
    async with db.transaction(pool) as cur:
        if not await rules.take_over_order(cur, payment_id):
            return rules.UNCHANGED
    order = await context.razorpay_call(settings, RazorpayClient.find_order, rules.receipt(payment_id))
    async with db.transaction(pool) as cur:
        if order is None:
            return await rules.mark_failed(cur, payment_id, "No order was made at Razorpay")
        order_id = await rules.store_order(cur, payment_id, order["id"])
    log_event(log, logging.INFO, "checkout order found by its receipt", paymentId=payment_id)
    return order_id


# --- actors -------------------------------------------------------------------


@actor(outbox.PROCESS_RAZORPAY_EVENT, fields=("webhookEventId",), **options(time_limit=30 * SECOND))
async def process_razorpay_event(webhook_event_id: int) -> None:
    await handle_razorpay_event(await context.pool(), webhook_event_id)


# Two minutes: the client's worst case (3 attempts of a 5 s connect + 15 s read timeout) is just over one.
@actor(outbox.CREATE_PAYMENT_LINK, fields=("paymentId",), **options(time_limit=2 * MINUTE))
async def create_payment_link(payment_id: int) -> None:
    await make_payment_link(await context.pool(), context.settings(), payment_id)


@actor(outbox.RECONCILE_PAYMENT, fields=("paymentId",), **options(time_limit=2 * MINUTE))
async def reconcile_payment(payment_id: int) -> None:
    await reconcile_one(await context.pool(), context.settings(), payment_id)


# Three minutes: at worst two calls (a refused cancel, then the fetch), each with the client's retries.
@actor(outbox.CANCEL_PAYMENT_LINK, fields=("paymentId",), **options(time_limit=3 * MINUTE))
async def cancel_payment_link(payment_id: int) -> None:
    await close_payment_link(await context.pool(), context.settings(), payment_id)


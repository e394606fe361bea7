"""Refund actors: issue a refund at Razorpay once, apply its webhooks, and reconcile it.

- issue_refund: one REQUESTED refund. Razorpay has no idempotency key for refunds, so the actor
  first looks among the payment's refunds at Razorpay for one carrying this refund's receipt
  (a create whose answer was lost may have been made all the same), and creates it only when
  there is none. An attempt is put on record before the call; a retry waits until the previous
  call cannot still be running (twice its whole timeout: NotYet, with the time left), so it
  cannot look too early and refund twice. 5xx and timeouts are retried by Dramatiq with
  back-off (the error kept on the row); a 4xx marks the refund FAILED with Razorpay's reason.
- reconcile_refund: fetch a refund Razorpay accepted but has not settled for a while.
- apply_refund_event: refund.created / processed / failed webhooks (called by the payments
  event actor), forward only.

Whichever of them sees Razorpay take a refund on first tells the patient, once
(queue_patient_refund_notice).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from jobs import context
from jobs.broker import actor
from jobs.options import MINUTE, NotYet, options
from mibo.core import db, outbox
from mibo.core.config import Settings
from mibo.core.logs import log_event
from mibo.domain import messages, notifications, patient_notifications
from mibo.domain import refunds as rules
from mibo.domain.appointments import PEOPLE_JOINS
from mibo.providers.errors import ProviderError
from mibo.providers.razorpay_client import RazorpayClient, call_timeout, refusal_reason

log = logging.getLogger(__name__)

EVENT_TARGETS = {"refund.created": rules.PROCESSING, "refund.processed": rules.PROCESSED,
                 "refund.failed": rules.FAILED}
UNMATCHED = "UNMATCHED"
UNCHANGED = "UNCHANGED"

REFUND_WITH_PEOPLE = f"""
SELECT r.id, r.payment_id, r.amount_paise, p.appointment_id, a.scheduled_start_at, c.name AS centre_name, c.timezone,
       pu.id AS patient_user_id, pu.full_name AS patient_name, pu.phone AS patient_phone,
       cu.full_name AS clinician_name
FROM refunds r
JOIN payments p ON p.id = r.payment_id
JOIN appointments a ON a.id = p.appointment_id {PEOPLE_JOINS}
WHERE r.id = %s
"""

RAZORPAY_REFUND_ID = "SELECT razorpay_refund_id, status FROM refunds WHERE id = %s"


def retry_grace(settings: Settings) -> float:
    """How long after an attempt began another may look at Razorpay: twice a call's whole timeout."""
    return 2 * sum(call_timeout(settings))


async def queue_patient_refund_notice(cur, refund_id: int) -> None:
    """Razorpay took the refund on: tell the patient (WhatsApp and their dashboard), once per refund.

    The one place where the patient hears of a refund; any other channel of the same news
    belongs here too, in this transaction.
    """
    row = await db.fetch_one(cur, REFUND_WITH_PEOPLE, (refund_id,))
    if row is None:
        return
    await patient_notifications.refund_initiated(cur, refund_id, row["payment_id"],
                                                 Decimal(row["amount_paise"]) / 100)
    message = messages.refund_message(row)
    if message is None:
        return
    notification_id = await notifications.add(cur, **message)
    if notification_id is not None:
        await outbox.enqueue_step(cur, outbox.SEND_NOTIFICATION, notification_id)


async def move(cur, refund_id: int, target: str, *, razorpay_refund_id: str | None = None,
               failure_reason: str | None = None) -> str:
    """Move the refund forward and tell the patient if Razorpay took it on just now; its outcome."""
    was = await rules.advance(cur, refund_id, target, razorpay_refund_id=razorpay_refund_id,
                              failure_reason=failure_reason)
    if was is None:
        return UNCHANGED
    if rules.accepted_now(was, target):
        await queue_patient_refund_notice(cur, refund_id)
    return target


def target_of(razorpay_refund: dict) -> str:
    # A refund Razorpay has just made is pending; one found again may be settled already.
    return rules.FROM_RAZORPAY.get(razorpay_refund.get("status"), rules.PROCESSING)


async def issue(pool, settings: Settings, refund_id: int) -> str:
    """Issue one REQUESTED refund at Razorpay (see the module's docstring); its status after."""
    async with db.transaction(pool) as cur:
        verdict, claimed = await rules.claim_attempt(cur, refund_id, retry_grace(settings))
    if verdict == "WAIT":
        raise NotYet(f"refund {refund_id}: the previous attempt may still be running",
                     delay=int(claimed * 1000) + 100)
    if verdict != "GO":
        return verdict
    receipt = rules.receipt(refund_id)
    try:
        made = await context.razorpay_call(settings, RazorpayClient.find_refund, claimed["razorpay_payment_id"],
                                           receipt)
        if made is None:
            made = await context.razorpay_call(
                settings, RazorpayClient.create_refund, claimed["razorpay_payment_id"], claimed["amount_paise"],
                receipt, {"refundId": str(refund_id), "paymentId": str(claimed["payment_id"])})
    except ProviderError as exc:
        async with db.transaction(pool) as cur:
            if exc.retryable:
                await rules.record_error(cur, refund_id, exc.message)
            else:
                outcome = await move(cur, refund_id, rules.FAILED, failure_reason=refusal_reason(exc))
        log_event(log, logging.WARNING, "refund attempt failed", refundId=refund_id, attempt=claimed["attempts"],
                  status=exc.status, retryable=exc.retryable, error=exc.message[:200])
        if exc.retryable:
            raise
        return outcome
    async with db.transaction(pool) as cur:
        outcome = await move(cur, refund_id, target_of(made), razorpay_refund_id=made["id"],
                             failure_reason="Refund failed at Razorpay")
    log_event(log, logging.INFO, "refund issued", refundId=refund_id, attempt=claimed["attempts"],
              razorpayRefundId=made["id"], outcome=outcome)
    return outcome


async def reconcile(pool, settings: Settings, refund_id: int) -> str:
    """Ask Razorpay how a refund it accepted stands, and move ours forward to it."""
    row = await db.query_one(pool, RAZORPAY_REFUND_ID, (refund_id,))
    if row is None or row["status"] != rules.PROCESSING:
        return UNCHANGED
    found = await context.razorpay_call(settings, RazorpayClient.fetch_refund, row["razorpay_refund_id"])
    async with db.transaction(pool) as cur:
        return await move(cur, refund_id, target_of(found), razorpay_refund_id=found.get("id"),
                          failure_reason="Refund failed at Razorpay")


async def apply_refund_event(cur, event_type: str, entity: dict) -> tuple[str, int | None, int | None]:
    """A refund webhook: (outcome, payments.id, refunds.id), forward only."""
    ours = await rules.refund_for_razorpay(cur, entity)
    if ours is None:
        return UNMATCHED, None, None
    outcome = await move(cur, ours["id"], EVENT_TARGETS[event_type],
                         razorpay_refund_id=entity.get("id") if isinstance(entity.get("id"), str) else None,
                         failure_reason="Refund failed at Razorpay")
    return outcome, ours["payment_id"], ours["id"]


# Two minutes: a lookup (with the client's retries) and one create, each within the call timeout.
@actor(outbox.ISSUE_REFUND, fields=("refundId",), **options(max_retries=12, time_limit=2 * MINUTE))
async def issue_refund(refund_id: int) -> None:
    await issue(await context.pool(), context.settings(), refund_id)


@actor(outbox.RECONCILE_REFUND, fields=("refundId",), **options(time_limit=2 * MINUTE))
async def reconcile_refund(refund_id: int) -> None:
    await reconcile(await context.pool(), context.settings(), refund_id)

"""Money paid back: refunds of captured Razorpay payments, asked for and moved forward.

A refund is asked for in the transaction of whatever made the money unwanted (a cancellation, a
duplicate or late payment, a member of staff), with the outbox step that issues it at Razorpay,
so the refund exists exactly when its cause does. REQUESTED → PROCESSING (Razorpay accepted it)
→ PROCESSED | FAILED; every move goes forward only, so a replayed or reordered webhook, a
reconciliation and a retried actor reach the same state. The database refuses live refunds
adding up to more than the payment captured (the trigger refunds_within_payment), however many
requests race; the check here only gives the clearer error first.

Money taken at the desk is handed back at the desk: for it (and for a Razorpay payment whose
Razorpay id we never learnt) an automatic request only marks the payment
(payments.refund_requested_at), as every request does, for staff to settle by hand.

Nothing here calls Razorpay: the refund actor (jobs/actors/refunds.py) does, between these
rules' transactions.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mibo.core import audit, db, outbox
from mibo.core.actor import Actor
from mibo.core.errors import ApiError
from mibo.domain import access, messages

REQUESTED = "REQUESTED"
PROCESSING = "PROCESSING"
PROCESSED = "PROCESSED"
FAILED = "FAILED"

# Razorpay's refund status -> ours.
FROM_RAZORPAY = {"pending": PROCESSING, "processed": PROCESSED, "failed": FAILED}

# --- SQL ------------------------------------------------------------------------

REFUND_COLUMNS = """
r.id, r.payment_id, r.amount_paise, r.amount_paise / 100.0 AS amount, r.currency, r.reason, r.requested_by_user_id,
r.requested_by_surface, r.status, r.razorpay_refund_id, r.attempts, r.last_error, r.failure_reason, r.created_at,
r.processing_at, r.processed_at, r.failed_at, r.updated_at
"""

# Shown with a payment `p` wherever payments are shown: its latest refund's status and what was
# refunded (PROCESSED), in rupees; the processed sum is also what analytics take off revenue.
PROCESSED_PAISE = "(SELECT COALESCE(sum(r.amount_paise), 0) FROM refunds r WHERE r.payment_id = p.id" \
                  " AND r.status = 'PROCESSED')"
REFUND_SUMMARY = f"""
(SELECT r.status FROM refunds r WHERE r.payment_id = p.id ORDER BY r.id DESC LIMIT 1) AS refund_status,
{PROCESSED_PAISE} / 100.0 AS refunded_amount
"""
# What a payment `p` brought in once its processed refunds are taken off, in rupees.
NET_AMOUNT = f"(p.amount - {PROCESSED_PAISE} / 100.0)"

REFUNDS_OF_PAYMENT = f"SELECT {REFUND_COLUMNS} FROM refunds r WHERE r.payment_id = %s ORDER BY r.id"

REFUND_BY_ID = f"SELECT {REFUND_COLUMNS} FROM refunds r WHERE r.id = %s"

# Locked: refunds of one payment are asked for one at a time (the trigger takes the same lock).
PAYMENT_TO_REFUND = """
SELECT p.id, p.provider, p.payment_id AS razorpay_payment_id, p.status, p.amount, p.currency, a.centre_id,
       round(p.amount * 100)::bigint - COALESCE((SELECT sum(r.amount_paise) FROM refunds r
                                                 WHERE r.payment_id = p.id AND r.status <> 'FAILED'), 0)
           AS refundable_paise
FROM payments p LEFT JOIN appointments a ON a.id = p.appointment_id
WHERE p.id = %s
FOR NO KEY UPDATE OF p
"""

PAYMENT_CENTRE = """
SELECT a.centre_id FROM payments p LEFT JOIN appointments a ON a.id = p.appointment_id WHERE p.id = %s
"""

INSERT_REFUND = """
INSERT INTO refunds (payment_id, amount_paise, currency, reason, requested_by_user_id, requested_by_surface)
VALUES (%(payment_id)s, %(amount_paise)s, %(currency)s, %(reason)s, %(user_id)s, %(surface)s)
RETURNING id
"""

MARK_REFUND_REQUESTED = """
UPDATE payments SET refund_requested_at = COALESCE(refund_requested_at, now()) WHERE id = %s
"""

REFUNDS_TOTAL = "SELECT COALESCE(sum(amount_paise), 0) FROM refunds WHERE id = ANY(%s)"

CAPTURED_PAYMENTS_OF_APPOINTMENT = """
SELECT id FROM payments WHERE appointment_id = %s AND status = 'SUCCESS' ORDER BY id
"""

# An attempt at Razorpay, on record before the call. A refund whose last attempt started less
# than `grace` seconds ago is left alone: that call may still be running (see the actor).
CLAIM_ATTEMPT = """
UPDATE refunds r SET attempts = r.attempts + 1, attempt_started_at = now()
FROM payments p
WHERE r.id = %(id)s AND p.id = r.payment_id AND r.status = 'REQUESTED'
  AND (r.attempt_started_at IS NULL OR r.attempt_started_at < now() - make_interval(secs => %(grace)s))
RETURNING r.id, r.payment_id, r.amount_paise, r.currency, r.attempts, p.payment_id AS razorpay_payment_id
"""

# Seconds until the last attempt's grace runs out.
REFUND_STATUS = """
SELECT status, GREATEST(EXTRACT(EPOCH FROM attempt_started_at + make_interval(secs => %s) - now()), 0) AS wait
FROM refunds WHERE id = %s
"""

RECORD_ERROR = "UPDATE refunds SET last_error = %s WHERE id = %s"

REFUND_FOR_UPDATE = "SELECT status, razorpay_refund_id FROM refunds WHERE id = %s FOR UPDATE"

# Where each status may go next: forward only.
FORWARD = {REQUESTED: (PROCESSING, PROCESSED, FAILED), PROCESSING: (PROCESSED, FAILED)}

ADVANCE = """
UPDATE refunds SET status = %(target)s, razorpay_refund_id = COALESCE(razorpay_refund_id, %(razorpay_refund_id)s),
       processing_at = CASE WHEN %(target)s <> 'FAILED' THEN COALESCE(processing_at, now()) ELSE processing_at END,
       processed_at = CASE WHEN %(target)s = 'PROCESSED' THEN now() ELSE processed_at END,
       failed_at = CASE WHEN %(target)s = 'FAILED' THEN now() ELSE failed_at END,
       failure_reason = %(failure_reason)s
WHERE id = %(id)s
"""

# A Razorpay refund is ours by its id, or (an event that came before our actor stored the id)
# by the receipt we gave it.
REFUND_FOR_RAZORPAY = """
SELECT id, payment_id FROM refunds WHERE razorpay_refund_id = %s OR id = %s ORDER BY razorpay_refund_id NULLS LAST
LIMIT 1
"""


# --- reading ------------------------------------------------------------------------


def receipt(refund_id: int) -> str:
    """Our reference for a refund at Razorpay (its receipt, repeated in its notes)."""
    return f"mibo-refund-{refund_id}"


def refund_id_of_receipt(value) -> int | None:
    if isinstance(value, str) and value.startswith("mibo-refund-") and value[12:].isdigit() and len(value) <= 30:
        return int(value[12:])
    return None


async def refund(cur, refund_id: int) -> dict[str, Any]:
    row = await db.fetch_one(cur, REFUND_BY_ID, (refund_id,))
    if row is None:
        raise ApiError.not_found("refund")
    return row


async def check_payment_in_scope(cur, actor: Actor, payment_id: int) -> None:
    """404 for a payment that does not exist, 403 for one of a centre the actor is not assigned to.
    A payment of no appointment belongs to no centre: only chain-wide roles reach it."""
    row = await db.fetch_one(cur, PAYMENT_CENTRE, (payment_id,))
    if row is None:
        raise ApiError.not_found("payment")
    if row["centre_id"] is None and not actor.chain_wide:
        raise ApiError.not_found("payment")
    access.check_centre(actor, row["centre_id"])


async def refunds_of_payment(cur, actor: Actor, payment_id: int) -> list[dict[str, Any]]:
    await check_payment_in_scope(cur, actor, payment_id)
    return await db.fetch_all(cur, REFUNDS_OF_PAYMENT, (payment_id,))


# --- asking -------------------------------------------------------------------------


def refundable_online(payment: dict) -> bool:
    """A captured Razorpay payment whose Razorpay id we hold can be refunded through Razorpay."""
    return payment["status"] == "SUCCESS" and payment["provider"] == "RAZORPAY" and bool(
        payment["razorpay_payment_id"])


async def _insert(cur, actor: Actor, payment: dict, amount_paise: int, reason: str) -> int:
    refund_id = await db.fetch_value(cur, INSERT_REFUND, {
        "payment_id": payment["id"], "amount_paise": amount_paise, "currency": payment["currency"],
        "reason": reason, "user_id": actor.user_id, "surface": actor.surface,
    })
    await db.execute(cur, MARK_REFUND_REQUESTED, (payment["id"],))
    await outbox.enqueue_step(cur, outbox.ISSUE_REFUND, refund_id)
    await audit.record(cur, actor, "refund.requested", "payment", payment["id"], payment["centre_id"],
                       {"refundId": refund_id, "amountPaise": amount_paise, "reason": reason})
    return refund_id


async def request(cur, actor: Actor, payment_id: int, amount_paise: int | None, reason: str) -> dict[str, Any]:
    """Staff refund part (amount_paise) or all (None: what is left) of a payment; the new refund.

    409 unless it is a captured Razorpay payment with that much left to refund.
    """
    await check_payment_in_scope(cur, actor, payment_id)
    payment = await db.fetch_one(cur, PAYMENT_TO_REFUND, (payment_id,))
    if not refundable_online(payment):
        why = ("Money taken at the desk is refunded at the desk" if payment["provider"] != "RAZORPAY"
               else "Only a captured Razorpay payment can be refunded")
        raise ApiError.conflict(why, {"status": payment["status"], "provider": payment["provider"]},
                                code="PAYMENT_NOT_REFUNDABLE")
    left = payment["refundable_paise"]
    amount = left if amount_paise is None else amount_paise
    if amount <= 0 or amount > left:
        raise ApiError.conflict(
            "The refunds would add up to more than the payment",
            {"amount": [f"At most {Decimal(left) / 100:.2f} is left to refund."], "refundable": left / 100},
            code="REFUND_EXCEEDS_PAYMENT")
    return await refund(cur, await _insert(cur, actor, payment, amount, reason))


async def request_rest(cur, actor: Actor, payment_id: int, reason: str) -> int | None:
    """Give back all that is left of a payment nobody wants any more; the refund's id, or None
    when there is nothing left or it is not a Razorpay payment (then it is only marked)."""
    payment = await db.fetch_one(cur, PAYMENT_TO_REFUND, (payment_id,))
    if payment["status"] != "SUCCESS":
        return None
    if not refundable_online(payment):
        await db.execute(cur, MARK_REFUND_REQUESTED, (payment_id,))
        return None
    if payment["refundable_paise"] <= 0:
        return None
    return await _insert(cur, actor, payment, payment["refundable_paise"], reason)


async def request_for_appointment(cur, actor: Actor, appointment_id: int, reason: str) -> list[int]:
    """Money taken for a cancelled appointment goes back, all of it; the refunds asked for."""
    asked = []
    for payment in await db.fetch_all(cur, CAPTURED_PAYMENTS_OF_APPOINTMENT, (appointment_id,)):
        refund_id = await request_rest(cur, actor, payment["id"], reason)
        if refund_id is not None:
            asked.append(refund_id)
    return asked


async def cancellation_refund(cur, refund_ids: list[int]) -> dict[str, Any]:
    """What a cancellation gives back, for its answer: all that was paid through Razorpay (FULL),
    or nothing when nothing was (NONE), and how long the money takes to arrive."""
    paise = await db.fetch_value(cur, REFUNDS_TOTAL, (refund_ids,)) if refund_ids else 0
    return {"policy": "FULL" if paise else "NONE", "amount": paise / 100,
            "status": REQUESTED if paise else None,
            "expected_timeline": messages.REFUND_TIMELINE if paise else None}


# --- moving forward (the refund actor, webhooks, reconciliation) -----------------------------


async def claim_attempt(cur, refund_id: int, grace_seconds: float) -> tuple[str, dict | float | None]:
    """Put an attempt at Razorpay on record: ("GO", the refund to issue); ("WAIT", seconds to wait)
    while the previous attempt may still be running; (its status, None) for a refund past REQUESTED."""
    claimed = await db.fetch_one(cur, CLAIM_ATTEMPT, {"id": refund_id, "grace": grace_seconds})
    if claimed is not None:
        return "GO", claimed
    row = await db.fetch_one(cur, REFUND_STATUS, (grace_seconds, refund_id))
    if row is None:
        return "MISSING", None
    return ("WAIT", float(row["wait"])) if row["status"] == REQUESTED else (row["status"], None)


async def record_error(cur, refund_id: int, error: str) -> None:
    """An attempt that failed in a way a later one may not (5xx, timeout): kept for staff."""
    await db.execute(cur, RECORD_ERROR, (error[:500], refund_id))


async def advance(cur, refund_id: int, target: str, *, razorpay_refund_id: str | None = None,
                  failure_reason: str | None = None) -> str | None:
    """Move a refund forward to `target`; the status it had, or None when that is no move forward
    (or the Razorpay refund is not the one the row already names)."""
    row = await db.fetch_one(cur, REFUND_FOR_UPDATE, (refund_id,))
    if row is None or target not in FORWARD.get(row["status"], ()):
        return None
    if razorpay_refund_id and row["razorpay_refund_id"] not in (None, razorpay_refund_id):
        return None
    await db.execute(cur, ADVANCE, {
        "id": refund_id, "target": target, "razorpay_refund_id": razorpay_refund_id,
        "failure_reason": (failure_reason or "Refund failed")[:500] if target == FAILED else None,
    })
    return row["status"]


def accepted_now(was: str | None, target: str) -> bool:
    """Razorpay has just taken the refund on (the patient is told then, once)."""
    return was == REQUESTED and target != FAILED


async def refund_for_razorpay(cur, entity: dict) -> dict | None:
    """Our refund behind a Razorpay refund entity (by its id, else by our receipt), if any."""
    notes = entity.get("notes") if isinstance(entity.get("notes"), dict) else {}
    ours = refund_id_of_receipt(entity.get("receipt")) or refund_id_of_receipt(notes.get("receipt"))
    razorpay_id = entity.get("id") if isinstance(entity.get("id"), str) else None
    if razorpay_id is None and ours is None:
        return None
    return await db.fetch_one(cur, REFUND_FOR_RAZORPAY, (razorpay_id, ours))

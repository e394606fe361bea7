"""The patient website's checkout: a payment the browser says failed frees its slot at once.

Razorpay Checkout tells the site when a payment fails or the patient closes it; the site reports
it. The order's attempt is then FAILED (a later capture on the same order still settles: see
mibo.domain.payments) and, if the website booking is still unpaid, it is cancelled there and
then, so its slot is offered again without waiting for the unpaid-hold sweep. A report about a
payment already under way or settled (PENDING, SUCCESS) changes nothing.
"""

from __future__ import annotations

import datetime as dt

from mibo.core import audit, db
from mibo.core.actor import Actor
from mibo.core.errors import ApiError
from mibo.domain import appointments, payments
from mibo.domain.appointment_states import BOOKED, CANCELLED

FAIL_CREATED = "UPDATE payments SET status = 'FAILED', failure_reason = %s WHERE id = %s AND status = 'CREATED'"

PAID_OR_UNDER_WAY = "SELECT count(*) FROM payments WHERE appointment_id = %s AND status IN ('PENDING', 'SUCCESS')"


async def checkout_failed(cur, actor: Actor, appointment_id: int, order_id: str, reason: str,
                          now: dt.datetime) -> str:
    """Record a failed checkout of the actor's own appointment; returns the appointment's status."""
    row = await db.fetch_one(cur, payments.PAYMENT_BY_ORDER_ID, (order_id,))
    if row is None or row["appointment_id"] != appointment_id:
        raise ApiError.not_found("payment", "razorpayOrderId")
    appointments.check_can_view(actor, row)
    _, appointment = await payments.lock_payment(cur, row["id"])
    failed = await db.execute(cur, FAIL_CREATED, (reason[:500], row["id"]))
    if failed:
        await audit.record(cur, actor, "payment.checkout_failed", "payment", row["id"], appointment["centre_id"],
                           {"reason": reason[:500]})
    if (appointment["status"] == BOOKED and appointment["source"] == appointments.WEB_PATIENT
            and not await db.fetch_value(cur, PAID_OR_UNDER_WAY, (appointment_id,))):
        await appointments.transition(cur, actor, appointment, CANCELLED, f"Payment failed: {reason}"[:500], now)
    return appointment["status"]

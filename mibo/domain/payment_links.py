"""Closing the payment links of an appointment that no longer wants them.

An appointment just paid another way, or cancelled, must not leave a link the patient could
still pay (charging them twice, or for nothing). Closing happens at Razorpay, so it is queued:
the cancel_payment_link actor cancels the link there and then closes its payments row.
"""

from __future__ import annotations

from mibo.core import db, outbox

# The payment links of an appointment that the patient could still pay, but for the payment being
# settled (if it is one of them). At most one, by the payments_open_attempt_key index.
OTHER_OPEN_LINKS = """
SELECT id FROM payments
WHERE appointment_id = %s AND channel = 'PAYMENT_LINK' AND status IN ('CREATED', 'PENDING')
  AND id IS DISTINCT FROM %s
"""


async def close_open_links(cur, appointment_id: int, paid_payment_id: int | None = None) -> None:
    """Queue the closing of the appointment's open payment links (all but `paid_payment_id`).

    The caller holds the appointment's lock, so no new link can be requested for it meanwhile
    (that needs a BOOKED appointment).
    """
    for link in await db.fetch_all(cur, OTHER_OPEN_LINKS, (appointment_id, paid_payment_id)):
        await outbox.enqueue(cur, outbox.CANCEL_PAYMENT_LINK, link["id"],
                             dedupe_key=f"{outbox.CANCEL_PAYMENT_LINK}:{link['id']}")

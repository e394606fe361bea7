"""Money owed back to a patient: asking for the refund of what an appointment was paid.

Written in the transaction of whatever made the money unwanted (a cancellation, a duplicate or
late payment), so the request exists exactly when its cause does.
"""

from __future__ import annotations

from mibo.core import db

# Money taken for a cancelled appointment goes back.
REQUEST_REFUNDS_OF_APPOINTMENT = """
UPDATE payments SET refund_requested_at = now()
WHERE appointment_id = %s AND status = 'SUCCESS' AND refund_requested_at IS NULL
"""


async def request_for_appointment(cur, appointment_id: int) -> None:
    await db.execute(cur, REQUEST_REFUNDS_OF_APPOINTMENT, (appointment_id,))

"""The one-time registration fee of a patient's first booking paid on the website.

A patient's first checkout order on the website carries the fee (REGISTRATION_FEE, rupees) on
top of the consultation fee; once a payment carrying it succeeds it is never charged again. The
database holds that rule: at most one payment of a patient carries the fee while it is open or
settled (index payments_one_registration_fee_key), so two first bookings paid at the same
moment cannot both charge it. A failed payment leaves the index and the patient unpaid; so does
an open order of an appointment that was cancelled before it was paid, which is closed (FAILED)
when the next order is made. Staff checkouts, payment links and desk payments never carry it.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from mibo.core import db
from mibo.core.actor import Actor
from mibo.core.logs import log_event

log = logging.getLogger(__name__)

# Serialises a patient's order-making (NO KEY: bookings and payments referring to the patient
# are not blocked).
LOCK_PATIENT = "SELECT id FROM patient_profiles WHERE id = %s FOR NO KEY UPDATE"

CLOSE_ORDERS_OF_CANCELLED = """
UPDATE payments p SET status = 'FAILED', failure_reason = 'The appointment was cancelled before it was paid'
FROM appointments a
WHERE a.id = p.appointment_id AND p.patient_id = %s AND p.registration_fee > 0 AND p.status = 'CREATED'
  AND a.status <> 'BOOKED'
"""

# Open or settled payments carrying the fee (what the unique index counts), but the one given.
FEE_CARRIED = """
SELECT count(*) FILTER (WHERE status IN ('SUCCESS', 'REFUNDED')) AS settled, count(*) AS carried
FROM payments
WHERE patient_id = %s AND registration_fee > 0 AND status IN ('CREATED', 'PENDING', 'SUCCESS', 'REFUNDED')
  AND id IS DISTINCT FROM %s
"""

DROP_FEE = "UPDATE payments SET registration_fee = 0 WHERE id = %s"


async def due_with_order(cur, actor: Actor, patient_id: int, fee: int) -> Decimal:
    """The fee a new checkout order of the patient's must carry (0 when paid or carried already);
    call with the order's appointment locked, before inserting the order."""
    if not actor.is_patient or fee <= 0:
        return Decimal(0)
    await db.execute(cur, LOCK_PATIENT, (patient_id,))
    await db.execute(cur, CLOSE_ORDERS_OF_CANCELLED, (patient_id,))
    carried = await db.fetch_one(cur, FEE_CARRIED, (patient_id, None))
    return Decimal(0) if carried["carried"] else Decimal(fee)


async def status(cur, patient_id: int, fee: int) -> dict:
    """Whether the patient has paid the fee, and what the next website order would charge for it."""
    carried = await db.fetch_one(cur, FEE_CARRIED, (patient_id, None))
    return {"has_paid_registration_fee": carried["settled"] > 0,
            "registration_fee": 0 if carried["carried"] or fee <= 0 else fee}


async def settle_once(cur, payment: dict) -> bool:
    """Before a payment carrying the fee succeeds: False when another payment carries it already
    (a late capture of an order closed meanwhile), the fee then being owed back and this payment
    no longer counted as carrying it."""
    if payment["registration_fee"] <= 0:
        return True
    carried = await db.fetch_one(cur, FEE_CARRIED, (payment["patient_id"], payment["id"]))
    if not carried["carried"]:
        return True
    await db.execute(cur, DROP_FEE, (payment["id"],))
    log_event(log, logging.WARNING, "registration fee paid twice", paymentId=payment["id"])
    return False

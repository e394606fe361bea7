"""Payments in any state, as the checkout, the desk or a payment link would have left them."""

from __future__ import annotations

from tests.factories.base import BaseFactory, insert


async def insert_payment_row(cur, *, patient_id: int, appointment_id: int | None, amount, **columns) -> int:
    return await insert(cur, "payments", {"patient_id": patient_id, "appointment_id": appointment_id,
                                          "amount": amount, **columns})


class PaymentFactory(BaseFactory):
    async def payment(self, *, patient_id: int, appointment_id: int | None, amount=1000, **columns) -> int:
        async with self.acquire() as conn, conn.cursor() as cur:
            return await insert_payment_row(cur, patient_id=patient_id, appointment_id=appointment_id,
                                            amount=amount, **columns)

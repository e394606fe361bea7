"""Desk payments take what is due: an amount short of the fee confirms nothing unless a role
allowed to waive (ADMIN, MANAGER, CENTRE_MANAGER) records the waiver with its reason, which is
kept on the payment and in the audit trail."""

from __future__ import annotations

import pytest

from tests.payments_support import FEE, book, value

APPOINTMENT_STATUS = "SELECT status FROM appointments WHERE id = %s"


async def pay(api, user, appointment_id, **fields):
    resp = await api.post("/api/payments/desk", headers=user.headers,
                          json={"appointmentId": appointment_id, "method": "CASH", **fields})
    return resp.status, await resp.json()


async def test_an_amount_other_than_what_is_due_confirms_nothing(api, factory):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    appointment = await book(factory, centre)
    for amount in (0, 0.001, 0.004, FEE - 0.01, FEE + 100):
        status, body = await pay(api, desk, appointment["id"], amount=amount)
        assert (status, body["error"]["code"]) == (422, "AMOUNT_NOT_DUE"), amount
        assert "amount" in body["error"]["details"]
    # Without a role that may waive, a reason changes nothing.
    status, body = await pay(api, desk, appointment["id"], amount=0, waiverReason="Friend of the family")
    assert (status, body["error"]["code"]) == (422, "AMOUNT_NOT_DUE")
    assert await value(factory, "SELECT count(*) FROM payments") == 0
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "BOOKED"
    # What is due, given or left out, is taken.
    status, body = await pay(api, desk, appointment["id"], amount=FEE)
    assert status == 201 and body["data"]["amount"] == FEE and body["data"]["waivedAmount"] is None
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "CONFIRMED"


@pytest.mark.parametrize("role", ["CENTRE_MANAGER", "MANAGER", "ADMIN"])
async def test_a_waiver_is_recorded_with_its_reason_by_a_role_allowed_to_waive(api, factory, role):
    centre = await factory.centre()
    waiver = await factory.staff(role, [centre])
    appointment = await book(factory, centre)
    status, body = await pay(api, waiver, appointment["id"], amount=0)
    assert status == 400 and "waiverReason" in body["error"]["details"]
    status, body = await pay(api, waiver, appointment["id"], amount=500, waiverReason="  ")
    assert status == 400 and "waiverReason" in body["error"]["details"]
    status, body = await pay(api, waiver, appointment["id"], amount=500, waiverReason="Hardship: student")
    assert status == 201, body
    data = body["data"]
    assert (data["amount"], data["waivedAmount"], data["waiverReason"], data["recordedByUserId"]) == (
        500, FEE - 500, "Hardship: student", waiver.id)
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "CONFIRMED"
    details = await value(factory, "SELECT details FROM audit_log WHERE action = 'payment.desk_recorded'")
    assert details["waiver"] == {"amount": "1000.00", "reason": "Hardship: student"}
    assert (details["amount"], details["due"]) == ("500.00", "1500.00")


async def test_nothing_is_waived_when_what_is_due_is_paid(api, factory):
    centre = await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    appointment = await book(factory, centre)
    status, body = await pay(api, manager, appointment["id"], waiverReason="No reason needed")
    assert status == 400 and "waiverReason" in body["error"]["details"]
    assert await value(factory, "SELECT count(*) FROM payments") == 0

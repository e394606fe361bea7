"""Payments with a patient's token: orders with the one-time registration fee, verification,
failed checkouts, unpaid holds released, and money arriving after the release."""

from __future__ import annotations

import asyncio
import datetime as dt

import psycopg2
import pytest

from jobs.actors.maintenance import release_holds
from tests.payments_support import deliver, pay, rows, value
from tests.scheduling_support import at, future_day, make_clinic

FEE = 1000  # the clinician's consultation fee (make_clinic)
REGISTRATION = 100


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


async def site_patient(factory):
    patient = await factory.patient()
    return patient, bearer(await factory.patient_token(patient))


async def book(api, clinic, headers, day, time="10:00") -> int:
    resp = await api.post("/api/booking/create", headers=headers, json={
        "clinicianId": clinic.clinician_id, "centreId": clinic.centre_id, "appointmentDate": day.isoformat(),
        "appointmentTime": time, "appointmentType": "ONLINE"})
    assert resp.status == 201, await resp.text()
    return (await resp.json())["data"]["appointment"]["id"]


async def order(api, headers, appointment_id):
    resp = await api.post("/api/payments/create-order", headers=headers, json={"appointmentId": appointment_id})
    return resp.status, await resp.json()


async def paid_by_webhook(api, sandbox, worker, order_id) -> dict:
    paid = await pay(sandbox, orderId=order_id, outcome="captured")
    status, _ = await deliver(api, paid)
    assert status == 200
    await worker.run()
    return paid


async def fee_status(api, headers) -> dict:
    resp = await api.get("/api/payments/registration-fee-status", headers=headers)
    assert resp.status == 200
    return (await resp.json())["data"]


async def test_the_first_booking_carries_the_fee_and_the_second_does_not(api, factory, sandbox, worker, pay_settings):
    clinic = await make_clinic(factory)
    patient, headers = await site_patient(factory)
    day = future_day(clinic.zone, 5)
    assert await fee_status(api, headers) == {"hasPaidRegistrationFee": False, "registrationFee": REGISTRATION}
    first = await book(api, clinic, headers, day)
    status, body = await order(api, headers, first)
    assert status == 200, body
    data = body["data"]
    assert data["amount"] == (FEE + REGISTRATION) * 100 and data["registrationFee"] == REGISTRATION
    assert data["razorpayKeyId"] == data["keyId"] == pay_settings.razorpay_key_id
    assert sandbox.state.orders[data["orderId"]]["amount"] == (FEE + REGISTRATION) * 100
    await paid_by_webhook(api, sandbox, worker, data["orderId"])
    assert await value(factory, "SELECT status FROM appointments WHERE id = %s", (first,)) == "CONFIRMED"
    assert await fee_status(api, headers) == {"hasPaidRegistrationFee": True, "registrationFee": 0}
    second = await book(api, clinic, headers, day, "11:00")
    _, body = await order(api, headers, second)
    assert body["data"]["amount"] == FEE * 100 and body["data"]["registrationFee"] == 0


async def test_staff_checkouts_never_carry_the_fee(api, factory, sandbox):
    clinic = await make_clinic(factory)
    _, headers = await site_patient(factory)
    appointment_id = await book(api, clinic, headers, future_day(clinic.zone, 5))
    _, body = await order(api, clinic.desk.headers, appointment_id)
    assert body["data"]["amount"] == FEE * 100 and body["data"]["registrationFee"] == 0


async def test_two_first_bookings_paid_at_once_charge_the_fee_once(api, factory, sandbox, worker):
    clinic = await make_clinic(factory)
    _, headers = await site_patient(factory)
    day = future_day(clinic.zone, 5)
    bookings = [await book(api, clinic, headers, day, time) for time in ("10:00", "11:00")]
    orders = await asyncio.gather(*(order(api, headers, appointment_id) for appointment_id in bookings))
    assert [status for status, _ in orders] == [200, 200]
    amounts = sorted(body["data"]["amount"] for _, body in orders)
    assert amounts == [FEE * 100, (FEE + REGISTRATION) * 100]
    paid = await asyncio.gather(*(pay(sandbox, orderId=body["data"]["orderId"], outcome="captured")
                                  for _, body in orders))
    for result in paid:
        assert (await deliver(api, result))[0] == 200
    await worker.run()
    charged = await rows(factory, "SELECT sum(registration_fee), count(*) FROM payments WHERE status = 'SUCCESS'")
    assert charged == [(REGISTRATION, 2)]
    assert await fee_status(api, headers) == {"hasPaidRegistrationFee": True, "registrationFee": 0}


async def test_the_database_refuses_a_second_fee_for_a_patient(api, factory, sandbox):
    clinic = await make_clinic(factory)
    patient, headers = await site_patient(factory)
    appointment_id = await book(api, clinic, headers, future_day(clinic.zone, 5))
    await order(api, headers, appointment_id)
    with pytest.raises(psycopg2.errors.UniqueViolation):
        await factory.fetchone(
            "INSERT INTO payments (patient_id, provider, channel, amount, status, registration_fee)"
            " VALUES (%s, 'RAZORPAY', 'CHECKOUT', 1100, 'SUCCESS', 100) RETURNING id", (patient["id"],))


async def test_a_failed_checkout_frees_the_slot_at_once_and_leaves_the_patient_unpaid(api, factory, sandbox):
    clinic = await make_clinic(factory)
    _, headers = await site_patient(factory)
    day = future_day(clinic.zone, 5)
    appointment_id = await book(api, clinic, headers, day)
    _, body = await order(api, headers, appointment_id)
    resp = await api.post("/api/payments/failure", headers=headers, json={
        "appointmentId": appointment_id, "razorpayOrderId": body["data"]["orderId"],
        "errorCode": "PAYMENT_CANCELLED", "errorDescription": "Payment cancelled by user"})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["data"] == {"appointmentId": appointment_id, "appointmentStatus": "CANCELLED"}
    assert await rows(factory, "SELECT status FROM payments") == [("FAILED",)]
    assert await fee_status(api, headers) == {"hasPaidRegistrationFee": False, "registrationFee": REGISTRATION}
    slots = await api.get(f"/api/booking/available-slots?clinicianId={clinic.clinician_id}"
                          f"&centreId={clinic.centre_id}&date={day.isoformat()}")
    ten = next(s for s in (await slots.json())["data"]["slots"] if s["startTime"] == "10:00")
    assert ten["available"] is True
    # Trying again books the slot anew, and its order carries the fee again.
    again = await book(api, clinic, headers, day)
    _, body = await order(api, headers, again)
    assert body["data"]["amount"] == (FEE + REGISTRATION) * 100


async def test_payments_of_another_patient_are_not_found(api, factory, sandbox):
    clinic = await make_clinic(factory)
    _, mine = await site_patient(factory)
    _, theirs = await site_patient(factory)
    their_booking = await book(api, clinic, theirs, future_day(clinic.zone, 5))
    _, their_order = await order(api, theirs, their_booking)
    status, body = await order(api, mine, their_booking)
    assert status == 404
    failure = await api.post("/api/payments/failure", headers=mine, json={
        "appointmentId": their_booking, "razorpayOrderId": their_order["data"]["orderId"]})
    assert failure.status == 404
    paid = await pay(sandbox, orderId=their_order["data"]["orderId"], outcome="captured")
    checkout = paid["checkout"]
    verify = {"appointmentId": their_booking, "razorpayOrderId": checkout["razorpay_order_id"],
              "razorpayPaymentId": checkout["razorpay_payment_id"],
              "razorpaySignature": checkout["razorpay_signature"]}
    assert (await api.post("/api/payments/verify", headers=mine, json=verify)).status == 404
    wrong = await api.post("/api/payments/verify", headers=theirs, json={**verify, "appointmentId": their_booking + 1})
    assert wrong.status == 404
    ok = await api.post("/api/payments/verify", headers=theirs, json=verify)
    assert ok.status == 200 and (await ok.json())["data"]["status"] == "PENDING"
    assert await value(factory, "SELECT status FROM appointments WHERE id = %s", (their_booking,)) == "BOOKED"


# --- unpaid holds -------------------------------------------------------------------------------


async def age_bookings(factory, minutes: int) -> None:
    await factory.fetchone("UPDATE appointments SET created_at = now() - make_interval(mins => %s) RETURNING id",
                           (minutes,))


async def test_an_unpaid_hold_is_released_by_the_periodic_job_and_its_slot_offered_again(api, factory, pool,
                                                                                         pay_settings):
    clinic = await make_clinic(factory)
    _, headers = await site_patient(factory)
    day = future_day(clinic.zone, 5)
    appointment_id = await book(api, clinic, headers, day)
    now = dt.datetime.now(dt.UTC)
    assert await release_holds(pool, pay_settings, now) == []  # still within its 15 minutes
    await age_bookings(factory, 16)
    assert await release_holds(pool, pay_settings, now) == [appointment_id]
    assert await release_holds(pool, pay_settings, now) == []  # run twice: nothing more
    assert await rows(factory, "SELECT status, cancellation_reason FROM appointments") == [
        ("CANCELLED", "Payment not received")]
    assert len(await rows(factory, "SELECT id FROM outbox WHERE actor_name = 'appointment_cancelled'")) == 1
    _, other = await site_patient(factory)
    assert await book(api, clinic, other, day) != appointment_id
    staff_booked = await factory.fetchone(
        "SELECT count(*) FROM appointments WHERE status = 'BOOKED' AND scheduled_start_at = %s",
        (at(day, "10:00", clinic.zone),))
    assert staff_booked[0] == 1


async def test_a_paid_or_paying_booking_is_not_released(api, factory, pool, pay_settings, sandbox):
    clinic = await make_clinic(factory)
    _, headers = await site_patient(factory)
    appointment_id = await book(api, clinic, headers, future_day(clinic.zone, 5))
    _, body = await order(api, headers, appointment_id)
    paid = await pay(sandbox, orderId=body["data"]["orderId"], outcome="captured")
    checkout = paid["checkout"]
    await api.post("/api/payments/verify", headers=headers, json={
        "razorpayOrderId": checkout["razorpay_order_id"], "razorpayPaymentId": checkout["razorpay_payment_id"],
        "razorpaySignature": checkout["razorpay_signature"]})
    await age_bookings(factory, 60)
    assert await release_holds(pool, pay_settings, dt.datetime.now(dt.UTC)) == []


async def test_money_arriving_after_the_release_is_flagged_for_refund_and_the_patient_told(
        api, factory, pool, pay_settings, sandbox, worker):
    clinic = await make_clinic(factory)
    _, headers = await site_patient(factory)
    appointment_id = await book(api, clinic, headers, future_day(clinic.zone, 5))
    _, body = await order(api, headers, appointment_id)
    await age_bookings(factory, 16)
    assert await release_holds(pool, pay_settings, dt.datetime.now(dt.UTC)) == [appointment_id]
    await paid_by_webhook(api, sandbox, worker, body["data"]["orderId"])
    state = await rows(factory, "SELECT status, flag_reason, refund_requested_at IS NOT NULL FROM payments")
    assert state == [("SUCCESS", "PAID_BUT_APPOINTMENT_CANCELLED", True)]
    assert await value(factory, "SELECT status FROM appointments") == "CANCELLED"
    told = await rows(factory, "SELECT args FROM outbox WHERE actor_name = 'notify_appointment'")
    assert told == [([appointment_id, "PAYMENT_REFUND_DUE"],)]


async def test_a_late_capture_of_a_failed_first_order_never_charges_the_fee_twice(api, factory, sandbox, worker):
    clinic = await make_clinic(factory)
    _, headers = await site_patient(factory)
    day = future_day(clinic.zone, 5)
    first = await book(api, clinic, headers, day)
    _, first_order = await order(api, headers, first)
    await api.post("/api/payments/failure", headers=headers, json={
        "appointmentId": first, "razorpayOrderId": first_order["data"]["orderId"]})
    second = await book(api, clinic, headers, day, "11:00")
    _, second_order = await order(api, headers, second)
    assert second_order["data"]["registrationFee"] == REGISTRATION  # the failed one left the patient unpaid
    await paid_by_webhook(api, sandbox, worker, second_order["data"]["orderId"])
    # The patient pays the first, failed order after all: kept, flagged for refund, the fee not counted twice.
    await paid_by_webhook(api, sandbox, worker, first_order["data"]["orderId"])
    state = await rows(factory, "SELECT appointment_id, status, registration_fee, flag_reason FROM payments"
                                " ORDER BY id")
    assert state == [(first, "SUCCESS", 0, "PAID_BUT_APPOINTMENT_CANCELLED"), (second, "SUCCESS", REGISTRATION, None)]

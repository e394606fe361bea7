"""Centre scope where the suite had no test: blocks naming the caller's own centre for another
centre's clinician, reschedules and checkout verification from another centre, and payment actions
on a colleague's appointment."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.payments_support import START, book, checkout_signature, create_order, pay, payments_api
from tests.scheduling_support import at, booking, future_day, make_clinic, rows


async def test_a_block_must_name_a_centre_where_the_clinician_works(client, factory):
    kochi = await make_clinic(factory)
    bangalore = await factory.centre()
    coordinator = await factory.staff("CARE_COORDINATOR", [bangalore])
    until_2999 = {"fromDate": future_day(kochi.zone).isoformat(),
                  "toDate": (future_day(kochi.zone) + dt.timedelta(days=300)).isoformat(),
                  "reason": "Leave", "centreId": bangalore}
    url = f"/api/clinicians/{kochi.clinician_id}/blocks"
    resp = await client.post(url, json=until_2999, headers=coordinator.headers)
    body = await resp.json()
    assert (resp.status, body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert body["error"]["details"] == {"centreId": ["The clinician does not work at this centre."]}
    resp = await client.post(url, json={**until_2999, "centreId": kochi.centre_id}, headers=coordinator.headers)
    assert (resp.status, (await resp.json())["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    assert await rows(factory, "SELECT id FROM clinician_blocks") == []
    # Once the clinician also works at Bangalore, a Bangalore coordinator may block them there.
    await factory.fetchone("INSERT INTO centre_staff_assignments (centre_id, user_id) VALUES (%s, %s) RETURNING id",
                           (bangalore, kochi.clinician.id))
    resp = await client.post(url, json=until_2999, headers=coordinator.headers)
    assert resp.status == 201, await resp.text()


async def test_a_reschedule_by_another_centres_coordinator_is_403_and_changes_nothing(client, factory):
    clinic = await make_clinic(factory)
    other_coordinator = await factory.staff("CARE_COORDINATOR", [await factory.centre()])
    day = future_day(clinic.zone)
    created = await client.post("/api/appointments", json=booking(clinic, at(day, "10:00", clinic.zone)),
                                headers=clinic.desk.headers)
    appointment_id = (await created.json())["data"]["id"]
    before = await rows(factory, "SELECT id, status, scheduled_start_at FROM appointments ORDER BY id")
    history = await rows(factory, "SELECT id FROM appointment_status_history")
    outbox = await rows(factory, "SELECT id FROM outbox")
    resp = await client.put(f"/api/appointments/{appointment_id}", headers=other_coordinator.headers,
                            json={"scheduledStartAt": at(day, "11:00", clinic.zone).isoformat(), "reason": "x"})
    assert (resp.status, (await resp.json())["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    assert await rows(factory, "SELECT id, status, scheduled_start_at FROM appointments ORDER BY id") == before
    assert await rows(factory, "SELECT id FROM appointment_status_history") == history
    assert await rows(factory, "SELECT id FROM outbox") == outbox


@pytest.fixture
async def api(aiohttp_client, sandbox, pool, redis, otp_sender):
    return await payments_api(aiohttp_client, sandbox.settings, pool, redis, otp_sender)


async def test_verify_from_another_centres_desk_is_403_and_changes_nothing(api, factory, sandbox):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    other_desk = await factory.staff("FRONT_DESK", [await factory.centre()])
    appointment = await book(factory, centre)
    status, order = await create_order(api, desk, appointment["id"])
    assert status == 200, order
    checkout = (await pay(sandbox, orderId=order["data"]["orderId"], outcome="captured"))["checkout"]
    body = {"razorpayOrderId": checkout["razorpay_order_id"], "razorpayPaymentId": checkout["razorpay_payment_id"],
            "razorpaySignature": checkout_signature(sandbox.settings.razorpay_key_secret,
                                                    checkout["razorpay_order_id"], checkout["razorpay_payment_id"])}
    resp = await api.post("/api/payments/verify", headers=other_desk.headers, json=body)
    assert (resp.status, (await resp.json())["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    assert await rows(factory, "SELECT status, payment_id FROM payments") == [("CREATED", None)]
    assert await rows(factory, "SELECT id FROM outbox WHERE actor_name = 'reconcile_payment'") == []
    resp = await api.post("/api/payments/verify", headers=desk.headers, json=body)
    assert resp.status == 200 and (await resp.json())["data"]["status"] == "PENDING"


async def test_a_clinician_orders_payment_only_for_their_own_appointments(api, factory, sandbox):
    centre = await factory.centre()
    clinician = await factory.staff("CLINICIAN", [centre])
    colleague = await factory.staff("CLINICIAN", [centre])
    theirs = await book(factory, centre, clinician_id=clinician.clinician_id)
    colleagues = await book(factory, centre, clinician_id=colleague.clinician_id, start=START + dt.timedelta(days=1))
    resp = await api.get(f"/api/appointments/{colleagues['id']}", headers=clinician.headers)
    assert resp.status == 403  # reading it is refused, and so is every payment action on it
    status, body = await create_order(api, clinician, colleagues["id"])
    assert (status, body["error"]["code"]) == (403, "NOT_OWN_APPOINTMENT"), body
    resp = await api.post("/api/payments/payment-link", json={"appointmentId": colleagues["id"]},
                          headers=clinician.headers)
    assert resp.status == 403
    assert await rows(factory, "SELECT id FROM payments") == []
    status, body = await create_order(api, clinician, theirs["id"])
    assert status == 200, body
    assert await rows(factory, "SELECT appointment_id FROM payments") == [(theirs["id"],)]

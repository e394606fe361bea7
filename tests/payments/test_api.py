"""Payments over HTTP against the Razorpay sandbox: orders, checkout verification, webhooks,
desk payments, permissions. The webhook actor's work runs from the outbox rows it queued."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json

import pytest

from jobs.actors.payments import handle_razorpay_event
from tests.payments_support import (
    FEE,
    START,
    book,
    checkout_signature,
    create_order,
    deliver,
    outbox_rows,
    pay,
    post_signed,
    rows,
    value,
)

PAYMENT_STATE = "SELECT status, payment_id, paid_at IS NOT NULL, flag_reason FROM payments WHERE id = %s"
APPOINTMENT_STATUS = "SELECT status FROM appointments WHERE id = %s"
HISTORY = ("SELECT from_status, to_status, changed_by_user_id FROM appointment_status_history"
           " WHERE appointment_id = %s ORDER BY id")


async def ordered(api, factory, sandbox):
    """A centre, a front-desk user there, a booked appointment and its Razorpay order."""
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    appointment = await book(factory, centre)
    status, body = await create_order(api, desk, appointment["id"])
    assert status == 200, body
    return desk, appointment, body["data"]


# --- create-order ---------------------------------------------------------------


async def test_create_order_stores_created_payment_with_the_sandbox_order(api, factory, sandbox):
    desk, appointment, order = await ordered(api, factory, sandbox)
    assert order["orderId"] in sandbox.state.orders
    assert (order["amount"], order["currency"], order["keyId"]) == (
        FEE * 100, "INR", sandbox.settings.razorpay_key_id)
    assert sandbox.state.orders[order["orderId"]]["amount"] == FEE * 100
    stored = await rows(factory, "SELECT id, order_id, status, amount, provider, channel, appointment_id,"
                                 " patient_id, recorded_by_user_id FROM payments")
    assert stored == [(order["paymentId"], order["orderId"], "CREATED", FEE, "RAZORPAY", "CHECKOUT",
                       appointment["id"], appointment["patient"]["id"], desk.id)]


async def test_create_order_is_idempotent_for_an_open_order(api, factory, sandbox):
    desk, appointment, order = await ordered(api, factory, sandbox)
    status, again = await create_order(api, desk, appointment["id"])
    assert status == 200
    assert again["data"] == order
    assert len(sandbox.state.orders) == 1
    assert await value(factory, "SELECT count(*) FROM payments") == 1


async def test_concurrent_create_orders_make_one_order(api, factory, sandbox):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    appointment = await book(factory, centre)
    results = await asyncio.gather(*(create_order(api, desk, appointment["id"]) for _ in range(5)))
    assert {status for status, _ in results} == {200}
    assert len({body["data"]["orderId"] for _, body in results}) == 1
    assert len(sandbox.state.orders) == 1


async def test_create_order_refusals(api, factory, sandbox):
    centre, other = await factory.centre(), await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    elsewhere = await book(factory, other)
    cancelled = await book(factory, centre, status="CANCELLED")
    status, body = await create_order(api, desk, elsewhere["id"])
    assert (status, body["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    status, body = await create_order(api, desk, 999999)
    assert status == 404
    status, body = await create_order(api, desk, cancelled["id"])
    assert (status, body["error"]["code"]) == (409, "APPOINTMENT_NOT_PAYABLE")
    status, body = await create_order(api, desk, "12")
    assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert sandbox.state.orders == {}
    assert await value(factory, "SELECT count(*) FROM payments") == 0


async def test_create_order_when_razorpay_fails_answers_502_and_stores_nothing(api, factory, sandbox):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    appointment = await book(factory, centre)
    await sandbox.fault("razorpay", status=503, count=5)
    status, body = await create_order(api, desk, appointment["id"])
    assert (status, body["error"]["code"]) == (502, "PAYMENT_PROVIDER_ERROR")
    assert await value(factory, "SELECT count(*) FROM payments") == 0


# --- verify ---------------------------------------------------------------------


async def test_verify_with_a_good_signature_marks_pending_and_reconciliation_confirms(api, factory, sandbox,
                                                                                     worker):
    desk, appointment, order = await ordered(api, factory, sandbox)
    paid = await pay(sandbox, orderId=order["orderId"], outcome="captured")
    checkout = paid["checkout"]
    resp = await api.post("/api/payments/verify", headers=desk.headers, json={
        "razorpayOrderId": checkout["razorpay_order_id"],
        "razorpayPaymentId": checkout["razorpay_payment_id"],
        "razorpaySignature": checkout["razorpay_signature"]})
    body = await resp.json()
    assert resp.status == 200, body
    assert body["data"] == {"paymentId": order["paymentId"], "status": "PENDING"}
    assert (await rows(factory, PAYMENT_STATE, (order["paymentId"],)))[0][:2] == (
        "PENDING", paid["payment"]["id"])
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "BOOKED"
    # The worker asks Razorpay at once (no webhook needed) through the shared mark-paid path.
    assert await worker.run() == ["CONFIRMED"]
    assert (await rows(factory, PAYMENT_STATE, (order["paymentId"],)))[0][:3] == (
        "SUCCESS", paid["payment"]["id"], True)
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "CONFIRMED"
    assert len(await outbox_rows(factory, "appointment_confirmed")) == 1


async def test_verify_with_a_bad_signature_is_refused(api, factory, sandbox, pay_settings):
    desk, _, order = await ordered(api, factory, sandbox)
    paid = await pay(sandbox, orderId=order["orderId"], outcome="captured")
    payment_id = paid["payment"]["id"]
    for signature in (
        checkout_signature("not-the-key-secret", order["orderId"], payment_id),
        # Signed with the WEBHOOK secret: the checkout signature uses the KEY secret.
        checkout_signature(pay_settings.razorpay_webhook_secret, order["orderId"], payment_id),
        checkout_signature(pay_settings.razorpay_key_secret, order["orderId"], "pay_someoneelse"),
    ):
        resp = await api.post("/api/payments/verify", headers=desk.headers, json={
            "razorpayOrderId": order["orderId"], "razorpayPaymentId": payment_id,
            "razorpaySignature": signature})
        body = await resp.json()
        assert (resp.status, body["error"]["code"]) == (400, "INVALID_SIGNATURE")
    assert (await rows(factory, PAYMENT_STATE, (order["paymentId"],)))[0][:2] == ("CREATED", None)
    assert await outbox_rows(factory, "reconcile_payment") == []


# --- webhook --------------------------------------------------------------------


async def test_webhook_with_a_bad_signature_is_refused_and_stores_nothing(api, factory, sandbox,
                                                                          pay_settings):
    _, _, order = await ordered(api, factory, sandbox)
    webhook = await pay(sandbox, orderId=order["orderId"], outcome="captured")
    forged = {**webhook["headers"], "X-Razorpay-Signature": checkout_signature("wrong", "a", "b")}
    status, body = await deliver(api, webhook, headers=forged)
    assert (status, body["error"]["code"]) == (400, "INVALID_SIGNATURE")
    # The KEY secret is not the webhook secret.
    key_signed = hmac.new(pay_settings.razorpay_key_secret.encode(), webhook["body"].encode(),
                          hashlib.sha256).hexdigest()
    status, _ = await deliver(api, webhook,
                              headers={**webhook["headers"], "X-Razorpay-Signature": key_signed})
    assert status == 400
    missing = {k: v for k, v in webhook["headers"].items() if k != "X-Razorpay-Signature"}
    status, _ = await deliver(api, webhook, headers=missing)
    assert status == 400
    assert await value(factory, "SELECT count(*) FROM webhook_events") == 0
    assert await outbox_rows(factory, "process_razorpay_event") == []


async def test_webhook_signature_is_checked_over_the_raw_bytes(api, factory, sandbox):
    _, _, order = await ordered(api, factory, sandbox)
    webhook = await pay(sandbox, orderId=order["orderId"], outcome="captured")
    # Same JSON, different whitespace: a verifier that re-serialised the parsed body would accept it.
    respaced = json.dumps(json.loads(webhook["body"]), indent=2).encode()
    assert json.loads(respaced) == json.loads(webhook["body"]) and respaced != webhook["body"].encode()
    status, body = await deliver(api, webhook, body=respaced)
    assert (status, body["error"]["code"]) == (400, "INVALID_SIGNATURE")
    assert await value(factory, "SELECT count(*) FROM webhook_events") == 0
    status, body = await deliver(api, webhook)
    assert (status, body["data"]) == (200, {"received": True, "duplicate": False})
    stored = await rows(factory, "SELECT provider, event_id, event_type FROM webhook_events")
    assert stored == [("RAZORPAY", webhook["eventId"], "payment.captured")]


async def test_the_same_webhook_five_times_confirms_once(api, factory, sandbox, pool, worker):
    _, appointment, order = await ordered(api, factory, sandbox)
    webhook = await pay(sandbox, orderId=order["orderId"], outcome="captured")
    answers = [await deliver(api, webhook) for _ in range(5)]
    assert [status for status, _ in answers] == [200] * 5
    assert [body["data"]["duplicate"] for _, body in answers] == [False, True, True, True, True]
    assert await value(factory, "SELECT count(*) FROM webhook_events") == 1
    assert len(await outbox_rows(factory, "process_razorpay_event")) == 1
    assert await worker.run() == ["CONFIRMED"]
    # A redelivered actor message finds the event processed and does nothing.
    event_id = await value(factory, "SELECT id FROM webhook_events")
    assert await handle_razorpay_event(pool, event_id) is None
    assert (await rows(factory, PAYMENT_STATE, (order["paymentId"],)))[0][:3] == (
        "SUCCESS", webhook["payment"]["id"], True)
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "CONFIRMED"
    assert await rows(factory, HISTORY, (appointment["id"],)) == [("BOOKED", "CONFIRMED", None)]
    confirmations = await outbox_rows(factory, "appointment_confirmed")
    assert [(args, key) for _, args, key in confirmations] == [
        ([appointment["id"]], f"appointment_confirmed:{appointment['id']}")]
    assert await rows(factory, "SELECT outcome, matched_payment_id FROM webhook_events") == [
        ("CONFIRMED", order["paymentId"])]


async def two_attempts(api, factory, sandbox):
    """A failed attempt, then a captured one, on the same order; webhooks not yet delivered."""
    _, appointment, order = await ordered(api, factory, sandbox)
    failed = await pay(sandbox, orderId=order["orderId"], outcome="failed")
    captured = await pay(sandbox, orderId=order["orderId"], outcome="captured")
    return appointment, order, failed, captured


async def assert_confirmed_once(factory, appointment, order, captured):
    assert (await rows(factory, PAYMENT_STATE, (order["paymentId"],)))[0] == (
        "SUCCESS", captured["payment"]["id"], True, None)
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "CONFIRMED"
    assert await rows(factory, HISTORY, (appointment["id"],)) == [("BOOKED", "CONFIRMED", None)]
    assert len(await outbox_rows(factory, "appointment_confirmed")) == 1


async def test_captured_then_failed_stays_success(api, factory, sandbox, worker):
    appointment, order, failed, captured = await two_attempts(api, factory, sandbox)
    await deliver(api, captured)
    await deliver(api, failed)
    assert await worker.run() == ["CONFIRMED", "UNCHANGED"]
    await assert_confirmed_once(factory, appointment, order, captured)


async def test_failed_then_captured_ends_success(api, factory, sandbox, worker):
    appointment, order, failed, captured = await two_attempts(api, factory, sandbox)
    await deliver(api, failed)
    assert await worker.run() == ["FAILED"]
    assert (await rows(factory, PAYMENT_STATE, (order["paymentId"],)))[0][0] == "FAILED"
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "BOOKED"
    await deliver(api, captured)
    await deliver(api, captured)
    assert await worker.run() == ["CONFIRMED"]
    await assert_confirmed_once(factory, appointment, order, captured)


async def test_captured_then_order_paid_confirms_once(api, factory, sandbox, worker, pay_settings):
    _, appointment, order = await ordered(api, factory, sandbox)
    captured = await pay(sandbox, orderId=order["orderId"], outcome="captured")
    await deliver(api, captured)
    # Razorpay's order.paid for the same payment arrives as a separate event.
    order_paid = {"entity": "event", "event": "order.paid", "payload": {
        "payment": {"entity": captured["payment"]},
        "order": {"entity": {"id": order["orderId"], "status": "paid", "amount_paid": FEE * 100}}}}
    status, body = await post_signed(api, pay_settings, order_paid, captured["eventId"] + "x")
    assert (status, body["data"]["duplicate"]) == (200, False)
    assert await worker.run() == ["CONFIRMED", "ALREADY_PAID"]
    await assert_confirmed_once(factory, appointment, order, captured)


async def test_a_signed_event_replayed_under_a_new_event_id_is_a_duplicate(api, factory, sandbox, worker):
    _, appointment, order = await ordered(api, factory, sandbox)
    captured = await pay(sandbox, orderId=order["orderId"], outcome="captured")
    await deliver(api, captured)
    # The header is not signed: whoever holds one signed body can send it with any id.
    for suffix in ("-replay-1", "-replay-2"):
        headers = {**captured["headers"], "X-Razorpay-Event-Id": captured["eventId"] + suffix}
        status, body = await deliver(api, captured, headers=headers)
        assert (status, body["data"]["duplicate"]) == (200, True)
    without_id = {k: v for k, v in captured["headers"].items() if k != "X-Razorpay-Event-Id"}
    status, body = await deliver(api, captured, headers=without_id)
    assert (status, body["data"]["duplicate"]) == (200, True)
    assert await value(factory, "SELECT count(*) FROM webhook_events") == 1
    assert await worker.run() == ["CONFIRMED"]
    await assert_confirmed_once(factory, appointment, order, captured)


async def test_amount_mismatch_is_flagged_not_confirmed(api, factory, sandbox, worker):
    _, appointment, order = await ordered(api, factory, sandbox)
    webhook = await pay(sandbox, orderId=order["orderId"], outcome="captured", amount=100)
    await deliver(api, webhook)
    assert await worker.run() == ["FLAGGED"]
    status, _, paid, flag = (await rows(factory, PAYMENT_STATE, (order["paymentId"],)))[0]
    assert (status, paid) == ("CREATED", False)
    assert flag == f"AMOUNT_MISMATCH: order {FEE * 100} INR, captured 100 INR"
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "BOOKED"
    assert await outbox_rows(factory, "appointment_confirmed") == []
    assert await value(factory, "SELECT outcome FROM webhook_events") == "FLAGGED"


async def test_currency_mismatch_is_flagged_not_confirmed(api, factory, sandbox, worker):
    _, appointment, order = await ordered(api, factory, sandbox)
    webhook = await pay(sandbox, orderId=order["orderId"], outcome="captured", currency="USD")
    await deliver(api, webhook)
    assert await worker.run() == ["FLAGGED"]
    flag = (await rows(factory, PAYMENT_STATE, (order["paymentId"],)))[0][3]
    assert flag.endswith(f"captured {FEE * 100} USD")
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "BOOKED"


async def test_events_for_unknown_orders_and_other_types_are_recorded_and_ignored(api, factory, sandbox,
                                                                                  pay_settings, worker):
    await ordered(api, factory, sandbox)
    not_ours = {"entity": "event", "event": "payment.captured", "payload": {"payment": {"entity": {
        "id": "pay_x", "order_id": "order_not_ours", "amount": 100, "currency": "INR"}}}}
    other_type = {"entity": "event", "event": "settlement.processed", "payload": {}}
    for event_id, event in (("evt_1", not_ours), ("evt_2", other_type)):
        status, _ = await post_signed(api, pay_settings, event, event_id)
        assert status == 200
    assert await worker.run() == ["UNMATCHED", "IGNORED"]
    assert await rows(factory, "SELECT event_id, outcome, processed_at IS NOT NULL FROM webhook_events"
                               " ORDER BY id") == [("evt_1", "UNMATCHED", True), ("evt_2", "IGNORED", True)]
    assert (await rows(factory, "SELECT status FROM payments")) == [("CREATED",)]


async def test_a_signed_body_that_is_not_an_event_is_refused(api, factory, pay_settings):
    for event in ({"payload": {}}, {"event": ""}):
        status, body = await post_signed(api, pay_settings, event, "evt_bad")
        assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR"), event
    status, body = await post_signed(api, pay_settings, [1, 2], "evt_bad")
    assert (status, body["error"]["code"]) == (400, "INVALID_JSON")
    assert await value(factory, "SELECT count(*) FROM webhook_events") == 0


def sign(settings, body: bytes) -> dict:
    return {"Content-Type": "application/json", "X-Razorpay-Event-Id": "evt_hostile",
            "X-Razorpay-Signature": hmac.new(settings.razorpay_webhook_secret.encode(), body,
                                             hashlib.sha256).hexdigest()}


async def test_a_signed_deeply_nested_body_is_a_400(api, factory, pay_settings):
    for body in (b'{"event": "payment.captured", "payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                 b"[" * 50_000):
        resp = await api.post("/api/payments/webhook", data=body, headers=sign(pay_settings, body))
        assert resp.status in (400, 413), await resp.text()
        assert (await resp.json())["error"]["code"] in ("INVALID_JSON", "PAYLOAD_TOO_LARGE")
    body = b'{"event": "payment.captured", "payload": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    resp = await api.post("/api/payments/webhook", data=body, headers=sign(pay_settings, body))
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "INVALID_JSON"
    assert await value(factory, "SELECT count(*) FROM webhook_events") == 0


@pytest.mark.parametrize(("payload", "field"), [
    ([], "payload"), ("captured", "payload"), (None, "payload"), (7, "payload"),
    ({"payment": []}, "payload.payment"), ({"payment": {"entity": "x"}}, "payload.payment"),
    ({"payment": {"entity": {"id": {"$ne": 1}}}}, "payload.payment.entity.id"),
    ({"payment": {"entity": {"id": "pay_1", "amount": "150000"}}}, "payload.payment.entity.amount"),
    ({"payment": {"entity": {"id": "pay_1", "amount": True}}}, "payload.payment.entity.amount"),
    ({"payment_link": {"entity": {"id": "plink_1", "amount_paid": 1.5}}}, "payload.payment_link.entity.amount_paid"),
])
async def test_a_signed_event_the_worker_could_not_read_is_a_400_naming_the_field(api, factory, pay_settings,
                                                                                  payload, field):
    status, body = await post_signed(api, pay_settings, {"event": "payment.captured", "payload": payload}, "evt_x")
    assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert field in body["error"]["details"]
    assert await value(factory, "SELECT count(*) FROM webhook_events") == 0


# --- desk payments ----------------------------------------------------------------


async def test_desk_payment_confirms_with_the_staff_member_recorded(api, factory):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    appointment = await book(factory, centre)
    resp = await api.post("/api/payments/desk", headers=desk.headers, json={
        "appointmentId": appointment["id"], "method": "UPI", "note": "Paid by GPay", "reference": "UPI-0042"})
    body = await resp.json()
    assert resp.status == 201, body
    data = body["data"]
    assert (data["provider"], data["channel"], data["status"], data["amount"], data["recordedByUserId"],
            data["note"], data["reference"]) == (
        "UPI", "DESK", "SUCCESS", FEE, desk.id, "Paid by GPay", "UPI-0042")
    assert data["paidAt"].endswith("+00:00")
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "CONFIRMED"
    assert await rows(factory, HISTORY, (appointment["id"],)) == [("BOOKED", "CONFIRMED", desk.id)]
    assert len(await outbox_rows(factory, "appointment_confirmed")) == 1
    # A second desk payment for the confirmed appointment is refused.
    resp = await api.post("/api/payments/desk", headers=desk.headers, json={
        "appointmentId": appointment["id"], "method": "CASH", "amount": 500})
    body = await resp.json()
    assert (resp.status, body["error"]["code"]) == (409, "ALREADY_CONFIRMED")
    assert await value(factory, "SELECT count(*) FROM payments") == 1


async def test_desk_payment_with_a_discounted_amount_and_bad_input(api, factory):
    centre = await factory.centre()
    coordinator = await factory.staff("CARE_COORDINATOR", [centre])
    appointment = await book(factory, centre)
    for bad in ({"appointmentId": appointment["id"], "method": "CHEQUE"},
                {"appointmentId": appointment["id"], "method": "CASH", "amount": -1},
                {"appointmentId": appointment["id"], "method": "CASH", "amount": "lots"},
                {"method": "CASH"}):
        resp = await api.post("/api/payments/desk", headers=coordinator.headers, json=bad)
        assert resp.status == 400, bad
    # A discount is a waiver: not the coordinator's to give (tests/payments/test_desk.py).
    resp = await api.post("/api/payments/desk", headers=coordinator.headers, json={
        "appointmentId": appointment["id"], "method": "CASH", "amount": 1200.5})
    assert resp.status == 422
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    resp = await api.post("/api/payments/desk", headers=manager.headers, json={
        "appointmentId": appointment["id"], "method": "CASH", "amount": 1200.5, "waiverReason": "Loyalty"})
    assert resp.status == 201
    assert await value(factory, "SELECT amount FROM payments") == 1200.5


async def test_payment_permissions_and_centre_scope(api, factory):
    centre, other = await factory.centre(), await factory.centre()
    appointment = await book(factory, centre)
    clinician = await factory.staff("CLINICIAN", [centre])
    stranger = await factory.staff("FRONT_DESK", [other])
    # CLINICIAN may not record payments nor send links (payments.record).
    for path in ("/api/payments/desk", "/api/payments/payment-link"):
        resp = await api.post(path, headers=clinician.headers, json={"appointmentId": appointment["id"],
                                                                     "method": "CASH"})
        assert (resp.status, (await resp.json())["error"]["code"]) == (403, "FORBIDDEN"), path
    # Another centre's front desk: permitted role, wrong centre.
    resp = await api.post("/api/payments/desk", headers=stranger.headers,
                          json={"appointmentId": appointment["id"], "method": "CASH"})
    assert (resp.status, (await resp.json())["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    resp = await api.post("/api/payments/payment-link", headers=stranger.headers,
                          json={"appointmentId": appointment["id"]})
    assert (resp.status, (await resp.json())["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    resp = await api.post("/api/payments/create-order", json={"appointmentId": appointment["id"]})
    assert resp.status == 401
    assert await value(factory, "SELECT count(*) FROM payments") == 0
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "BOOKED"


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


async def test_patient_payments_are_centre_scoped(api, factory):
    centre, other = await factory.centre(), await factory.centre()
    here_desk = await factory.staff("FRONT_DESK", [centre])
    there_desk = await factory.staff("FRONT_DESK", [other])
    manager = await factory.staff("MANAGER")
    here = await book(factory, centre)
    patient_id = here["patient"]["id"]
    there = await book(factory, other, start=START + dt.timedelta(days=1))
    await factory.fetchone("UPDATE appointments SET patient_id = %s WHERE id = %s RETURNING id",
                           (patient_id, there["id"]))
    for staff, appointment in ((here_desk, here), (there_desk, there)):
        resp = await api.post("/api/payments/desk", headers=staff.headers,
                              json={"appointmentId": appointment["id"], "method": "CARD"})
        assert resp.status == 201
    url = f"/api/payments/patient/{patient_id}"
    resp = await api.get(url, headers=here_desk.headers)
    body = await resp.json()
    assert resp.status == 200
    assert [p["appointmentId"] for p in body["data"]] == [here["id"]]
    assert body["meta"] == {"total": 1, "limit": 50, "offset": 0}
    resp = await api.get(url, headers=manager.headers)
    body = await resp.json()
    assert [p["appointmentId"] for p in body["data"]] == [there["id"], here["id"]]  # newest first
    assert body["data"][0]["centreId"] == other
    resp = await api.get("/api/payments/patient/999999", headers=manager.headers)
    assert resp.status == 404
    resp = await api.get(url + "?limit=1&offset=1", headers=manager.headers)
    body = await resp.json()
    assert ([p["appointmentId"] for p in body["data"]], body["meta"]["total"]) == ([here["id"]], 2)
    # Three reads of the list were audited; the 404 read nothing.
    assert await value(factory, "SELECT count(*) FROM audit_log WHERE action = 'payments.read'") == 3

"""Payment actors' work against the sandbox: payment links (made once, sent once, paid, expired),
reconciliation of open payments, and concurrent processing of events for one payment."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

import pytest

from jobs import sweeps
from jobs.actors import payments as payment_jobs
from mibo.core import db
from mibo.core.actor import WORKER, Actor
from mibo.providers.errors import ProviderError
from tests.jobs_support import wait_for
from tests.payments_support import (
    FEE,
    KOLKATA,
    START,
    PaymentWorker,
    book,
    create_order,
    deliver,
    outbox_rows,
    pay,
    post_signed,
    rows,
    value,
)

WORKER_ACTOR = Actor.system(WORKER, "test")


@pytest.fixture
def pay_settings(sandbox):
    # Reconcile anything open at all (the minimum in production is a minute).
    return sandbox.settings.replace(payment_reconcile_after_minutes=0)


APPOINTMENT_STATUS = "SELECT status FROM appointments WHERE id = %s"


async def link_payment_requested(api, factory):
    """A front-desk user asks for a payment link (the worker has not made it yet)."""
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    appointment = await book(factory, centre)
    resp = await api.post("/api/payments/payment-link", headers=desk.headers,
                          json={"appointmentId": appointment["id"]})
    body = await resp.json()
    assert resp.status == 201, body
    return desk, appointment, body["data"]


async def link_requested(api, factory, worker):
    """A front-desk user asks for a payment link; the worker makes it and queues the WhatsApp."""
    desk, appointment, payment = await link_payment_requested(api, factory)
    assert await worker.run() == ["SENT"]
    return desk, appointment, payment


async def test_payment_link_is_made_once_and_sent_over_whatsapp(api, factory, sandbox, worker, pool,
                                                                pay_settings):
    desk, appointment, payment = await link_requested(api, factory, worker)
    assert (payment["channel"], payment["status"], payment["amount"], payment["recordedByUserId"]) == (
        "PAYMENT_LINK", "CREATED", FEE, desk.id)
    [link] = sandbox.state.links.values()
    assert (link["amount"], link["reference_id"]) == (FEE * 100, f"mibo-payment-{payment['id']}")
    window = dt.timedelta(minutes=pay_settings.payment_link_expiry_minutes)
    assert link["expire_by"] == pytest.approx((dt.datetime.now(dt.UTC) + window).timestamp(), abs=30)
    stored = await rows(factory, "SELECT payment_link_id, payment_link_url, expires_at FROM payments")
    assert stored[0][:2] == (link["id"], link["short_url"])
    assert stored[0][2] == dt.datetime.fromtimestamp(link["expire_by"], dt.UTC)
    [message] = await rows(factory, "SELECT id, idempotency_key, kind, template_name, recipient_phone,"
                                    " payload, appointment_id FROM notification_logs")
    notification_id, key, kind, template, phone, payload, appointment_id = message
    assert (key, kind, template, phone, appointment_id) == (
        f"payment:{payment['id']}:PAYMENT_LINK:patient", "PAYMENT_LINK", "mibo_payment_link",
        appointment["patient"]["phone"], appointment["id"])
    assert payload["name"] == "Ravi Kumar"
    values = payload["bodyValues"]
    # The appointment's time in the centre's zone (Asia/Kolkata), never UTC.
    local = START.astimezone(KOLKATA)
    assert values["when"] == f"{local.day} {local:%B %Y}, 10:00 am"
    assert (values["link"], values["amount"], values["clinicianName"]) == (link["short_url"], "₹1,500.00",
                                                                           "Dr Asha Rao")
    assert [args for _, args, _ in await outbox_rows(factory, "send_notification")] == [[notification_id]]
    # Asking again returns the open link; running the actor again changes nothing.
    resp = await api.post("/api/payments/payment-link", headers=desk.headers,
                          json={"appointmentId": appointment["id"]})
    again = await resp.json()
    assert (resp.status, again["data"]["id"], again["data"]["paymentLinkUrl"]) == (
        200, payment["id"], link["short_url"])
    assert await payment_jobs.make_payment_link(pool, pay_settings, payment["id"]) == "DONE"
    assert len(sandbox.state.links) == 1
    assert await value(factory, "SELECT count(*) FROM notification_logs") == 1
    assert len(await outbox_rows(factory, "create_payment_link")) == 1


async def test_a_retried_link_creation_reuses_the_link_razorpay_already_made(api, factory, sandbox, pool,
                                                                              pay_settings):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    appointment = await book(factory, centre)
    resp = await api.post("/api/payments/payment-link", headers=desk.headers,
                          json={"appointmentId": appointment["id"]})
    payment_id = (await resp.json())["data"]["id"]
    # A first run made the link at Razorpay, then died before storing it.
    client = payment_jobs.RazorpayClient(pay_settings, attempts=1)
    made = await asyncio.to_thread(client.create_payment_link, FEE * 100, "INR", "x",
                                   {"name": "Ravi", "contact": "+919800000000"},
                                   int(dt.datetime.now(dt.UTC).timestamp()) + 3600,
                                   payment_jobs.rules.receipt(payment_id))
    client.close()
    assert await payment_jobs.make_payment_link(pool, pay_settings, payment_id) == "SENT"
    assert len(sandbox.state.links) == 1
    assert await value(factory, "SELECT payment_link_id FROM payments") == made["id"]


async def test_payment_link_paid_confirms_the_appointment(api, factory, sandbox, worker):
    _, appointment, payment = await link_requested(api, factory, worker)
    [link] = sandbox.state.links.values()
    paid = await pay(sandbox, paymentLinkId=link["id"], outcome="captured")
    assert paid["event"] == "payment_link.paid"
    for _ in range(2):
        await deliver(api, paid)
    assert await worker.run() == ["CONFIRMED"]
    assert await rows(factory, "SELECT status, payment_id, paid_at IS NOT NULL FROM payments") == [
        ("SUCCESS", paid["payment"]["id"], True)]
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "CONFIRMED"
    assert len(await outbox_rows(factory, "appointment_confirmed")) == 1


async def test_payment_link_expired_cancels_the_appointment_and_frees_the_slot(api, factory, sandbox, worker):
    _, appointment, payment = await link_requested(api, factory, worker)
    [link] = sandbox.state.links.values()
    status, expired = await sandbox.post("/_sandbox/razorpay/expire-link", {"paymentLinkId": link["id"]})
    assert status == 200
    await deliver(api, expired)
    assert await worker.run() == ["LINK_EXPIRED"]
    assert await rows(factory, "SELECT status, failure_reason FROM payments") == [
        ("FAILED", "Payment link expired")]
    assert await rows(factory, "SELECT status, cancellation_reason FROM appointments WHERE id = %s",
                      (appointment["id"],)) == [("CANCELLED", "Payment link expired unpaid")]
    history = await rows(factory, "SELECT from_status, to_status FROM appointment_status_history"
                                  " WHERE appointment_id = %s", (appointment["id"],))
    assert history == [("BOOKED", "CANCELLED")]
    cancellations = await outbox_rows(factory, "appointment_cancelled")
    assert [args for _, args, _ in cancellations] == [[appointment["id"]]]
    assert await outbox_rows(factory, "appointment_confirmed") == []
    # The slot is free again: the same clinician can be booked at the same time.
    again = await book(factory, appointment["centre_id"], clinician_id=appointment["clinician_id"])
    assert await value(factory, APPOINTMENT_STATUS, (again["id"],)) == "BOOKED"


async def test_a_late_paid_event_after_expiry_is_kept_and_flagged_for_refund(api, factory, sandbox, worker,
                                                                             pool):
    _, appointment, payment = await link_requested(api, factory, worker)
    [link] = sandbox.state.links.values()
    paid = await pay(sandbox, paymentLinkId=link["id"], outcome="captured")
    # The expiry is processed first (events out of order), then the payment turns up.
    async with db.transaction(pool) as cur:
        assert await payment_jobs.rules.expire_payment_link(cur, WORKER_ACTOR, payment["id"]) == "LINK_EXPIRED"
    await deliver(api, paid)
    assert await worker.run() == ["FLAGGED"]
    status, flag, refund = (await rows(factory, "SELECT status, flag_reason, refund_requested_at IS NOT NULL"
                                                " FROM payments"))[0]
    assert (status, flag, refund) == ("SUCCESS", "PAID_BUT_APPOINTMENT_CANCELLED", True)
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "CANCELLED"
    assert await outbox_rows(factory, "appointment_confirmed") == []


async def test_link_request_refusals(api, factory):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    confirmed = await book(factory, centre, status="CONFIRMED")
    free = await book(factory, centre, fee=0, start=START + dt.timedelta(days=4))
    resp = await api.post("/api/payments/payment-link", headers=desk.headers,
                          json={"appointmentId": confirmed["id"]})
    assert (resp.status, (await resp.json())["error"]["code"]) == (409, "ALREADY_CONFIRMED")
    resp = await api.post("/api/payments/payment-link", headers=desk.headers,
                          json={"appointmentId": free["id"]})
    assert (resp.status, (await resp.json())["error"]["code"]) == (422, "NO_FEE_TO_PAY")
    assert await value(factory, "SELECT count(*) FROM payments") == 0


# --- closing links that are no longer wanted -------------------------------------------

PAID_ANOTHER_WAY = "Payment link cancelled: paid another way"
LINK_ROW = "SELECT status, failure_reason FROM payments WHERE id = %s"


async def pay_at_desk(api, desk, appointment_id: int) -> dict:
    resp = await api.post("/api/payments/desk", headers=desk.headers,
                          json={"appointmentId": appointment_id, "method": "CASH"})
    body = await resp.json()
    assert resp.status == 201, body
    return body["data"]


def link_calls(sandbox, link_id: str) -> list[tuple[str, str, int]]:
    """What Razorpay was asked about one link after it was made: (method, path suffix, status)."""
    prefix = f"/razorpay/v1/payment_links/{link_id}"
    return [(r["method"], r["path"].removeprefix(prefix), r["status"]) for r in sandbox.state.requests
            if r["path"].startswith(prefix)]


async def test_a_desk_payment_cancels_the_open_payment_link(api, factory, sandbox, worker, settings):
    desk, appointment, payment = await link_requested(api, factory, worker)
    [link] = sandbox.state.links.values()
    desk_payment = await pay_at_desk(api, desk, appointment["id"])
    assert [args for _, args, _ in await outbox_rows(factory, "cancel_payment_link")] == [[payment["id"]]]
    assert await worker.run() == ["FAILED"]
    assert link_calls(sandbox, link["id"]) == [("POST", "/cancel", 200)]
    assert sandbox.state.links[link["id"]]["status"] == "cancelled"
    assert await rows(factory, LINK_ROW, (payment["id"],)) == [("FAILED", PAID_ANOTHER_WAY)]
    assert await rows(factory, LINK_ROW, (desk_payment["id"],)) == [("SUCCESS", None)]
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "CONFIRMED"
    assert len(await outbox_rows(factory, "appointment_confirmed")) == 1
    # Closing the link sends the patient nothing: the only message is the link's own.
    assert await value(factory, "SELECT count(*) FROM notification_logs") == 1
    assert len(await outbox_rows(factory, "send_notification")) == 1
    # Razorpay then reports the cancellation: nothing moves, the appointment stays confirmed.
    status, _ = await post_signed(api, settings, {
        "event": "payment_link.cancelled",
        "payload": {"payment_link": {"entity": sandbox.state.links[link["id"]]}}}, "evt_link_cancelled")
    assert status == 200
    assert await worker.run() == ["UNCHANGED"]
    assert await rows(factory, LINK_ROW, (payment["id"],)) == [("FAILED", PAID_ANOTHER_WAY)]
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "CONFIRMED"
    assert await outbox_rows(factory, "appointment_cancelled") == []


async def test_cancelling_the_appointment_cancels_its_open_payment_link(api, factory, sandbox, worker):
    desk, appointment, payment = await link_requested(api, factory, worker)
    [link] = sandbox.state.links.values()
    resp = await api.delete(f"/api/appointments/{appointment['id']}", headers=desk.headers,
                            json={"reason": "Patient travelling"})
    assert resp.status == 200, await resp.json()
    assert await worker.run() == ["FAILED"]
    assert link_calls(sandbox, link["id"]) == [("POST", "/cancel", 200)]
    assert await rows(factory, LINK_ROW, (payment["id"],)) == [
        ("FAILED", "Payment link cancelled: appointment cancelled")]
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "CANCELLED"
    assert await value(factory, "SELECT count(*) FROM notification_logs") == 1
    # The patient can no longer pay the link.
    status, refused = await sandbox.post("/_sandbox/razorpay/pay", {"paymentLinkId": link["id"],
                                                                    "outcome": "captured"})
    assert (status, refused) == (409, {"error": "payment link is cancelled"})


async def test_a_link_paid_before_it_could_be_cancelled_is_left_for_the_paid_event(api, factory, sandbox,
                                                                                   worker):
    desk, appointment, payment = await link_requested(api, factory, worker)
    [link] = sandbox.state.links.values()
    paid = await pay(sandbox, paymentLinkId=link["id"], outcome="captured")  # webhook not yet delivered
    await pay_at_desk(api, desk, appointment["id"])
    assert await worker.run() == ["LINK_PAID"]
    assert link_calls(sandbox, link["id"]) == [("POST", "/cancel", 400), ("GET", "", 200)]
    assert await rows(factory, LINK_ROW, (payment["id"],)) == [("CREATED", None)]
    # The paid event settles it: the money is kept, flagged as a second payment to refund.
    await deliver(api, paid)
    assert await worker.run() == ["FLAGGED"]
    assert await rows(factory, "SELECT status, flag_reason, refund_requested_at IS NOT NULL FROM payments"
                               " WHERE id = %s", (payment["id"],)) == [("SUCCESS", "DUPLICATE_PAYMENT", True)]
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "CONFIRMED"
    assert len(await outbox_rows(factory, "appointment_confirmed")) == 1


async def test_cancel_payment_link_run_twice_cancels_once(api, factory, sandbox, worker, pool, pay_settings):
    desk, appointment, payment = await link_requested(api, factory, worker)
    [link] = sandbox.state.links.values()
    await pay_at_desk(api, desk, appointment["id"])
    outcomes = [await payment_jobs.close_payment_link(pool, pay_settings, payment["id"]) for _ in range(2)]
    assert outcomes == ["FAILED", "UNCHANGED"]
    assert link_calls(sandbox, link["id"]) == [("POST", "/cancel", 200)]
    assert await rows(factory, LINK_ROW, (payment["id"],)) == [("FAILED", PAID_ANOTHER_WAY)]


async def test_a_retry_after_razorpay_cancelled_the_link_closes_the_payment(api, factory, sandbox, worker,
                                                                            pool, pay_settings):
    """A first run cancelled the link at Razorpay and died before the database: the retry's cancel
    is refused (already cancelled), and the link, once fetched, is seen closed."""
    desk, appointment, payment = await link_requested(api, factory, worker)
    [link] = sandbox.state.links.values()
    await pay_at_desk(api, desk, appointment["id"])
    client = sandbox.keep(payment_jobs.RazorpayClient(pay_settings, attempts=1))
    await asyncio.to_thread(client.cancel_payment_link, link["id"])
    assert await payment_jobs.close_payment_link(pool, pay_settings, payment["id"]) == "FAILED"
    assert link_calls(sandbox, link["id"]) == [("POST", "/cancel", 200), ("POST", "/cancel", 400),
                                               ("GET", "", 200)]
    assert await rows(factory, LINK_ROW, (payment["id"],)) == [("FAILED", PAID_ANOTHER_WAY)]


async def test_a_link_payment_without_a_link_yet_fails_without_calling_razorpay(api, factory, sandbox, worker):
    desk, appointment, payment = await link_payment_requested(api, factory)
    await pay_at_desk(api, desk, appointment["id"])
    # The link was never made: the create step refuses (the appointment is no longer BOOKED) and
    # the cancel step closes the row, in either order.
    assert await worker.run() == ["NOT_PAYABLE", "FAILED"]
    assert sandbox.state.requests == []
    assert await rows(factory, LINK_ROW, (payment["id"],)) == [("FAILED", PAID_ANOTHER_WAY)]
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "CONFIRMED"
    assert await value(factory, "SELECT count(*) FROM notification_logs") == 0


async def test_a_link_made_while_its_payment_was_closed_is_cancelled_unsent(api, factory, sandbox, pool,
                                                                            pay_settings):
    """The create step read a BOOKED appointment, then the desk took the money and the cancel step
    closed the row while Razorpay was still making the link: that link is cancelled, never sent."""
    desk, appointment, payment = await link_payment_requested(api, factory)
    await sandbox.fault("razorpay", delay=1.0, path="/razorpay/v1/payment_links")
    making = asyncio.create_task(payment_jobs.make_payment_link(pool, pay_settings, payment["id"]))
    await wait_for(lambda: sandbox.state.requests, timeout=5, what="the link requested at Razorpay")
    await pay_at_desk(api, desk, appointment["id"])
    assert await payment_jobs.close_payment_link(pool, pay_settings, payment["id"]) == "FAILED"
    assert await making == "CLOSED"
    [link] = sandbox.state.links.values()
    assert link["status"] == "cancelled"
    assert await rows(factory, "SELECT status, failure_reason, payment_link_id FROM payments WHERE id = %s",
                      (payment["id"],)) == [("FAILED", PAID_ANOTHER_WAY, None)]
    assert await value(factory, "SELECT count(*) FROM notification_logs") == 0


# --- reconciliation -------------------------------------------------------------


async def reconcile_stale(pool, settings, factory) -> Counter:
    """The scheduler's payments sweep, then a worker running the reconciliations it queued."""
    await sweeps.payments(pool, settings)
    outcomes: Counter = Counter()
    for outbox_id, (payment_id,) in await rows(factory, "SELECT id, args FROM outbox WHERE actor_name ="
                                                        " 'reconcile_payment' AND done_at IS NULL ORDER BY id"):
        try:
            outcomes[await payment_jobs.reconcile_one(pool, settings, payment_id)] += 1
        except ProviderError:
            outcomes["ERROR"] += 1  # the step stays open: Dramatiq retries it, then the lease
            continue
        await rows(factory, "UPDATE outbox SET done_at = now() WHERE id = %s RETURNING id", (outbox_id,))
    return outcomes


async def open_order(api, factory):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    appointment = await book(factory, centre)
    status, body = await create_order(api, desk, appointment["id"])
    assert status == 200
    return appointment, body["data"]


async def test_reconciliation_confirms_a_paid_order_whose_webhook_never_came(api, factory, sandbox, pool,
                                                                             pay_settings):
    appointment, order = await open_order(api, factory)
    unpaid_appointment, unpaid = await open_order(api, factory)
    paid = await pay(sandbox, orderId=order["orderId"], outcome="captured")  # webhook not delivered
    outcomes = await reconcile_stale(pool, pay_settings, factory)
    assert outcomes == {"CONFIRMED": 1, "UNCHANGED": 1}
    assert await rows(factory, "SELECT id, status, payment_id FROM payments ORDER BY id") == [
        (order["paymentId"], "SUCCESS", paid["payment"]["id"]), (unpaid["paymentId"], "CREATED", None)]
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "CONFIRMED"
    assert await value(factory, APPOINTMENT_STATUS, (unpaid_appointment["id"],)) == "BOOKED"
    # The webhook arriving late, and a second run, change nothing.
    await deliver(api, paid)
    assert await PaymentWorker(pool, pay_settings, factory).run() == ["ALREADY_PAID"]
    assert (await reconcile_stale(pool, pay_settings, factory)) == {"UNCHANGED": 1}
    assert len(await outbox_rows(factory, "appointment_confirmed")) == 1


async def test_reconciliation_fails_an_expired_unpaid_order_and_leaves_recent_ones(api, factory, pool,
                                                                                   pay_settings):
    _, old = await open_order(api, factory)
    _, recent = await open_order(api, factory)
    await factory.fetchone("UPDATE payments SET created_at = now() - interval '3 hours'"
                           " WHERE id = %s RETURNING id", (old["paymentId"],))
    assert await reconcile_stale(pool, pay_settings, factory) == {"FAILED": 1, "UNCHANGED": 1}
    assert await rows(factory, "SELECT id, status, failure_reason FROM payments ORDER BY id") == [
        (old["paymentId"], "FAILED", "Order expired unpaid"), (recent["paymentId"], "CREATED", None)]
    # Not yet due: with the production default nothing open for less than 15 minutes is checked.
    not_due = pay_settings.replace(payment_reconcile_after_minutes=15)
    assert await reconcile_stale(pool, not_due, factory) == {}


async def test_reconciliation_settles_payment_links_with_razorpay(api, factory, sandbox, worker, pool,
                                                                  pay_settings):
    _, paid_appointment, paid_payment = await link_requested(api, factory, worker)
    _, lapsed_appointment, lapsed_payment = await link_requested(api, factory, worker)
    by_payment = {int(link["notes"]["paymentId"]): link for link in sandbox.state.links.values()}
    await pay(sandbox, paymentLinkId=by_payment[paid_payment["id"]]["id"], outcome="captured")
    status, _ = await sandbox.post("/_sandbox/razorpay/expire-link",
                                   {"paymentLinkId": by_payment[lapsed_payment["id"]]["id"]})
    assert status == 200
    assert await reconcile_stale(pool, pay_settings, factory) == {"CONFIRMED": 1, "LINK_EXPIRED": 1}
    assert await value(factory, APPOINTMENT_STATUS, (paid_appointment["id"],)) == "CONFIRMED"
    assert await value(factory, APPOINTMENT_STATUS, (lapsed_appointment["id"],)) == "CANCELLED"


async def test_reconciliation_survives_an_unreachable_razorpay(api, factory, sandbox, pool, pay_settings):
    """Each payment is its own step: one unreachable order holds up no other, and stays queued."""
    _, unreachable = await open_order(api, factory)
    appointment, order = await open_order(api, factory)
    await pay(sandbox, orderId=order["orderId"], outcome="captured")
    await sandbox.fault("razorpay", status=500, count=3, path=f"/razorpay/v1/orders/{unreachable['orderId']}")
    assert await reconcile_stale(pool, pay_settings, factory) == {"ERROR": 1, "CONFIRMED": 1}
    assert await rows(factory, "SELECT id, status FROM payments ORDER BY id") == [
        (unreachable["paymentId"], "CREATED"), (order["paymentId"], "SUCCESS")]
    assert await rows(factory, "SELECT args FROM outbox WHERE actor_name = 'reconcile_payment' AND done_at IS NULL"
                      ) == [([unreachable["paymentId"]],)]


# --- concurrency ----------------------------------------------------------------


async def test_concurrent_events_for_one_payment_confirm_once(api, factory, sandbox, pool, pay_settings):
    appointment, order = await open_order(api, factory)
    paid = await pay(sandbox, orderId=order["orderId"], outcome="captured")
    await deliver(api, paid)
    again = {**paid["headers"], "X-Razorpay-Event-Id": paid["eventId"] + "-order-paid"}
    await deliver(api, paid, headers=again)
    event_ids = [row[0] for row in await rows(factory, "SELECT id FROM webhook_events ORDER BY id")]
    # Both events, each delivered twice, and a reconciliation, all at once.
    outcomes = await asyncio.gather(
        *(payment_jobs.handle_razorpay_event(pool, event_id) for event_id in event_ids * 2),
        payment_jobs.reconcile_one(pool, pay_settings, order["paymentId"]))
    assert sorted(map(str, outcomes)).count("CONFIRMED") == 1
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "CONFIRMED"
    assert await value(factory, "SELECT count(*) FROM appointment_status_history WHERE appointment_id = %s",
                       (appointment["id"],)) == 1
    assert len(await outbox_rows(factory, "appointment_confirmed")) == 1


async def test_reconcile_payment_run_twice_confirms_once_and_asks_razorpay_once(api, factory, sandbox, pool,
                                                                                pay_settings):
    """The reconcile_payment actor (queued by checkout verify) redelivered: the second run finds
    the payment settled and neither asks Razorpay nor confirms again."""
    appointment, order = await open_order(api, factory)
    paid = await pay(sandbox, orderId=order["orderId"], outcome="captured")  # webhook not delivered
    asked = len(sandbox.state.requests)
    outcomes = [await payment_jobs.reconcile_one(pool, pay_settings, order["paymentId"]) for _ in range(2)]
    assert outcomes == ["CONFIRMED", "UNCHANGED"]
    lookups = [r["path"] for r in sandbox.state.requests[asked:]]
    assert lookups == [f"/razorpay/v1/orders/{order['orderId']}/payments"]
    assert await rows(factory, "SELECT status, payment_id FROM payments") == [("SUCCESS", paid["payment"]["id"])]
    assert await value(factory, "SELECT count(*) FROM appointment_status_history WHERE appointment_id = %s",
                       (appointment["id"],)) == 1
    assert len(await outbox_rows(factory, "appointment_confirmed")) == 1


async def orderless_attempt(factory, minutes_ago=20) -> tuple[dict, int]:
    """A checkout attempt whose maker died before storing its order id (the API's lease ran out)."""
    appointment = await book(factory, await factory.centre())
    then = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    payment_id = await factory.payment(patient_id=appointment["patient"]["id"], appointment_id=appointment["id"],
                                       amount=FEE, channel="CHECKOUT", status="CREATED", created_at=then,
                                       updated_at=then)
    return appointment, payment_id


async def test_reconciliation_settles_a_checkout_whose_order_id_was_never_stored(api, factory, sandbox, pool,
                                                                                pay_settings):
    appointment, paid_id = await orderless_attempt(factory)
    _, unmade_id = await orderless_attempt(factory)
    client = payment_jobs.RazorpayClient(pay_settings, attempts=1)
    try:  # Razorpay made the order (under our receipt) and the patient paid it
        made = await asyncio.to_thread(client.create_order, FEE * 100, "INR", payment_jobs.rules.receipt(paid_id))
    finally:
        client.close()
    paid = await pay(sandbox, orderId=made["id"], outcome="captured")
    assert await reconcile_stale(pool, pay_settings, factory) == {"CONFIRMED": 1, "FAILED": 1}
    assert await rows(factory, "SELECT id, status, order_id, payment_id, failure_reason FROM payments ORDER BY id") == [
        (paid_id, "SUCCESS", made["id"], paid["payment"]["id"], None),
        (unmade_id, "FAILED", None, None, "No order was made at Razorpay")]
    assert await value(factory, APPOINTMENT_STATUS, (appointment["id"],)) == "CONFIRMED"
    assert await reconcile_stale(pool, pay_settings, factory) == {}


async def test_an_orderless_checkout_still_being_made_is_left_to_its_maker(api, factory, sandbox, pool,
                                                                          pay_settings):
    _, payment_id = await orderless_attempt(factory, minutes_ago=0)  # its maker's lease still runs
    assert await payment_jobs.reconcile_one(pool, pay_settings, payment_id) == "UNCHANGED"
    assert sandbox.state.requests == []
    assert await value(factory, "SELECT status FROM payments") == "CREATED"

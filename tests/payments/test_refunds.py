"""Refunds against the Razorpay sandbox: who asks for them and when, the database's guard of the
captured amount, the refund actor (once, whatever retries and timeouts do), webhooks (forward
only), reconciliation, the API, what payments and analytics show. The actors' work runs from the
outbox rows they queued (tests/payments_support.PaymentWorker); tests/test_refunds_workflow.py
runs a real worker."""

from __future__ import annotations

import asyncio
import datetime as dt
from datetime import UTC

import psycopg2
import pytest

from jobs import sweeps
from jobs.actors import refunds as refund_jobs
from jobs.actors.payments import handle_razorpay_event
from jobs.metrics import BacklogCollector
from jobs.options import NotYet
from mibo.core import db
from mibo.core.actor import PATIENT_WEB, Actor
from mibo.domain import appointments
from mibo.providers.errors import ProviderError
from mibo.providers.razorpay_client import RazorpayClient
from tests.jobs_support import wait_for
from tests.payments_support import (
    FEE,
    book,
    create_order,
    deliver,
    paid,
    pay,
    post_signed,
    rows,
    value,
)

REFUND_STATE = "SELECT status, amount_paise, razorpay_refund_id IS NOT NULL, attempts, failure_reason FROM refunds"
REFUND_POSTS = "/razorpay/v1/payments/"


async def paid_appointment(api, factory, sandbox, worker):
    """A centre, its front desk and manager, a CONFIRMED appointment paid through the sandbox."""
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    appointment = await book(factory, centre)
    payment = await paid(api, sandbox, desk, appointment["id"], worker)
    return desk, manager, appointment, payment


async def cancel(api, staff, appointment_id: int, reason: str = "Clinician unwell"):
    resp = await api.delete(f"/api/appointments/{appointment_id}", json={"reason": reason}, headers=staff.headers)
    return resp.status, await resp.json()


async def refund(api, staff, payment_row_id: int, **body):
    resp = await api.post(f"/api/payments/{payment_row_id}/refunds", json=body, headers=staff.headers)
    return resp.status, await resp.json()


async def refunds_of(api, staff, payment_row_id: int):
    resp = await api.get(f"/api/payments/{payment_row_id}/refunds", headers=staff.headers)
    return resp.status, await resp.json()


async def refund_posts(sandbox) -> list[dict]:
    return [r for r in await sandbox.requests("razorpay") if r["method"] == "POST" and r["path"].endswith("/refund")]


def refund_webhooks(sandbox, event: str) -> list[dict]:
    return [w for w in sandbox.state.webhooks if w["event"] == event]


# --- who asks ------------------------------------------------------------------------


async def test_staff_cancel_of_a_paid_appointment_asks_for_a_full_refund_with_its_step(api, factory, sandbox,
                                                                                       worker):
    desk, _, appointment, payment = await paid_appointment(api, factory, sandbox, worker)
    status, body = await cancel(api, desk, appointment["id"])
    assert status == 200, body
    assert (body["data"]["status"], body["data"]["refund"]) == ("CANCELLED", {
        "policy": "FULL", "amount": FEE, "status": "REQUESTED", "expectedTimeline": "5-7 working days"})
    assert await rows(factory, "SELECT payment_id, amount_paise, status, reason, requested_by_user_id,"
                               " requested_by_surface FROM refunds") == [
        (payment["paymentRowId"], FEE * 100, "REQUESTED", "Appointment cancelled: Clinician unwell", desk.id,
         "STAFF_API")]
    refund_id = await value(factory, "SELECT id FROM refunds")
    assert await rows(factory, "SELECT args FROM outbox WHERE actor_name = 'issue_refund'") == [([refund_id],)]
    assert await value(factory, "SELECT refund_requested_at IS NOT NULL FROM payments") is True


async def test_money_for_an_appointment_cancelled_before_it_was_paid_is_refunded(api, factory, sandbox, worker):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    appointment = await book(factory, centre)
    status, order = await create_order(api, desk, appointment["id"])
    assert status == 200
    assert (await cancel(api, desk, appointment["id"]))[0] == 200
    webhook = await pay(sandbox, orderId=order["data"]["orderId"], outcome="captured")
    assert (await deliver(api, webhook))[0] == 200
    assert await worker.run() == ["FLAGGED"]
    assert await worker.run() == ["PROCESSING"]
    assert await rows(factory, "SELECT reason, status, amount_paise FROM refunds") == [
        ("PAID_BUT_APPOINTMENT_CANCELLED", "PROCESSING", FEE * 100)]
    assert len(sandbox.state.refunds) == 1


async def test_a_patient_cancelling_before_the_cutoff_gets_it_all_back(api, factory, sandbox, worker, pool):
    _, _, appointment, _ = await paid_appointment(api, factory, sandbox, worker)
    user_id = appointment["patient"]["user_id"]
    patient = Actor(user_id=user_id, surface=PATIENT_WEB, patient_id=appointment["patient"]["id"])
    async with db.transaction(pool) as cur:
        row = await appointments.cancel_by_patient(cur, patient, appointment["id"], "Plans changed",
                                                   dt.datetime.now(UTC), 24)
    assert row["refund"] == {"policy": "FULL", "amount": FEE, "status": "REQUESTED",
                             "expected_timeline": "5-7 working days"}
    assert await rows(factory, "SELECT amount_paise, requested_by_user_id, requested_by_surface FROM refunds") == [
        (FEE * 100, user_id, PATIENT_WEB)]


async def test_a_desk_payment_is_only_marked_for_refund_at_the_desk(api, factory, sandbox):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    appointment = await book(factory, centre)
    resp = await api.post("/api/payments/desk", json={"appointmentId": appointment["id"], "method": "CASH"},
                          headers=desk.headers)
    assert resp.status == 201
    payment_row_id = (await resp.json())["data"]["id"]
    status, body = await cancel(api, desk, appointment["id"])
    assert (status, body["data"]["refund"]) == (200, {
        "policy": "NONE", "amount": 0, "status": None, "expectedTimeline": None})
    assert await value(factory, "SELECT count(*) FROM refunds") == 0
    assert await value(factory, "SELECT refund_requested_at IS NOT NULL FROM payments") is True
    status, body = await refund(api, manager, payment_row_id, reason="Goodwill")
    assert (status, body["error"]["code"]) == (409, "PAYMENT_NOT_REFUNDABLE")


# --- the captured amount, guarded by the database ------------------------------------------


async def test_two_concurrent_partial_refunds_beyond_the_payment_one_wins_the_other_409(api, factory, sandbox,
                                                                                          worker):
    _, manager, _, payment = await paid_appointment(api, factory, sandbox, worker)
    results = await asyncio.gather(*(refund(api, manager, payment["paymentRowId"], amount=1000, reason=why)
                                     for why in ("Part one", "Part two")))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201, 409], results
    refused = next(body for status, body in results if status == 409)
    assert refused["error"]["code"] == "REFUND_EXCEEDS_PAYMENT"
    assert await rows(factory, "SELECT amount_paise, status FROM refunds") == [(100_000, "REQUESTED")]
    # What is left can still be refunded; one paisa more cannot.
    status, body = await refund(api, manager, payment["paymentRowId"], amount=500.01, reason="Rest")
    assert (status, body["error"]["code"]) == (409, "REFUND_EXCEEDS_PAYMENT")
    status, body = await refund(api, manager, payment["paymentRowId"], amount=500, reason="Rest")
    assert status == 201, body
    assert (await refund(api, manager, payment["paymentRowId"], reason="More"))[0] == 409


INSERT_RAW_REFUND = """
INSERT INTO refunds (payment_id, amount_paise, reason, requested_by_surface) VALUES (%s, %s, 'raw', 'CLI')
"""


async def test_the_database_refuses_concurrent_refunds_beyond_the_payment_whoever_writes_them(pool, factory):
    centre = await factory.centre()
    appointment = await book(factory, centre, status="CONFIRMED")
    payment_id = (await factory.fetchone(
        "INSERT INTO payments (patient_id, appointment_id, amount, status, payment_id, paid_at)"
        " VALUES (%s, %s, 1500, 'SUCCESS', 'pay_raw', now()) RETURNING id",
        (appointment["patient"]["id"], appointment["id"])))[0]
    first_inserted = asyncio.Event()
    release = asyncio.Event()

    async def first():
        async with pool.acquire() as conn, conn.cursor() as cur, cur.begin():
            await cur.execute(INSERT_RAW_REFUND, (payment_id, 100_000))
            first_inserted.set()
            await release.wait()

    async def second():
        await first_inserted.wait()
        async with pool.acquire() as conn, conn.cursor() as cur, cur.begin():
            task = asyncio.ensure_future(cur.execute(INSERT_RAW_REFUND, (payment_id, 100_000)))
            await asyncio.sleep(0.3)
            assert not task.done()  # waiting for the first transaction's lock on the payment
            release.set()
            await task

    results = await asyncio.gather(first(), second(), return_exceptions=True)
    assert results[0] is None
    assert isinstance(results[1], psycopg2.errors.CheckViolation), results
    assert results[1].diag.constraint_name == "refunds_within_payment"
    assert await rows(factory, "SELECT amount_paise FROM refunds") == [(100_000,)]
    # A FAILED refund no longer counts; a refund of a payment never captured is refused.
    await rows(factory, "UPDATE refunds SET status = 'FAILED', failure_reason = 'x' RETURNING id")
    await rows(factory, INSERT_RAW_REFUND + " RETURNING id", (payment_id, 150_000))
    await rows(factory, "UPDATE payments SET status = 'FAILED' WHERE id = %s RETURNING id", (payment_id,))
    with pytest.raises(psycopg2.errors.CheckViolation, match="captured"):
        await rows(factory, INSERT_RAW_REFUND + " RETURNING id", (payment_id, 100))


# --- the refund actor -------------------------------------------------------------------


async def test_the_same_refund_run_twice_makes_one_refund_at_razorpay(api, factory, sandbox, worker, pay_settings):
    desk, _, appointment, payment = await paid_appointment(api, factory, sandbox, worker)
    assert (await cancel(api, desk, appointment["id"]))[0] == 200
    assert await worker.run() == ["PROCESSING"]
    refund_id = await value(factory, "SELECT id FROM refunds")
    assert await refund_jobs.issue(factory.pool, pay_settings, refund_id) == "PROCESSING"
    assert len(sandbox.state.refunds) == 1
    assert len(await refund_posts(sandbox)) == 1
    made = next(iter(sandbox.state.refunds.values()))
    assert (made["payment_id"], made["amount"], made["receipt"]) == (payment["id"], FEE * 100,
                                                                     f"mibo-refund-{refund_id}")
    assert await rows(factory, REFUND_STATE) == [("PROCESSING", FEE * 100, True, 1, None)]
    assert await value(factory, "SELECT razorpay_refund_id FROM refunds") == made["id"]
    # Razorpay took it on: the patient is told once, with the amount, the appointment and the timeline.
    [(template, phone, values)] = await rows(factory, "SELECT template_name, recipient_phone, payload->'bodyValues'"
                                                      " FROM notification_logs WHERE kind = 'REFUND'")
    assert (template, phone) == ("refund_initiated", appointment["patient"]["phone"])
    assert (values["amount"], values["timeline"], values["clinicianName"]) == (
        "₹1,500.00", "5-7 working days", "Dr Asha Rao")
    assert values["when"].endswith("10:00 am")


async def test_a_timeout_after_razorpay_made_the_refund_still_makes_one(api, factory, sandbox, worker,
                                                                        pay_settings):
    desk, _, appointment, _ = await paid_appointment(api, factory, sandbox, worker)
    assert (await cancel(api, desk, appointment["id"]))[0] == 200
    refund_id = await value(factory, "SELECT id FROM refunds")
    quick = pay_settings.replace(razorpay_timeout=1)
    # The create is answered too late for the client, but the sandbox makes the refund all the same.
    await sandbox.fault("razorpay", delay=1.5, path=REFUND_POSTS, method="POST")
    with pytest.raises(ProviderError) as timed_out:
        await refund_jobs.issue(factory.pool, quick, refund_id)
    assert timed_out.value.retryable
    await wait_for(lambda: sandbox.state.refunds, timeout=5, what="the sandbox to make the refund")
    assert await rows(factory, "SELECT status, attempts, last_error LIKE 'ReadTimeout%%' FROM refunds") == [
        ("REQUESTED", 1, True)]
    # Retried at once, it waits: the first call might still be running.
    with pytest.raises(NotYet) as early:
        await refund_jobs.issue(factory.pool, quick, refund_id)
    assert 0 < early.value.delay <= refund_jobs.retry_grace(quick) * 1000 + 100
    await rows(factory, "UPDATE refunds SET attempt_started_at = now() - interval '1 minute' RETURNING id")
    # Found by its receipt, already settled by Razorpay (the sandbox settles at once): not made again.
    assert await refund_jobs.issue(factory.pool, quick, refund_id) == "PROCESSED"
    assert len(sandbox.state.refunds) == 1
    assert len(await refund_posts(sandbox)) == 1
    assert await rows(factory, "SELECT status, attempts, razorpay_refund_id FROM refunds") == [
        ("PROCESSED", 2, next(iter(sandbox.state.refunds)))]


async def test_a_refusal_by_razorpay_fails_the_refund_with_its_reason_shown_to_staff(api, factory, sandbox,
                                                                                     worker, pay_settings):
    desk, manager, appointment, payment = await paid_appointment(api, factory, sandbox, worker)
    # Someone refunded the payment at Razorpay's dashboard first: nothing is left to refund there.
    client = sandbox.keep(RazorpayClient(pay_settings, attempts=1))
    await asyncio.to_thread(client.create_refund, payment["id"], FEE * 100, "by-hand", {})
    assert (await cancel(api, desk, appointment["id"]))[0] == 200
    assert await worker.run() == ["FAILED"]
    status, body = await refunds_of(api, desk, payment["paymentRowId"])
    assert status == 200
    [shown] = body["data"]
    assert (shown["status"], shown["failureReason"], shown["attempts"], shown["amount"]) == (
        "FAILED", "The refund amount provided is greater than amount captured", 1, FEE)
    # A failed refund holds nothing back: staff may ask again.
    status, again = await refund(api, manager, payment["paymentRowId"], amount=100, reason="Try again")
    assert status == 201, again


async def test_a_server_error_is_kept_and_retried(api, factory, sandbox, worker, pay_settings):
    desk, _, appointment, _ = await paid_appointment(api, factory, sandbox, worker)
    assert (await cancel(api, desk, appointment["id"]))[0] == 200
    refund_id = await value(factory, "SELECT id FROM refunds")
    await sandbox.fault("razorpay", status=500, path=REFUND_POSTS, method="POST")
    with pytest.raises(ProviderError):
        await refund_jobs.issue(factory.pool, pay_settings, refund_id)
    assert await rows(factory, "SELECT status, attempts, last_error FROM refunds") == [
        ("REQUESTED", 1, '{"error": {"code": "SERVER_ERROR", "description": "sandbox fault", "field": null}}')]
    await rows(factory, "UPDATE refunds SET attempt_started_at = now() - interval '1 minute' RETURNING id")
    assert await refund_jobs.issue(factory.pool, pay_settings, refund_id) == "PROCESSING"
    assert len(sandbox.state.refunds) == 1


# --- webhooks and reconciliation ------------------------------------------------------------


async def test_refund_webhooks_move_forward_only_replays_and_reordering_change_nothing(api, factory, sandbox,
                                                                                       worker, pay_settings):
    desk, _, appointment, payment = await paid_appointment(api, factory, sandbox, worker)
    assert (await cancel(api, desk, appointment["id"]))[0] == 200
    assert await worker.run() == ["PROCESSING"]
    await wait_for(lambda: refund_webhooks(sandbox, "refund.processed"), timeout=5, what="the processed webhook")
    [created] = refund_webhooks(sandbox, "refund.created")
    [processed] = refund_webhooks(sandbox, "refund.processed")
    # processed first, then created, then each again five times.
    for webhook in (processed, created, *[processed, created] * 5):
        status, body = await deliver(api, webhook)
        assert status == 200, body
    assert await value(factory, "SELECT count(*) FROM webhook_events WHERE event_type LIKE 'refund.%%'") == 2
    assert await worker.run() == ["PROCESSED", "UNCHANGED"]
    assert await rows(factory, REFUND_STATE) == [("PROCESSED", FEE * 100, True, 1, None)]
    assert await rows(factory, "SELECT event_type, outcome, matched_payment_id, matched_refund_id IS NOT NULL"
                               " FROM webhook_events WHERE event_type LIKE 'refund.%%' ORDER BY id") == [
        ("refund.processed", "PROCESSED", payment["paymentRowId"], True),
        ("refund.created", "UNCHANGED", payment["paymentRowId"], True)]
    assert await value(factory, "SELECT count(*) FROM notification_logs WHERE kind = 'REFUND'") == 1
    # A failure reported after it was processed does not undo it.
    made = next(iter(sandbox.state.refunds.values()))
    status, _ = await post_signed(api, pay_settings, {"entity": "event", "event": "refund.failed", "payload": {
        "refund": {"entity": {**made, "status": "failed"}}}}, "evt_late_failure")
    assert status == 200
    assert await worker.run() == ["UNCHANGED"]
    assert await value(factory, "SELECT status FROM refunds") == "PROCESSED"


async def test_an_event_about_another_razorpay_refund_with_our_receipt_changes_nothing(api, factory, sandbox,
                                                                                       worker, pay_settings):
    resp = await sandbox.http.put(sandbox.server.make_url("/_sandbox/razorpay/refunds"), json={"outcome": "pending"})
    assert resp.status == 200
    desk, _, appointment, payment = await paid_appointment(api, factory, sandbox, worker)
    assert (await cancel(api, desk, appointment["id"]))[0] == 200
    assert await worker.run() == ["PROCESSING"]
    refund_id = await value(factory, "SELECT id FROM refunds")
    other = {"id": "rfnd_NotTheOneWeMade", "entity": "refund", "amount": FEE * 100, "payment_id": payment["id"],
             "receipt": f"mibo-refund-{refund_id}", "status": "processed", "notes": []}
    status, _ = await post_signed(api, pay_settings, {"entity": "event", "event": "refund.processed",
                                                      "payload": {"refund": {"entity": other}}}, "evt_other")
    assert status == 200
    assert await worker.run() == ["UNCHANGED"]
    assert await rows(factory, "SELECT status, razorpay_refund_id FROM refunds") == [
        ("PROCESSING", next(iter(sandbox.state.refunds)))]
    # Nor does one about a refund that is not ours at all.
    stranger = {**other, "id": "rfnd_Stranger", "receipt": "someone-else"}
    status, _ = await post_signed(api, pay_settings, {"entity": "event", "event": "refund.processed",
                                                      "payload": {"refund": {"entity": stranger}}}, "evt_stranger")
    assert status == 200
    assert await worker.run() == ["UNMATCHED"]


async def test_a_webhook_for_a_refund_whose_create_answer_was_lost_is_matched_by_receipt(api, factory, sandbox,
                                                                                         worker, pay_settings):
    desk, _, appointment, payment = await paid_appointment(api, factory, sandbox, worker)
    assert (await cancel(api, desk, appointment["id"]))[0] == 200
    refund_id = await value(factory, "SELECT id FROM refunds")
    # As if the actor's create reached Razorpay and its answer never came back.
    client = sandbox.keep(RazorpayClient(pay_settings, attempts=1))
    made = await asyncio.to_thread(client.create_refund, payment["id"], FEE * 100, f"mibo-refund-{refund_id}",
                                   {"refundId": str(refund_id)})
    await wait_for(lambda: refund_webhooks(sandbox, "refund.processed"), timeout=5, what="the processed webhook")
    assert (await deliver(api, refund_webhooks(sandbox, "refund.processed")[0]))[0] == 200
    # The event is processed first: the refund is settled, and issuing it afterwards calls nobody.
    event_id = await value(factory, "SELECT id FROM webhook_events WHERE event_type = 'refund.processed'")
    assert await handle_razorpay_event(factory.pool, event_id) == "PROCESSED"
    assert await worker.run() == ["PROCESSED", None]  # the refund's step, then the event's (done already)
    assert await rows(factory, "SELECT status, razorpay_refund_id, attempts FROM refunds") == [
        ("PROCESSED", made["id"], 0)]
    assert len(sandbox.state.refunds) == 1


async def test_a_refund_webhook_with_a_bad_signature_is_refused(api, factory, sandbox, worker):
    desk, _, appointment, _ = await paid_appointment(api, factory, sandbox, worker)
    assert (await cancel(api, desk, appointment["id"]))[0] == 200
    await worker.run()
    await wait_for(lambda: refund_webhooks(sandbox, "refund.processed"), timeout=5, what="the processed webhook")
    webhook = refund_webhooks(sandbox, "refund.processed")[0]
    forged = webhook["body"].replace('"status": "processed"', '"status": "failed"').replace(
        "refund.processed", "refund.failed")
    status, body = await deliver(api, webhook, body=forged.encode())
    assert (status, body["error"]["code"]) == (400, "INVALID_SIGNATURE")
    assert await value(factory, "SELECT count(*) FROM webhook_events WHERE event_type LIKE 'refund.%%'") == 0
    assert await value(factory, "SELECT status FROM refunds") == "PROCESSING"


async def test_the_sweep_reconciles_a_refund_razorpay_has_not_settled(api, factory, sandbox, worker, pay_settings):
    resp = await sandbox.http.put(sandbox.server.make_url("/_sandbox/razorpay/refunds"), json={"outcome": "pending"})
    assert resp.status == 200
    desk, _, appointment, _ = await paid_appointment(api, factory, sandbox, worker)
    assert (await cancel(api, desk, appointment["id"]))[0] == 200
    assert await worker.run() == ["PROCESSING"]
    swept = await sweeps.refunds(factory.pool, pay_settings)
    assert (swept.found, swept.repaired) == (0, 0)
    await rows(factory, "UPDATE refunds SET processing_at = now() - interval '1 hour' RETURNING id")
    swept = await sweeps.refunds(factory.pool, pay_settings)
    assert (swept.found, swept.repaired) == (1, 1)
    assert swept.oldest_seconds >= 0
    assert await worker.run() == ["UNCHANGED"]  # still pending at Razorpay
    made = next(iter(sandbox.state.refunds))
    status, _ = await sandbox.post("/_sandbox/razorpay/settle-refund", {"refundId": made, "outcome": "processed"})
    assert status == 200
    await rows(factory, "UPDATE refunds SET processing_at = now() - interval '1 hour' RETURNING id")
    assert (await sweeps.refunds(factory.pool, pay_settings)).repaired == 1
    assert await worker.run() == ["PROCESSED"]
    assert await value(factory, "SELECT status FROM refunds") == "PROCESSED"
    assert (await sweeps.refunds(factory.pool, pay_settings)).found == 0


async def test_a_requested_refund_whose_step_was_given_up_is_issued_again(api, factory, sandbox, worker,
                                                                          pay_settings):
    desk, _, appointment, _ = await paid_appointment(api, factory, sandbox, worker)
    assert (await cancel(api, desk, appointment["id"]))[0] == 200
    await rows(factory, "UPDATE outbox SET done_at = now(), last_error = 'given up' WHERE actor_name = 'issue_refund'"
                        " RETURNING id")
    await rows(factory, "UPDATE refunds SET created_at = now() - interval '1 day' RETURNING id")
    swept = await sweeps.refunds(factory.pool, pay_settings)
    assert (swept.found, swept.repaired) == (1, 1)
    assert await worker.run() == ["PROCESSING"]


async def test_refunds_waiting_too_long_show_in_the_scheduler_metrics(api, factory, sandbox, worker, pay_settings):
    desk, _, appointment, _ = await paid_appointment(api, factory, sandbox, worker)
    assert (await cancel(api, desk, appointment["id"]))[0] == 200
    collector = BacklogCollector(pay_settings.database_url, pay_settings.redis_url, ("default",),
                                 refund_waiting_alert=3600)

    def waiting():
        families = {family.name: family for family in collector.collect()}
        return families["mibo_refunds_waiting_too_long"].samples[0].value

    assert await asyncio.to_thread(waiting) == 0
    await rows(factory, "UPDATE refunds SET created_at = now() - interval '2 hours' RETURNING id")
    assert await asyncio.to_thread(waiting) == 1
    collector.redis.close()


# --- the API ------------------------------------------------------------------------


async def test_who_may_refund_and_see_refunds(api, factory, sandbox, worker):
    desk, manager, _, payment = await paid_appointment(api, factory, sandbox, worker)
    other_manager = await factory.staff("CENTRE_MANAGER", [await factory.centre()])
    chain_manager = await factory.staff("MANAGER")
    row_id = payment["paymentRowId"]
    assert (await refund(api, desk, row_id, reason="Desk may not"))[0] == 403
    status, body = await refund(api, other_manager, row_id, reason="Not my centre")
    assert (status, body["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    assert (await refunds_of(api, other_manager, row_id))[0] == 403
    status, made = await refund(api, manager, row_id, amount=200, reason="Part of the fee")
    assert status == 201, made
    assert (made["data"]["amount"], made["data"]["status"], made["data"]["requestedByUserId"]) == (
        200, "REQUESTED", manager.id)
    status, made = await refund(api, chain_manager, row_id, amount=300.5, reason="More of it")
    assert status == 201, made
    status, listed = await refunds_of(api, desk, row_id)
    assert status == 200
    assert [(r["amount"], r["reason"]) for r in listed["data"]] == [(200, "Part of the fee"), (300.5, "More of it")]
    assert (await refunds_of(api, desk, 999_999))[0] == 404


@pytest.mark.parametrize(("body", "field"), [
    ({}, "reason"),
    ({"reason": "  "}, "reason"),
    ({"reason": "x", "amount": 0.5}, "amount"),
    ({"reason": "x", "amount": "lots"}, "amount"),
    ({"reason": "x", "currency": "INR"}, "currency"),
])
async def test_a_bad_refund_request_is_a_400_naming_the_field(api, factory, sandbox, worker, body, field):
    _, manager, _, payment = await paid_appointment(api, factory, sandbox, worker)
    status, answer = await refund(api, manager, payment["paymentRowId"], **body)
    assert status == 400, answer
    assert field in answer["error"]["details"], answer
    assert await value(factory, "SELECT count(*) FROM refunds") == 0


async def test_payments_show_their_refund_status_and_what_was_refunded(api, factory, sandbox, worker):
    desk, manager, appointment, payment = await paid_appointment(api, factory, sandbox, worker)
    patient_id = appointment["patient"]["id"]

    async def shown():
        resp = await api.get(f"/api/payments/patient/{patient_id}", headers=manager.headers)
        assert resp.status == 200
        [row] = (await resp.json())["data"]
        detail = await api.get(f"/api/patients/{patient_id}", headers=manager.headers)
        assert detail.status == 200
        [in_detail] = (await detail.json())["data"]["payments"]
        assert (in_detail["refundStatus"], in_detail["refundedAmount"]) == (row["refundStatus"], row["refundedAmount"])
        return row["refundStatus"], row["refundedAmount"]

    assert await shown() == (None, 0)
    assert (await refund(api, manager, payment["paymentRowId"], amount=500, reason="Part"))[0] == 201
    assert await shown() == ("REQUESTED", 0)
    assert await worker.run() == ["PROCESSING"]
    await wait_for(lambda: refund_webhooks(sandbox, "refund.processed"), timeout=5, what="the processed webhook")
    assert (await deliver(api, refund_webhooks(sandbox, "refund.processed")[0]))[0] == 200
    assert await worker.run() == ["PROCESSED"]
    assert await shown() == ("PROCESSED", 500)


async def test_revenue_is_net_of_processed_refunds(api, factory, sandbox, worker):
    _, manager, _, payment = await paid_appointment(api, factory, sandbox, worker)
    admin = await factory.staff("ADMIN")

    async def revenue():
        resp = await api.get("/api/analytics/dashboard", params={"period": "week"}, headers=admin.headers)
        assert resp.status == 200, await resp.text()
        total = (await resp.json())["data"]["totalRevenue"]
        resp = await api.get("/api/analytics/revenue", params={"period": "week"}, headers=admin.headers)
        assert resp.status == 200, await resp.text()
        return total, sum(bucket["revenue"] for bucket in (await resp.json())["data"])

    assert await revenue() == (FEE, FEE)
    assert (await refund(api, manager, payment["paymentRowId"], amount=400, reason="Part"))[0] == 201
    assert await worker.run() == ["PROCESSING"]
    assert await revenue() == (FEE, FEE)  # not processed yet
    await wait_for(lambda: refund_webhooks(sandbox, "refund.processed"), timeout=5, what="the processed webhook")
    assert (await deliver(api, refund_webhooks(sandbox, "refund.processed")[0]))[0] == 200
    assert await worker.run() == ["PROCESSED"]
    assert await revenue() == (FEE - 400, FEE - 400)


# --- the sandbox's refunds --------------------------------------------------------------


async def test_the_sandbox_refunds_as_razorpay_does(api, factory, sandbox, worker, pay_settings):
    _, _, _, payment = await paid_appointment(api, factory, sandbox, worker)
    client = sandbox.keep(RazorpayClient(pay_settings, attempts=1))
    made = await asyncio.to_thread(client.create_refund, payment["id"], 50_000, "r-1", {"why": "test"})
    assert (made["entity"], made["status"], made["amount"], made["payment_id"], made["receipt"]) == (
        "refund", "pending", 50_000, payment["id"], "r-1")
    assert (await asyncio.to_thread(client.fetch_refund, made["id"]))["id"] == made["id"]
    assert (await asyncio.to_thread(client.find_refund, payment["id"], "r-1"))["id"] == made["id"]
    assert await asyncio.to_thread(client.find_refund, payment["id"], "r-2") is None
    with pytest.raises(ProviderError) as too_much:
        await asyncio.to_thread(client.create_refund, payment["id"], FEE * 100, "r-2", {})
    assert too_much.value.status == 400
    assert "greater than amount captured" in too_much.value.message
    failed = await sandbox.post("/_sandbox/razorpay/pay", {
        "orderId": next(iter(sandbox.state.orders)), "outcome": "failed"})
    assert failed[0] == 409  # the order is paid: make an uncaptured payment by hand instead
    sandbox.state.payments["pay_uncaptured"] = {**sandbox.state.payments[payment["id"]], "id": "pay_uncaptured",
                                                "status": "failed", "amount_refunded": 0}
    with pytest.raises(ProviderError) as not_captured:
        await asyncio.to_thread(client.create_refund, "pay_uncaptured", 100, "r-3", {})
    assert (not_captured.value.status, "not been captured" in not_captured.value.message) == (400, True)
    await wait_for(lambda: refund_webhooks(sandbox, "refund.processed"), timeout=5, what="the processed webhook")
    assert sandbox.state.refunds[made["id"]]["status"] == "processed"
    for control in ({"outcome": "later"}, {"outcome": "failed", "delay": -1}, {"webhookUrl": 5}):
        resp = await sandbox.http.put(sandbox.server.make_url("/_sandbox/razorpay/refunds"), json=control)
        assert resp.status == 400, control
    status, body = await sandbox.post("/_sandbox/razorpay/settle-refund", {"refundId": made["id"],
                                                                          "outcome": "failed"})
    assert (status, body["error"]) == (409, "refund is processed")
    status, _ = await sandbox.post("/_sandbox/faults", {"provider": "razorpay", "status": 500, "method": "BREW"})
    assert status == 400

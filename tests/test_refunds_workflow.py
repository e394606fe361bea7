"""Refunds end to end with a real Redis broker and a real Dramatiq worker: a paid appointment is
cancelled, the worker issues ONE refund at the sandbox, the sandbox's signed webhooks reach the
API, the refund ends PROCESSED and the patient gets ONE refund message; a Razorpay server error
first is retried into one refund, its attempts on record."""

from __future__ import annotations

import pytest

from mibo.api.app import init_app
from tests.jobs_support import Worker, wait_for, worker_env
from tests.payments_support import FEE, book, create_order, rows, value


@pytest.fixture
async def api(aiohttp_client, e2e_settings, pool, otp_sender):
    return await aiohttp_client(init_app(e2e_settings, pool=pool, otp_sender=otp_sender))


@pytest.fixture
def worker(e2e_settings, tmp_path):
    # One-second Razorpay calls: a retried refund waits out four seconds (twice connect + read).
    process = Worker(worker_env(e2e_settings, RAZORPAY_TIMEOUT="1"), tmp_path / "worker.log")
    process.start()
    yield process
    process.stop()


async def paid_and_confirmed(api, factory, sandbox, worker):
    """A CONFIRMED appointment paid through the sandbox (webhook → API → worker), and its desk."""
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    appointment = await book(factory, centre)
    status, order = await create_order(api, desk, appointment["id"])
    assert status == 200, order
    status, paid = await sandbox.post("/_sandbox/razorpay/pay", {
        "orderId": order["data"]["orderId"], "outcome": "captured",
        "webhookUrl": str(api.make_url("/api/payments/webhook"))})
    assert (status, paid["delivery"]["status"]) == (200, 200), paid

    async def confirmed():
        return await value(factory, "SELECT status FROM appointments WHERE id = %s",
                           (appointment["id"],)) == "CONFIRMED"

    await wait_for(confirmed, timeout=30, what=lambda: f"the appointment confirmed; worker log:\n{worker.log()}")
    resp = await sandbox.http.put(sandbox.server.make_url("/_sandbox/razorpay/refunds"), json={
        "outcome": "processed", "delay": 0.5, "webhookUrl": str(api.make_url("/api/payments/webhook"))})
    assert resp.status == 200
    return desk, appointment, paid["payment"]


async def cancelled_and_processed(api, factory, worker, desk, appointment):
    resp = await api.delete(f"/api/appointments/{appointment['id']}", json={"reason": "Clinician unwell"},
                            headers=desk.headers)
    assert resp.status == 200, await resp.text()

    async def processed():
        return await value(factory, "SELECT status FROM refunds") == "PROCESSED"

    await wait_for(processed, timeout=45, what=lambda: f"the refund PROCESSED; worker log:\n{worker.log()}")


def refund_messages(sandbox) -> list[dict]:
    return [m for m in sandbox.state.messages if m["templateName"] == "refund_initiated"]


async def refund_posts(sandbox) -> list[int]:
    return [r["status"] for r in await sandbox.requests("razorpay")
            if r["method"] == "POST" and r["path"].endswith("/refund")]


async def test_cancelling_a_paid_appointment_refunds_it_once_and_tells_the_patient_once(api, factory, sandbox,
                                                                                         worker):
    desk, appointment, payment = await paid_and_confirmed(api, factory, sandbox, worker)
    await cancelled_and_processed(api, factory, worker, desk, appointment)
    [made] = sandbox.state.refunds.values()
    made_refund_id = await value(factory, "SELECT id FROM refunds")
    assert (made["payment_id"], made["amount"], made["status"]) == (payment["id"], FEE * 100, "processed")
    assert await rows(factory, "SELECT status, amount_paise, razorpay_refund_id, attempts FROM refunds") == [
        ("PROCESSED", FEE * 100, made["id"], 1)]
    # Both refund webhooks were delivered, verified, stored and processed.
    await wait_for(lambda: value(factory, "SELECT count(*) FROM webhook_events WHERE event_type LIKE 'refund.%%'"
                                          " AND processed_at IS NOT NULL"), timeout=20, what="the refund events")
    assert sorted(await rows(factory, "SELECT event_type FROM webhook_events WHERE event_type LIKE 'refund.%%'")) == [
        ("refund.created",), ("refund.processed",)]
    await wait_for(lambda: refund_messages(sandbox), timeout=20, what="the refund message")
    [message] = refund_messages(sandbox)
    assert message["phone"] == appointment["patient"]["phone"].removeprefix("+")
    assert await refund_posts(sandbox) == [200]
    assert await value(factory, "SELECT count(*) FROM notification_logs WHERE kind = 'REFUND'") == 1
    # ...and once on their dashboard, with the refund it is about.
    assert await rows(factory, "SELECT kind, metadata->>'refund_id' FROM patient_notifications"
                               " WHERE kind = 'REFUND_INITIATED'") == [("REFUND_INITIATED", str(made_refund_id))]


async def test_a_server_error_then_success_makes_one_refund_with_both_attempts_on_record(api, factory, sandbox,
                                                                                          worker):
    desk, appointment, _ = await paid_and_confirmed(api, factory, sandbox, worker)
    await sandbox.fault("razorpay", status=500, path="/razorpay/v1/payments/", method="POST")
    await cancelled_and_processed(api, factory, worker, desk, appointment)
    assert len(sandbox.state.refunds) == 1
    assert await refund_posts(sandbox) == [500, 200]
    assert await rows(factory, "SELECT status, attempts, last_error LIKE '%%SERVER_ERROR%%' FROM refunds") == [
        ("PROCESSED", 2, True)]
    assert "refund attempt failed" in worker.log_path.read_text()
    await wait_for(lambda: refund_messages(sandbox), timeout=20, what="the refund message")
    assert len(refund_messages(sandbox)) == 1

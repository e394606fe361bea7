"""End to end with a real Redis broker and a real Dramatiq worker: pay through the sandbox, the
signed webhook reaches the API, the worker confirms the appointment and sends ONE WhatsApp
confirmation, and a replayed webhook changes nothing."""

from __future__ import annotations

import pytest

from mibo.api.app import init_app
from tests.jobs_support import PrivateRedis, Worker, wait_for, worker_env
from tests.payments_support import book, create_order, deliver, rows, value


def all_work_done(factory):
    """True once every queued outbox row is published and every message is sent (or given up)."""

    async def check():
        unpublished = await value(factory, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
        open_messages = await value(factory, "SELECT count(*) FROM notification_logs WHERE status = 'PENDING'")
        unprocessed = await value(factory, "SELECT count(*) FROM webhook_events WHERE processed_at IS NULL")
        return unpublished == open_messages == unprocessed == 0

    return check


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def e2e_settings(sandbox, private_redis):
    return sandbox.settings.replace(redis_url=private_redis.url, outbox_relay_interval=1)


@pytest.fixture
async def api(aiohttp_client, e2e_settings, pool, otp_sender):
    return await aiohttp_client(init_app(e2e_settings, pool=pool, otp_sender=otp_sender))


@pytest.fixture
def worker(e2e_settings, tmp_path):
    process = Worker(worker_env(e2e_settings), tmp_path / "worker.log")
    process.start()
    yield process
    process.stop()


async def test_pay_through_the_sandbox_confirms_once_with_a_real_worker(api, factory, sandbox, worker):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    appointment = await book(factory, centre)
    status, order = await create_order(api, desk, appointment["id"])
    assert status == 200, order
    status, paid = await sandbox.post("/_sandbox/razorpay/pay", {
        "orderId": order["data"]["orderId"], "outcome": "captured",
        "webhookUrl": str(api.make_url("/api/payments/webhook"))})
    assert status == 200, paid
    assert paid["delivery"]["status"] == 200, paid["delivery"]

    async def confirmed():
        return await value(factory, "SELECT status FROM appointments WHERE id = %s",
                           (appointment["id"],)) == "CONFIRMED"

    try:
        await wait_for(confirmed, timeout=30, what="the appointment confirmed")
        await wait_for(lambda: sandbox.state.messages, timeout=30, what="the WhatsApp confirmation")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; worker log:\n{worker.log()}") from None
    # Razorpay retries the webhook; the replay is a duplicate and sends nothing more: it stored no event
    # and queued no work (the only way another message could be sent), which is known when it answers.
    queued = await rows(factory, "SELECT id FROM outbox ORDER BY id")
    status, body = await deliver(api, paid)
    assert (status, body["data"]["duplicate"]) == (200, True)
    assert await rows(factory, "SELECT id FROM outbox ORDER BY id") == queued
    assert await value(factory, "SELECT count(*) FROM webhook_events") == 1
    await wait_for(all_work_done(factory), timeout=30, what="the worker to finish the queued work")
    assert len(sandbox.state.messages) == 1
    message = sandbox.state.messages[0]
    assert message["phone"] == appointment["patient"]["phone"].removeprefix("+")
    assert message["templateName"].startswith("appointment_confirmed")
    assert await rows(factory, "SELECT status, payment_id FROM payments") == [
        ("SUCCESS", paid["payment"]["id"])]
    assert await rows(factory, "SELECT outcome FROM webhook_events") == [("CONFIRMED",)]

"""Workflows end to end: the API (with its outbox relay), a PRIVATE Redis server, a REAL Dramatiq
worker subprocess (`dramatiq jobs.worker`), and the provider sandbox recording what it received.

Faults are real too: the Redis server is stopped and restarted, the worker is SIGKILLed, and the
sandbox answers 500 or stalls on demand. A payment goes the whole way too: paid at the sandbox, its
signed webhook settled by the worker.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from jobs import scheduler, sweeps
from mibo.api.app import init_app
from tests import payments_support
from tests.factories import rows, value
from tests.jobs_support import (
    PrivateRedis,
    Worker,
    book,
    free_port,
    future_slot,
    insert_appointment,
    people,
    start_scheduler,
    wait_for,
    worker_env,
)


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory):
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def flow_settings(settings, sandbox, private_redis):
    private_redis.flush()
    return sandbox.settings.replace(redis_url=private_redis.url, outbox_relay_interval=1)


@pytest.fixture
async def api(aiohttp_client, flow_settings, pool, redis, otp_sender):
    """The API with its outbox relay publishing to the private Redis."""
    return await aiohttp_client(init_app(flow_settings, pool=pool, redis=redis, otp_sender=otp_sender))


@pytest.fixture
def workers(flow_settings, tmp_path):
    started: list[Worker] = []

    def start(threads: int = 2, **extra) -> Worker:
        worker = Worker(worker_env(flow_settings, **extra), tmp_path / f"worker{len(started)}.log", threads)
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def sent_count(pool, expected: int):
    async def check():
        ((count,),) = await rows(pool, "SELECT count(*) FROM notification_logs WHERE status = 'SENT'")
        return count >= expected
    return check


async def open_all_week(factory, who) -> None:
    for day in range(7):
        await factory.availability_rule(who.clinician_id, who.centre_id, day, "00:00", "23:30")


async def test_online_booking_over_http_makes_one_meeting_and_one_message(api, pool, factory, sandbox,
                                                                          workers):
    metrics_port = free_port()
    worker = workers(WORKER_METRICS_PORT=str(metrics_port))
    who = await people(factory)
    await open_all_week(factory, who)
    desk = await factory.staff("FRONT_DESK", [who.centre_id])
    start = future_slot(days=4)
    resp = await api.post("/api/appointments", headers=desk.headers, json={
        "patientId": who.patient_id, "clinicianId": who.clinician_id, "centreId": who.centre_id,
        "appointmentType": "ONLINE", "scheduledStartAt": start.isoformat()})
    assert resp.status == 201, await resp.text()
    appointment_id = (await resp.json())["data"]["id"]

    await wait_for(sent_count(pool, 1), timeout=30,
                   what=lambda: f"the confirmation; worker log:\n{worker.log()}")
    ((link,),) = await rows(pool, "SELECT meet_link FROM appointments WHERE id = %s", (appointment_id,))
    google = await sandbox.requests("google")
    inserts = [r for r in google if r["method"] == "POST" and "/events" in r["path"]]
    assert len(inserts) == 1
    (message,) = sandbox.state.messages
    assert message["phone"] == who.patient_phone[1:] and message["bodyValues"]["meetLink"] == link
    assert message["bodyValues"]["when"] == f"{start.day} {start:%B %Y}, 10:00 am"  # 04:30 UTC in Kolkata

    resp = await api.get(f"/api/video/appointment/{appointment_id}/meet-link", headers=desk.headers)
    assert (await resp.json())["data"] == {"appointmentId": appointment_id, "appointmentType": "ONLINE",
                                           "meetLink": link, "calendarEventId": inserts[0]["body"]["id"],
                                           "status": "READY"}
    # Job health: the worker's own metrics endpoint counted the chain's steps.
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    async with aiohttp.ClientSession() as http, http.get(url) as scrape:
        text = await scrape.text()
    for actor in ("appointment_booked", "create_meet_link", "notify_appointment", "send_notification"):
        assert f'mibo_jobs_messages_total{{actor="{actor}",outcome="success"}} 1.0' in text


def all_work_done(factory):
    """True once every queued outbox row is published and every message is sent (or given up)."""

    async def check():
        unpublished = await value(factory, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
        open_messages = await value(factory, "SELECT count(*) FROM notification_logs WHERE status = 'PENDING'")
        unprocessed = await value(factory, "SELECT count(*) FROM webhook_events WHERE processed_at IS NULL")
        return unpublished == open_messages == unprocessed == 0

    return check


async def test_pay_through_the_sandbox_confirms_once_with_a_real_worker(api, factory, sandbox, workers):
    """Pay through the sandbox: the signed webhook reaches the API, the worker confirms the appointment
    and sends ONE WhatsApp confirmation, and a replayed webhook changes nothing."""
    worker = workers()
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    appointment = await payments_support.book(factory, centre)
    status, order = await payments_support.create_order(api, desk, appointment["id"])
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
    status, body = await payments_support.deliver(api, paid)
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


async def test_redis_down_during_20_bookings_then_back(api, pool, factory, sandbox, workers, private_redis):
    worker = workers()
    who = await people(factory)
    private_redis.stop()
    try:
        booked = [await book(pool, who, future_slot(i),
                             "IN_PERSON") for i in range(20)]  # writes still succeed
        await wait_for(lambda: rows(pool, "SELECT 1 FROM outbox WHERE attempts > 0 AND published_at IS NULL"),
                       timeout=10, what="the relay to try (and fail)")
        assert (await rows(pool, "SELECT count(*) FROM outbox WHERE published_at IS NULL"))[0][0] == 20
    finally:
        private_redis.start()
    await wait_for(sent_count(pool, 20), timeout=60,
                   what=lambda: f"20 confirmations; worker log:\n{worker.log()}")
    await wait_for(lambda: len(sandbox.state.messages) >= 20, timeout=5)
    logs = await rows(pool,
                      "SELECT appointment_id, status, attempts FROM notification_logs"
                      " ORDER BY appointment_id")
    assert logs == [(appointment_id, "SENT", 1) for appointment_id in booked]
    assert len(sandbox.state.messages) == 20  # none twice
    assert (await rows(pool, "SELECT count(*) FROM outbox WHERE published_at IS NULL"))[0][0] == 0


async def test_worker_killed_mid_chain_completes_after_restart(api, pool, factory, sandbox, workers):
    worker = workers(BROKER_HEARTBEAT_TIMEOUT="2")
    who = await people(factory)
    # The Calendar call hangs for a while: the worker is killed while it is inside that step.
    await sandbox.fault("google", delay=6, path="/google/calendar")
    appointment_id = await book(pool, who, future_slot(), "ONLINE")
    await wait_for(lambda: not sandbox.state.faults, timeout=20, what="the chain to reach the Calendar call")
    worker.kill()
    restarted = workers(BROKER_HEARTBEAT_TIMEOUT="2")
    await wait_for(sent_count(pool, 1), timeout=45,
                   what=lambda: f"the chain to finish; log:\n{restarted.log()}")
    ((link, event_id),) = await rows(pool,
                                     "SELECT meet_link, calendar_event_id FROM appointments WHERE id = %s",
                                     (appointment_id,))
    await wait_for(lambda: len(sandbox.state.events) >= 1, timeout=10)
    (event,) = sandbox.state.events.values()  # one meeting, whichever insert got there first
    assert event["id"] == event_id and event["hangoutLink"] == link
    (message,) = sandbox.state.messages
    assert message["bodyValues"]["meetLink"] == link
    assert await rows(pool, "SELECT status, attempts FROM notification_logs") == [("SENT", 1)]


async def test_gallabox_500_then_200_sends_one_message_and_logs_attempts(api, pool, factory, sandbox,
                                                                         workers):
    await sandbox.fault("gallabox", status=500)
    worker = workers()
    who = await people(factory)
    await book(pool, who, future_slot(), "IN_PERSON")
    await wait_for(sent_count(pool, 1), timeout=30, what=lambda: f"the retried message; log:\n{worker.log()}")
    statuses = [r["status"] for r in await sandbox.requests("gallabox")]
    assert statuses == [500, 202]
    assert len(sandbox.state.messages) == 1
    ((notification_id, status, attempts, error),) = await rows(
        pool, "SELECT id, status, attempts, last_error FROM notification_logs")
    assert (status, attempts) == ("SENT", 2) and "500" in error
    # The worker logs JSON, and the failure's line names the step it happened in.
    lines = [json.loads(line) for line in worker.log_path.read_text().splitlines() if line.startswith("{")]
    (failed,) = [line for line in lines if line["msg"] == "notification failed"]
    assert (failed["actor"], failed["notificationId"], failed["attempts"]) == ("send_notification",
                                                                               notification_id, 1)
    assert failed["phone"] == "******" + who.patient_phone[-4:] and who.patient_phone not in json.dumps(lines)


async def test_reminder_cancelled_after_it_was_queued_is_superseded(api, pool, factory, sandbox, workers):
    who = await people(factory)
    tomorrow_local_10am = (datetime.now(UTC) + timedelta(days=1)).replace(hour=4, minute=30, second=0,
                                                                          microsecond=0)
    async with pool.acquire() as conn, conn.cursor() as cur:
        appointment_id = await insert_appointment(cur, who, tomorrow_local_10am, "IN_PERSON")
    now = tomorrow_local_10am - timedelta(days=1) + timedelta(hours=1)  # 11:00 local, the day before
    assert await scheduler.enqueue_reminders(pool, now) == 1
    await wait_for(lambda: rows(pool, "SELECT 1 FROM outbox WHERE published_at IS NOT NULL"), timeout=10,
                   what="the reminder to be published")
    await rows(pool, "UPDATE appointments SET status = 'CANCELLED' WHERE id = %s", (appointment_id,))
    worker = workers()  # picks the queued reminder up only now
    await wait_for(lambda: rows(pool, "SELECT 1 FROM notification_logs WHERE status = 'SUPERSEDED'"),
                   timeout=30,
                   what=lambda: f"the reminder to be superseded; log:\n{worker.log()}")
    assert await rows(pool, "SELECT kind, status, attempts FROM notification_logs") == [
        ("APPOINTMENT_REMINDER", "SUPERSEDED", 0)]
    assert sandbox.state.messages == []
    assert json.loads(json.dumps(await sandbox.requests("gallabox"))) == []


async def test_scheduler_process_sweeps_and_reports_job_health(pool, factory, flow_settings, tmp_path):
    """`mibo scheduler` alone (no API relay): rows left unpublished go out, a message stuck PENDING
    by a dead worker is queued again, and its metrics say so."""
    await rows(pool, "INSERT INTO outbox (actor_name, args) VALUES ('appointment_booked', '[1]')")
    who = await people(factory)
    async with pool.acquire() as conn, conn.cursor() as cur:
        appointment_id = await insert_appointment(cur, who, future_slot(), "IN_PERSON")
    ((stuck,),) = await rows(pool, """
        INSERT INTO notification_logs (idempotency_key, appointment_id, kind, template_name, recipient_phone,
                                       attempts, attempt_started_at, lease_until, created_at)
        VALUES ('stuck', %s, 'APPOINTMENT_BOOKED', 'appointment_booked', %s, 1, now() - interval '5 minutes',
                now() - interval '3 minutes', now() - interval '5 minutes')
        RETURNING id""", (appointment_id, who.patient_phone))
    port = free_port()
    env = worker_env(flow_settings, SCHEDULER_METRICS_PORT=str(port))
    log_path = tmp_path / "scheduler.log"
    process = start_scheduler(env, log_path)
    try:
        await wait_for(lambda: rows(pool, "SELECT 1 FROM outbox WHERE actor_name = 'appointment_booked'"
                                          " AND published_at IS NOT NULL"),
                       timeout=20, what=lambda: f"the sweep; log:\n{log_path.read_text()}")
        await wait_for(lambda: rows(pool, "SELECT 1 FROM outbox WHERE dedupe_key = %s AND published_at IS NOT NULL",
                                    (f"send_notification:{stuck}",)),
                       timeout=20, what=lambda: f"the stuck message queued again; log:\n{log_path.read_text()}")

        async def scrape():
            try:
                url = f"http://127.0.0.1:{port}/metrics"
                async with aiohttp.ClientSession() as http, http.get(url) as resp:
                    text = await resp.text()
            except aiohttp.ClientError:
                return None
            # Every job has run once (each publishes what it queued before reporting success).
            jobs = ("reminders", "notification_retry", "cleanup", "unpaid_holds", "outbox_sweep",
                    "notification_sweep", "appointment_sweep", "meet_link_sweep", "payment_sweep")
            return text if all(f'job="{job}"' in text for job in jobs) else None

        text = await wait_for(scrape, timeout=20, what="the scheduler's metrics")
        assert 'mibo_sweep_found{sweep="notifications"} 1.0' in text
        assert 'mibo_sweep_repaired_total{sweep="notifications"} 1.0' in text
        assert re.search(r'mibo_sweep_oldest_open_seconds\{sweep="notifications"\} (29\d|3\d\d)', text)
        for sweep in ("outbox", "appointments", "meet_links", "payments"):
            assert f'mibo_sweep_found{{sweep="{sweep}"}}' in text
        # Ours, the repair, the hourly cleanup and the unpaid-hold release are out; none is done (no
        # worker here), so all four still count as open steps.
        assert "mibo_outbox_backlog 4.0" in text
        ready = re.search(r'mibo_jobs_queue_depth\{queue="default",state="ready"\} (\d+)', text)
        # Redis holds each open step as often as the outbox recorded publishing it: once, or again
        # if a relay found Redis changed under it (harmless: the actors are idempotent).
        ((published, steps),) = await rows(pool, "SELECT sum(attempts), count(*) FROM outbox WHERE done_at IS NULL")
        assert steps == 4 and ready and int(ready.group(1)) == published >= 4, log_path.read_text()
        assert "mibo_scheduler_job_failures_total{" not in text  # no job has failed
    finally:
        process.terminate()
        process.wait(20)
    assert process.returncode == 0


# --- durability: the database decides what is done ------------------------------------------------

BOOKED_MESSAGES = """
SELECT appointment_id, status FROM notification_logs WHERE kind = 'APPOINTMENT_BOOKED' ORDER BY appointment_id
"""


async def book_over_http(api, admin, who, start, kind: str) -> int:
    resp = await api.post("/api/appointments", headers=admin.headers, json={
        "patientId": who.patient_id, "clinicianId": who.clinician_id, "centreId": who.centre_id,
        "appointmentType": kind, "scheduledStartAt": start.isoformat()})
    assert resp.status == 201, await resp.text()
    return (await resp.json())["data"]["id"]


def message_keys(sandbox) -> list[tuple]:
    """What the patient received, one entry per accepted message: (phone, template, when)."""
    return [(m["phone"], m["templateName"], m["bodyValues"].get("when")) for m in sandbox.state.messages]


async def test_redis_restarted_empty_while_50_bookings_are_queued(api, pool, factory, sandbox, workers,
                                                                  private_redis):
    """A Redis that keeps nothing loses every queued message when it restarts; the relay sees another
    Redis (its run id) and publishes every open step again. Afterwards each booking has exactly one
    booking message and each ONLINE one exactly one calendar event and one Meet link."""
    worker = workers(threads=4)
    admin = await factory.staff("ADMIN")
    groups = [await people(factory) for _ in range(5)]
    for who in groups:
        await open_all_week(factory, who)
    await sandbox.fault("gallabox", delay=0.1, count=1000)  # sends slow enough for a queue to build up
    booked = {}
    for i in range(50):
        kind = "ONLINE" if i % 3 == 0 else "IN_PERSON"
        booked[await book_over_http(api, admin, groups[i % 5], future_slot(i // 5, days=4), kind)] = kind
    await wait_for(sent_count(pool, 5), timeout=30, what=lambda: f"the first messages; log:\n{worker.log()}")
    ((unsent,),) = await rows(pool, "SELECT count(*) FROM outbox WHERE done_at IS NULL")
    private_redis.stop()
    private_redis.start()  # empty: no AOF, no RDB
    assert unsent > 10  # the restart did lose queued work
    await wait_for(sent_count(pool, 50), timeout=90,
                   what=lambda: f"50 booking messages; log:\n{worker.log()}")
    await wait_for(lambda: rows(pool, "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE done_at IS NULL)"),
                   timeout=30, what="every step done")
    assert await rows(pool, BOOKED_MESSAGES) == [(appointment_id, "SENT") for appointment_id in sorted(booked)]
    received = message_keys(sandbox)
    assert len(received) == len(set(received)) == 50  # none missing, none twice
    online = sorted(a for a, kind in booked.items() if kind == "ONLINE")
    meetings = await rows(pool, "SELECT id, meet_link, calendar_event_id FROM appointments"
                                " WHERE meet_link IS NOT NULL ORDER BY id")
    assert [m[0] for m in meetings] == online and len(online) == 17
    assert sorted(e["id"] for e in sandbox.state.events.values()) == sorted(m[2] for m in meetings)
    assert len({m[1] for m in meetings}) == 17
    links_sent = {m["bodyValues"]["meetLink"] for m in sandbox.state.messages if "meetLink" in m["bodyValues"]}
    assert links_sent == {m[1] for m in meetings}
    assert await rows(pool, "SELECT changed_at IS NOT NULL FROM outbox_broker") == [(True,)]


async def test_worker_killed_mid_send_repeats_nothing_outside_the_window(api, pool, factory, sandbox, workers,
                                                                        flow_settings):
    """SIGKILL while the worker holds messages and is inside Gallabox, Google and Razorpay calls. After a
    restart: no calendar event twice, no payment settled twice, and a WhatsApp message twice only if
    its send was in flight when the worker died (claimed, outcome never written: Gallabox cannot be
    asked whether it took it)."""
    env = {"BROKER_HEARTBEAT_TIMEOUT": "2", "NOTIFICATION_LEASE": "3"}
    worker = workers(threads=6, **env)
    admin = await factory.staff("ADMIN")
    who = await people(factory)
    await open_all_week(factory, who)
    for provider, path, count in (("gallabox", "/gallabox", 4), ("google", "/google/calendar", 2)):
        await sandbox.fault(provider, delay=3, count=count, path=path)
    for i in range(6):
        await book_over_http(api, admin, who, future_slot(i, days=4), "ONLINE" if i < 2 else "IN_PERSON")
    # A checkout paid at Razorpay: the browser's verify and the webhook both ask to settle it.
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    appointment = await payments_support.book(factory, centre)
    status, order = await payments_support.create_order(api, desk, appointment["id"])
    assert status == 200, order
    await sandbox.fault("razorpay", delay=3, path=f"/razorpay/v1/orders/{order['data']['orderId']}/payments")
    paid = await payments_support.pay(sandbox, orderId=order["data"]["orderId"], outcome="captured")
    checkout = paid["checkout"]
    resp = await api.post("/api/payments/verify", headers=desk.headers, json={
        "razorpayOrderId": checkout["razorpay_order_id"], "razorpayPaymentId": checkout["razorpay_payment_id"],
        "razorpaySignature": checkout["razorpay_signature"]})
    assert resp.status == 200, await resp.text()

    async def mid_send():
        ((claimed,),) = await rows(pool, "SELECT count(*) FROM notification_logs WHERE lease_until > now()"
                                         " AND status = 'PENDING'")
        return claimed >= 2 and len(sandbox.state.faults) <= 1
    await wait_for(mid_send, timeout=30, what=lambda: f"sends in flight; log:\n{worker.log()}")
    worker.kill()
    # Claimed by the dead worker, outcome never written: inside the window.
    in_window = await rows(pool, "SELECT recipient_phone, template_name, payload->'bodyValues'->>'when'"
                                 " FROM notification_logs WHERE status <> 'SENT' AND attempt_started_at IS NOT NULL")
    assert in_window
    await payments_support.deliver(api, paid)  # the webhook arrives while no worker runs
    restarted = workers(threads=6, **env)
    settings = flow_settings.replace(notification_lease=3)

    async def all_sent():
        await sweeps.notifications(pool, settings)  # the scheduler's minutely sweep, run here more often
        ((pending,),) = await rows(pool, "SELECT count(*) FROM notification_logs WHERE status <> 'SENT'")
        ((count,),) = await rows(pool, "SELECT count(*) FROM notification_logs")
        return count == 7 and pending == 0  # 6 booking messages, 1 confirmation
    await wait_for(all_sent, timeout=60, interval=0.5, what=lambda: f"every message; log:\n{restarted.log()}")
    await asyncio.sleep(4)  # let a late duplicate (a request the dead worker left in flight) land

    # No calendar event twice.
    events = await rows(pool, "SELECT calendar_event_id FROM appointments WHERE meet_link IS NOT NULL ORDER BY id")
    assert len(events) == 2 and sorted(e["id"] for e in sandbox.state.events.values()) == sorted(e for e, in events)
    # No payment settled twice.
    assert await rows(pool, "SELECT status FROM payments") == [("SUCCESS",)]
    assert await rows(pool, "SELECT count(*) FROM audit_log WHERE action = 'payment.captured'") == [(1,)]
    assert await rows(pool, "SELECT count(*) FROM appointment_status_history WHERE to_status = 'CONFIRMED'"
                            " AND appointment_id = %s", (appointment["id"],)) == [(1,)]
    # No message missing; twice only for a send in flight at the kill.
    received = Counter(message_keys(sandbox))
    expected = await rows(pool, "SELECT substr(recipient_phone, 2), template_name, payload->'bodyValues'->>'when'"
                                " FROM notification_logs")
    assert set(received) == set(expected) and len(expected) == 7
    twice = [key for key, count in received.items() if count > 1]
    assert all(count <= 2 for count in received.values())
    assert set(twice) <= {(phone[1:], template, when) for phone, template, when in in_window}, (twice, in_window)
    assert sum(received.values()) == 7 + len(twice)

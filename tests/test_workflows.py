"""Workflows end to end: the API (with its outbox relay), a PRIVATE Redis server, a REAL Dramatiq
worker subprocess (`dramatiq jobs.worker`), and the provider sandbox recording what it received.

Faults are real too: the Redis server is stopped and restarted, the worker is SIGKILLed, and the
sandbox answers 500 or stalls on demand.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from jobs import scheduler
from mibo.api.app import init_app
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

    def start(**extra) -> Worker:
        worker = Worker(worker_env(flow_settings, **extra), tmp_path / f"worker{len(started)}.log")
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


async def rows(pool, sql, params=()):
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(sql, params)
        return await cur.fetchall() if cur.description else cur.rowcount


def sent_count(pool, expected: int):
    async def check():
        ((count,),) = await rows(pool, "SELECT count(*) FROM notification_logs WHERE status = 'SENT'")
        return count >= expected
    return check


async def open_all_week(pool, who) -> None:
    await rows(pool,
               "INSERT INTO clinician_availability_rules (clinician_id, centre_id, day_of_week, start_time,"
                     " end_time, slot_duration_minutes) SELECT %s, %s, d, '00:00', '23:30', 30"
                     " FROM generate_series(0, 6) d", (who.clinician_id, who.centre_id))


async def test_online_booking_over_http_makes_one_meeting_and_one_message(api, pool, factory, sandbox,
                                                                          workers):
    metrics_port = free_port()
    worker = workers(WORKER_METRICS_PORT=str(metrics_port))
    who = await people(factory)
    await open_all_week(pool, who)
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
    ((status, attempts, error),) = await rows(pool,
                                              "SELECT status, attempts, last_error FROM notification_logs")
    assert (status, attempts) == ("SENT", 2) and "500" in error


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


async def test_scheduler_process_sweeps_the_outbox_and_reports_job_health(pool, flow_settings, tmp_path):
    """`mibo scheduler` alone (no API relay): rows left unpublished go out, and its metrics say so."""
    await rows(pool, "INSERT INTO outbox (actor_name, args) VALUES ('appointment_booked', '[1]')")
    port = free_port()
    env = worker_env(flow_settings, SCHEDULER_METRICS_PORT=str(port))
    log_path = tmp_path / "scheduler.log"
    process = start_scheduler(env, log_path)
    try:
        await wait_for(lambda: rows(pool, "SELECT 1 FROM outbox WHERE published_at IS NOT NULL"),
                       timeout=20, what=lambda: f"the sweep; log:\n{log_path.read_text()}")

        async def scrape():
            try:
                url = f"http://127.0.0.1:{port}/metrics"
                async with aiohttp.ClientSession() as http, http.get(url) as resp:
                    text = await resp.text()
            except aiohttp.ClientError:
                return None
            # Every job has run once (each publishes what it queued before reporting success).
            jobs = ("reminders", "notification_retry", "payment_reconcile", "cleanup", "outbox_sweep")
            return text if all(f'job="{job}"' in text for job in jobs) else None

        text = await wait_for(scrape, timeout=20, what="the scheduler's metrics")
        assert "mibo_outbox_backlog 0.0" in text
        # Our row, and the payments reconciliation the scheduler queued itself at start.
        ready = re.search(r'mibo_jobs_queue_depth\{queue="default",state="ready"\} (\d+)', text)
        assert ready and int(ready.group(1)) >= 1
        assert "mibo_scheduler_job_failures_total{" not in text  # no job has failed
    finally:
        process.terminate()
        process.wait(20)
    assert process.returncode == 0

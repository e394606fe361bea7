"""Periodic jobs and the outbox relay, against the real database and the test Redis.

Two schedulers (or one restarted) must not double-send: every enqueue is an outbox row with a
dedupe key, and the relay claims rows with SKIP LOCKED, so running jobs twice or at once
queues each piece of work once.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import redis as redis_sync

from jobs import scheduler, sweeps
from jobs.actors import maintenance
from mibo.core import outbox, relay
from tests.factories import insert_payment_row, rows
from tests.jobs_support import insert_appointment, people, wait_for

# 10:00 in Kolkata on 4 June 2026; "tomorrow" there is 5 June.
NOW = datetime(2026, 6, 4, 4, 30, tzinfo=UTC)


def kolkata(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC) - timedelta(hours=5, minutes=30)


async def appointments_at(factory, pool, starts, status="BOOKED", timezone="Asia/Kolkata"):
    who = await people(factory, timezone=timezone)
    ids = []
    async with pool.acquire() as conn, conn.cursor() as cur:
        for start in starts:
            ids.append(await insert_appointment(cur, who, start, "IN_PERSON", status))
    return ids


async def test_reminders_cover_tomorrow_in_the_centres_zone(factory, pool):
    due = await appointments_at(factory, pool, [kolkata(5, 0, 15), kolkata(5, 9), kolkata(5, 23, 30)])
    not_due = await appointments_at(factory, pool, [kolkata(4, 18), kolkata(6, 0, 0)])
    await appointments_at(factory, pool, [kolkata(5, 12)], status="CANCELLED")
    assert await scheduler.enqueue_reminders(pool, NOW) == 3
    queued = await rows(pool,
                         "SELECT args, dedupe_key FROM outbox WHERE actor_name = 'appointment_reminder'")
    assert sorted(args[0] for args, _ in queued) == sorted(due)
    assert not set(not_due) & {args[0] for args, _ in queued}
    for args, key in queued:
        start = datetime.fromisoformat(args[1])
        assert key == outbox.reminder_dedupe_key(args[0], int(start.timestamp()))


async def test_no_reminders_at_night(factory, pool):
    await appointments_at(factory, pool, [kolkata(5, 10)])
    assert await scheduler.enqueue_reminders(pool, kolkata(4, 8, 59)) == 0  # before 09:00 local
    assert await scheduler.enqueue_reminders(pool, kolkata(4, 9, 0)) == 1


async def test_two_schedulers_at_once_queue_each_reminder_once(factory, pool):
    ids = await appointments_at(factory, pool, [kolkata(5, h) for h in range(8, 20)])
    results = await asyncio.gather(*(scheduler.enqueue_reminders(pool, NOW) for _ in range(4)))
    assert sum(results) == len(ids)
    assert await scheduler.enqueue_reminders(pool,
                                             NOW + timedelta(minutes=15)) == 0  # the next run, or a restart
    (count,) = (await rows(pool, "SELECT count(*) FROM outbox"))[0]
    assert count == len(ids)


async def test_failed_notifications_are_requeued_once_per_attempt(factory, pool, settings):
    await rows(pool, """
        INSERT INTO notification_logs (idempotency_key, kind, template_name, recipient_phone, status,
                                       attempts, next_attempt_at)
        VALUES ('due', 'X', 't', '+919876543210', 'FAILED', 1, now() - interval '1 minute'),
               ('later', 'X', 't', '+919876543210', 'FAILED', 1, now() + interval '1 hour'),
               ('given-up', 'X', 't', '+919876543210', 'FAILED', 6, NULL),
               ('otp', 'OTP', 't', '+919876543210', 'FAILED', 1, now() - interval '1 minute'),
               ('sent', 'X', 't', '+919876543210', 'SENT', 1, NULL)""")
    results = await asyncio.gather(*(scheduler.enqueue_notification_retries(pool,
                                                                            settings) for _ in range(3)))
    assert sum(results) == 1
    ((actor, args, key),) = await rows(pool, "SELECT actor_name, args, dedupe_key FROM outbox")
    (due_id,) = (await rows(pool, "SELECT id FROM notification_logs WHERE idempotency_key = 'due'"))[0]
    assert (actor, args, key) == ("send_notification", [due_id], f"notification-retry:{due_id}:1")
    # After another failed attempt, it may be queued again.
    await rows(pool, "UPDATE notification_logs SET attempts = 2 WHERE id = %s", (due_id,))
    assert await scheduler.enqueue_notification_retries(pool, settings) == 1


async def stale_payment(factory, pool, *, channel="CHECKOUT", status="CREATED", minutes_ago=30, flagged=False):
    who = await people(factory)
    async with pool.acquire() as conn, conn.cursor() as cur:
        appointment_id = await insert_appointment(cur, who, kolkata(5, 10), "IN_PERSON")
        now = datetime.now(UTC)
        then = now - timedelta(minutes=minutes_ago)
        return await insert_payment_row(cur, patient_id=who.patient_id, appointment_id=appointment_id, amount=1500,
                                        channel=channel, status=status, flagged_at=now if flagged else None,
                                        created_at=then, updated_at=then)


async def test_payments_left_open_are_queued_for_reconciliation_once_while_open(factory, pool, settings):
    due = [await stale_payment(factory, pool), await stale_payment(factory, pool, status="PENDING")]
    await stale_payment(factory, pool, minutes_ago=5)  # not yet: the webhook may still come
    await stale_payment(factory, pool, flagged=True)  # staff settle it
    await stale_payment(factory, pool, status="SUCCESS")
    await stale_payment(factory, pool, channel="DESK")
    swept = await asyncio.gather(*(sweeps.payments(pool, settings) for _ in range(3)))
    assert sorted(s.repaired for s in swept) == [0, 0, 2] and all(s.found == 2 for s in swept)
    assert all(s.oldest_seconds >= 30 * 60 for s in swept)
    queued = await rows(pool, "SELECT args, dedupe_key FROM outbox ORDER BY id")
    assert queued == [([pid], f"reconcile_payment:{pid}") for pid in due]
    # Still open (queued, or running): not queued twice. Once done, the next run opens it again.
    assert (await sweeps.payments(pool, settings)).repaired == 0
    await rows(pool, "UPDATE outbox SET done_at = now()")
    assert (await sweeps.payments(pool, settings)).repaired == 2
    assert await rows(pool, "SELECT count(*) FROM outbox WHERE done_at IS NULL") == [(2,)]


async def test_cleanup_is_queued_for_a_worker_once_per_hour(pool):
    at = datetime(2026, 6, 4, 10, 1, tzinfo=UTC)
    results = await asyncio.gather(*(scheduler.enqueue_purge(pool, at) for _ in range(4)))
    assert sorted(results) == [0, 0, 0, 1]
    assert await scheduler.enqueue_purge(pool, at + timedelta(minutes=58)) == 0
    assert await scheduler.enqueue_purge(pool, at + timedelta(minutes=59)) == 1
    assert [r[0] for r in await rows(pool, "SELECT actor_name FROM outbox")] == ["purge_expired"] * 2


async def test_cleanup_removes_expired_otps_sessions_and_old_outbox_rows(factory, pool, settings):
    user = await factory.user()
    await rows(pool, """
        INSERT INTO otp_requests (phone, otp_hash, expires_at) VALUES
          ('+919876543210', 'h', now() - interval '2 days'),
          ('+919876543210', 'h', now() + interval '5 minutes')""")
    await rows(pool, """
        INSERT INTO auth_sessions (user_id, refresh_token_hash, expires_at, revoked_at) VALUES
          (%(u)s, 'a', now() - interval '2 days', NULL),
          (%(u)s, 'b', now() + interval '1 day', now() - interval '30 days'),
          (%(u)s, 'c', now() + interval '1 day', now() - interval '1 hour'),
          (%(u)s, 'd', now() + interval '1 day', NULL)""", {"u": user["id"]})
    await rows(pool, """
        INSERT INTO outbox (actor_name, created_at, published_at, done_at) VALUES
          ('a', now() - interval '9 days', now() - interval '9 days', now() - interval '8 days'),
          ('b', now() - interval '9 days', now() - interval '9 days', NULL),
          ('c', now(), now(), now()), ('d', now(), NULL, NULL)""")
    # Only finished steps go, and only old ones; an open step stays however old it is.
    assert await maintenance.purge(pool, settings) == {"otps": 1, "sessions": 2, "outbox": 1}
    assert [r[0] for r in await rows(pool, "SELECT actor_name FROM outbox ORDER BY id")] == ["b", "c", "d"]
    assert sorted(r[0] for r in await rows(pool, "SELECT refresh_token_hash FROM auth_sessions")) == ["c",
                                                                                                       "d"]
    assert await maintenance.purge(pool, settings) == {"otps": 0, "sessions": 0, "outbox": 0}


# --- the relay -------------------------------------------------------------------


@pytest.fixture
def queue_reader(settings):
    client = redis_sync.Redis.from_url(settings.redis_url)
    client.flushdb()

    def messages(queue: str = "default") -> list[dict]:
        ids = client.lrange(f"dramatiq:{queue}", 0, -1)
        return [json.loads(client.hget(f"dramatiq:{queue}.msgs", i)) for i in ids]

    yield messages
    client.flushdb()
    client.close()


@pytest.fixture
def publisher(settings):
    made = relay.Publisher(settings)
    yield made
    made.close()


async def add_outbox(pool, count: int, actor: str = outbox.APPOINTMENT_BOOKED) -> list[int]:
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute("INSERT INTO outbox (actor_name, args) SELECT %s, jsonb_build_array(n)"
                          " FROM generate_series(1, %s) n RETURNING id", (actor, count))
        return [row[0] for row in await cur.fetchall()]


async def test_sweep_publishes_each_row_once_even_when_two_run_at_once(pool, publisher, queue_reader):
    total = 2 * relay.PARALLEL_THRESHOLD + 100  # batches above the threshold: split across threads
    ids = await add_outbox(pool, total - 3)
    reminder_ids = await add_outbox(pool, 3, outbox.APPOINTMENT_REMINDER)
    batch = relay.PARALLEL_THRESHOLD + 50
    results = await asyncio.gather(relay.publish_pending(pool, publisher, batch=batch),
                                   relay.publish_pending(pool, publisher, batch=batch))
    assert sum(results) == total
    published = queue_reader("default")
    assert sorted(m["args"][0] for m in published) == list(range(1, total - 2))
    assert all(m["actor_name"] == "appointment_booked" for m in published)
    assert len(queue_reader("reminders")) == 3
    left = await rows(pool, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
    assert left == [(0,)] and len(ids + reminder_ids) == total
    assert await relay.publish_pending(pool, publisher) == 0  # nothing twice


async def test_sweep_with_redis_down_keeps_rows_for_later(pool, settings, queue_reader):
    await add_outbox(pool, 5)
    down = relay.Publisher(settings.replace(redis_url="redis://127.0.0.1:1/0"))
    try:
        assert await relay.publish_pending(pool, down) == 0
    finally:
        down.close()
    found = await rows(pool, "SELECT published_at, attempts, last_error FROM outbox")
    assert all(p is None and a == 1 and "ConnectionError" in e for p, a, e in found)
    up = relay.Publisher(settings)
    try:
        assert await relay.publish_pending(pool, up) == 5
    finally:
        up.close()
    assert len(queue_reader()) == 5


async def test_relay_publishes_right_after_commit(client, pool, queue_reader, publisher):
    """The app's relay (started with the app) hears NOTIFY on commit; no sweep interval to wait for."""
    async with pool.acquire() as conn, conn.cursor() as cur:
        async with cur.begin():
            await cur.execute("INSERT INTO outbox (actor_name, args) VALUES ('appointment_booked', '[7]')")
            # Not before the commit: a sweep run now, as the relay's would, finds nothing to publish.
            assert await relay.publish_pending(pool, publisher) == 0
            assert queue_reader() == []
    started = asyncio.get_running_loop().time()
    await wait_for(lambda: queue_reader(), timeout=3, interval=0.02, what="the relay to publish")
    assert asyncio.get_running_loop().time() - started < 1.0
    assert [m["args"] for m in queue_reader()] == [[7]]
    await wait_for(lambda: rows(pool, "SELECT 1 FROM outbox WHERE published_at IS NOT NULL"), timeout=3)


async def test_publishing_to_a_hung_redis_never_blocks_the_event_loop(pool, settings):
    """The relay in the API process never blocks the event loop: a Redis that accepts connections and
    never answers stalls only the publisher's thread (until its socket timeout), not the loop."""
    accepted: list[asyncio.StreamWriter] = []
    hung = await asyncio.start_server(lambda reader, writer: accepted.append(writer), "127.0.0.1", 0)
    port = hung.sockets[0].getsockname()[1]
    await add_outbox(pool, 3)
    stalled = relay.Publisher(settings.replace(redis_url=f"redis://127.0.0.1:{port}/0"))
    loop = asyncio.get_running_loop()
    gaps: list[float] = []

    async def tick():
        last = loop.time()
        while True:
            await asyncio.sleep(0.02)
            gaps.append(loop.time() - last)
            last = loop.time()

    ticker = asyncio.create_task(tick())
    try:
        started = loop.time()
        assert await relay.publish_pending(pool, stalled) == 0
        assert loop.time() - started >= 1.5  # it did wait on the hung server (socket timeout 2 s)
    finally:
        ticker.cancel()
        stalled.close()
        hung.close()
        for writer in accepted:
            writer.close()
            await writer.wait_closed()
        await hung.wait_closed()
    assert len(gaps) > 50 and max(gaps) < 0.5
    found = await rows(pool, "SELECT published_at, last_error FROM outbox")
    assert all(p is None and "Timeout" in e for p, e in found)


async def test_a_published_step_is_published_again_only_once_its_lease_runs_out(pool, settings, queue_reader):
    """The database, not Redis, says what is done: a step Redis accepted and then lost (never done)
    goes out again when its lease runs out; a done one never does."""
    publisher = relay.Publisher(settings.replace(outbox_lease=1))
    try:
        lost, done = await add_outbox(pool, 2)
        assert await relay.publish_pending(pool, publisher) == 2
        assert await relay.publish_pending(pool, publisher) == 0  # leased
        await rows(pool, "UPDATE outbox SET done_at = now() WHERE id = %s", (done,))
        queue_reader()  # Redis "loses" both messages
        redis_sync.Redis.from_url(settings.redis_url).delete("dramatiq:default", "dramatiq:default.msgs")
        await asyncio.sleep(1.1)
        assert await relay.publish_due(pool, publisher) == (1, 1)
    finally:
        publisher.close()
    assert [m["args"] for m in queue_reader()] == [[1]]
    assert await rows(pool, "SELECT id, attempts FROM outbox WHERE done_at IS NULL") == [(lost, 2)]


async def test_a_redis_that_lost_its_data_gets_every_open_step_again_at_once(pool, settings, queue_reader):
    """A flushed (or restarted) Redis shows another epoch: leased steps are due again without waiting."""
    await add_outbox(pool, 3)
    publisher = relay.Publisher(settings)
    try:
        assert await relay.publish_pending(pool, publisher) == 3
        # The first epoch recorded has nothing to compare with: the leases stand.
        assert await relay.check_broker(pool, publisher) == 0
        assert await relay.sweep(pool, publisher) == 0
        await rows(pool, "UPDATE outbox SET done_at = now() WHERE args = '[3]'")
        assert await relay.check_broker(pool, publisher) == 0  # the same Redis: nothing to redo
        assert await relay.sweep(pool, publisher) == 0
        redis_sync.Redis.from_url(settings.redis_url).flushdb()
        # Two relays notice the same loss: only one of them reopens the steps.
        assert sorted(await asyncio.gather(*(relay.check_broker(pool, publisher) for _ in range(2)))) == [0, 2]
        assert await relay.publish_pending(pool, publisher) == 2
    finally:
        publisher.close()
    assert sorted(m["args"] for m in queue_reader()) == [[1], [2]]


async def test_the_outbox_sweep_reports_steps_due_again(pool, settings, queue_reader):
    publisher = relay.Publisher(settings.replace(outbox_lease=1))
    try:
        await add_outbox(pool, 2)
        first = await sweeps.outbox_steps(pool, publisher)
        assert (first.found, first.repaired) == (0, 0)
        await asyncio.sleep(1.1)
        again = await sweeps.outbox_steps(pool, publisher)
        assert (again.found, again.repaired) == (2, 2) and again.oldest_seconds >= 1
    finally:
        publisher.close()


async def test_the_outbox_sweep_with_redis_down_repairs_nothing_and_does_not_fail(pool, settings):
    await add_outbox(pool, 2)
    down = relay.Publisher(settings.replace(redis_url="redis://127.0.0.1:1/0"))
    try:
        swept = await sweeps.outbox_steps(pool, down)
    finally:
        down.close()
    assert (swept.found, swept.repaired) == (0, 0)
    found = await rows(pool, "SELECT published_at, last_error FROM outbox")
    assert all(p is None and "ConnectionError" in e for p, e in found)

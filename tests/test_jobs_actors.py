"""Every actor step run in-process against the real database and the provider sandbox; the steps
each one queues are read back from the outbox (the test plays relay and worker). Each step is run
twice: the second run must change nothing (one Meet link, one calendar event, one message).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading

import psycopg2
import psycopg2.extras
import pytest

os.environ.setdefault("MIBO_BROKER", "stub")  # (tests/conftest.py sets it too, before any import)

from dramatiq.brokers.stub import StubBroker  # noqa: E402
from dramatiq.middleware import TimeLimitExceeded  # noqa: E402

import jobs.broker  # noqa: E402
import jobs.context  # noqa: E402
from jobs import sweeps  # noqa: E402
from jobs.actors import appointments, maintenance, notifications, otp, payments, video  # noqa: E402,F401
from mibo.core import outbox  # noqa: E402
from mibo.domain import messages  # noqa: E402
from mibo.domain import otp_delivery as otp_sender  # noqa: E402
from mibo.providers.errors import ProviderError  # noqa: E402
from tests.factories import rows  # noqa: E402
from tests.jobs_support import future_slot, insert_appointment, people, wait_for  # noqa: E402

# What the relay does to a due step, for a lease long enough that nothing is published twice here.
CLAIM_DUE = """
UPDATE outbox SET published_at = now(), due_at = now() + interval '1 hour'
WHERE done_at IS NULL AND due_at <= now()
RETURNING id, actor_name, args
"""


class Runner:
    """Plays relay and worker: runs the due outbox steps in this test's loop until none is left."""

    def __init__(self, broker: StubBroker, pool):
        self.broker = broker
        self.pool = pool
        self.ran: list[tuple[str, tuple]] = []

    async def run(self, actor, *args):
        await inspect.unwrap(actor.fn)(*args)
        self.ran.append((actor.actor_name, args))

    async def queued(self) -> list[tuple[str, list]]:
        """The steps due now, leased as the relay leases what it publishes: (actor, args) in order."""
        claimed = await rows(self.pool, CLAIM_DUE)
        return [(name, args) for _, name, args in sorted(claimed)]

    async def drain(self) -> list[str]:
        names = []
        while batch := await self.queued():
            for name, args in batch:
                await self.run(self.broker.get_actor(name), *args)
                names.append(name)
        return names

    def sent_directly(self) -> int:
        """Messages put on the broker itself instead of through the outbox."""
        return sum(queue.qsize() for queue in self.broker.queues.values())


@pytest.fixture
async def runner(pool, sandbox, monkeypatch):
    broker = jobs.broker.broker
    assert isinstance(broker, StubBroker), "run with MIBO_BROKER=stub (set by this module before import)"
    monkeypatch.setattr(jobs.context, "_settings", sandbox.settings)
    monkeypatch.setattr(jobs.context, "_pool", pool)
    monkeypatch.setattr(jobs.context, "_clients", threading.local())
    broker.flush_all()
    yield Runner(broker, pool)
    assert Runner(broker, pool).sent_directly() == 0  # every step went through the outbox
    broker.flush_all()
    jobs.context.close_clients()


LINK = "SELECT meet_link, calendar_event_id FROM appointments WHERE id = %s"


async def new_appointment(factory, pool, kind="ONLINE", start=None, status="BOOKED"):
    who = await people(factory)
    async with pool.acquire() as conn, conn.cursor() as cur:
        appointment_id = await insert_appointment(cur, who, start or future_slot(), kind, status)
    return who, appointment_id


async def test_online_booking_chain_twice_makes_one_meeting_and_one_message(factory, pool, sandbox, runner):
    who, appt = await new_appointment(factory, pool)
    for _ in range(2):  # the whole chain, twice
        await runner.run(appointments.appointment_booked, appt)
        await runner.drain()
    assert [name for name, _ in runner.ran] == [
        "appointment_booked", "create_meet_link", "notify_appointment", "send_notification",
        "appointment_booked", "notify_appointment"]  # second time: link exists, row already SENT
    ((link, event_id),) = await rows(pool,
                                     "SELECT meet_link, calendar_event_id FROM appointments WHERE id = %s",
                                     (appt,))
    assert link.startswith("https://meet.google.com/")
    google = await sandbox.requests("google")
    inserts = [r for r in google if r["method"] == "POST" and "/events" in r["path"]]
    (insert,) = inserts
    assert insert["body"]["conferenceData"]["createRequest"]["requestId"] == f"mibo-appt-{appt}"
    (message,) = sandbox.state.messages
    assert message["phone"] == who.patient_phone.removeprefix("+")
    assert message["templateName"] == "appointment_booked_online"
    assert message["bodyValues"]["meetLink"] == link
    assert message["bodyValues"]["when"] == messages.local_when(future_slot(), "Asia/Kolkata")
    assert await rows(pool, "SELECT status, attempts, kind FROM notification_logs") == [
        ("SENT", 1, messages.BOOKED)]


async def test_create_meet_link_run_twice_keeps_the_first_link(factory, pool, sandbox, runner):
    _, appt = await new_appointment(factory, pool)
    await runner.run(video.create_meet_link, appt, "")
    first = await rows(pool, LINK, (appt,))
    # A duplicate message arrives: no new request, same link.
    await runner.run(video.create_meet_link, appt, "")
    assert await rows(pool, LINK, (appt,)) == first
    assert len(sandbox.state.events) == 1
    assert await runner.queued() == []  # kind "" queues no message


async def test_meeting_is_reused_when_the_link_was_not_stored(factory, pool, sandbox, runner):
    """A worker that died after Google created the event but before storing the link: the retry
    gets the same event back (same requestId and event id), not a second meeting."""
    _, appt = await new_appointment(factory, pool)
    await runner.run(video.create_meet_link, appt, "")
    (first,) = await rows(pool, "SELECT meet_link FROM appointments WHERE id = %s", (appt,))
    await rows(pool,
               "UPDATE appointments SET meet_link = NULL, calendar_event_id = NULL"
               " WHERE id = %s RETURNING id",
               (appt,))
    await runner.run(video.create_meet_link, appt, "")
    assert await rows(pool, "SELECT meet_link FROM appointments WHERE id = %s", (appt,)) == [first]
    assert len(sandbox.state.events) == 1


async def test_confirmed_online_notifies_patient_and_clinician_once(factory, pool, sandbox, runner):
    who, appt = await new_appointment(factory, pool, status="CONFIRMED")
    for _ in range(2):
        await runner.run(appointments.appointment_confirmed, appt)
        await runner.drain()
    sent = sorted((m["phone"], m["templateName"]) for m in sandbox.state.messages)
    assert sent == sorted([(who.patient_phone[1:], "appointment_confirmed_online"),
                           (who.clinician_phone[1:], "appointment_confirmed_clinician_online")])
    links = {m["bodyValues"]["meetLink"] for m in sandbox.state.messages}
    assert len(links) == 1 and links.pop().startswith("https://meet.google.com/")
    assert len(sandbox.state.events) == 1  # one meeting for both runs


async def test_cancel_twice_deletes_the_event_and_sends_one_message(factory, pool, sandbox, runner):
    _, appt = await new_appointment(factory, pool)
    await runner.run(video.create_meet_link, appt, "")
    await rows(pool,
               "UPDATE appointments SET status = 'CANCELLED', cancellation_reason = 'Patient travelling'"
                     " WHERE id = %s RETURNING id", (appt,))
    for _ in range(2):
        await runner.run(appointments.appointment_cancelled, appt)
        await runner.drain()
    events = sandbox.state.events.values()
    assert all(e["status"] == "cancelled" for e in events)
    (message,) = sandbox.state.messages
    assert (message["templateName"], message["bodyValues"]["reason"]) == ("appointment_cancelled",
                                                                          "Patient travelling")


async def test_reschedule_twice_moves_the_meeting_and_sends_one_message(factory, pool, sandbox, runner):
    who, old = await new_appointment(factory, pool)
    await runner.run(video.create_meet_link, old, "")
    new_start = future_slot(5)
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute("UPDATE appointments SET status = 'RESCHEDULED' WHERE id = %s", (old,))
        new = await insert_appointment(cur, who, new_start)
        await cur.execute("UPDATE appointments SET parent_appointment_id = %s WHERE id = %s", (old, new))
    for _ in range(2):
        await runner.run(appointments.appointment_rescheduled, old, new)
        await runner.drain()
    links = await rows(pool, "SELECT id, meet_link, calendar_event_id FROM appointments ORDER BY id")
    assert links[0][1:] == links[1][1:]  # the new appointment kept the meeting
    (event,) = sandbox.state.events.values()
    assert event["start"]["dateTime"].startswith(new_start.strftime("%Y-%m-%dT%H:%M"))
    (message,) = sandbox.state.messages
    assert message["templateName"] == "appointment_rescheduled_online"
    assert message["bodyValues"]["when"] == messages.local_when(new_start, "Asia/Kolkata")


async def test_reminder_for_a_cancelled_appointment_is_superseded(factory, pool, sandbox, runner):
    _, appt = await new_appointment(factory, pool, kind="IN_PERSON")
    start = future_slot()
    await runner.run(notifications.appointment_reminder, appt, start.isoformat())
    await rows(pool, "UPDATE appointments SET status = 'CANCELLED' WHERE id = %s RETURNING id", (appt,))
    await runner.drain()
    assert sandbox.state.messages == []
    assert await rows(pool, "SELECT kind, status, attempts FROM notification_logs") == [
        (messages.REMINDER, "SUPERSEDED", 0)]


async def test_reminder_for_a_moved_appointment_is_superseded(factory, pool, sandbox, runner):
    _, appt = await new_appointment(factory, pool, kind="IN_PERSON")
    start = future_slot()
    await runner.run(notifications.appointment_reminder, appt, start.isoformat())
    await rows(pool, "UPDATE appointments SET scheduled_start_at = scheduled_start_at + interval '1 hour',"
                     " scheduled_end_at = scheduled_end_at + interval '1 hour'"
                     " WHERE id = %s RETURNING id", (appt,))
    await runner.drain()
    assert sandbox.state.messages == []
    assert [r[0] for r in await rows(pool, "SELECT status FROM notification_logs")] == ["SUPERSEDED"]


async def test_gallabox_4xx_is_not_retried_and_5xx_is(factory, pool, sandbox, runner):
    _, appt = await new_appointment(factory, pool, kind="IN_PERSON")
    await runner.run(notifications.notify_appointment, appt, messages.BOOKED)
    ((log_id,),) = await rows(pool, "SELECT id FROM notification_logs")
    await sandbox.fault("gallabox", status=503)
    with pytest.raises(notifications.ProviderError):  # raised so that Dramatiq retries it
        await notifications.deliver(log_id)
    ((status, attempts, error, next_at),) = await rows(
        pool, "SELECT status, attempts, last_error, next_attempt_at > now() FROM notification_logs")
    assert (status, attempts, next_at) == ("FAILED", 1, True) and "503" in error
    await sandbox.fault("gallabox", status=400)
    assert await notifications.deliver(log_id) == "FAILED"  # recorded, not raised: a 4xx would fail again
    assert await rows(pool, "SELECT attempts, next_attempt_at FROM notification_logs") == [(2, None)]
    assert sandbox.state.messages == []


async def test_failed_messages_stop_at_the_attempt_cap(factory, pool, sandbox, runner):
    _, appt = await new_appointment(factory, pool, kind="IN_PERSON")
    await runner.run(notifications.notify_appointment, appt, messages.BOOKED)
    cap = sandbox.settings.notification_max_attempts
    await rows(pool, "UPDATE notification_logs SET status = 'FAILED', attempts = %s RETURNING id", (cap,))
    assert await notifications.deliver((await rows(pool,
                                                   "SELECT id FROM notification_logs"))[0][0]) == "FAILED"
    assert sandbox.state.messages == []


async def test_otp_is_sealed_and_sent_once(pool, sandbox, runner):
    settings = sandbox.settings
    token = otp_sender.seal(settings, "+919876543210", "493817", 10)
    assert "493817" not in token
    for _ in range(2):
        await runner.run(otp.send_otp, token)
    (message,) = sandbox.state.messages
    assert (message["templateName"], message["bodyValues"]) == ("login_otp", {"minutes": "10",
                                                                              "otp": "493817"})
    stored = await rows(pool, "SELECT status, payload::text, idempotency_key FROM notification_logs")
    assert stored[0][0] == "SENT" and "493817" not in str(stored)
    # A token from another key, or an expired one, is dropped without sending.
    other = otp_sender.seal(settings.replace(otp_hash_secret="another-secret-another-secret-00"),
                            "+919876543210",
                            "111111", 10)
    await runner.run(otp.send_otp, other)
    assert len(sandbox.state.messages) == 1


def test_unseal_refuses_expired_tokens(settings):
    import time as _time

    from cryptography.fernet import Fernet

    expired_at = int(_time.time()) - settings.otp_expiry_minutes * 60 - 5
    sealed = b'{"phone": "+919876543210", "otp": "1", "minutes": 1}'
    token = otp_sender.fernet(settings).encrypt_at_time(sealed, expired_at)
    assert otp_sender.unseal(settings, token.decode()) is None
    assert isinstance(otp_sender.fernet(settings), Fernet)


def test_whatsapp_otp_is_chosen_only_when_configured(settings):
    assert not otp_sender.whatsapp_configured(settings)
    assert otp_sender.whatsapp_configured(settings.replace(gallabox_base_url="https://server.gallabox.com"))
    assert otp_sender.whatsapp_configured(settings.replace(otp_channel="whatsapp"))
    assert not otp_sender.whatsapp_configured(settings.replace(otp_channel="console",
                                                               gallabox_base_url="https://server.gallabox.com"))




async def test_reminder_twice_in_flight_sends_one_message(factory, pool, sandbox, runner):
    """Two copies of one reminder (scheduler and API, or a redelivery) before any send, then a third."""
    who, appt = await new_appointment(factory, pool, kind="IN_PERSON")
    start = future_slot().isoformat()
    for _ in range(2):
        await runner.run(notifications.appointment_reminder, appt, start)
    # Both copies found the row still PENDING; the send they queue is one step, open once.
    assert await runner.drain() == ["send_notification"]
    await runner.run(notifications.appointment_reminder, appt, start)
    assert await runner.drain() == []  # the row is SENT: nothing more to queue
    (message,) = sandbox.state.messages
    assert (message["phone"], message["templateName"]) == (who.patient_phone[1:], "appointment_reminder")
    assert await rows(pool, "SELECT kind, status, attempts FROM notification_logs") == [
        (messages.REMINDER, "SENT", 1)]


async def test_send_notification_run_twice_sends_once(factory, pool, sandbox, runner):
    _, appt = await new_appointment(factory, pool, kind="IN_PERSON")
    await runner.run(notifications.notify_appointment, appt, messages.BOOKED)
    ((log_id,),) = await rows(pool, "SELECT id FROM notification_logs")
    await runner.queued()  # the send notify_appointment queued: this test runs it by hand, twice
    await runner.run(notifications.send_notification, log_id)
    first = await rows(pool, "SELECT status, attempts, provider_message_id, sent_at FROM notification_logs")
    await runner.run(notifications.send_notification, log_id)
    assert await rows(pool, "SELECT status, attempts, provider_message_id, sent_at FROM notification_logs"
                      ) == first
    assert first[0][:2] == ("SENT", 1)
    assert len(sandbox.state.messages) == 1
    assert len([r for r in sandbox.state.requests if r["provider"] == "gallabox"]) == 1


MISSING = 999999


async def test_messages_about_missing_rows_end_cleanly(pool, sandbox, runner):
    """Ids that match nothing (a deleted row, a wrong id): each step returns without raising,
    queues nothing, writes nothing and calls no provider, so Dramatiq neither retries nor dead-letters it."""
    steps = [
        (appointments.appointment_booked, (MISSING,)),
        (appointments.appointment_confirmed, (MISSING,)),
        (appointments.appointment_cancelled, (MISSING,)),
        (appointments.appointment_rescheduled, (MISSING - 1, MISSING)),
        (video.create_meet_link, (MISSING, messages.BOOKED)),
        (notifications.notify_appointment, (MISSING, messages.BOOKED)),
        (notifications.appointment_reminder, (MISSING, future_slot().isoformat())),
        (notifications.send_notification, (MISSING,)),
    ]
    for actor, args in steps:
        await runner.run(actor, *args)
    assert await payments.handle_razorpay_event(pool, MISSING) is None
    assert await payments.make_payment_link(pool, sandbox.settings, MISSING) == "DONE"
    assert await payments.reconcile_one(pool, sandbox.settings, MISSING) == payments.rules.UNCHANGED
    assert await payments.close_payment_link(pool, sandbox.settings, MISSING) == payments.rules.UNCHANGED
    assert await runner.queued() == []
    assert await rows(pool, "SELECT count(*) FROM notification_logs") == [(0,)]
    assert await rows(pool, "SELECT count(*) FROM outbox") == [(0,)]
    assert sandbox.state.requests == []


async def test_malformed_arguments_fail_once_and_are_not_retried(pool, runner):
    """A message with a wrong id type or arity fails the same way every time: retrying cannot help."""
    with pytest.raises(psycopg2.DataError) as bad_id:
        await runner.run(appointments.appointment_booked, "not-a-number")
    with pytest.raises(TypeError) as bad_arity:
        await runner.run(appointments.appointment_rescheduled, MISSING)
    for exc in (bad_id.value, bad_arity.value):
        assert not appointments.appointment_booked.options["retry_when"](0, exc)


def test_every_registered_name_has_an_actor_and_every_actor_is_registered():
    import jobs.worker  # noqa: F401  (the module workers run: it imports every actor module)

    assert set(jobs.broker.broker.actors) == outbox.ACTORS


def test_an_actor_outside_the_registry_is_refused_at_declaration():
    with pytest.raises(ValueError, match="not in mibo.core.outbox.ACTORS"):
        jobs.broker.actor("send_notificaton")
    assert "send_notificaton" not in jobs.broker.broker.actors


def test_every_actor_has_bounded_retries_and_time_and_age_limits():
    broker = jobs.broker.broker
    for name in outbox.ACTORS:
        opts = broker.get_actor(name).options
        retry_when = opts["retry_when"]
        assert 0 < opts["time_limit"] <= 10 * 60_000, name
        assert 0 < opts["max_age"] <= 7 * 24 * 3_600_000, name
        # Transient failures are retried a bounded number of times; permanent ones never.
        assert not retry_when(0, ValueError("bug")), name
        assert not retry_when(0, ProviderError("gallabox", "bad request", 400, retryable=False)), name
        assert not retry_when(50, psycopg2.OperationalError("connection lost")), name
        # Periodic: the next slot is its retry.
        if name not in ("reconcile_payments", "purge_expired", "release_unpaid_holds"):
            assert retry_when(0, ProviderError("gallabox", "unavailable", 503, retryable=True)), name
            assert retry_when(0, psycopg2.OperationalError("connection lost")), name
            # Out of time (a slow provider): the idempotent step is tried again, not dropped.
            assert retry_when(0, TimeLimitExceeded()), name


# --- durable steps ---------------------------------------------------------------------

OPEN_STEPS = "SELECT actor_name, args, last_error FROM outbox WHERE done_at IS NULL ORDER BY id"


async def add_step(pool, actor_name: str, *args) -> None:
    """An outbox row, as the change that causes the work writes it."""
    async with pool.acquire() as conn, conn.cursor() as cur:
        await outbox_enqueue(cur, actor_name, *args)


async def outbox_enqueue(cur, actor_name, *args):
    await cur.execute("INSERT INTO outbox (actor_name, args, dedupe_key) VALUES (%s, %s::jsonb, %s)",
                      (actor_name, psycopg2.extras.Json(list(args)), outbox.step_key(actor_name, *args)))


async def test_a_step_stays_open_until_its_effect_is_committed(factory, pool, sandbox, runner):
    _, appt = await new_appointment(factory, pool, kind="IN_PERSON")
    await runner.run(notifications.notify_appointment, appt, messages.BOOKED)
    ((log_id,),) = await rows(pool, "SELECT id FROM notification_logs")
    await sandbox.fault("gallabox", status=503)
    assert await runner.queued() == [("send_notification", [log_id])]
    with pytest.raises(ProviderError):  # transient: Dramatiq retries it, and the step stays open
        await runner.run(notifications.send_notification, log_id)
    assert await rows(pool, OPEN_STEPS) == [("send_notification", [log_id], None)]
    await runner.run(notifications.send_notification, log_id)  # the retry
    assert await rows(pool, OPEN_STEPS) == []
    assert await rows(pool, "SELECT status, attempts FROM notification_logs") == [("SENT", 2)]


async def test_a_step_that_cannot_succeed_is_closed_with_its_error(pool, runner):
    await add_step(pool, outbox.APPOINTMENT_BOOKED, "not-a-number")
    with pytest.raises(psycopg2.DataError):
        await runner.drain()
    assert await rows(pool, OPEN_STEPS) == []  # not published again and again
    ((error,),) = await rows(pool, "SELECT last_error FROM outbox")
    assert error.startswith("given up: InvalidTextRepresentation")


IDLE_IN_TRANSACTION = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()
"""


async def while_provider_waits(sandbox, provider: str, path: str, work, check):
    """Run `work` with `provider` stalled for a second, and `check` while the call hangs."""
    await sandbox.fault(provider, delay=1.0, path=path)
    task = asyncio.create_task(work)
    # The fault is taken when the call reaches the sandbox.
    await wait_for(lambda: not sandbox.state.faults, timeout=10, interval=0.01, what="the provider call")
    await asyncio.sleep(0.2)
    seen = await check()
    return seen, await task


async def test_no_transaction_is_open_while_gallabox_is_called(factory, pool, sandbox, runner):
    """The attempt is committed before the call (attempts, lease), and no row lock is held during it."""
    _, appt = await new_appointment(factory, pool, kind="IN_PERSON")
    await runner.run(notifications.notify_appointment, appt, messages.BOOKED)
    ((log_id,),) = await rows(pool, "SELECT id FROM notification_logs")

    async def during():
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute("SELECT status, attempts, lease_until > now(), attempt_started_at IS NOT NULL"
                              " FROM notification_logs WHERE id = %s FOR UPDATE NOWAIT", (log_id,))
            return await cur.fetchone(), (await rows(pool, IDLE_IN_TRANSACTION))[0][0]

    (row, open_transactions), outcome = await while_provider_waits(
        sandbox, "gallabox", "/gallabox", notifications.deliver(log_id), during)
    assert row == ("PENDING", 1, True, True) and open_transactions == 0
    assert outcome == "SENT"
    assert await rows(pool, "SELECT status, attempts, lease_until FROM notification_logs") == [("SENT", 1, None)]


async def test_no_transaction_is_open_while_google_is_called(factory, pool, sandbox, runner):
    _, appt = await new_appointment(factory, pool)

    async def during():
        return (await rows(pool, IDLE_IN_TRANSACTION))[0][0]

    open_transactions, _ = await while_provider_waits(
        sandbox, "google", "/google/calendar", runner.run(video.create_meet_link, appt, messages.BOOKED), during)
    assert open_transactions == 0
    # The link and the next step were committed together.
    assert (await rows(pool, LINK, (appt,)))[0][0].startswith("https://meet.google.com/")
    assert [name for name, _ in await runner.queued()] == ["notify_appointment"]


async def test_a_send_in_flight_elsewhere_is_left_to_it(factory, pool, sandbox, runner):
    _, appt = await new_appointment(factory, pool, kind="IN_PERSON")
    await runner.run(notifications.notify_appointment, appt, messages.BOOKED)
    await rows(pool, "UPDATE notification_logs SET attempts = 1, lease_until = now() + interval '1 minute'"
                     " RETURNING id")
    ((log_id,),) = await rows(pool, "SELECT id FROM notification_logs")
    assert await notifications.deliver(log_id) == "IN_FLIGHT"
    assert sandbox.state.requests == []


async def test_a_send_whose_worker_died_mid_call_is_sent_again_by_the_sweep(factory, pool, sandbox, runner):
    """A worker claimed the row and died before the outcome was written; its step was closed by a
    duplicate that saw the attempt in flight. Once the lease has run out, the sweep queues it again."""
    _, appt = await new_appointment(factory, pool, kind="IN_PERSON")
    await runner.run(notifications.notify_appointment, appt, messages.BOOKED)
    await rows(pool, "UPDATE notification_logs SET attempts = 1, attempt_started_at = now() - interval '5 minutes',"
                     " lease_until = now() - interval '3 minutes', created_at = now() - interval '5 minutes'"
                     " RETURNING id")
    await rows(pool, "UPDATE outbox SET done_at = now() RETURNING id")
    settings = sandbox.settings
    first = await sweeps.notifications(pool, settings)
    assert (first.found, first.repaired) == (1, 1) and first.oldest_seconds >= 290
    assert await runner.drain() == ["send_notification"]
    assert await rows(pool, "SELECT status, attempts FROM notification_logs") == [("SENT", 2)]
    assert len(sandbox.state.messages) == 1
    again = await sweeps.notifications(pool, settings)
    assert (again.found, again.repaired, again.oldest_seconds) == (0, 0, 0)


async def test_a_reminder_delayed_past_the_start_is_not_written(factory, pool, sandbox, runner):
    _, appt = await new_appointment(factory, pool, kind="IN_PERSON")
    await rows(pool, "UPDATE appointments SET scheduled_start_at = now() - interval '1 minute',"
                     " scheduled_end_at = now() + interval '29 minutes' WHERE id = %s RETURNING id", (appt,))
    ((start,),) = await rows(pool, "SELECT scheduled_start_at FROM appointments WHERE id = %s", (appt,))
    await runner.run(notifications.appointment_reminder, appt, start.isoformat())
    assert await rows(pool, "SELECT count(*) FROM notification_logs") == [(0,)]


async def test_an_appointment_whose_chain_was_lost_is_repaired_by_the_sweeps(factory, pool, sandbox, runner):
    """Its steps were closed without their effects: the sweeps see no message and no link, and run
    the chain again from its first step."""
    who, appt = await new_appointment(factory, pool)
    await add_step(pool, outbox.APPOINTMENT_BOOKED, appt)
    await rows(pool, "UPDATE outbox SET done_at = now() RETURNING id")
    await rows(pool, "UPDATE appointments SET created_at = now() - interval '1 hour' RETURNING id")
    links = await sweeps.meet_links(pool, sandbox.settings)
    booking = await sweeps.appointment_messages(pool, sandbox.settings)
    assert (links.found, links.repaired, booking.found, booking.repaired) == (1, 1, 1, 1)
    assert links.oldest_seconds >= 3590 and booking.oldest_seconds >= 3590
    await runner.drain()
    ((link, _),) = await rows(pool, LINK, (appt,))
    (message,) = sandbox.state.messages
    assert message["phone"] == who.patient_phone[1:] and message["bodyValues"]["meetLink"] == link
    assert len(sandbox.state.events) == 1
    for sweep in (sweeps.meet_links, sweeps.appointment_messages):
        assert await sweep(pool, sandbox.settings) == sweeps.Sweep(0, 0, 0.0)


async def test_an_unpaid_website_hold_is_neither_told_nor_given_a_link_by_the_sweeps(factory, pool, sandbox):
    """A website booking is told (and an ONLINE one linked) when its payment confirms it."""
    _, appt = await new_appointment(factory, pool)
    await rows(pool, "UPDATE appointments SET created_at = now() - interval '1 hour', source = 'WEB_PATIENT'"
                     " WHERE id = %s RETURNING id", (appt,))
    for sweep in (sweeps.meet_links, sweeps.appointment_messages):
        assert (await sweep(pool, sandbox.settings)).found == 0
    await rows(pool, "UPDATE appointments SET source = 'ADMIN_FRONT_DESK' WHERE id = %s RETURNING id", (appt,))
    for sweep in (sweeps.meet_links, sweeps.appointment_messages):
        assert (await sweep(pool, sandbox.settings)).found == 1


def test_no_actor_sends_a_message_straight_to_redis():
    """Every follow-up step goes through the outbox, in the transaction of the step's effect."""
    import ast
    from pathlib import Path

    found = []
    for path in sorted((Path(jobs.broker.__file__).parent).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("send", "send_with_options"):
                found.append(f"{path.name}:{node.lineno}")
    assert found == []

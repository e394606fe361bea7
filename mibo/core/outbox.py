"""Work for the background actors, written in the transaction of the change that causes it.

An outbox row is one step of work: `enqueue` adds it in the caller's transaction, so the work
exists if and only if the change that caused it committed. It stays open until the actor doing it
has committed the step's effect and closed it (`complete`, called by jobs.steps for every actor);
Redis only carries a copy. The relay (mibo/core/relay.py) publishes open rows right after commit,
and again whenever a row's lease runs out or its Redis lost it.

A chain's next step is queued with `enqueue_step`, in the transaction of the previous step's
effect: once per (actor, arguments) while it is open, and opened again if it already ran, so that
a chain repaired or run twice runs every later step again (each of them is idempotent).
"""

from __future__ import annotations

import json

# Every actor name, the one registry: each is a Dramatiq actor of the same name in jobs/actors/
# (tests check both ways), whoever enqueues it.
APPOINTMENT_BOOKED = "appointment_booked"  # args: [appointment_id]
APPOINTMENT_RESCHEDULED = "appointment_rescheduled"  # args: [old_appointment_id, new_appointment_id]
APPOINTMENT_CANCELLED = "appointment_cancelled"  # args: [appointment_id]
APPOINTMENT_CONFIRMED = "appointment_confirmed"  # args: [appointment_id]
# Writes the notification_logs rows of one (appointment, kind) and queues their sends.
NOTIFY_APPOINTMENT = "notify_appointment"  # args: [appointment_id, kind]
# Sends one notification_logs row (PENDING → SENT); a row already SENT is left alone.
SEND_NOTIFICATION = "send_notification"  # args: [notification_log_id]
# The day-before reminder; start_iso is the start it was queued for (a moved appointment
# no longer matches, so the reminder is superseded rather than sent with the wrong time).
APPOINTMENT_REMINDER = "appointment_reminder"  # args: [appointment_id, start_iso]
# Create the Calendar event with a Meet link; then notify `kind` ("" for no message).
CREATE_MEET_LINK = "create_meet_link"  # args: [appointment_id, kind]
# A sealed OTP, published straight to Redis by mibo.domain.otp_delivery (never an outbox row).
SEND_OTP = "send_otp"  # args: [sealed_token]
# Hourly housekeeping (jobs/actors/maintenance.py): expired OTPs, dead sessions, old outbox rows.
PURGE_EXPIRED = "purge_expired"  # args: []
# Every minute: cancel website bookings left unpaid past UNPAID_HOLD_MINUTES, freeing their slots.
RELEASE_UNPAID_HOLDS = "release_unpaid_holds"  # args: []
# Payments (jobs/actors/payments.py): one verified webhook event; a payment link to make and send;
# one open payment to settle with Razorpay (after checkout verify, or left open too long); a payment link to close
# because its appointment was paid another way or cancelled.
PROCESS_RAZORPAY_EVENT = "process_razorpay_event"  # args: [webhook_event_id]
CREATE_PAYMENT_LINK = "create_payment_link"  # args: [payment_id]
RECONCILE_PAYMENT = "reconcile_payment"  # args: [payment_id]
CANCEL_PAYMENT_LINK = "cancel_payment_link"  # args: [payment_id]
# Refunds (jobs/actors/refunds.py): issue one refund at Razorpay (once, found again by its receipt);
# fetch one Razorpay has not settled for a while (the refunds sweep).
ISSUE_REFUND = "issue_refund"  # args: [refund_id]
RECONCILE_REFUND = "reconcile_refund"  # args: [refund_id]

ACTORS = frozenset({
    APPOINTMENT_BOOKED, APPOINTMENT_RESCHEDULED, APPOINTMENT_CANCELLED, APPOINTMENT_CONFIRMED, NOTIFY_APPOINTMENT,
    SEND_NOTIFICATION, APPOINTMENT_REMINDER, CREATE_MEET_LINK, SEND_OTP, PURGE_EXPIRED, RELEASE_UNPAID_HOLDS,
    PROCESS_RAZORPAY_EVENT, CREATE_PAYMENT_LINK, RECONCILE_PAYMENT, CANCEL_PAYMENT_LINK, ISSUE_REFUND,
    RECONCILE_REFUND,
})

# Published straight to Redis, never written here: an OTP's code must not be stored.
PUBLISHED_DIRECTLY = frozenset({SEND_OTP})

DEFAULT_QUEUE = "default"
# Bulk reminders get their own queue so that a day's batch never delays a booking confirmation.
REMINDERS_QUEUE = "reminders"
QUEUES = {APPOINTMENT_REMINDER: REMINDERS_QUEUE}


def queue_for(actor_name: str) -> str:
    """The Dramatiq queue an actor listens on; the relay publishes each row there."""
    return QUEUES.get(actor_name, DEFAULT_QUEUE)


def reminder_dedupe_key(appointment_id: int, start_epoch: int) -> str:
    """One reminder per appointment and start time, whoever queues it (scheduler or API)."""
    return f"reminder:{appointment_id}:{start_epoch}"


INSERT_OUTBOX = """
INSERT INTO outbox (actor_name, args, dedupe_key)
VALUES (%s, %s::jsonb, %s)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id
"""


# Opened again only once it is done: a step still open (queued, running, retrying) is left alone.
ENSURE_STEP = """
INSERT INTO outbox (actor_name, args, dedupe_key)
VALUES (%s, %s::jsonb, %s)
ON CONFLICT (dedupe_key) DO UPDATE SET done_at = NULL, due_at = '-infinity'
WHERE outbox.done_at IS NOT NULL
RETURNING id
"""

# Every open row of the step, duplicates included (another dedupe key, a repair).
COMPLETE_STEP = """
UPDATE outbox SET done_at = now(), last_error = COALESCE(%s, last_error)
WHERE actor_name = %s AND args = %s::jsonb AND done_at IS NULL
"""


def step_key(actor_name: str, *args) -> str:
    """The dedupe key of a chain step: its actor and arguments."""
    return ":".join([actor_name, *map(str, args)])


async def enqueue(cur, actor_name: str, *args, dedupe_key: str | None = None) -> int | None:
    """Queue `actor_name(*args)` inside the current transaction; None if dedupe_key was already used."""
    await cur.execute(INSERT_OUTBOX, (actor_name, json.dumps(list(args)), dedupe_key))
    row = await cur.fetchone()
    return None if row is None else row["id"]


async def enqueue_step(cur, actor_name: str, *args) -> int | None:
    """Queue the next step of a chain inside the current transaction (see the module's docstring);
    None when the same step is still open."""
    await cur.execute(ENSURE_STEP, (actor_name, json.dumps(list(args)), step_key(actor_name, *args)))
    row = await cur.fetchone()
    return None if row is None else row["id"]


async def complete(cur, actor_name: str, args, error: str | None = None) -> int:
    """Close the step `actor_name(*args)`: its effect is committed (or, with `error`, it was given up)."""
    await cur.execute(COMPLETE_STEP, (error, actor_name, json.dumps(list(args))))
    return cur.rowcount


"""What the patient website lists as a patient's notifications: one row per event told to them.

Whoever tells a patient something writes the row in the transaction that queues the message
about it: the appointment messages (jobs.actors.notifications), a payment link
(jobs.actors.payments) and a refund (`refund_initiated`, for the refund flow). Each row is keyed
by its event (`event_key`, for an appointment message the idempotency key of its WhatsApp row),
so a step run twice writes one row, and a patient without a phone number still sees what the
WhatsApp message would have told them.

The wording is built here by plain functions over plain rows, times in the centre's zone as in
the WhatsApp messages. Reads and the one change (marking read) take the patient's Actor and see
only that patient's rows: another patient's notification does not exist for them (404).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from mibo.core import db
from mibo.core.actor import Actor
from mibo.core.errors import ApiError
from mibo.domain import access, messages, notifications

BOOKED = messages.BOOKED
CONFIRMED = messages.CONFIRMED
RESCHEDULED = messages.RESCHEDULED
REMINDER = messages.REMINDER
CANCELLED = messages.CANCELLED
REFUND_DUE = messages.REFUND_DUE
# A cancellation because the clinician's time was blocked (the website's own name for it).
BLOCKED = "APPOINTMENT_BLOCKED"
PAYMENT_LINK = "PAYMENT_LINK"
REFUND_INITIATED = "REFUND_INITIATED"

TITLES = {
    BOOKED: "Appointment booked",
    CONFIRMED: "Appointment confirmed",
    RESCHEDULED: "Appointment rescheduled",
    REMINDER: "Appointment reminder",
    CANCELLED: "Appointment cancelled",
    REFUND_DUE: "Payment received after release",
    BLOCKED: "Appointment cancelled: clinician unavailable",
    PAYMENT_LINK: "Payment link sent",
    REFUND_INITIATED: "Refund initiated",
}

# --- SQL ------------------------------------------------------------------------

INSERT_NOTIFICATION = """
INSERT INTO patient_notifications (patient_id, kind, title, message, appointment_id, metadata, event_key)
VALUES (%(patient_id)s, %(kind)s, %(title)s, %(message)s, %(appointment_id)s, %(metadata)s::jsonb, %(event_key)s)
ON CONFLICT (event_key) DO NOTHING
RETURNING id
"""

NOTIFICATION_COLUMNS = """
n.id, n.patient_id, n.kind, n.title, n.message, n.appointment_id, n.metadata, n.read_at IS NOT NULL AS is_read,
n.read_at, n.created_at, COALESCE(c.timezone, %(chain_timezone)s) AS timezone
FROM patient_notifications n
LEFT JOIN appointments a ON a.id = n.appointment_id
LEFT JOIN centres c ON c.id = a.centre_id
"""

NOTIFICATIONS_OF_PATIENT = f"""
SELECT {NOTIFICATION_COLUMNS}
WHERE n.patient_id = %(patient_id)s AND (NOT %(unread_only)s OR n.read_at IS NULL)
  AND (%(since)s::timestamptz IS NULL OR n.created_at >= %(since)s)
  AND (%(before)s::timestamptz IS NULL OR n.created_at < %(before)s)
ORDER BY n.created_at DESC, n.id DESC
LIMIT %(limit)s OFFSET %(offset)s
"""

UNREAD_COUNT = "SELECT count(*) FROM patient_notifications WHERE patient_id = %s AND read_at IS NULL"

# Read once: marking it again keeps the first time it was read.
MARK_READ = """
UPDATE patient_notifications SET read_at = COALESCE(read_at, now())
WHERE id = %(id)s AND patient_id = %(patient_id)s
RETURNING id
"""

NOTIFICATION_BY_ID = f"SELECT {NOTIFICATION_COLUMNS} WHERE n.id = %(id)s"

PAYMENT_TO_REFUND = """
SELECT p.patient_id, p.appointment_id, a.scheduled_start_at, c.timezone, cu.full_name AS clinician_name
FROM payments p
LEFT JOIN appointments a ON a.id = p.appointment_id
LEFT JOIN centres c ON c.id = a.centre_id
LEFT JOIN clinician_profiles cp ON cp.id = a.clinician_id
LEFT JOIN users cu ON cu.id = cp.user_id
WHERE p.id = %s
"""

# --- what each notification says ----------------------------------------------------------


def about_appointment(appt: dict[str, Any], kind: str, starts_at: dt.datetime) -> dict[str, Any]:
    """The notification of an appointment message of `kind` (messages.KINDS) starting at
    `starts_at`. `appt` is a row of the appointment messages' query, with patient_id,
    cancelled_by_block_id and refund_due (money paid for it is to be refunded)."""
    when = messages.local_when(starts_at, appt["timezone"])
    with_whom = f"with {appt['clinician_name']} at {appt['centre_name']}"
    online = appt["appointment_type"] == "ONLINE"
    metadata: dict[str, Any] = {}
    shown = kind
    if kind == BOOKED:
        text = f"Your appointment {with_whom} on {when} is booked."
    elif kind == CONFIRMED:
        text = f"Your appointment {with_whom} on {when} is confirmed."
    elif kind == RESCHEDULED:
        text = f"Your appointment {with_whom} is now on {when}."
    elif kind == REMINDER:
        text = f"Reminder: your appointment {with_whom} is on {when}."
    elif kind == CANCELLED:
        metadata["refund_eligible"] = bool(appt["refund_due"])
        refund = " What you paid will be refunded." if appt["refund_due"] else ""
        if appt["cancelled_by_block_id"] is not None:
            shown = BLOCKED
            metadata["block_id"] = appt["cancelled_by_block_id"]
            text = (f"{appt['clinician_name']} is not available on {when}, so your appointment at "
                    f"{appt['centre_name']} was cancelled.{refund} Please book another time.")
        else:
            reason = appt["cancellation_reason"] or "Not stated"
            text = f"Your appointment {with_whom} on {when} was cancelled. Reason: {reason}.{refund}"
    elif kind == REFUND_DUE:
        metadata["refund_eligible"] = True
        text = (f"Your payment for the appointment {with_whom} on {when} arrived after the slot was released,"
                " so the appointment stays cancelled. What you paid will be refunded in full; please book again.")
    else:
        raise ValueError(f"no patient notification for {kind!r}")
    if online and kind != CANCELLED and appt["meet_link"]:
        text += f" Join online: {appt['meet_link']}"
    return {
        "patient_id": appt["patient_id"],
        "kind": shown,
        "title": TITLES[shown],
        "message": text,
        "appointment_id": appt["id"],
        "metadata": metadata,
        # The event is the message to the patient, whether or not they have a phone to send it to.
        "event_key": messages.idempotency_key(appt["id"], kind, messages.PATIENT, starts_at),
    }


def about_payment_link(row: dict[str, Any], short_url: str, expires_at: dt.datetime) -> dict[str, Any]:
    """The notification of a payment link (a row of the payment link's query, with patient_id)."""
    tz = row["timezone"]
    text = (f"Pay {messages.rupees(row['amount'])} for your appointment with {row['clinician_name']} on "
            f"{messages.local_when(row['scheduled_start_at'], tz)}: {short_url} (valid until "
            f"{messages.local_when(expires_at, tz)}).")
    return {
        "patient_id": row["patient_id"],
        "kind": PAYMENT_LINK,
        "title": TITLES[PAYMENT_LINK],
        "message": text,
        "appointment_id": row["appointment_id"],
        "metadata": {"payment_id": row["id"]},
        "event_key": f"payment:{row['id']}:{PAYMENT_LINK}:patient",
    }


# --- writing --------------------------------------------------------------------


async def add(cur, *, patient_id: int, kind: str, title: str, message: str, event_key: str,
              appointment_id: int | None = None, metadata: dict | None = None) -> int | None:
    """Store one notification for the patient; its id, or None when its event was stored already."""
    return await db.fetch_value(cur, INSERT_NOTIFICATION, {
        "patient_id": patient_id, "kind": kind, "title": title, "message": message, "event_key": event_key,
        "appointment_id": appointment_id, "metadata": json.dumps(metadata or {}),
    })


async def refund_initiated(cur, refund_id: int, payment_id: int, amount: Decimal, currency: str = "INR") -> int | None:
    """Tell the patient that `amount` of payment `payment_id` is being refunded (one row per
    refund_id, however often called); call it in the transaction that records the refund. None
    when it was stored already; 404 for an unknown payment."""
    row = await db.fetch_one(cur, PAYMENT_TO_REFUND, (payment_id,))
    if row is None:
        raise ApiError.not_found("payment")
    money = messages.rupees(amount) if currency == "INR" else f"{currency} {amount:,.2f}"
    if row["appointment_id"] is not None:
        when = messages.local_when(row["scheduled_start_at"], row["timezone"])
        text = (f"A refund of {money} for your appointment with {row['clinician_name']} on {when} has been "
                "initiated to the account you paid from.")
    else:
        text = f"A refund of {money} has been initiated to the account you paid from."
    return await add(cur, patient_id=row["patient_id"], kind=REFUND_INITIATED, title=TITLES[REFUND_INITIATED],
                     message=text, appointment_id=row["appointment_id"],
                     metadata={"refund_id": refund_id, "payment_id": payment_id, "amount": float(amount),
                               "currency": currency},
                     event_key=f"refund:{refund_id}:patient")


# --- the patient's own ------------------------------------------------------------------


async def page(cur, actor: Actor, filters: dict[str, Any], limit: int, offset: int,
               chain_timezone: str) -> tuple[list[dict[str, Any]], int]:
    """The patient's notifications, newest first (filters: unread_only; date_from/date_to as days in
    the chain's zone), each with the zone its times are shown in; returns (rows, unread count)."""
    patient_id = access.patient_self(actor)
    since = filters.get("date_from")
    until = filters.get("date_to")
    rows = await db.fetch_all(cur, NOTIFICATIONS_OF_PATIENT, {
        "patient_id": patient_id, "unread_only": bool(filters.get("unread_only")), "limit": limit, "offset": offset,
        "since": notifications.local_midnight(since, chain_timezone) if since else None,
        "before": notifications.local_midnight(until + dt.timedelta(days=1), chain_timezone) if until else None,
        "chain_timezone": chain_timezone})
    return rows, await unread_count(cur, actor)


async def unread_count(cur, actor: Actor) -> int:
    return await db.fetch_value(cur, UNREAD_COUNT, (access.patient_self(actor),))


async def mark_read(cur, actor: Actor, notification_id: int, chain_timezone: str) -> dict[str, Any]:
    """Mark one of the patient's notifications read (again: unchanged); 404 if it is not theirs."""
    marked = await db.fetch_value(cur, MARK_READ, {"id": notification_id, "patient_id": access.patient_self(actor)})
    if marked is None:
        raise ApiError.not_found("notification")
    return await db.fetch_one(cur, NOTIFICATION_BY_ID, {"id": notification_id, "chain_timezone": chain_timezone})

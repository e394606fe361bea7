"""What each appointment WhatsApp message (and the refund message) says, to whom, and when it no longer applies.

Plain functions over plain rows, so the wording, the time zone and the "superseded" rule are
unit-tested without a worker. Times are always shown in the CENTRE's zone: the server's zone
and UTC never reach a patient (the original system's WhatsApp messages showed UTC).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from mibo.domain.appointment_states import LIVE

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")

# notification_logs.kind values written by the appointment chains.
BOOKED = "APPOINTMENT_BOOKED"
CONFIRMED = "APPOINTMENT_CONFIRMED"
RESCHEDULED = "APPOINTMENT_RESCHEDULED"
CANCELLED = "APPOINTMENT_CANCELLED"
REMINDER = "APPOINTMENT_REMINDER"
# Money that came for an appointment already cancelled (a hold released unpaid) is refunded.
REFUND_DUE = "PAYMENT_REFUND_DUE"
KINDS = (BOOKED, CONFIRMED, RESCHEDULED, CANCELLED, REMINDER, REFUND_DUE)

PATIENT = "patient"
CLINICIAN = "clinician"

# Gallabox template per (kind, recipient). ONLINE consultations use the "_online" variant,
# whose extra variable is the Meet link (a cancellation needs no link).
TEMPLATES = {
    (BOOKED, PATIENT): "appointment_booked",
    (CONFIRMED, PATIENT): "appointment_confirmed",
    (CONFIRMED, CLINICIAN): "appointment_confirmed_clinician",
    (RESCHEDULED, PATIENT): "appointment_rescheduled",
    (CANCELLED, PATIENT): "appointment_cancelled",
    (REMINDER, PATIENT): "appointment_reminder",
    (REFUND_DUE, PATIENT): "payment_refund_due",
}
# Messages with no "_online" variant: they carry no Meet link.
WITHOUT_LINK = frozenset({CANCELLED, REFUND_DUE})

# The refund message: once per refund, when Razorpay has taken it on.
REFUND = "REFUND"
REFUND_TEMPLATE = "refund_initiated"
# What Razorpay says of a normal-speed refund: it reaches the patient's account within this.
REFUND_TIMELINE = "5-7 working days"

# Messages about a time that must still be the appointment's time when they go out.
TIME_BOUND = frozenset({BOOKED, CONFIRMED, RESCHEDULED, REMINDER})


def local_date(moment: datetime, tz: str) -> str:
    """'5 June 2026' in the zone `tz`."""
    local = _local(moment, tz)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"


def local_time(moment: datetime, tz: str) -> str:
    """'10:00 am' in the zone `tz` (12-hour clock, as Indian patients read times)."""
    local = _local(moment, tz)
    hour = local.hour % 12 or 12
    return f"{hour}:{local.minute:02d} {'am' if local.hour < 12 else 'pm'}"


def local_when(moment: datetime, tz: str) -> str:
    """'5 June 2026, 10:00 am' in the zone `tz`."""
    return f"{local_date(moment, tz)}, {local_time(moment, tz)}"


def rupees(amount) -> str:
    """'₹1,000.00'."""
    return f"₹{amount:,.2f}"


def _local(moment: datetime, tz: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("an instant without a time zone cannot be shown to a patient")
    return moment.astimezone(ZoneInfo(tz))


def idempotency_key(appointment_id: int, kind: str, recipient: str, starts_at: datetime) -> str:
    """One message per (appointment, kind, recipient); a reminder also per start time."""
    if kind == REMINDER:
        return f"appointment:{appointment_id}:{kind}:{int(starts_at.timestamp())}:{recipient}"
    return f"appointment:{appointment_id}:{kind}:{recipient}"


def build_messages(appt: dict, kind: str, starts_at: datetime) -> list[dict]:
    """notification_logs rows for `kind` about `appt` (a row of APPOINTMENT_FOR_MESSAGES).

    The patient always; the clinician too when an ONLINE consultation is confirmed, so they
    have the Meet link. A recipient without a phone number gets nothing.
    """
    online = appt["appointment_type"] == "ONLINE"
    tz = appt["timezone"]
    values = {
        "patientName": appt["patient_name"],
        "clinicianName": appt["clinician_name"],
        "centre": appt["centre_name"],
        "date": local_date(starts_at, tz),
        "time": local_time(starts_at, tz),
        "when": local_when(starts_at, tz),
    }
    if kind in WITHOUT_LINK:
        values["reason"] = appt["cancellation_reason"] or "Not stated"
    elif online:
        values["meetLink"] = appt["meet_link"] or ""
    recipients = [(PATIENT, appt["patient_user_id"], appt["patient_name"], appt["patient_phone"])]
    if kind == CONFIRMED and online:
        recipients.append(
            (CLINICIAN, appt["clinician_user_id"], appt["clinician_name"], appt["clinician_phone"]))
    rows = []
    for recipient, user_id, name, phone in recipients:
        if not phone:
            continue
        template = TEMPLATES[(kind, recipient)] + ("_online" if online and kind not in WITHOUT_LINK else "")
        rows.append({
            "idempotency_key": idempotency_key(appt["id"], kind, recipient, starts_at),
            "appointment_id": appt["id"],
            "user_id": user_id,
            "kind": kind,
            "template_name": template,
            "recipient_phone": phone,
            "payload": {"name": name, "bodyValues": values, "startsAt": starts_at.isoformat()},
        })
    return rows


def refund_message(row: dict) -> dict | None:
    """The notification_logs row telling the patient a refund is on its way (amount, appointment,
    timeline); None when they have no phone. `row` is a refund with its appointment's people."""
    if not row["patient_phone"]:
        return None
    tz = row["timezone"]
    values = {
        "patientName": row["patient_name"],
        "amount": f"₹{row['amount_paise'] / 100:,.2f}",
        "clinicianName": row["clinician_name"],
        "centre": row["centre_name"],
        "when": local_when(row["scheduled_start_at"], tz),
        "timeline": REFUND_TIMELINE,
    }
    return {
        "idempotency_key": f"refund:{row['id']}:{REFUND}:{PATIENT}",
        "appointment_id": row["appointment_id"],
        "user_id": row["patient_user_id"],
        "kind": REFUND,
        "template_name": REFUND_TEMPLATE,
        "recipient_phone": row["patient_phone"],
        "payload": {"name": row["patient_name"], "bodyValues": values},
    }


def is_superseded(kind: str, payload: dict, appointment_status: str | None,
                  scheduled_start_at: datetime | None) -> bool:
    """True when a queued message no longer describes the appointment as it is now.

    A confirmation or reminder for an appointment cancelled or moved since it was queued must
    not go out (the reminder-after-cancel bug of OpenEMR and Cal.com). Messages of other kinds
    (payment links, cancellations) and messages about no appointment always apply.
    """
    if kind not in TIME_BOUND or appointment_status is None:
        return False
    if appointment_status not in LIVE:
        return True
    queued_for = payload.get("startsAt")
    return bool(queued_for) and datetime.fromisoformat(queued_for) != scheduled_start_at

"""Message wording, time zones and the superseded rule: plain functions, no worker needed."""

from datetime import UTC, datetime, timedelta

import pytest

from mibo.domain import messages
from mibo.domain.notifications import retry_delay_seconds

START = datetime(2026, 6, 5, 4, 30, tzinfo=UTC)  # 10:00 in Kolkata


def appointment(**overrides) -> dict:
    return {"id": 42, "status": "BOOKED", "appointment_type": "ONLINE", "scheduled_start_at": START,
            "meet_link": "https://meet.google.com/abc-defg-hij", "cancellation_reason": None,
            "centre_name": "Mibo Bangalore", "timezone": "Asia/Kolkata",
            "patient_user_id": 7, "patient_name": "Asha", "patient_phone": "+919876543210",
            "clinician_user_id": 8, "clinician_name": "Rao", "clinician_phone": "+919812345678", **overrides}


@pytest.mark.parametrize(("moment", "tz", "expected"), [
    (START, "Asia/Kolkata", "5 June 2026, 10:00 am"),
    (datetime(2026, 6, 5, 7, 0, tzinfo=UTC), "Asia/Kolkata", "5 June 2026, 12:30 pm"),
    (datetime(2026, 6, 4, 18, 30, tzinfo=UTC), "Asia/Kolkata", "5 June 2026, 12:00 am"),  # local midnight
    (datetime(2026, 1, 31, 20, 15, tzinfo=UTC), "Asia/Kolkata",
     "1 February 2026, 1:45 am"),  # crosses a month
    (START, "Europe/London", "5 June 2026, 5:30 am"),  # the centre's zone, whatever it is
])
def test_local_when_uses_the_centres_zone(moment, tz, expected):
    assert messages.local_when(moment, tz) == expected


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        messages.local_when(datetime(2026, 6, 5, 10, 0), "Asia/Kolkata")


def test_online_confirmation_goes_to_patient_and_clinician_with_the_link():
    rows = messages.build_messages(appointment(), messages.CONFIRMED, START)
    assert [(r["template_name"], r["recipient_phone"]) for r in rows] == [
        ("appointment_confirmed_online", "+919876543210"),
        ("appointment_confirmed_clinician_online", "+919812345678"),
    ]
    values = rows[0]["payload"]["bodyValues"]
    assert values["when"] == "5 June 2026, 10:00 am"
    assert (values["date"], values["time"]) == ("5 June 2026", "10:00 am")
    assert values["meetLink"] == "https://meet.google.com/abc-defg-hij"
    assert rows[1]["payload"]["name"] == "Rao"
    assert [r["idempotency_key"] for r in rows] == ["appointment:42:APPOINTMENT_CONFIRMED:patient",
                                                    "appointment:42:APPOINTMENT_CONFIRMED:clinician"]
    shown = str([r["payload"]["bodyValues"] for r in rows])
    assert "UTC" not in shown and "04:30" not in shown and "+00:00" not in shown


def test_in_person_booking_goes_to_the_patient_only_without_a_link():
    (row,) = messages.build_messages(appointment(appointment_type="IN_PERSON", meet_link=None),
                                     messages.CONFIRMED, START)
    assert row["template_name"] == "appointment_confirmed"
    assert "meetLink" not in row["payload"]["bodyValues"]


def test_cancellation_states_the_reason():
    (row,) = messages.build_messages(appointment(status="CANCELLED", cancellation_reason="Clinician unwell"),
                                     messages.CANCELLED, START)
    assert row["template_name"] == "appointment_cancelled"
    assert row["payload"]["bodyValues"]["reason"] == "Clinician unwell"


def test_reminder_key_includes_the_start_time():
    (first,) = messages.build_messages(appointment(), messages.REMINDER, START)
    (moved,) = messages.build_messages(appointment(), messages.REMINDER, START + timedelta(hours=1))
    assert first["idempotency_key"] != moved["idempotency_key"]


def test_recipient_without_phone_gets_nothing():
    assert messages.build_messages(appointment(patient_phone=None, clinician_phone=None),
                                   messages.CONFIRMED, START) == []


@pytest.mark.parametrize(("kind", "status", "start", "superseded"), [
    (messages.REMINDER, "BOOKED", START, False),
    (messages.REMINDER, "CONFIRMED", START, False),
    (messages.REMINDER, "CANCELLED", START, True),
    (messages.REMINDER, "RESCHEDULED", START, True),
    (messages.REMINDER, "BOOKED", START + timedelta(hours=2), True),  # moved in place
    (messages.CONFIRMED, "CANCELLED", START, True),
    (messages.CANCELLED, "CANCELLED", START, False),  # the cancellation itself still goes out
    ("PAYMENT_LINK", "CANCELLED", START, False),  # other modules' kinds are not second-guessed
    (messages.REMINDER, None, None, False),  # no appointment attached
])
def test_superseded_rule(kind, status, start, superseded):
    payload = {"startsAt": START.isoformat()}
    assert messages.is_superseded(kind, payload, status, start) is superseded


def test_retry_delay_grows_and_is_capped():
    assert [retry_delay_seconds(n) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert retry_delay_seconds(20) == 3600

"""The consultation as the treating clinician runs it: sessions, the follow-up, their day."""

from __future__ import annotations

import datetime as dt

import pytest

from mibo.core import db
from mibo.core.actor import CLINICIAN, Actor
from mibo.core.errors import ApiError
from mibo.domain import consultations
from tests.scheduling_support import at, booking, future_day, insert_appointment, local_today, make_clinic, rows

UTC = dt.UTC


def clinician_actor(clinic) -> Actor:
    staff = clinic.clinician
    return Actor(user_id=staff.id, roles=frozenset({CLINICIAN}), centre_ids=frozenset({clinic.centre_id}),
                 clinician_id=staff.clinician_id)


def soon() -> dt.datetime:
    return (dt.datetime.now(UTC) + dt.timedelta(minutes=30)).replace(second=0, microsecond=0)


async def test_a_session_begins_and_completes_with_its_instants_history_and_audit(pool, factory):
    clinic = await make_clinic(factory, start="00:00", end="23:30")
    appointment_id = await insert_appointment(factory, clinic, soon(), status="CONFIRMED")
    actor = clinician_actor(clinic)
    async with db.transaction(pool) as cur:
        await consultations.begin(cur, actor, appointment_id, dt.datetime.now(UTC))
    assert await rows(factory, "SELECT status, session_started_at IS NOT NULL, session_ended_at IS NULL"
                               " FROM appointments WHERE id = %s", (appointment_id,)) == [("IN_PROGRESS", True, True)]
    async with db.transaction(pool) as cur:  # before the slot even starts: the session has begun
        await consultations.complete(cur, actor, appointment_id, dt.datetime.now(UTC))
    assert await rows(factory, "SELECT status, session_ended_at >= session_started_at FROM appointments"
                               " WHERE id = %s", (appointment_id,)) == [("COMPLETED", True)]
    assert await rows(factory, "SELECT from_status, to_status, changed_by_user_id FROM appointment_status_history"
                               " WHERE appointment_id = %s ORDER BY id", (appointment_id,)) == [
        ("CONFIRMED", "IN_PROGRESS", clinic.clinician.id), ("IN_PROGRESS", "COMPLETED", clinic.clinician.id)]
    assert await rows(factory, "SELECT actor_user_id, details->>'to' FROM audit_log WHERE action ="
                               " 'appointment.status' ORDER BY id") == [
        (clinic.clinician.id, "IN_PROGRESS"), (clinic.clinician.id, "COMPLETED")]


async def test_only_the_treating_clinician_runs_the_session_and_not_hours_early(pool, factory):
    clinic = await make_clinic(factory, start="00:00", end="23:30")
    colleague = await factory.staff("CLINICIAN", [clinic.centre_id])
    appointment_id = await insert_appointment(factory, clinic, soon(), status="BOOKED")
    other = Actor(user_id=colleague.id, roles=frozenset({CLINICIAN}), centre_ids=frozenset({clinic.centre_id}),
                  clinician_id=colleague.clinician_id)
    with pytest.raises(ApiError) as caught:
        async with db.transaction(pool) as cur:
            await consultations.begin(cur, other, appointment_id, dt.datetime.now(UTC))
    assert (caught.value.status, caught.value.code) == (403, "NOT_OWN_APPOINTMENT")
    later = await insert_appointment(factory, clinic, soon() + dt.timedelta(hours=3), status="CONFIRMED")
    with pytest.raises(ApiError) as caught:
        async with db.transaction(pool) as cur:
            await consultations.begin(cur, clinician_actor(clinic), later, dt.datetime.now(UTC))
    assert (caught.value.status, caught.value.code) == (422, "SESSION_TOO_EARLY")
    assert await rows(factory, "SELECT status FROM appointments ORDER BY id") == [("BOOKED",), ("CONFIRMED",)]


async def test_an_ongoing_session_holds_its_time(client, factory):
    clinic = await make_clinic(factory, start="00:00", end="23:30")
    start = soon()
    await insert_appointment(factory, clinic, start, status="IN_PROGRESS")
    other_patient = await factory.patient()
    resp = await client.post("/api/appointments", headers=clinic.desk.headers,
                             json=booking(clinic, start, patientId=other_patient["id"]))
    assert (resp.status, (await resp.json())["error"]["code"]) == (409, "SLOT_UNAVAILABLE")


async def test_a_follow_up_is_booked_in_the_first_free_slot_of_the_day(pool, factory):
    clinic = await make_clinic(factory, start="09:00", end="11:00")
    parent = await insert_appointment(factory, clinic, soon(), status="CONFIRMED")
    day = future_day(clinic.zone, 14)
    await insert_appointment(factory, clinic, at(day, "09:00", clinic.zone))  # the first slot is taken
    async with db.transaction(pool) as cur:
        follow_up = await consultations.book_follow_up(cur, clinician_actor(clinic), parent, day, "Review sleep",
                                                       dt.datetime.now(UTC))
    assert await rows(factory, "SELECT appointment_type, status, scheduled_start_at, patient_id, notes"
                               " FROM appointments WHERE id = %s", (follow_up,)) == [
        ("FOLLOW_UP", "BOOKED", at(day, "09:30", clinic.zone), clinic.patient["id"],
         f"Follow-up of appointment {parent}: Review sleep")]
    assert await rows(factory, "SELECT actor_name, args FROM outbox") == [("appointment_booked", [follow_up])]


async def test_a_follow_up_on_a_full_day_is_refused(pool, factory):
    clinic = await make_clinic(factory, start="09:00", end="10:00")
    parent = await insert_appointment(factory, clinic, soon(), status="CONFIRMED")
    day = future_day(clinic.zone, 14)
    for wall in ("09:00", "09:30"):
        patient = await factory.patient()
        await insert_appointment(factory, clinic, at(day, wall, clinic.zone), patient_id=patient["id"])
    with pytest.raises(ApiError) as caught:
        async with db.transaction(pool) as cur:
            await consultations.book_follow_up(cur, clinician_actor(clinic), parent, day, None, dt.datetime.now(UTC))
    assert (caught.value.status, caught.value.code) == (409, "NO_FREE_SLOT")


async def test_the_clinicians_day_and_its_counts(pool, factory):
    clinic = await make_clinic(factory, start="00:00", end="23:30")
    today = local_today(clinic.zone)
    tomorrow = today + dt.timedelta(days=1)
    statuses = ["BOOKED", "CONFIRMED", "IN_PROGRESS", "COMPLETED", "CANCELLED", "RESCHEDULED"]
    for hour, status in enumerate(statuses):
        patient = await factory.patient()
        await insert_appointment(factory, clinic, at(tomorrow, f"{hour + 8:02d}:00", clinic.zone), status=status,
                                 patient_id=patient["id"])
    await insert_appointment(factory, clinic, at(tomorrow + dt.timedelta(days=1), "10:00", clinic.zone))
    async with db.connection(pool) as cur:
        day = await consultations.clinician_days(cur, clinician_actor(clinic), tomorrow, tomorrow)
    assert [row["status"] for row in day] == statuses[:-1]  # a RESCHEDULED original shows through its child
    assert consultations.day_statistics(day) == {"total": 5, "waiting": 1, "confirmed": 1, "ongoing": 1,
                                                 "completed": 1, "cancelled": 1}


async def test_my_appointments_are_grouped_current_upcoming_past(pool, factory):
    clinic = await make_clinic(factory, start="00:00", end="23:30")
    now = dt.datetime.now(UTC).replace(second=0, microsecond=0)
    under_way = await insert_appointment(factory, clinic, now - dt.timedelta(minutes=10), status="CONFIRMED")
    ahead = await insert_appointment(factory, clinic, now + dt.timedelta(days=2),
                                     patient_id=(await factory.patient())["id"])
    done = await insert_appointment(factory, clinic, now - dt.timedelta(days=3), status="COMPLETED",
                                    patient_id=(await factory.patient())["id"])
    async with db.connection(pool) as cur:
        grouped = await consultations.my_appointments(cur, clinician_actor(clinic), now)
    assert {group: [row["id"] for row in items] for group, items in grouped.items()} == {
        "current": [under_way], "upcoming": [ahead], "past": [done]}

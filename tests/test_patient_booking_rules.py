"""The booking rules as the patient website uses them: days with free slots, wall-clock times in the
centre's zone, a patient's own unpaid hold, holds released when unpaid, and the cancellation cut-off."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from mibo.core import db
from mibo.core.actor import PATIENT_WEB, SCHEDULER, Actor
from mibo.core.errors import ApiError
from mibo.domain import appointments, availability
from tests.scheduling_support import at, future_day, insert_appointment, local_today, make_clinic, rows

UTC = dt.UTC


def patient_actor(patient: dict) -> Actor:
    return Actor(user_id=patient["user_id"], patient_id=patient["id"], surface=PATIENT_WEB)


async def book_as_patient(pool, clinic, patient, start):
    async with db.transaction(pool) as cur:
        return await appointments.book(
            cur, patient_actor(patient), patient_id=patient["id"], clinician_id=clinic.clinician_id,
            centre_id=clinic.centre_id, appointment_type="ONLINE", start=start, duration_minutes=None, notes=None,
            now=dt.datetime.now(UTC))


def test_free_slot_counts_list_only_days_with_a_free_slot():
    zone = ZoneInfo("Asia/Kolkata")
    monday = dt.date(2027, 1, 4)
    rule = availability.Rule(1, zone, 0, dt.time(9), dt.time(10), 30)  # Mondays, two slots
    taken = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(9), zone).astimezone(UTC)
    blocked = availability.day_bounds(monday + dt.timedelta(days=14), zone)
    plan = availability.Schedule(
        [rule], appointments=[availability.Interval(taken, taken + dt.timedelta(minutes=30))],
        blocks=[availability.Interval(*blocked)])
    now = dt.datetime.combine(monday, dt.time(0), zone).astimezone(UTC)
    counts = availability.free_slot_counts(plan, monday, monday + dt.timedelta(days=59), now)
    assert counts[:3] == [{"date": "2027-01-04", "slotCount": 2}, {"date": "2027-01-11", "slotCount": 1},
                          {"date": "2027-01-25", "slotCount": 2}]
    assert len(counts) == 8  # nine Mondays in 60 days, one blocked whole
    with pytest.raises(ValueError):
        availability.free_slot_counts(plan, monday, monday + dt.timedelta(days=62), now)


def test_wall_clock_times_are_read_in_the_centres_zone():
    kolkata = {"timezone": "Asia/Kolkata"}
    assert appointments.local_start(kolkata, dt.date(2027, 1, 4), dt.time(9)) == dt.datetime(2027, 1, 4, 3, 30,
                                                                                            tzinfo=UTC)
    with pytest.raises(ApiError) as caught:  # 01:30 does not happen in London on the spring-forward night
        appointments.local_start({"timezone": "Europe/London"}, dt.date(2027, 3, 28), dt.time(1, 30))
    assert (caught.value.status, caught.value.code) == (422, "NO_SUCH_TIME")


async def test_a_patient_booking_the_same_slot_again_gets_their_own_hold(pool, factory):
    clinic = await make_clinic(factory)
    start = at(future_day(clinic.zone), "10:00", clinic.zone)
    first = await book_as_patient(pool, clinic, clinic.patient, start)
    again = await book_as_patient(pool, clinic, clinic.patient, start)
    assert again == first
    assert await rows(factory, "SELECT source, status FROM appointments") == [("WEB_PATIENT", "BOOKED")]
    other = await factory.patient()
    with pytest.raises(ApiError) as caught:
        await book_as_patient(pool, clinic, other, start)
    assert (caught.value.status, caught.value.code) == (409, "SLOT_UNAVAILABLE")


async def test_unpaid_holds_are_released_and_their_slots_offered_again(pool, factory):
    clinic = await make_clinic(factory)
    day = future_day(clinic.zone)
    stale, paying, fresh = (at(day, wall, clinic.zone) for wall in ("10:00", "11:00", "12:00"))
    stale_id = await book_as_patient(pool, clinic, clinic.patient, stale)
    paying_id = await book_as_patient(pool, clinic, clinic.patient, paying)
    fresh_id = await book_as_patient(pool, clinic, clinic.patient, fresh)
    desk_id = await insert_appointment(factory, clinic, at(day, "13:00", clinic.zone))
    await factory.fetchone("UPDATE appointments SET created_at = now() - interval '20 minutes'"
                           " WHERE id = ANY(%s) RETURNING id", ([stale_id, paying_id, desk_id],))
    await factory.payment(patient_id=clinic.patient["id"], appointment_id=paying_id, status="PENDING")
    actor = Actor.system(SCHEDULER, "release_unpaid_holds")
    async with db.transaction(pool) as cur:
        released = await appointments.release_unpaid_holds(cur, actor, dt.datetime.now(UTC), 15)
    assert released == [stale_id]
    assert await rows(factory, "SELECT id, status, cancellation_reason FROM appointments ORDER BY id") == [
        (stale_id, "CANCELLED", "Payment not received"), (paying_id, "BOOKED", None), (fresh_id, "BOOKED", None),
        (desk_id, "BOOKED", None)]
    assert await rows(factory, "SELECT actor_kind, surface FROM audit_log WHERE action = 'appointment.status'") == [
        ("SCHEDULER", "SCHEDULER")]
    async with db.connection(pool) as cur:
        _, plan = await appointments.public_slots(cur, clinic.clinician_id, clinic.centre_id, day, day,
                                                  dt.datetime.now(UTC))
    free = {slot["startAt"] for slot in availability.slots_for_day(plan, day, dt.datetime.now(UTC))
            if slot["status"] == "available"}
    assert stale.astimezone(UTC).isoformat() in free and paying.astimezone(UTC).isoformat() not in free


async def test_a_patient_cancels_until_the_cutoff_and_only_their_own(pool, factory):
    clinic = await make_clinic(factory, start="00:00", end="23:30")
    later = at(local_today(clinic.zone) + dt.timedelta(days=3), "10:00", clinic.zone)
    soon = (dt.datetime.now(UTC) + dt.timedelta(hours=5)).replace(minute=0, second=0, microsecond=0)
    if soon.astimezone(clinic.zone).time() >= dt.time(23, 30):  # the day's last half hour is not worked
        soon += dt.timedelta(hours=1)
    early_id = await book_as_patient(pool, clinic, clinic.patient, later)
    late_id = await book_as_patient(pool, clinic, clinic.patient, soon)
    actor = patient_actor(clinic.patient)
    stranger = patient_actor(await factory.patient())
    with pytest.raises(ApiError) as caught:
        async with db.transaction(pool) as cur:
            await appointments.cancel_by_patient(cur, stranger, early_id, "Not mine", dt.datetime.now(UTC), 24)
    assert (caught.value.status, caught.value.code) == (404, "APPOINTMENT_NOT_FOUND")
    with pytest.raises(ApiError) as caught:
        async with db.transaction(pool) as cur:
            await appointments.cancel_by_patient(cur, actor, late_id, "Too late", dt.datetime.now(UTC), 24)
    assert (caught.value.status, caught.value.code, caught.value.details["cutoffHours"]) == (
        422, "CANCELLATION_CUTOFF_PASSED", 24)
    async with db.transaction(pool) as cur:
        await appointments.cancel_by_patient(cur, actor, early_id, "Plans changed", dt.datetime.now(UTC), 24)
    with pytest.raises(ApiError) as caught:
        async with db.transaction(pool) as cur:
            await appointments.cancel_by_patient(cur, actor, early_id, "Again", dt.datetime.now(UTC), 24)
    assert caught.value.message == "Appointment is already cancelled"
    assert await rows(factory, "SELECT id, status FROM appointments ORDER BY id") == [
        (early_id, "CANCELLED"), (late_id, "BOOKED")]
    assert await rows(factory, "SELECT actor_kind, surface, actor_user_id FROM audit_log"
                               " WHERE action = 'appointment.status'") == [
        ("PATIENT", "PATIENT_WEB", clinic.patient["user_id"])]

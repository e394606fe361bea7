"""Invariants the suite could not tell apart from their mutants: the outbox row shares the business
transaction; the clinician row lock serialises caps and buffers; weekdays are the centre's, not UTC's."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from mibo.core import db, outbox
from tests.scheduling_support import add_rule, at, booking, future_day, make_clinic, rows, set_clinician

# --- the outbox row is part of the business transaction ----------------------------------------


async def test_a_transaction_that_enqueues_then_fails_leaves_no_outbox_row(pool, factory):
    with pytest.raises(RuntimeError):
        async with db.transaction(pool) as cur:
            assert await outbox.enqueue(cur, outbox.APPOINTMENT_BOOKED, 1, dedupe_key="unit:1") is not None
            raise RuntimeError("the business write failed after the enqueue")
    assert await rows(factory, "SELECT id FROM outbox") == []
    async with db.transaction(pool) as cur:
        await outbox.enqueue(cur, outbox.APPOINTMENT_BOOKED, 1, dedupe_key="unit:1")
    assert await rows(factory, "SELECT actor_name, args FROM outbox") == [(outbox.APPOINTMENT_BOOKED, [1])]


# The booking's last write (its audit row, after the outbox row) fails.
FAIL_THE_AUDIT_ROW = """
CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'refused after the outbox row' USING ERRCODE = 'check_violation'; END $$;
CREATE TRIGGER test_refuse_audit AFTER INSERT ON audit_log
  FOR EACH ROW WHEN (NEW.action = 'appointment.create') EXECUTE FUNCTION test_refuse_audit();
"""
DROP_FAIL_THE_AUDIT_ROW = """
DROP TRIGGER IF EXISTS test_refuse_audit ON audit_log; DROP FUNCTION IF EXISTS test_refuse_audit();
"""


async def test_a_booking_that_fails_after_its_enqueue_leaves_no_outbox_row(client, factory, pool):
    clinic = await make_clinic(factory)
    async with db.connection(pool) as cur:
        await cur.execute(FAIL_THE_AUDIT_ROW)
    try:
        resp = await client.post("/api/appointments", headers=clinic.desk.headers,
                                 json=booking(clinic, at(future_day(clinic.zone), "10:00", clinic.zone)))
        assert resp.status == 400, await resp.text()
    finally:
        async with db.connection(pool) as cur:
            await cur.execute(DROP_FAIL_THE_AUDIT_ROW)
    assert await rows(factory, "SELECT id FROM appointments") == []
    assert await rows(factory, "SELECT id FROM outbox") == []
    resp = await client.post("/api/appointments", headers=clinic.desk.headers,
                             json=booking(clinic, at(future_day(clinic.zone), "10:00", clinic.zone)))
    assert resp.status == 201
    assert [name for (name,) in await rows(factory, "SELECT actor_name FROM outbox")] == ["appointment_booked"]


# --- caps and buffers hold under concurrency (the clinician row lock) --------------------------


async def book_all(client, clinic, factory, starts) -> list[tuple[int, str | None]]:
    patients = [await factory.patient() for _ in starts]

    async def one(patient, start):
        resp = await client.post("/api/appointments", headers=clinic.desk.headers,
                                 json=booking(clinic, start, patientId=patient["id"]))
        body = await resp.json()
        return resp.status, None if resp.status == 201 else body["error"]["code"]

    return await asyncio.gather(*(one(p, s) for p, s in zip(patients, starts, strict=True)))


async def test_eight_concurrent_bookings_against_a_daily_cap_of_one_give_one_201(client, factory):
    clinic = await make_clinic(factory)
    await set_clinician(factory, clinic.clinician_id, max_daily_appointments=1)
    day = future_day(clinic.zone)
    starts = [at(day, f"{9 + i:02d}:00", clinic.zone) for i in range(8)]  # eight different, free slots
    answers = await book_all(client, clinic, factory, starts)
    assert sorted(answers, key=str) == sorted([(201, None)] + [(409, "DAILY_CAP_REACHED")] * 7, key=str), answers
    assert len(await rows(factory, "SELECT id FROM appointments")) == 1


async def test_concurrent_bookings_never_break_a_buffer(client, factory):
    clinic = await make_clinic(factory)
    await set_clinician(factory, clinic.clinician_id, buffer_after_minutes=30)
    day = future_day(clinic.zone)
    # 10:00 and 10:30 never overlap (the exclusion constraint allows both); the buffer allows one.
    starts = [at(day, "10:00", clinic.zone), at(day, "10:30", clinic.zone)] * 4
    answers = await book_all(client, clinic, factory, starts)
    assert [status for status, _ in answers].count(201) == 1, answers
    assert {code for status, code in answers if status != 201} == {"SLOT_UNAVAILABLE"}
    assert len(await rows(factory, "SELECT id FROM appointments")) == 1


# --- the weekday is the centre's ----------------------------------------------------------------


async def one_weekday_clinic(factory, timezone: str, day: dt.date, start: str, end: str):
    clinic = await make_clinic(factory, timezone, days=())
    await add_rule(factory, clinic.clinician_id, clinic.centre_id, day.weekday(), start, end)
    return clinic


@pytest.mark.parametrize(("timezone", "window", "wall"), [
    ("Asia/Kolkata", ("01:00", "06:00"), "04:00"),  # 04:00 IST is 22:30 UTC of the day before
    ("America/Los_Angeles", ("18:00", "23:30"), "21:00"),  # 21:00 in LA is 04:00/05:00 UTC of the day after
])
async def test_a_one_weekday_rule_books_on_that_local_weekday(client, factory, timezone, window, wall):
    probe = await make_clinic(factory, timezone, days=())
    day = future_day(probe.zone, 10)
    clinic = await one_weekday_clinic(factory, timezone, day, *window)
    start = at(day, wall, clinic.zone)
    assert start.astimezone(dt.UTC).date() != day  # the UTC date, and so its weekday, differ
    resp = await client.get("/api/appointments/availability", headers=clinic.desk.headers,
                            params={"clinicianId": str(clinic.clinician_id), "date": day.isoformat()})
    slots = {s["localStart"]: s["status"] for s in (await resp.json())["data"]["slots"]}
    assert slots[wall] == "available", slots
    resp = await client.post("/api/appointments", json=booking(clinic, start), headers=clinic.desk.headers)
    assert resp.status == 201, await resp.text()
    # The same wall time a day later is another weekday: no rule, no booking.
    resp = await client.post("/api/appointments", headers=clinic.desk.headers,
                             json=booking(clinic, start + dt.timedelta(days=1), patientId=clinic.patient["id"]))
    assert (resp.status, (await resp.json())["error"]["code"])[0] in (409, 422)

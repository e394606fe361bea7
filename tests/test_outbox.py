"""The outbox row is part of the business transaction: a transaction that enqueues and then fails,
or a booking whose last write fails after its enqueue, leaves no outbox row behind."""

from __future__ import annotations

import pytest

from mibo.core import db, outbox
from tests.scheduling_support import at, booking, future_day, make_clinic, rows


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

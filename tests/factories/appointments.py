"""Appointments written straight into the table, in any status or time (the booking rules are not
under test where these are used). The one statement every test helper inserts appointments with."""

from __future__ import annotations

import datetime as dt

from tests.factories.base import BaseFactory, insert


async def insert_appointment_row(cur, *, patient_id: int, clinician_id: int, centre_id: int, start: dt.datetime,
                                 minutes: int = 30, status: str = "BOOKED", kind: str = "IN_PERSON",
                                 source: str = "ADMIN_FRONT_DESK", **columns) -> int:
    """On the caller's cursor, so that it can share a transaction (e.g. with its outbox row)."""
    return await insert(cur, "appointments", {
        "patient_id": patient_id, "clinician_id": clinician_id, "centre_id": centre_id, "appointment_type": kind,
        "scheduled_start_at": start, "scheduled_end_at": start + dt.timedelta(minutes=minutes),
        "duration_minutes": minutes, "status": status, "source": source, **columns})


class AppointmentFactory(BaseFactory):
    async def appointment(self, *, patient_id: int, clinician_id: int, centre_id: int, start: dt.datetime,
                          **columns) -> int:
        async with self.acquire() as conn, conn.cursor() as cur:
            return await insert_appointment_row(cur, patient_id=patient_id, clinician_id=clinician_id,
                                                centre_id=centre_id, start=start, **columns)

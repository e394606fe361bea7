"""Helpers shared by the availability, appointment and block tests: a clinic with a clinician,
weekly rules, a front desk and a patient, and local times turned into instants."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from tests.factories import Factory, StaffUser

ALL_DAYS = range(7)


@dataclass
class Clinic:
    centre_id: int
    zone: ZoneInfo
    clinician: StaffUser
    desk: StaffUser
    patient: dict

    @property
    def clinician_id(self) -> int:
        return self.clinician.clinician_id


async def add_rule(
    factory: Factory,
    clinician_id: int,
    centre_id: int,
    day_of_week: int,
    start: str = "09:00",
    end: str = "17:00",
    slot: int = 30,
) -> int:
    row = await factory.fetchone(
        "INSERT INTO clinician_availability_rules"
        " (clinician_id, centre_id, day_of_week, start_time, end_time, slot_duration_minutes)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (clinician_id, centre_id, day_of_week, start, end, slot),
    )
    return row[0]


async def set_clinician(factory: Factory, clinician_id: int, **columns) -> None:
    assignments = ", ".join(f"{name} = %s" for name in columns)
    await factory.fetchone(
        f"UPDATE clinician_profiles SET {assignments} WHERE id = %s RETURNING id",
        (*columns.values(), clinician_id),
    )


async def make_clinic(
    factory: Factory,
    timezone: str = "Asia/Kolkata",
    days=ALL_DAYS,
    start: str = "09:00",
    end: str = "17:00",
    slot: int = 30,
) -> Clinic:
    centre_id = await factory.centre(timezone=timezone)
    clinician = await factory.staff("CLINICIAN", [centre_id], full_name="Dr Asha Rao")
    for day in days:
        await add_rule(factory, clinician.clinician_id, centre_id, day, start, end, slot)
    desk = await factory.staff("FRONT_DESK", [centre_id])
    patient = await factory.patient(full_name="Ravi Kumar")
    return Clinic(centre_id, ZoneInfo(timezone), clinician, desk, patient)


def local_today(zone: ZoneInfo) -> dt.date:
    return dt.datetime.now(dt.UTC).astimezone(zone).date()


def at(day: dt.date, wall: str, zone: ZoneInfo) -> dt.datetime:
    """A local wall-clock time on `day` as an aware datetime in `zone`."""
    return dt.datetime.combine(day, dt.time.fromisoformat(wall), zone)


def future_day(zone: ZoneInfo, days_ahead: int = 7) -> dt.date:
    return local_today(zone) + dt.timedelta(days=days_ahead)


def booking(clinic: Clinic, start: dt.datetime, **overrides) -> dict:
    body = {
        "patientId": clinic.patient["id"],
        "clinicianId": clinic.clinician_id,
        "centreId": clinic.centre_id,
        "appointmentType": "IN_PERSON",
        "scheduledStartAt": start.isoformat(),
        "durationMinutes": 30,
    }
    body.update(overrides)
    return body


async def insert_appointment(
    factory: Factory,
    clinic: Clinic,
    start: dt.datetime,
    *,
    minutes: int = 30,
    status: str = "BOOKED",
    patient_id: int | None = None,
) -> int:
    """An appointment written directly (e.g. in the past, or in a given status), bypassing the API."""
    row = await factory.fetchone(
        "INSERT INTO appointments (patient_id, clinician_id, centre_id, appointment_type, scheduled_start_at,"
        " scheduled_end_at, duration_minutes, status, source)"
        " VALUES (%s, %s, %s, 'IN_PERSON', %s, %s, %s, %s, 'ADMIN_FRONT_DESK') RETURNING id",
        (
            patient_id or clinic.patient["id"],
            clinic.clinician_id,
            clinic.centre_id,
            start,
            start + dt.timedelta(minutes=minutes),
            minutes,
            status,
        ),
    )
    return row[0]


async def rows(factory: Factory, sql: str, params=None) -> list[tuple]:
    async with factory.pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()

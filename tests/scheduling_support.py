"""Helpers shared by the availability, appointment and block tests: a clinic with a clinician,
weekly rules, a front desk and a patient, and local times turned into instants."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from tests.factories import Factory, StaffUser
from tests.factories import rows as rows  # the scheduling tests read rows from here

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
    return await factory.availability_rule(clinician_id, centre_id, day_of_week, start, end, slot)


async def set_clinician(factory: Factory, clinician_id: int, **columns) -> None:
    await factory.set_clinician(clinician_id, **columns)


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
    """The clinic's appointment written directly (e.g. in the past, or in a given status), bypassing the API."""
    return await factory.appointment(patient_id=patient_id or clinic.patient["id"], clinician_id=clinic.clinician_id,
                                     centre_id=clinic.centre_id, start=start, minutes=minutes, status=status)

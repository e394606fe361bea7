"""Helpers shared by the operations API tests (centres, users, clinicians, patients, audit)."""

from __future__ import annotations

import datetime as dt

from tests.factories import rows


async def insert_appointment(
    factory,
    *,
    patient_id: int,
    clinician_id: int,
    centre_id: int,
    hours_from_now: float = 24,
    status: str = "BOOKED",
    minutes: int = 30,
) -> int:
    """An appointment `hours_from_now` (the booking API is not under test here)."""
    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours_from_now)
    return await factory.appointment(patient_id=patient_id, clinician_id=clinician_id, centre_id=centre_id,
                                     start=start, minutes=minutes, status=status)


async def audit_rows(factory, action: str, entity_id: int | None = None) -> list[tuple]:
    return await rows(
        factory,
        "SELECT actor_user_id, entity_type, entity_id, centre_id, details FROM audit_log"
        " WHERE action = %s AND (%s::bigint IS NULL OR entity_id = %s) ORDER BY id",
        (action, entity_id, entity_id),
    )


def error_of(body: dict) -> tuple[str, dict | None]:
    return body["error"]["code"], body["error"].get("details")

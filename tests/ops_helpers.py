"""Helpers shared by the operations API tests (centres, users, clinicians, patients, audit)."""

from __future__ import annotations


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
    """An appointment written straight into the table (the booking API is not under test here)."""
    row = await factory.fetchone(
        "INSERT INTO appointments (patient_id, clinician_id, centre_id, appointment_type, scheduled_start_at,"
        " scheduled_end_at, duration_minutes, status, source)"
        " VALUES (%(p)s, %(c)s, %(centre)s, 'IN_PERSON', now() + make_interval(secs => %(s)s),"
        " now() + make_interval(secs => %(s)s + %(m)s * 60), %(m)s, %(status)s, 'ADMIN_FRONT_DESK')"
        " RETURNING id",
        {
            "p": patient_id,
            "c": clinician_id,
            "centre": centre_id,
            "s": hours_from_now * 3600,
            "m": minutes,
            "status": status,
        },
    )
    return row[0]


async def audit_rows(factory, action: str, entity_id: int | None = None) -> list[tuple]:
    async with factory.pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(
            "SELECT actor_user_id, entity_type, entity_id, centre_id, details FROM audit_log"
            " WHERE action = %s AND (%s::bigint IS NULL OR entity_id = %s) ORDER BY id",
            (action, entity_id, entity_id),
        )
        return await cur.fetchall()


def error_of(body: dict) -> tuple[str, dict | None]:
    return body["error"]["code"], body["error"].get("details")

"""The patient website's dashboard: a signed-in patient's own appointments, payments and totals.

Built from the same reads as the staff views of a patient (mibo.domain.patients, payments): the
patient's Actor scopes them to that patient, and leaves out originals replaced by a reschedule
(the patient follows the new appointment). Upcoming means live and not yet started; everything
else is past, newest first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mibo.core import db
from mibo.core.actor import Actor
from mibo.domain import access, patients, payments
from mibo.domain.appointment_states import COMPLETED, LIVE

RECENT = 5  # past appointments on the dashboard; the appointments page lists them all

SPENT_BY_PATIENT = "SELECT COALESCE(sum(amount), 0) FROM payments WHERE patient_id = %s AND status = 'SUCCESS'"


def is_upcoming(appointment: dict[str, Any], now: dt.datetime) -> bool:
    return appointment["status"] in LIVE and appointment["scheduled_start_at"] > now


async def dashboard(cur, actor: Actor, now: dt.datetime) -> dict[str, Any]:
    """The patient, their totals, every upcoming appointment (soonest first) and the latest past ones."""
    patient_id = access.patient_self(actor)
    patient = await patients.patient_row(cur, patient_id)
    booked, _ = await patients.appointments_page(cur, actor, patient_id, None, 0)
    upcoming = [row for row in reversed(booked) if is_upcoming(row, now)]
    past = [row for row in booked if not is_upcoming(row, now)]
    return {
        "patient": patient,
        "statistics": {
            "total_appointments": len(booked),
            "completed_appointments": sum(row["status"] == COMPLETED for row in booked),
            "upcoming_appointments": len(upcoming),
            "total_spent": await db.fetch_value(cur, SPENT_BY_PATIENT, (patient_id,)),
        },
        "upcoming_appointments": upcoming,
        "recent_appointments": past[:RECENT],
    }


async def appointments(cur, actor: Actor, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """The patient's appointments, newest first; returns (rows, total)."""
    return await patients.appointments_page(cur, actor, access.patient_self(actor), limit, offset)


async def payment_history(cur, actor: Actor, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """The patient's payments, newest first; returns (rows, total)."""
    return await payments.payments_of_patient(cur, actor, access.patient_self(actor), limit, offset)

"""Loading what mibo.domain.availability computes with: a clinician's settings, rules, appointments and blocks.

Used by the availability endpoint, booking, rescheduling and blocks. Writers lock the clinician
row first (`clinician(..., lock=True)`), so checks that no constraint can express (buffers, the
daily cap, blocks) hold under concurrency; the exclusion constraints remain the final guard
against double booking. Lock order everywhere: clinician rows (by id), then appointment rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from mibo.core import db
from mibo.domain.appointment_states import LIVE_SQL
from mibo.domain.availability import Interval, Rule, Schedule, SchedulingSettings

CLINICIAN_SCHEDULING = """
SELECT cp.id, cp.is_active AND u.is_active AS is_active, cp.primary_centre_id, u.full_name,
       cp.default_consultation_duration_minutes, cp.buffer_before_minutes, cp.buffer_after_minutes,
       cp.min_notice_minutes, cp.booking_horizon_days, cp.max_daily_appointments,
       c.timezone AS primary_timezone
FROM clinician_profiles cp
JOIN users u ON u.id = cp.user_id
JOIN centres c ON c.id = cp.primary_centre_id
WHERE cp.id = %s
"""

# NO KEY UPDATE: serialises our writers without blocking foreign-key checks of other tables.
CLINICIAN_SCHEDULING_LOCKED = CLINICIAN_SCHEDULING + "FOR NO KEY UPDATE OF cp"

ACTIVE_RULES = """
SELECT r.centre_id, c.timezone, r.day_of_week, r.start_time, r.end_time, r.slot_duration_minutes
FROM clinician_availability_rules r
JOIN centres c ON c.id = r.centre_id
WHERE r.clinician_id = %s AND r.is_active AND c.is_active
ORDER BY r.day_of_week, r.start_time
"""

LIVE_APPOINTMENTS_BETWEEN = f"""
SELECT id, scheduled_start_at, scheduled_end_at, centre_id
FROM appointments
WHERE clinician_id = %(clinician_id)s AND status IN {LIVE_SQL}
  AND scheduled_start_at < %(hi)s AND scheduled_end_at > %(lo)s
  -- No appointment is longer than 8 hours: this bounds the index range to the window asked for,
  -- instead of every future booking of the clinician.
  AND scheduled_end_at < %(hi)s + interval '8 hours'
ORDER BY scheduled_start_at
"""

ACTIVE_BLOCKS_BETWEEN = """
SELECT id, starts_at, ends_at, centre_id
FROM clinician_blocks
WHERE clinician_id = %(clinician_id)s AND removed_at IS NULL
  AND starts_at < %(hi)s AND ends_at > %(lo)s
ORDER BY starts_at
"""

CENTRE_ZONE = "SELECT id, name, timezone, is_active FROM centres WHERE id = %s"

# Every zone is within 14 hours of UTC, and buffers are at most 4 hours: a day either side
# of the UTC dates covers every local date and every buffer in the range.
_MARGIN = dt.timedelta(days=1)


async def clinician(cur, clinician_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    return await db.fetch_one(
        cur, CLINICIAN_SCHEDULING_LOCKED if lock else CLINICIAN_SCHEDULING, (clinician_id,)
    )


async def centre(cur, centre_id: int) -> dict[str, Any] | None:
    return await db.fetch_one(cur, CENTRE_ZONE, (centre_id,))


def settings_of(row: dict[str, Any]) -> SchedulingSettings:
    return SchedulingSettings(
        buffer_before=row["buffer_before_minutes"],
        buffer_after=row["buffer_after_minutes"],
        min_notice=row["min_notice_minutes"],
        horizon_days=row["booking_horizon_days"],
        max_daily=row["max_daily_appointments"],
    )


async def load(cur, clinician_row: dict[str, Any], first: dt.date, last: dt.date) -> Schedule:
    """The schedule of a clinician for the local dates first..last (in any zone)."""
    lo = dt.datetime.combine(first, dt.time(0), dt.UTC) - _MARGIN
    hi = dt.datetime.combine(last, dt.time(0), dt.UTC) + 2 * _MARGIN
    params = {"clinician_id": clinician_row["id"], "lo": lo, "hi": hi}
    rules = await db.fetch_all(cur, ACTIVE_RULES, (clinician_row["id"],))
    appointments = await db.fetch_all(cur, LIVE_APPOINTMENTS_BETWEEN, params)
    blocks = await db.fetch_all(cur, ACTIVE_BLOCKS_BETWEEN, params)
    return Schedule(
        rules=[
            Rule(
                r["centre_id"],
                ZoneInfo(r["timezone"]),
                r["day_of_week"],
                r["start_time"],
                r["end_time"],
                r["slot_duration_minutes"],
            )
            for r in rules
        ],
        settings=settings_of(clinician_row),
        appointments=[
            Interval(a["scheduled_start_at"], a["scheduled_end_at"], a["centre_id"], a["id"])
            for a in appointments
        ],
        blocks=[Interval(b["starts_at"], b["ends_at"], b["centre_id"], b["id"]) for b in blocks],
    )

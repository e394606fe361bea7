"""The appointment state machine: the spec's transitions plus the two a clinic cannot do without.

Spec: BOOKED → CONFIRMED | CANCELLED, CONFIRMED → RESCHEDULED | COMPLETED | NO_SHOW.
Added: CONFIRMED → CANCELLED (a paid appointment cancelled; its payment is marked for refund)
and BOOKED → RESCHEDULED (an unpaid booking moved). Every other status is final.
"""

from __future__ import annotations

import datetime as dt

from mibo.core.errors import ApiError

BOOKED, CONFIRMED, RESCHEDULED = "BOOKED", "CONFIRMED", "RESCHEDULED"
COMPLETED, CANCELLED, NO_SHOW = "COMPLETED", "CANCELLED", "NO_SHOW"
STATUSES = (BOOKED, CONFIRMED, RESCHEDULED, COMPLETED, CANCELLED, NO_SHOW)
# Statuses that hold the clinician's and the patient's time (the exclusion constraints use the same set).
LIVE = (BOOKED, CONFIRMED)
# Statuses of an appointment that happened or is to happen: the clinician saw (or will see) the
# patient, or the patient did not come. A RESCHEDULED original is not held: its child is.
HELD = (BOOKED, CONFIRMED, COMPLETED, NO_SHOW)


def sql_list(statuses: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{status}'" for status in statuses) + ")"


# The same, for SQL: `status IN {LIVE_SQL}`, `status IN {HELD_SQL}`.
LIVE_SQL = sql_list(LIVE)
HELD_SQL = sql_list(HELD)

TRANSITIONS: dict[str, tuple[str, ...]] = {
    BOOKED: (CONFIRMED, CANCELLED, RESCHEDULED),
    CONFIRMED: (RESCHEDULED, COMPLETED, NO_SHOW, CANCELLED),
    RESCHEDULED: (),
    COMPLETED: (),
    CANCELLED: (),
    NO_SHOW: (),
}

# Outcomes of a consultation can only be recorded once it has started.
NEEDS_START = (COMPLETED, NO_SHOW)


def check_transition(current: str, target: str, scheduled_start_at: dt.datetime, now: dt.datetime) -> None:
    """Raise 422 unless `current` → `target` is allowed at `now`."""
    allowed = TRANSITIONS[current]
    if target not in allowed:
        raise ApiError.unprocessable(
            f"An appointment cannot go from {current} to {target}",
            {"from": current, "to": target, "allowed": list(allowed)},
            code="INVALID_TRANSITION",
        )
    if target in NEEDS_START and now < scheduled_start_at:
        raise ApiError.unprocessable(
            f"{target} can be recorded only once the appointment has started",
            {"scheduledStartAt": scheduled_start_at.isoformat()},
            code="APPOINTMENT_NOT_STARTED",
        )

"""The appointment state machine: the spec's transitions plus those a clinic cannot do without.

Spec: BOOKED → CONFIRMED | CANCELLED, CONFIRMED → RESCHEDULED | COMPLETED | NO_SHOW.
Added: CONFIRMED → CANCELLED (a paid appointment cancelled; its payment is marked for refund),
BOOKED → RESCHEDULED (an unpaid booking moved), and the consultation itself: BOOKED | CONFIRMED →
IN_PROGRESS (the clinician began the session; a walk-in may pay afterwards) → COMPLETED. Every
other status is final.
"""

from __future__ import annotations

import datetime as dt

from mibo.core.errors import ApiError

BOOKED, CONFIRMED, IN_PROGRESS, RESCHEDULED = "BOOKED", "CONFIRMED", "IN_PROGRESS", "RESCHEDULED"
COMPLETED, CANCELLED, NO_SHOW = "COMPLETED", "CANCELLED", "NO_SHOW"
STATUSES = (BOOKED, CONFIRMED, IN_PROGRESS, RESCHEDULED, COMPLETED, CANCELLED, NO_SHOW)
# Statuses that hold the clinician's and the patient's time (the exclusion constraints and the
# partial index on live appointments use the same set: change them together, in a migration).
LIVE = (BOOKED, CONFIRMED, IN_PROGRESS)
# Statuses of an appointment that happened or is to happen: the clinician saw (or will see) the
# patient, or the patient did not come. A RESCHEDULED original is not held: its child is.
HELD = (BOOKED, CONFIRMED, IN_PROGRESS, COMPLETED, NO_SHOW)


def sql_list(statuses: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{status}'" for status in statuses) + ")"


# The same, for SQL: `status IN {LIVE_SQL}`, `status IN {HELD_SQL}`.
LIVE_SQL = sql_list(LIVE)
HELD_SQL = sql_list(HELD)

TRANSITIONS: dict[str, tuple[str, ...]] = {
    BOOKED: (CONFIRMED, IN_PROGRESS, CANCELLED, RESCHEDULED),
    CONFIRMED: (IN_PROGRESS, RESCHEDULED, COMPLETED, NO_SHOW, CANCELLED),
    IN_PROGRESS: (COMPLETED,),
    RESCHEDULED: (),
    COMPLETED: (),
    CANCELLED: (),
    NO_SHOW: (),
}

# Outcomes of a consultation can only be recorded once it is due (or its session has begun).
NEEDS_START = (COMPLETED, NO_SHOW)
# A session may begin a little early (the patient is in the waiting room), never days ahead.
SESSION_OPENS_BEFORE = dt.timedelta(hours=1)


def check_transition(current: str, target: str, scheduled_start_at: dt.datetime, now: dt.datetime) -> None:
    """Raise 422 unless `current` → `target` is allowed at `now`."""
    allowed = TRANSITIONS[current]
    if target not in allowed:
        raise ApiError.unprocessable(
            f"An appointment cannot go from {current} to {target}",
            {"from": current, "to": target, "allowed": list(allowed)},
            code="INVALID_TRANSITION",
        )
    if target in NEEDS_START and current != IN_PROGRESS and now < scheduled_start_at:
        raise ApiError.unprocessable(
            f"{target} can be recorded only once the appointment has started",
            {"scheduledStartAt": scheduled_start_at.isoformat()},
            code="APPOINTMENT_NOT_STARTED",
        )
    if target == IN_PROGRESS and now < scheduled_start_at - SESSION_OPENS_BEFORE:
        raise ApiError.unprocessable(
            "A session can begin at most an hour before the appointment",
            {"scheduledStartAt": scheduled_start_at.isoformat()},
            code="SESSION_TOO_EARLY",
        )

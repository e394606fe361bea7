"""A clinician's slots and the booking rules, as pure functions (no I/O, no clock, no server zone).

Weekly rules are wall-clock windows in the centre's IANA zone. Each date's windows are turned
into UTC instants for that date, so a clinician who works 09:00-17:00 keeps those wall-clock
hours on both sides of a daylight-saving change. "now" is always passed in as an aware UTC
instant by the caller.

Daylight-saving edges (documented behaviour):
- a slot whose local start does not exist (the skipped hour of a spring-forward day) is not
  offered that day; the other slots of the window are;
- a local time that occurs twice (the repeated hour of a fall-back day) means its first
  occurrence, so the repeated hour is offered once.

Buffers: a consultation needs `buffer_before` minutes free before it and `buffer_after` minutes
after it, so two consultations are at least before + after minutes apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

UTC = dt.UTC
MAX_RANGE_DAYS = 31
# The patient website asks which days have a free slot two months ahead.
MAX_COUNT_RANGE_DAYS = 62
# Every zone is within 14 hours of UTC and buffers are at most 4 hours: what can touch a local
# date lies within this much of its UTC date.
_DAY_REACH = dt.timedelta(hours=18)

# Slot statuses and why a slot is not available (the reason is returned beside the status).
AVAILABLE, BOOKED, BLOCKED, PAST = "available", "booked", "blocked", "past"
APPOINTMENT = "APPOINTMENT"  # a live appointment overlaps the slot
BLOCK = "BLOCK"  # a staff block covers the slot
PAST_START = "PAST"  # the slot has started
MIN_NOTICE = "MIN_NOTICE"  # too close to now to book
BUFFER = "BUFFER"  # free itself, but within an appointment's buffer
HORIZON = "HORIZON"  # beyond how far ahead bookings open
DAILY_CAP = "DAILY_CAP"  # the clinician's day is full

# What a slot shows for its first obstacle, in this order of precedence: what is in the slot
# (an appointment, a block) says more to a front desk than the clock does.
DISPLAY = (
    (APPOINTMENT, BOOKED),
    (BLOCK, BLOCKED),
    (PAST_START, PAST),
    (MIN_NOTICE, PAST),
    (BUFFER, BOOKED),
    (HORIZON, BLOCKED),
    (DAILY_CAP, BLOCKED),
)

# Why a booking is refused, in the order it is checked: (reason, HTTP status, code, message).
REFUSALS = (
    (PAST_START, 422, "SLOT_IN_PAST", "The requested time has already passed"),
    (MIN_NOTICE, 422, "MIN_NOTICE", "The requested time is sooner than the clinician's minimum notice"),
    (HORIZON, 422, "BEYOND_HORIZON", "Bookings are not open that far ahead for this clinician"),
    (BLOCK, 409, "SLOT_BLOCKED", "The clinician's time is blocked then"),
    (APPOINTMENT, 409, "SLOT_UNAVAILABLE", "The clinician already has an appointment then"),
    (BUFFER, 409, "SLOT_UNAVAILABLE", "Too close to another appointment of the clinician (buffer time)"),
    (DAILY_CAP, 409, "DAILY_CAP_REACHED", "The clinician's appointments for that day are full"),
)


@dataclass(frozen=True)
class Rule:
    """One weekly window: day_of_week 0 = Monday … 6 = Sunday, wall-clock times in `zone`."""

    centre_id: int
    zone: ZoneInfo
    day_of_week: int
    start: dt.time
    end: dt.time
    slot_minutes: int


@dataclass(frozen=True)
class SchedulingSettings:
    buffer_before: int = 0
    buffer_after: int = 0
    min_notice: int = 0
    horizon_days: int = 90
    max_daily: int | None = None


@dataclass(frozen=True)
class Interval:
    """A live appointment or a block: [start, end) in aware instants. A block with centre_id
    None covers every centre; an appointment's centre_id is not used for conflicts."""

    start: dt.datetime
    end: dt.datetime
    centre_id: int | None = None
    id: int | None = None


@dataclass(frozen=True)
class Schedule:
    rules: Sequence[Rule]
    settings: SchedulingSettings = field(default_factory=SchedulingSettings)
    appointments: Sequence[Interval] = ()
    blocks: Sequence[Interval] = ()


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str
    reason: str


def wall_to_instant(day: dt.date, wall: dt.time, zone: ZoneInfo) -> dt.datetime | None:
    """The UTC instant of a local wall-clock time; None if that time does not exist on that date."""
    local = dt.datetime.combine(day, wall, zone)  # fold=0: the first of a repeated time
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None  # skipped by a spring-forward change
    return instant


def day_bounds(day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a local date as UTC instants (23 or 25 hours long on change days)."""
    start = dt.datetime.combine(day, dt.time(0), zone).astimezone(UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), zone).astimezone(UTC)
    return start, end


def date_range(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _overlaps(start: dt.datetime, end: dt.datetime, other_start: dt.datetime, other_end: dt.datetime) -> bool:
    return start < other_end and other_start < end


def daily_count(appointments: Iterable[Interval], day: dt.date, zone: ZoneInfo) -> int:
    start, end = day_bounds(day, zone)
    return sum(1 for a in appointments if start <= a.start < end)


def obstacles(
    schedule: Schedule, centre_id: int, zone: ZoneInfo, start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> list[str]:
    """Every reason the clinician cannot take [start, end) at centre_id (empty: it is free)."""
    s = schedule.settings
    found = []
    if any(_overlaps(start, end, a.start, a.end) for a in schedule.appointments):
        found.append(APPOINTMENT)
    if any(
        b.centre_id in (None, centre_id) and _overlaps(start, end, b.start, b.end) for b in schedule.blocks
    ):
        found.append(BLOCK)
    if start < now:
        found.append(PAST_START)
    elif start < now + dt.timedelta(minutes=s.min_notice):
        found.append(MIN_NOTICE)
    before, after = dt.timedelta(minutes=s.buffer_before), dt.timedelta(minutes=s.buffer_after)
    # Without buffers this is the overlap test above again: skip it.
    if (before or after) and APPOINTMENT not in found and any(
        _overlaps(start - before, end + after, a.start - before, a.end + after) for a in schedule.appointments
    ):
        found.append(BUFFER)
    if start >= now + dt.timedelta(days=s.horizon_days):
        found.append(HORIZON)
    if s.max_daily is not None:
        local_day = start.astimezone(zone).date()
        if daily_count(schedule.appointments, local_day, zone) >= s.max_daily:
            found.append(DAILY_CAP)
    return found


def slot_status(found: Sequence[str]) -> tuple[str, str | None]:
    for reason, status in DISPLAY:
        if reason in found:
            return status, reason
    return AVAILABLE, None


def _grid(day: dt.date, rule: Rule) -> Iterable[tuple[dt.time, dt.datetime, dt.datetime]]:
    """(local start, start, end) of each whole slot of a rule's window on `day`."""
    step = dt.timedelta(minutes=rule.slot_minutes)
    wall = dt.datetime.combine(day, rule.start)
    window_end = dt.datetime.combine(day, rule.end)
    first = wall_to_instant(day, rule.start, rule.zone)
    if first is not None and wall.replace(tzinfo=rule.zone).utcoffset() == window_end.replace(
            tzinfo=rule.zone).utcoffset():
        # No clock change inside the window (the usual day): each slot is the first plus whole steps.
        while wall + step <= window_end:
            yield wall.time(), first, first + step
            wall, first = wall + step, first + step
        return
    while wall + step <= window_end:
        start = wall_to_instant(day, wall.time(), rule.zone)
        if start is not None:
            yield wall.time(), start, start + step
        wall += step


def _around(schedule: Schedule, day: dt.date) -> Schedule:
    """The schedule with only the appointments and blocks that can touch local date `day`, so that a
    long range costs what its days hold, not days x everything in the range."""
    lo = dt.datetime.combine(day, dt.time(0), UTC) - _DAY_REACH
    hi = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), UTC) + _DAY_REACH
    return Schedule(schedule.rules, schedule.settings,
                    [a for a in schedule.appointments if a.start < hi and a.end > lo],
                    [b for b in schedule.blocks if b.start < hi and b.end > lo])


def _day_slots(
    schedule: Schedule, day: dt.date, now: dt.datetime, centre_id: int | None
) -> Iterable[tuple[Rule, dt.time, dt.datetime, dt.datetime, list[str]]]:
    """(rule, local start, start, end, obstacles) of each slot of one local date, unsorted: what
    every view of the slots (the staff list, the website's day, its counts per date) is made of."""
    schedule = _around(schedule, day)
    for rule in schedule.rules:
        if rule.day_of_week != day.weekday() or (centre_id is not None and rule.centre_id != centre_id):
            continue
        for wall, start, end in _grid(day, rule):
            yield rule, wall, start, end, obstacles(schedule, rule.centre_id, rule.zone, start, end, now)


def slots_for_day(
    schedule: Schedule, day: dt.date, now: dt.datetime, centre_id: int | None = None
) -> list[dict]:
    """The slots of one local date (at one centre, or every centre of the rules), in time order."""
    slots = []
    for rule, wall, start, end, found in _day_slots(schedule, day, now, centre_id):
        status, reason = slot_status(found)
        slots.append(
            {
                "date": day.isoformat(),
                "startAt": start.isoformat(),
                "endAt": end.isoformat(),
                "localStart": wall.strftime("%H:%M"),
                "status": status,
                "reason": reason,
                "centreId": rule.centre_id,
            }
        )
    slots.sort(key=lambda slot: slot["startAt"])
    return slots


def slots_for_range(
    schedule: Schedule, first: dt.date, last: dt.date, now: dt.datetime, centre_id: int | None = None
) -> list[dict]:
    if last < first or (last - first).days >= MAX_RANGE_DAYS:
        raise ValueError(f"a range is 1 to {MAX_RANGE_DAYS} days")
    return [slot for day in date_range(first, last) for slot in slots_for_day(schedule, day, now, centre_id)]


def free_slot_counts(
    schedule: Schedule, first: dt.date, last: dt.date, now: dt.datetime, centre_id: int | None = None
) -> list[dict]:
    """The local dates of first..last that have a slot free to book, with how many, in date order."""
    if last < first or (last - first).days >= MAX_COUNT_RANGE_DAYS:
        raise ValueError(f"a range is 1 to {MAX_COUNT_RANGE_DAYS} days")
    counts = []
    for day in date_range(first, last):
        free = sum(1 for *_, found in _day_slots(schedule, day, now, centre_id) if not found)
        if free:
            counts.append({"date": day.isoformat(), "slotCount": free})
    return counts


def wall_clock_slots(schedule: Schedule, day: dt.date, now: dt.datetime, centre_id: int) -> list[dict]:
    """The slots of one local date at a centre as wall-clock times there (HH:MM), in time order,
    each with whether it can be booked: what the patient website shows."""
    slots = sorted(_day_slots(schedule, day, now, centre_id), key=lambda slot: slot[2])
    return [
        {"startTime": wall.strftime("%H:%M"), "endTime": end.astimezone(rule.zone).strftime("%H:%M"),
         "available": not found}
        for rule, wall, _, end, found in slots
    ]


def inside_rules(
    schedule: Schedule, centre_id: int, zone: ZoneInfo, start: dt.datetime, end: dt.datetime
) -> bool:
    """Whether [start, end) lies within one of the clinician's windows at that centre on its local date."""
    day = start.astimezone(zone).date()
    for rule in schedule.rules:
        if rule.centre_id != centre_id or rule.day_of_week != day.weekday():
            continue
        window_start = dt.datetime.combine(day, rule.start, zone).astimezone(UTC)
        window_end = dt.datetime.combine(day, rule.end, zone).astimezone(UTC)
        if window_start <= start and end <= window_end:
            return True
    return False


def booking_refusal(
    schedule: Schedule, centre_id: int, zone: ZoneInfo, start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> Refusal | None:
    """Why [start, end) cannot be booked with this clinician at centre_id; None when it can."""
    if not inside_rules(schedule, centre_id, zone, start, end):
        return Refusal(
            422, "OUTSIDE_AVAILABILITY", "The clinician does not work at this centre then", "RULES"
        )
    found = obstacles(schedule, centre_id, zone, start, end, now)
    for reason, status, code, message in REFUSALS:
        if reason in found:
            return Refusal(status, code, message, reason)
    return None

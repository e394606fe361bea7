"""Availability: the pure slot computation (zones, DST, statuses, booking rules) and its endpoint."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mibo.domain import availability as av
from tests.scheduling_support import (
    add_rule,
    at,
    booking,
    future_day,
    insert_appointment,
    make_clinic,
    set_clinician,
)

UTC = dt.UTC
LONDON = ZoneInfo("Europe/London")
KOLKATA = ZoneInfo("Asia/Kolkata")
ROOT = Path(__file__).resolve().parent.parent


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


def rule(day: int, start: str, end: str, slot: int = 30, zone=KOLKATA, centre_id: int = 1) -> av.Rule:
    return av.Rule(centre_id, zone, day, dt.time.fromisoformat(start), dt.time.fromisoformat(end), slot)


EARLY_NOW = utc("2026-01-01T00:00:00+00:00")
LONG_HORIZON = av.SchedulingSettings(horizon_days=730)


def plan(*rules, settings=LONG_HORIZON, appointments=(), blocks=()) -> av.Schedule:
    return av.Schedule(list(rules), settings, list(appointments), list(blocks))


def starts(slots) -> list[str]:
    return [slot["startAt"] for slot in slots]


# --- pure functions ----------------------------------------------------------------------


def test_slots_follow_the_rule_in_the_centres_zone():
    monday = dt.date(2026, 3, 2)
    slots = av.slots_for_day(plan(rule(0, "09:00", "11:00")), monday, EARLY_NOW)
    assert [s["localStart"] for s in slots] == ["09:00", "09:30", "10:00", "10:30"]
    assert slots[0]["startAt"] == "2026-03-02T03:30:00+00:00"
    assert slots[0]["endAt"] == "2026-03-02T04:00:00+00:00"
    assert {s["status"] for s in slots} == {"available"}
    assert slots[0]["centreId"] == 1 and slots[0]["date"] == "2026-03-02"
    # A window that does not divide into whole slots offers only whole ones; other weekdays have none.
    assert len(av.slots_for_day(plan(rule(0, "09:00", "10:45", slot=30)), monday, EARLY_NOW)) == 3
    assert av.slots_for_day(plan(rule(0, "09:00", "11:00")), dt.date(2026, 3, 3), EARLY_NOW) == []


@pytest.mark.parametrize(
    "day, expected",
    [
        (dt.date(2026, 3, 22), "2026-03-22T09:00:00+00:00"),  # GMT, the Sunday before the change
        (dt.date(2026, 3, 29), "2026-03-29T08:00:00+00:00"),  # clocks go forward that morning: BST
        (dt.date(2026, 10, 18), "2026-10-18T08:00:00+00:00"),  # BST
        (dt.date(2026, 10, 25), "2026-10-25T09:00:00+00:00"),  # clocks go back that morning: GMT
    ],
)
def test_london_keeps_wall_clock_hours_across_dst(day, expected):
    slots = av.slots_for_day(plan(rule(6, "09:00", "17:00", zone=LONDON)), day, EARLY_NOW)
    assert slots[0]["startAt"] == expected
    assert slots[0]["localStart"] == "09:00"
    assert [s["localStart"] for s in slots][-1] == "16:30"
    assert len(slots) == 16


def test_spring_forward_gap_skips_the_missing_slots():
    slots = av.slots_for_day(plan(rule(6, "00:30", "03:00", zone=LONDON)), dt.date(2026, 3, 29), EARLY_NOW)
    # 01:00 and 01:30 do not exist in London that night.
    assert [s["localStart"] for s in slots] == ["00:30", "02:00", "02:30"]
    assert starts(slots) == [
        "2026-03-29T00:30:00+00:00",
        "2026-03-29T01:00:00+00:00",
        "2026-03-29T01:30:00+00:00",
    ]


def test_fall_back_repeated_hour_is_offered_once():
    slots = av.slots_for_day(plan(rule(6, "00:30", "03:00", zone=LONDON)), dt.date(2026, 10, 25), EARLY_NOW)
    assert [s["localStart"] for s in slots] == ["00:30", "01:00", "01:30", "02:00", "02:30"]
    # 01:00 and 01:30 are their first occurrence (BST); no two slots overlap.
    assert starts(slots)[1:3] == ["2026-10-25T00:00:00+00:00", "2026-10-25T00:30:00+00:00"]
    instants = [(utc(s["startAt"]), utc(s["endAt"])) for s in slots]
    assert all(end <= nxt for (_, end), (nxt, _) in zip(instants, instants[1:], strict=False))


def test_day_bounds_on_change_days():
    start, end = av.day_bounds(dt.date(2026, 3, 29), LONDON)
    assert (end - start) == dt.timedelta(hours=23)
    start, end = av.day_bounds(dt.date(2026, 10, 25), LONDON)
    assert (end - start) == dt.timedelta(hours=25)
    assert av.wall_to_instant(dt.date(2026, 3, 29), dt.time(1, 30), LONDON) is None


def test_statuses_booked_blocked_past_and_buffers():
    monday = dt.date(2026, 3, 2)  # 09:00 IST = 03:30Z
    appointment = av.Interval(utc("2026-03-02T10:00:00+05:30"), utc("2026-03-02T10:30:00+05:30"))
    block = av.Interval(utc("2026-03-02T11:00:00+05:30"), utc("2026-03-02T12:00:00+05:30"))
    settings = av.SchedulingSettings(buffer_after=15, min_notice=60, horizon_days=730)
    now = utc("2026-03-02T08:45:00+05:30")  # 09:00 and 09:30 are within the hour of notice
    slots = av.slots_for_day(
        plan(rule(0, "09:00", "13:00"), settings=settings, appointments=[appointment], blocks=[block]),
        monday,
        now,
    )
    by_time = {s["localStart"]: (s["status"], s["reason"]) for s in slots}
    assert by_time["09:00"] == ("past", "MIN_NOTICE")
    assert by_time["09:30"] == ("past", "MIN_NOTICE")
    assert by_time["10:00"] == ("booked", "APPOINTMENT")
    assert by_time["10:30"] == ("booked", "BUFFER")  # 15 minutes after the 10:00 consultation
    assert by_time["11:00"] == ("blocked", "BLOCK")
    assert by_time["11:30"] == ("blocked", "BLOCK")
    assert by_time["12:00"] == ("available", None)
    later = av.slots_for_day(plan(rule(0, "09:00", "10:00")), monday, utc("2026-03-02T09:40:00+05:30"))
    assert [(s["status"], s["reason"]) for s in later] == [("past", "PAST"), ("past", "PAST")]


def test_buffer_before_protects_the_time_ahead_of_an_appointment():
    monday = dt.date(2026, 3, 2)
    appointment = av.Interval(utc("2026-03-02T10:00:00+05:30"), utc("2026-03-02T10:30:00+05:30"))
    settings = av.SchedulingSettings(buffer_before=10, horizon_days=730)
    slots = av.slots_for_day(
        plan(rule(0, "09:00", "11:00"), settings=settings, appointments=[appointment]), monday, EARLY_NOW
    )
    assert [(s["localStart"], s["status"]) for s in slots] == [
        ("09:00", "available"),
        ("09:30", "booked"),
        ("10:00", "booked"),
        ("10:30", "booked"),
    ]


def test_horizon_and_daily_cap():
    monday = dt.date(2026, 3, 2)
    settings = av.SchedulingSettings(horizon_days=30, max_daily=1)
    near = utc("2026-02-20T00:00:00+00:00")
    appointment = av.Interval(utc("2026-03-02T09:00:00+05:30"), utc("2026-03-02T09:30:00+05:30"))
    slots = av.slots_for_day(
        plan(rule(0, "09:00", "10:00"), settings=settings, appointments=[appointment]), monday, near
    )
    assert [(s["status"], s["reason"]) for s in slots] == [
        ("booked", "APPOINTMENT"),
        ("blocked", "DAILY_CAP"),
    ]
    far = av.slots_for_day(plan(rule(0, "09:00", "10:00"), settings=settings), monday, EARLY_NOW)
    assert {(s["status"], s["reason"]) for s in far} == {("blocked", "HORIZON")}


def test_a_centre_block_leaves_other_centres_free():
    monday = dt.date(2026, 3, 2)
    block = av.Interval(utc("2026-03-02T00:00:00+05:30"), utc("2026-03-03T00:00:00+05:30"), centre_id=2)
    schedule = plan(
        rule(0, "09:00", "10:00", centre_id=1), rule(0, "14:00", "15:00", centre_id=2), blocks=[block]
    )
    slots = av.slots_for_day(schedule, monday, EARLY_NOW)
    assert [(s["centreId"], s["status"]) for s in slots] == [
        (1, "available"),
        (1, "available"),
        (2, "blocked"),
        (2, "blocked"),
    ]
    assert [s["centreId"] for s in av.slots_for_day(schedule, monday, EARLY_NOW, centre_id=2)] == [2, 2]


def test_booking_refusals():
    window = plan(
        rule(0, "09:00", "17:00"),
        settings=av.SchedulingSettings(buffer_after=10, min_notice=120, horizon_days=60, max_daily=2),
    )
    taken = av.Interval(utc("2026-03-02T12:00:00+05:30"), utc("2026-03-02T12:30:00+05:30"))
    block = av.Interval(utc("2026-03-02T15:00:00+05:30"), utc("2026-03-02T16:00:00+05:30"))
    busy = av.Schedule(window.rules, window.settings, [taken], [block])
    now = utc("2026-03-01T00:00:00+05:30")

    def refusal(start: str, minutes: int = 30, schedule=busy, at_now=now):
        begin = utc(start)
        result = av.booking_refusal(
            schedule, 1, KOLKATA, begin, begin + dt.timedelta(minutes=minutes), at_now
        )
        return None if result is None else (result.status, result.code)

    assert refusal("2026-03-02T09:00:00+05:30") is None  # the first minute of the day is bookable
    assert refusal("2026-03-02T09:10:00+05:30", 45) is None  # off the slot grid but inside the window
    assert refusal("2026-03-02T08:30:00+05:30") == (422, "OUTSIDE_AVAILABILITY")
    assert refusal("2026-03-02T16:45:00+05:30") == (422, "OUTSIDE_AVAILABILITY")  # runs past 17:00
    assert refusal("2026-03-03T10:00:00+05:30") == (422, "OUTSIDE_AVAILABILITY")  # Tuesday: no rule
    assert refusal("2026-03-02T12:15:00+05:30") == (409, "SLOT_UNAVAILABLE")  # partial overlap
    assert refusal("2026-03-02T11:45:00+05:30") == (409, "SLOT_UNAVAILABLE")  # overlaps the start
    assert refusal("2026-03-02T12:30:00+05:30") == (409, "SLOT_UNAVAILABLE")  # inside the 10 min buffer
    assert refusal("2026-03-02T12:40:00+05:30") is None
    assert refusal("2026-03-02T15:30:00+05:30") == (409, "SLOT_BLOCKED")
    assert refusal("2026-03-02T10:00:00+05:30", at_now=utc("2026-03-02T09:00:00+05:30")) == (
        422,
        "MIN_NOTICE",
    )
    assert refusal("2026-03-02T10:00:00+05:30", at_now=utc("2026-03-02T10:05:00+05:30")) == (
        422,
        "SLOT_IN_PAST",
    )
    assert refusal("2026-03-02T10:00:00+05:30", at_now=utc("2025-12-01T00:00:00+00:00")) == (
        422,
        "BEYOND_HORIZON",
    )
    full = av.Schedule(
        busy.rules,
        busy.settings,
        [taken, av.Interval(utc("2026-03-02T09:00:00+05:30"), utc("2026-03-02T09:30:00+05:30"))],
        [],
    )
    assert refusal("2026-03-02T14:00:00+05:30", schedule=full) == (409, "DAILY_CAP_REACHED")


def test_kolkata_nine_oclock_is_inside_hours():
    # The classic bug: 09:00 IST is 03:30Z, which a server comparing UTC wall times calls "before 09:00".
    schedule = plan(rule(0, "09:00", "17:00"))
    start = utc("2026-03-02T03:30:00Z")
    assert (
        av.booking_refusal(schedule, 1, KOLKATA, start, start + dt.timedelta(minutes=30), EARLY_NOW) is None
    )


def test_range_is_limited_to_31_days():
    schedule = plan(rule(0, "09:00", "10:00"))
    slots = av.slots_for_range(schedule, dt.date(2026, 3, 1), dt.date(2026, 3, 31), EARLY_NOW)
    assert len(slots) == 10  # five Mondays in March 2026, two slots each
    with pytest.raises(ValueError):
        av.slots_for_range(schedule, dt.date(2026, 3, 1), dt.date(2026, 4, 1), EARLY_NOW)


PURE_SCRIPT = """
import datetime as dt, json
from zoneinfo import ZoneInfo
from mibo.domain import availability as av
zone = ZoneInfo("Europe/London")
rules = [av.Rule(1, zone, d, dt.time(9), dt.time(12), 30) for d in range(7)]
rules.append(av.Rule(2, ZoneInfo("Asia/Kolkata"), 0, dt.time(9), dt.time(10), 30))
eight = dt.datetime(2026, 3, 30, 8, 0, tzinfo=dt.UTC)
appointment = av.Interval(eight, eight + dt.timedelta(minutes=30))
schedule = av.Schedule(rules, av.SchedulingSettings(buffer_after=15, horizon_days=730), [appointment], [])
now = dt.datetime(2026, 3, 28, 23, 30, tzinfo=dt.UTC)
slots = av.slots_for_range(schedule, dt.date(2026, 3, 28), dt.date(2026, 3, 30), now)
start = dt.datetime(2026, 3, 30, 3, 30, tzinfo=dt.UTC)
end = start + dt.timedelta(minutes=30)
refusal = av.booking_refusal(schedule, 2, ZoneInfo("Asia/Kolkata"), start, end, now)
print(json.dumps({"slots": slots, "refusal": refusal and refusal.code}))
"""


def run_in_zone(tz: str) -> dict:
    env = {**os.environ, "TZ": tz, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", PURE_SCRIPT], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(result.stdout)


def test_pure_functions_ignore_the_process_time_zone():
    in_utc = run_in_zone("UTC")
    in_auckland = run_in_zone("Pacific/Auckland")
    in_kolkata = run_in_zone("Asia/Kolkata")
    assert in_utc == in_auckland == in_kolkata
    slots = in_utc["slots"]
    assert in_utc["refusal"] is None
    # 2026-03-29 is the spring-forward Sunday: 09:00 BST is 08:00Z; the Saturday before is GMT.
    assert [s["startAt"] for s in slots if s["date"] == "2026-03-28"][0] == "2026-03-28T09:00:00+00:00"
    assert [s["startAt"] for s in slots if s["date"] == "2026-03-29"][0] == "2026-03-29T08:00:00+00:00"
    monday = {s["startAt"]: s["status"] for s in slots if s["date"] == "2026-03-30" and s["centreId"] == 1}
    assert monday["2026-03-30T08:00:00+00:00"] == "booked"
    assert monday["2026-03-30T08:30:00+00:00"] == "booked"  # buffer
    assert monday["2026-03-30T09:00:00+00:00"] == "available"


# --- the endpoint -------------------------------------------------------------------------


async def get_availability(client, user, **params):
    resp = await client.get(
        "/api/appointments/availability", params={k: str(v) for k, v in params.items()}, headers=user.headers
    )
    return resp.status, await resp.json()


async def test_availability_shows_booked_blocked_and_available(client, factory):
    clinic = await make_clinic(factory, "Asia/Kolkata", start="09:00", end="11:00")
    day = future_day(clinic.zone)
    await insert_appointment(factory, clinic, at(day, "09:30", clinic.zone))
    await factory.block(clinic.clinician_id, at(day, "10:00", clinic.zone), at(day, "10:30", clinic.zone), "Meeting")
    status, body = await get_availability(client, clinic.desk, clinicianId=clinic.clinician_id, date=day)
    assert status == 200, body
    data = body["data"]
    assert data["clinicianId"] == clinic.clinician_id and data["clinicianName"] == "Dr Asha Rao"
    assert data["from"] == data["to"] == day.isoformat()
    assert [(s["localStart"], s["status"]) for s in data["slots"]] == [
        ("09:00", "available"),
        ("09:30", "booked"),
        ("10:00", "blocked"),
        ("10:30", "available"),
    ]
    assert data["slots"][0]["startAt"] == at(day, "09:00", clinic.zone).astimezone(UTC).isoformat()
    assert data["slots"][0]["centreId"] == clinic.centre_id


async def test_availability_range_and_centre_filter(client, factory):
    clinic = await make_clinic(factory, start="09:00", end="10:00")
    first = future_day(clinic.zone)
    status, body = await get_availability(
        client,
        clinic.desk,
        clinicianId=clinic.clinician_id,
        **{"from": first, "to": first + dt.timedelta(days=6)},
        centreId=clinic.centre_id,
    )
    assert status == 200
    assert len(body["data"]["slots"]) == 14
    assert len({s["date"] for s in body["data"]["slots"]}) == 7


async def test_availability_route_is_not_taken_for_an_id(client, factory):
    clinic = await make_clinic(factory)
    status, body = await get_availability(client, clinic.desk)
    assert status == 400
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert "clinicianId" in body["error"]["details"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"date": "2026-13-01"}, "date"),
        ({}, "date"),
        ({"date": "2027-01-01", "from": "2027-01-01", "to": "2027-01-02"}, "date"),
        ({"from": "2027-01-10", "to": "2027-01-01"}, "to"),
        ({"from": "2027-01-01", "to": "2027-02-01"}, "to"),  # 32 days
        ({"from": "2027-01-01"}, "date"),
        ({"date": "2027-01-01", "centreId": "abc"}, "centreId"),
        ({"date": "2027-01-01", "bogus": "1"}, "bogus"),
    ],
)
async def test_availability_validation(client, factory, params, field):
    clinic = await make_clinic(factory)
    status, body = await get_availability(client, clinic.desk, clinicianId=clinic.clinician_id, **params)
    assert status == 400, body
    assert field in body["error"]["details"]


async def test_availability_unknown_or_inactive_clinician(client, factory):
    clinic = await make_clinic(factory)
    status, body = await get_availability(client, clinic.desk, clinicianId=999999, date="2027-01-04")
    assert (status, body["error"]["code"]) == (404, "CLINICIAN_NOT_FOUND")
    await set_clinician(factory, clinic.clinician_id, is_active=False)
    status, body = await get_availability(
        client, clinic.desk, clinicianId=clinic.clinician_id, date="2027-01-04"
    )
    assert (status, body["error"]["code"]) == (422, "CLINICIAN_INACTIVE")


async def test_availability_cross_centre_denied(client, factory):
    clinic = await make_clinic(factory)
    other_centre = await factory.centre()
    other_desk = await factory.staff("FRONT_DESK", [other_centre])
    day = future_day(clinic.zone)
    status, body = await get_availability(
        client, other_desk, clinicianId=clinic.clinician_id, date=day, centreId=clinic.centre_id
    )
    assert (status, body["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    status, body = await get_availability(client, other_desk, clinicianId=clinic.clinician_id, date=day)
    assert (status, body["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    # The clinician works at the other centre on Mondays too: that desk sees those slots only.
    await add_rule(factory, clinic.clinician_id, other_centre, 0, "18:00", "19:00")
    monday = day + dt.timedelta(days=(7 - day.weekday()) % 7)
    status, body = await get_availability(client, other_desk, clinicianId=clinic.clinician_id, date=monday)
    assert status == 200
    assert {s["centreId"] for s in body["data"]["slots"]} == {other_centre}
    status, body = await get_availability(
        client, clinic.clinician, clinicianId=clinic.clinician_id, date=monday
    )
    assert status == 200 and {s["centreId"] for s in body["data"]["slots"]} == {
        clinic.centre_id,
        other_centre,
    }


async def test_availability_requires_authentication(client):
    resp = await client.get(
        "/api/appointments/availability", params={"clinicianId": "1", "date": "2027-01-04"}
    )
    assert resp.status == 401


@pytest.mark.parametrize(
    "day, summer",
    [
        (dt.date(2027, 3, 27), False),
        (dt.date(2027, 3, 28), True),  # spring forward on Sunday 28 March 2027
        (dt.date(2027, 10, 30), True),
        (dt.date(2027, 10, 31), False),  # fall back on Sunday 31 October 2027
    ],
)
async def test_london_api_keeps_wall_clock_hours(client, factory, day, summer):
    clinic = await make_clinic(factory, "Europe/London", start="09:00", end="12:00")
    await set_clinician(factory, clinic.clinician_id, booking_horizon_days=730)
    status, body = await get_availability(client, clinic.desk, clinicianId=clinic.clinician_id, date=day)
    assert status == 200
    slots = body["data"]["slots"]
    assert slots[0]["localStart"] == "09:00"
    assert slots[0]["startAt"] == f"{day.isoformat()}T{'08' if summer else '09'}:00:00+00:00"
    assert {s["status"] for s in slots} == {"available"}
    assert len(slots) == 6


def switch_process_zone(name: str | None) -> None:
    if name is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = name
    time.tzset()


async def test_http_answers_do_not_depend_on_the_process_zone(client, factory):
    clinic = await make_clinic(factory, "Asia/Kolkata", start="09:00", end="10:00")
    day = future_day(clinic.zone, 3)
    await insert_appointment(factory, clinic, at(day, "09:30", clinic.zone))
    original = os.environ.get("TZ")
    answers = []
    try:
        for weeks, zone_name in ((1, "UTC"), (2, "Pacific/Auckland")):
            switch_process_zone(zone_name)
            assert (time.localtime().tm_gmtoff == 0) == (zone_name == "UTC")
            _, body = await get_availability(client, clinic.desk, clinicianId=clinic.clinician_id, date=day)
            # 09:00 IST sent as UTC ("Z"): the weekday and the hours are Kolkata's whatever the process zone.
            start = at(day + dt.timedelta(weeks=weeks), "09:00", clinic.zone).astimezone(UTC)
            resp = await client.post(
                "/api/appointments",
                headers=clinic.desk.headers,
                json={
                    "patientId": clinic.patient["id"],
                    "clinicianId": clinic.clinician_id,
                    "centreId": clinic.centre_id,
                    "appointmentType": "IN_PERSON",
                    "durationMinutes": 30,
                    "scheduledStartAt": start.isoformat().replace("+00:00", "Z"),
                },
            )
            booked = await resp.json()
            assert booked["data"]["scheduledStartAt"] == start.isoformat()
            answers.append((body["data"], resp.status, booked["data"]["status"], booked["data"]["timezone"]))
    finally:
        switch_process_zone(original)
    assert answers[0] == answers[1]
    slots, status, appointment_status, zone_name = answers[0]
    assert [(s["localStart"], s["status"]) for s in slots["slots"]] == [
        ("09:00", "available"),
        ("09:30", "booked"),
    ]
    assert (status, appointment_status, zone_name) == (201, "BOOKED", "Asia/Kolkata")


async def one_weekday_clinic(factory, timezone: str, day: dt.date, start: str, end: str):
    clinic = await make_clinic(factory, timezone, days=())
    await add_rule(factory, clinic.clinician_id, clinic.centre_id, day.weekday(), start, end)
    return clinic


@pytest.mark.parametrize(("timezone", "window", "wall"), [
    ("Asia/Kolkata", ("01:00", "06:00"), "04:00"),  # 04:00 IST is 22:30 UTC of the day before
    ("America/Los_Angeles", ("18:00", "23:30"), "21:00"),  # 21:00 in LA is 04:00/05:00 UTC of the day after
])
async def test_a_one_weekday_rule_books_on_that_local_weekday(client, factory, timezone, window, wall):
    probe = await make_clinic(factory, timezone, days=())
    day = future_day(probe.zone, 10)
    clinic = await one_weekday_clinic(factory, timezone, day, *window)
    start = at(day, wall, clinic.zone)
    assert start.astimezone(dt.UTC).date() != day  # the UTC date, and so its weekday, differ
    resp = await client.get("/api/appointments/availability", headers=clinic.desk.headers,
                            params={"clinicianId": str(clinic.clinician_id), "date": day.isoformat()})
    slots = {s["localStart"]: s["status"] for s in (await resp.json())["data"]["slots"]}
    assert slots[wall] == "available", slots
    resp = await client.post("/api/appointments", json=booking(clinic, start), headers=clinic.desk.headers)
    assert resp.status == 201, await resp.text()
    # The same wall time a day later is another weekday: no rule, no booking.
    resp = await client.post("/api/appointments", headers=clinic.desk.headers,
                             json=booking(clinic, start + dt.timedelta(days=1), patientId=clinic.patient["id"]))
    assert (resp.status, (await resp.json())["error"]["code"])[0] in (409, 422)

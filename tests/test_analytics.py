"""Analytics: exact figures on a small data set across two periods, scoping, permissions, input.

The figures are computed by plain functions with "now" pinned; the HTTP tests use the real
clock and data placed an hour ago, which lies inside every period whatever the time of day.
"""

from __future__ import annotations

import datetime as dt

import pytest

from mibo.core import db
from mibo.core.actor import Actor
from mibo.domain import analytics

NOW = dt.datetime.fromisoformat("2026-03-15T12:00:00+05:30")
IST = "+05:30"


def at(local: str) -> dt.datetime:
    """A wall-clock time in Kolkata."""
    return dt.datetime.fromisoformat(local + IST)


async def appointment(factory, patient, clinician, centre, start, *, status="COMPLETED", kind="IN_PERSON",
                      source="ADMIN_FRONT_DESK", created=None, parent=None) -> int:
    start = at(start) if isinstance(start, str) else start
    created = at(created) if isinstance(created, str) else (created or start - dt.timedelta(days=30))
    return await factory.appointment(patient_id=patient, clinician_id=clinician, centre_id=centre, start=start,
                                     status=status, kind=kind, source=source, created_at=created,
                                     parent_appointment_id=parent)


async def payment(factory, patient, appointment_id, amount, status="SUCCESS", paid=None) -> int:
    paid = at(paid) if isinstance(paid, str) else paid
    return await factory.payment(patient_id=patient, appointment_id=appointment_id, amount=amount, provider="CASH",
                                 status=status, paid_at=paid)


async def clinician(factory, centre, name, created=None, active=True) -> int:
    user = await factory.user(full_name=name)
    clinician_id = await factory.clinician_profile(user["id"], centre, specialization="Psychiatry",
                                                   is_active=active)
    if created is not None:
        await factory.fetchone("UPDATE clinician_profiles SET created_at = %s WHERE id = %s RETURNING id",
                               (at(created), clinician_id))
    return clinician_id


async def patient_since(factory, created, centre=None) -> int:
    """A patient whose record was made at `created` (IST), registered at `centre` if given."""
    user = await factory.user(user_type="PATIENT", with_password=False)
    row = await factory.fetchone(
        "INSERT INTO patient_profiles (user_id, registered_centre_id, created_at) VALUES (%s, %s, %s) RETURNING id",
        (user["id"], centre, at(created)),
    )
    return row[0]


@pytest.fixture
async def chain(factory):
    """Two Kolkata centres, three active clinicians, five patients, and a fortnight of activity.

    Clinicians c1 and c2 (and an inactive c4) at A since 1 Feb, c3 at B since Tue 10 Mar.
    Patients' records made: p1 20 Feb, p3 1 Mar, p5 Thu 5 Mar (registered at B, never booked),
    p2 Mon 09, p4 Thu 12; each belongs to a centre from their first appointment there (created).

    #  when (IST)    centre doctor patient type       status      created source   payment
    1  Mon 09 00:00  A      c1     p1      IN_PERSON  COMPLETED   01 Mar  desk     1000 paid 09 00:00
    2  Tue 10 10:00  A      c1     p2      FOLLOW_UP  COMPLETED   09 Mar  desk      500 paid 10 10:30
    3  Wed 11 10:00  A      c2     p2      IN_PERSON  NO_SHOW     10 Mar  web       700 FAILED
    4  Thu 12 10:00  A      c2     p3      FOLLOW_UP  CANCELLED   11 Mar  web
    5  Fri 13 10:00  B      c3     p4      IN_PERSON  COMPLETED   12 Mar  care      800 paid 13 11:00
    6  Sun 15 18:00  A      c1     p1      FOLLOW_UP  BOOKED      14 Mar  desk      300 REFUNDED (moves #9)
    10 Sat 14 10:00  B      c3     p3      IN_PERSON  NO_SHOW     13 Mar  manager
    --- previous week ---
    7  Sun 08 23:59  A      c1     p1      IN_PERSON  COMPLETED   01 Mar  desk     1200 paid 08 23:59:59
    8  Wed 04 10:00  A      c1     p3      FOLLOW_UP  COMPLETED   03 Mar  desk      600 PENDING
    9  Thu 05 10:00  A      c1     p3      FOLLOW_UP  RESCHEDULED 02 Mar  desk
    and a 100 payment without an appointment, paid Thu 12 (chain-wide only).
    """
    a = await factory.centre("Centre A")
    b = await factory.centre("Centre B")
    c1 = await clinician(factory, a, "Dr Asha Rao", created="2026-02-01T00:00:00")
    c2 = await clinician(factory, a, "Dr Vikram Nair", created="2026-02-01T00:00:00")
    c3 = await clinician(factory, b, "Dr Meera Iyer", created="2026-03-10T09:00:00")
    await clinician(factory, a, "Dr Gone Away", created="2026-02-01T00:00:00", active=False)
    p1 = await patient_since(factory, "2026-02-20T10:00:00")
    p2 = await patient_since(factory, "2026-03-09T08:00:00")
    p3 = await patient_since(factory, "2026-03-01T10:00:00")
    p4 = await patient_since(factory, "2026-03-12T08:00:00")
    await patient_since(factory, "2026-03-05T10:00:00", centre=b)

    a1 = await appointment(factory, p1, c1, a, "2026-03-09T00:00:00", created="2026-03-01T10:00:00")
    a2 = await appointment(factory, p2, c1, a, "2026-03-10T10:00:00", kind="FOLLOW_UP",
                           created="2026-03-09T09:00:00")
    a3 = await appointment(factory, p2, c2, a, "2026-03-11T10:00:00", status="NO_SHOW", source="WEB_PATIENT",
                           created="2026-03-10T09:00:00")
    await appointment(factory, p3, c2, a, "2026-03-12T10:00:00", kind="FOLLOW_UP", status="CANCELLED",
                      source="WEB_PATIENT", created="2026-03-11T09:00:00")
    a5 = await appointment(factory, p4, c3, b, "2026-03-13T10:00:00", source="ADMIN_CARE_COORDINATOR",
                           created="2026-03-12T09:00:00")
    a7 = await appointment(factory, p1, c1, a, "2026-03-08T23:59:00", created="2026-03-01T10:00:00")
    a8 = await appointment(factory, p3, c1, a, "2026-03-04T10:00:00", kind="FOLLOW_UP",
                           created="2026-03-03T09:00:00")
    a9 = await appointment(factory, p3, c1, a, "2026-03-05T10:00:00", kind="FOLLOW_UP", status="RESCHEDULED",
                           created="2026-03-02T09:00:00")
    a6 = await appointment(factory, p1, c1, a, "2026-03-15T18:00:00", kind="FOLLOW_UP", status="BOOKED",
                           created="2026-03-14T09:00:00", parent=a9)
    await appointment(factory, p3, c3, b, "2026-03-14T10:00:00", status="NO_SHOW", source="ADMIN_MANAGER",
                      created="2026-03-13T09:00:00")

    await payment(factory, p1, a1, 1000, paid="2026-03-09T00:00:00")
    await payment(factory, p2, a2, 500, paid="2026-03-10T10:30:00")
    await payment(factory, p2, a3, 700, status="FAILED")
    await payment(factory, p4, a5, 800, paid="2026-03-13T11:00:00")
    await payment(factory, p1, a6, 300, status="REFUNDED", paid="2026-03-14T10:00:00")
    await payment(factory, p1, a7, 1200, paid="2026-03-08T23:59:59")
    await payment(factory, p3, a8, 600, status="PENDING")
    await payment(factory, p3, None, 100, paid="2026-03-12T12:00:00")
    return {"a": a, "b": b, "c1": c1, "c2": c2, "c3": c3}


async def report(pool, fn, period="week", centres=None, timezone="Asia/Kolkata", **query):
    window = analytics.period_window(period, NOW, timezone)
    async with db.connection(pool) as cur:
        return await fn(cur, window, centres, query)


def plain(figures: dict) -> dict:
    """The figures as floats (or None), without the period."""
    return {key: None if value is None else float(value) for key, value in figures.items() if key != "period"}


# --- periods --------------------------------------------------------------------


def test_periods_are_local_days_and_months_ending_today():
    week = analytics.period_window("week", NOW, "Asia/Kolkata")
    assert week.starts_at == at("2026-03-09T00:00:00")
    assert week.ends_at == at("2026-03-16T00:00:00")
    assert week.previous_starts_at == at("2026-03-02T00:00:00")
    assert len(week.bounds) == 8

    month = analytics.period_window("month", NOW, "Asia/Kolkata")
    assert month.starts_at == at("2026-02-14T00:00:00")
    assert month.previous_starts_at == at("2026-01-15T00:00:00")
    assert len(month.bounds) == 31

    year = analytics.period_window("year", NOW, "Asia/Kolkata")
    assert year.starts_at == at("2025-04-01T00:00:00")
    assert year.ends_at == at("2026-04-01T00:00:00")
    assert year.previous_starts_at == at("2024-04-01T00:00:00")
    assert len(year.bounds) == 13


def test_period_follows_the_zone_not_the_instant_and_keeps_wall_clock_days_across_dst():
    # 20:00 UTC on 14 March is already 15 March in Kolkata but still 14 March in London.
    now = dt.datetime(2026, 3, 14, 20, 0, tzinfo=dt.UTC)
    assert analytics.period_window("week", now, "Asia/Kolkata").ends_at == at("2026-03-16T00:00:00")
    london = analytics.period_window("week", dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC), "Europe/London")
    # Clocks went forward on 29 March: that day is 23 hours long, the others 24.
    lengths = [(b - a).total_seconds() / 3600 for a, b in zip(london.bounds, london.bounds[1:], strict=False)]
    assert lengths == [24, 24, 24, 24, 23, 24, 24]
    assert london.ends_at == dt.datetime(2026, 3, 31, 23, 0, tzinfo=dt.UTC)  # 1 April 00:00 BST


def test_now_without_zone_is_refused():
    with pytest.raises(ValueError):
        analytics.period_window("week", dt.datetime(2026, 3, 15, 12), "Asia/Kolkata")


# --- exact figures --------------------------------------------------------------


async def test_dashboard_chain_wide_compares_with_previous_week(pool, chain):
    figures = await report(pool, analytics.dashboard_figures)
    assert plain(figures) == {
        "total_patients": 5, "total_patients_change": 66.7,       # p1-p5 on 16 Mar vs p1 p3 p5 on 9 Mar
        "active_doctors": 3, "active_doctors_change": 50.0,       # c1 c2 c3 vs c1 c2 (c4 is inactive)
        "follow_ups_booked": 2, "follow_ups_booked_change": 100.0,  # #2 #6 vs #8
        "total_revenue": 2400, "total_revenue_change": 100.0,     # 1000+500+800+100 vs 1200
    }
    assert figures["period"]["starts_at"] == at("2026-03-09T00:00:00")


async def test_dashboard_for_one_centre_and_null_for_zero_to_some(pool, chain):
    centre_a = plain(await report(pool, analytics.dashboard_figures, centres=[chain["a"]]))
    assert centre_a == {
        "total_patients": 3, "total_patients_change": 50.0,  # p1 p2 p3 vs p1 (booked 1 Mar) p3 (2 Mar)
        "active_doctors": 2, "active_doctors_change": 0.0,
        "follow_ups_booked": 2, "follow_ups_booked_change": 100.0,
        "total_revenue": 1500, "total_revenue_change": 25.0,
    }
    centre_b = plain(await report(pool, analytics.dashboard_figures, centres=[chain["b"]]))
    assert centre_b == {
        "total_patients": 3, "total_patients_change": 200.0,  # p3 p4 p5 vs p5 (registered there)
        "active_doctors": 1, "active_doctors_change": None,
        "follow_ups_booked": 0, "follow_ups_booked_change": 0.0,  # 0 → 0 is no change
        "total_revenue": 800, "total_revenue_change": None,
    }
    nobody = plain(await report(pool, analytics.dashboard_figures, centres=[]))
    assert set(nobody.values()) == {0.0}


async def test_dashboard_month_puts_everything_in_the_current_period(pool, chain):
    figures = plain(await report(pool, analytics.dashboard_figures, period="month"))
    assert figures["total_patients"] == 5 and figures["total_patients_change"] is None  # none by 14 Feb
    assert figures["active_doctors"] == 3 and figures["active_doctors_change"] == 50.0  # c1 c2 by 14 Feb
    assert figures["follow_ups_booked"] == 3  # #2 #6 #8
    assert figures["total_revenue"] == 3600
    assert figures["total_revenue_change"] is None  # nothing paid in the 30 days before


async def test_top_doctors_rank_by_completed_then_revenue_with_no_show_rates(pool, chain):
    rows = await report(pool, analytics.top_doctors)
    assert [
        (r["clinician_id"], r["name"], r["appointments"], r["completed_appointments"], r["no_shows"],
         r["no_show_rate"], float(r["revenue"]))
        for r in rows
    ] == [
        (chain["c1"], "Dr Asha Rao", 3, 2, 0, 0, 1500.0),
        (chain["c3"], "Dr Meera Iyer", 2, 1, 1, 50, 800.0),
        (chain["c2"], "Dr Vikram Nair", 1, 0, 1, 100, 0.0),
    ]
    limited = await report(pool, analytics.top_doctors, limit=1, centres=[chain["a"]])
    assert [r["clinician_id"] for r in limited] == [chain["c1"]]


async def test_revenue_series_has_every_day_and_only_successful_payments(pool, chain):
    rows = await report(pool, analytics.revenue_series)
    assert [(r["date"].isoformat(), float(r["revenue"]), r["payments"]) for r in rows] == [
        ("2026-03-09", 1000.0, 1), ("2026-03-10", 500.0, 1), ("2026-03-11", 0.0, 0), ("2026-03-12", 100.0, 1),
        ("2026-03-13", 800.0, 1), ("2026-03-14", 0.0, 0), ("2026-03-15", 0.0, 0),
    ]
    year = await report(pool, analytics.revenue_series, period="year", centres=[chain["a"]])
    assert len(year) == 12
    assert year[0]["date"] == dt.date(2025, 4, 1)
    assert [(r["date"], float(r["revenue"])) for r in year if r["revenue"]] == [(dt.date(2026, 3, 1), 2700.0)]


async def test_leads_by_source_count_new_bookings_not_reschedules(pool, chain):
    rows = await report(pool, analytics.leads_by_source)
    assert [(r["source"], r["count"], float(r["percentage"])) for r in rows] == [
        ("WEB_PATIENT", 2, 40.0),
        ("ADMIN_CARE_COORDINATOR", 1, 20.0),
        ("ADMIN_FRONT_DESK", 1, 20.0),
        ("ADMIN_MANAGER", 1, 20.0),
    ]
    centre_a = await report(pool, analytics.leads_by_source, centres=[chain["a"]])
    assert [(r["source"], r["count"], float(r["percentage"])) for r in centre_a] == [
        ("WEB_PATIENT", 2, 66.7),
        ("ADMIN_FRONT_DESK", 1, 33.3),
        ("ADMIN_CARE_COORDINATOR", 0, 0.0),
        ("ADMIN_MANAGER", 0, 0.0),
    ]


async def test_a_centre_report_is_cut_in_the_centres_zone(pool, factory):
    london = await factory.centre("London clinic", timezone="Europe/London")
    doctor = await clinician(factory, london, "Dr Jane Roe")
    patient = (await factory.patient())["id"]
    # 00:30 on 9 March in Kolkata is still 8 March (19:00) in London: last week there.
    visit = await appointment(factory, patient, doctor, london, "2026-03-09T00:30:00")
    await payment(factory, patient, visit, 900, paid="2026-03-09T00:30:00")
    admin = Actor(user_id=1, session_id=1, roles=frozenset({"ADMIN"}), centre_ids=frozenset())
    async with db.connection(pool) as cur:
        scope = await analytics.analytics_scope(cur, admin, london, "Asia/Kolkata")
        assert scope == analytics.Scope([london], "Europe/London")
        window = analytics.period_window("week", NOW, scope.timezone)
        local = plain(await analytics.dashboard_figures(cur, window, scope.centres))
        kolkata = plain(await analytics.dashboard_figures(
            cur, analytics.period_window("week", NOW, "Asia/Kolkata"), scope.centres))
    assert (local["total_revenue"], local["total_revenue_change"]) == (0, -100.0)
    assert (kolkata["total_revenue"], kolkata["total_revenue_change"]) == (900, None)


# --- over HTTP ------------------------------------------------------------------

ENDPOINTS = ("dashboard", "top-doctors", "revenue", "leads-by-source")


@pytest.fixture
async def recent(factory):
    """Two centres with one paid visit each, an hour ago: inside every period."""
    hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    centres = {}
    for name, fee in (("A", 1000), ("B", 500)):
        centre = await factory.centre(f"Centre {name}")
        doctor = await clinician(factory, centre, f"Dr {name}")
        patient = (await factory.patient())["id"]
        visit = await appointment(factory, patient, doctor, centre, hour_ago, created=hour_ago)
        await payment(factory, patient, visit, fee, paid=hour_ago)
        centres[name] = {"id": centre, "doctor": doctor}
    return centres


async def get(client, path, user, **params):
    resp = await client.get(f"/api/analytics/{path}", params=params, headers=user.headers)
    return resp.status, await resp.json()


async def test_http_reports_for_a_chain_wide_manager(client, factory, recent):
    manager = await factory.staff("MANAGER")
    status, body = await get(client, "dashboard", manager)
    assert status == 200
    data = body["data"]
    assert (data["totalPatients"], data["activeDoctors"], data["totalRevenue"]) == (2, 2, 1500.0)
    assert data["totalRevenueChange"] is None and data["followUpsBookedChange"] == 0.0
    assert data["period"]["name"] == "month" and data["period"]["timezone"] == "Asia/Kolkata"
    assert data["period"]["startsAt"].endswith("+00:00")

    status, body = await get(client, "top-doctors", manager, period="week", limit="1")
    assert status == 200
    assert body["data"] == [{
        "clinicianId": recent["A"]["doctor"], "name": "Dr A", "specialization": "Psychiatry",
        "appointments": 1, "completedAppointments": 1, "noShows": 0, "noShowRate": 0.0, "revenue": 1000.0,
    }]

    status, body = await get(client, "revenue", manager, period="year")
    assert status == 200 and len(body["data"]) == 12
    assert sum(point["revenue"] for point in body["data"]) == 1500.0
    assert set(body["data"][0]) == {"date", "revenue", "payments"}

    status, body = await get(client, "leads-by-source", manager, period="week")
    assert status == 200
    assert body["data"][0] == {"source": "ADMIN_FRONT_DESK", "count": 2, "percentage": 100.0}
    assert len(body["data"]) == 4


async def test_http_centre_filter_and_centre_manager_restriction(client, factory, recent):
    admin = await factory.staff("ADMIN")
    centre_manager = await factory.staff("CENTRE_MANAGER", [recent["A"]["id"]])

    status, body = await get(client, "dashboard", admin, centreId=str(recent["B"]["id"]))
    assert status == 200 and body["data"]["totalRevenue"] == 500.0

    status, body = await get(client, "dashboard", centre_manager)  # no centreId: their centres only
    assert status == 200 and body["data"]["totalRevenue"] == 1000.0
    status, body = await get(client, "top-doctors", centre_manager)
    assert [row["clinicianId"] for row in body["data"]] == [recent["A"]["doctor"]]

    for path in ENDPOINTS:
        status, body = await get(client, path, centre_manager, centreId=str(recent["B"]["id"]))
        assert (status, body["error"]["code"]) == (403, "CENTRE_FORBIDDEN"), path
    status, body = await get(client, "revenue", centre_manager, centreId=str(recent["A"]["id"]))
    assert status == 200 and sum(point["revenue"] for point in body["data"]) == 1000.0

    status, body = await get(client, "dashboard", admin, centreId="999999")
    assert (status, body["error"]["code"]) == (404, "CENTRE_NOT_FOUND")


@pytest.mark.parametrize("role", ["FRONT_DESK", "CARE_COORDINATOR", "CLINICIAN"])
async def test_http_roles_without_analytics_are_refused(client, factory, role):
    centre = await factory.centre()
    user = await factory.staff(role, [centre])
    for path in ENDPOINTS:
        status, body = await get(client, path, user)
        assert (status, body["error"]["code"]) == (403, "FORBIDDEN"), path
    resp = await client.get("/api/analytics/dashboard")
    assert resp.status == 401


@pytest.mark.parametrize(("params", "field"), [
    ({"period": "day"}, "period"),
    ({"centreId": "abc"}, "centreId"),
    ({"centreId": "0"}, "centreId"),
    ({"colour": "red"}, "colour"),
])
async def test_http_bad_query_is_a_400_naming_the_field(client, factory, params, field):
    admin = await factory.staff("ADMIN")
    for path in ENDPOINTS:
        status, body = await get(client, path, admin, **params)
        assert status == 400, path
        assert body["error"]["code"] == "VALIDATION_ERROR"
        assert field in body["error"]["details"]


@pytest.mark.parametrize("limit", ["0", "101", "x"])
async def test_http_top_doctors_limit_is_validated(client, factory, limit):
    admin = await factory.staff("ADMIN")
    status, body = await get(client, "top-doctors", admin, limit=limit)
    assert status == 400 and "limit" in body["error"]["details"]


async def test_http_stocks_count_booked_patients_and_active_clinicians_not_past_clinics(client, factory):
    """Booked patients and active clinicians count although nobody has been seen yet."""
    a, b = await factory.centre("Centre A"), await factory.centre("Centre B")
    doctors = [await clinician(factory, a, f"Dr {n}") for n in range(2)]
    await clinician(factory, a, "Dr Left", active=False)
    await clinician(factory, b, "Dr Kochi")
    next_month = dt.datetime.now(dt.UTC) + dt.timedelta(days=40)
    for n, doctor in enumerate(doctors):
        patient = (await factory.patient())["id"]
        await appointment(factory, patient, doctor, a, next_month + dt.timedelta(hours=n), status="BOOKED",
                          created=dt.datetime.now(dt.UTC))
    admin = await factory.staff("ADMIN")
    centre_manager = await factory.staff("CENTRE_MANAGER", [a])
    for user, query, patients, doctors_active in ((admin, {}, 2, 3), (centre_manager, {}, 2, 2),
                                                  (admin, {"centreId": str(b)}, 0, 1)):
        status, body = await get(client, "dashboard", user, period="week", **query)
        assert status == 200
        data = body["data"]
        assert (data["totalPatients"], data["activeDoctors"]) == (patients, doctors_active), (user, query)
        # All of them arrived today: none stood at the end of the previous week.
        assert data["activeDoctorsChange"] is None and data["totalPatientsChange"] in (None, 0.0)


async def test_http_a_patient_registered_at_a_centre_counts_there_before_any_booking(client, factory):
    a, b = await factory.centre("Centre A"), await factory.centre("Centre B")
    await factory.patient(centre_id=a)
    await factory.patient(centre_id=b)
    await factory.patient()  # signed up on the website: the chain's, no centre's yet
    admin = await factory.staff("ADMIN")
    for query, patients in (({}, 3), ({"centreId": str(a)}, 1), ({"centreId": str(b)}, 1)):
        status, body = await get(client, "dashboard", admin, period="week", **query)
        assert (status, body["data"]["totalPatients"]) == (200, patients), query

"""/api/analytics/*: the admin dashboard's figures for a period, chain-wide or for one centre.

Periods are whole local days or months ending with the current one, in Asia/Kolkata (the
chain's zone) or, when one centre is asked for, in that centre's zone:

- week  = the last 7 days, today included, in daily buckets;
- month = the last 30 days, today included, in daily buckets;
- year  = the last 12 calendar months, this one included, in monthly buckets.

The previous period is the same number of buckets just before, so a change compares like
with like. Every figure is filtered by the appointment's centre; a CENTRE_MANAGER sees only
their centres. What each figure counts:

- totalPatients: distinct patients with an appointment *scheduled* in the period that is
  held (BOOKED, CONFIRMED, COMPLETED or NO_SHOW): the people the centre looked after or
  expects. Cancelled appointments and the originals of reschedules (their new appointment
  counts instead) are left out.
- activeDoctors: distinct clinicians with such an appointment in the period — doctors who
  actually had a clinic, not merely an active profile.
- followUpsBooked: FOLLOW_UP appointments *created* in the period that are not CANCELLED and
  not RESCHEDULED (a moved follow-up is counted once, through its new appointment).
- totalRevenue: the sum of SUCCESS payments whose paid_at lies in the period (refunded,
  failed and pending ones are not revenue). A payment's centre is its appointment's centre;
  payments without an appointment count only in chain-wide figures.
- *Change: (this − previous) / previous × 100, one decimal; 0 when both are 0, and null when
  the previous period had 0 and this one has more (no finite percentage exists).
- top-doctors: per clinician, held appointments scheduled in the period, how many were
  COMPLETED and NO_SHOW, the no-show rate NO_SHOW / (COMPLETED + NO_SHOW) in percent (null
  while none has an outcome), and their revenue as above; ranked by completed appointments,
  then revenue. The no-show rate per clinician lives here rather than in its own endpoint.
- revenue: totalRevenue per bucket, every bucket present (0 when nothing was paid).
- leads-by-source: appointments *created* in the period by booking source, whatever became
  of them; reschedules (appointments with a parent) are the same lead, not a new one.

Each report is one aggregate query over the appointments/payments indexes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from marshmallow import Schema

from mibo.api.access import requires
from mibo.api.apidoc import documented
from mibo.api.http import ok, read_query
from mibo.api.keys import ACTOR, DB
from mibo.core import db
from mibo.core.actor import Actor
from mibo.core.errors import ApiError
from mibo.domain.access import check_centre
from schemas.analytics import (
    SOURCES,
    AnalyticsQuerySchema,
    DashboardMetricsSchema,
    LeadSourceSchema,
    RevenueDataPointSchema,
    TopDoctorSchema,
    TopDoctorsQuerySchema,
)

CHAIN_TIMEZONE = "Asia/Kolkata"

# period -> (bucket unit, number of buckets)
PERIOD_BUCKETS = {"week": ("day", 7), "month": ("day", 30), "year": ("month", 12)}

# --- periods --------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A period and the one before it, as UTC instants; bounds are the period's bucket edges."""

    name: str
    timezone: str
    previous_starts_at: dt.datetime
    starts_at: dt.datetime
    ends_at: dt.datetime
    bounds: tuple[dt.datetime, ...]  # len = buckets + 1, from starts_at to ends_at

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "timezone": self.timezone,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "previous_starts_at": self.previous_starts_at,
        }


def _add_months(first_of_month: dt.date, months: int) -> dt.date:
    years, month0 = divmod(first_of_month.month - 1 + months, 12)
    return dt.date(first_of_month.year + years, month0 + 1, 1)


def period_window(period: str, now: dt.datetime, timezone: str) -> Window:
    """The `period` ending with the local day (or month) that contains `now`, in `timezone`."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    zone = ZoneInfo(timezone)
    unit, count = PERIOD_BUCKETS[period]
    today = now.astimezone(zone).date()
    if unit == "day":
        first = today - dt.timedelta(days=count - 1)
        days = [first + dt.timedelta(days=i) for i in range(-count, count + 1)]
    else:
        first = _add_months(today.replace(day=1), -(count - 1))
        days = [_add_months(first, i) for i in range(-count, count + 1)]
    # Local midnights, so a bucket is a wall-clock day even across a daylight-saving change.
    edges = [dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC) for day in days]
    return Window(period, timezone, edges[0], edges[count], edges[-1], tuple(edges[count:]))


# --- who sees what --------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    centres: list[int] | None  # None: every centre (and payments without an appointment)
    timezone: str


CENTRE_TIMEZONE = "SELECT timezone FROM centres WHERE id = %s"


async def analytics_scope(cur, actor: Actor, centre_id: int | None) -> Scope:
    """The centres a report covers and the zone its periods are cut in."""
    if centre_id is None:
        return Scope(actor.centre_filter(), CHAIN_TIMEZONE)
    timezone = await db.fetch_value(cur, CENTRE_TIMEZONE, (centre_id,))
    if timezone is None:
        raise ApiError.not_found("centre")
    check_centre(actor, centre_id)
    return Scope([centre_id], timezone)


def _params(window: Window, centres: list[int] | None, **extra) -> dict[str, Any]:
    return {
        "previous_starts_at": window.previous_starts_at,
        "starts_at": window.starts_at,
        "ends_at": window.ends_at,
        "centres": centres,
        **extra,
    }


# --- SQL ------------------------------------------------------------------------

# NULL means every centre; the planner folds the IS NULL away, so the index on centre_id stays usable.
IN_SCOPE = "(%(centres)s::bigint[] IS NULL OR a.centre_id = ANY(%(centres)s::bigint[]))"

# Appointments that hold a clinician's time: not cancelled, not moved away.
HELD = "a.status IN ('BOOKED', 'CONFIRMED', 'COMPLETED', 'NO_SHOW')"

# One row per figure: its value this period and the change against the previous one.
DASHBOARD_FIGURES = f"""
WITH seen AS (
    SELECT count(DISTINCT a.patient_id) FILTER (WHERE this_period) AS patients,
           count(DISTINCT a.patient_id) FILTER (WHERE NOT this_period) AS patients_before,
           count(DISTINCT a.clinician_id) FILTER (WHERE this_period) AS doctors,
           count(DISTINCT a.clinician_id) FILTER (WHERE NOT this_period) AS doctors_before
    FROM appointments a, LATERAL (SELECT a.scheduled_start_at >= %(starts_at)s AS this_period) AS t
    WHERE a.scheduled_start_at >= %(previous_starts_at)s AND a.scheduled_start_at < %(ends_at)s
      AND {HELD} AND {IN_SCOPE}
), follow_ups AS (
    SELECT count(*) FILTER (WHERE a.created_at >= %(starts_at)s) AS booked,
           count(*) FILTER (WHERE a.created_at < %(starts_at)s) AS booked_before
    FROM appointments a
    WHERE a.appointment_type = 'FOLLOW_UP' AND a.status NOT IN ('CANCELLED', 'RESCHEDULED')
      AND a.created_at >= %(previous_starts_at)s AND a.created_at < %(ends_at)s AND {IN_SCOPE}
), paid AS (
    SELECT COALESCE(sum(p.amount) FILTER (WHERE p.paid_at >= %(starts_at)s), 0) AS revenue,
           COALESCE(sum(p.amount) FILTER (WHERE p.paid_at < %(starts_at)s), 0) AS revenue_before
    FROM payments p LEFT JOIN appointments a ON a.id = p.appointment_id
    WHERE p.status = 'SUCCESS' AND p.paid_at >= %(previous_starts_at)s AND p.paid_at < %(ends_at)s
      AND {IN_SCOPE}
)
SELECT figure.name, figure.this_period AS value,
       CASE WHEN figure.last_period = 0 THEN CASE WHEN figure.this_period = 0 THEN 0 END
            ELSE round((figure.this_period - figure.last_period) * 100 / figure.last_period, 1)
       END AS change
FROM seen, follow_ups, paid,
LATERAL (VALUES
    ('total_patients', seen.patients::numeric, seen.patients_before::numeric),
    ('active_doctors', seen.doctors, seen.doctors_before),
    ('follow_ups_booked', follow_ups.booked, follow_ups.booked_before),
    ('total_revenue', paid.revenue, paid.revenue_before)
) AS figure(name, this_period, last_period)
"""

TOP_DOCTORS = f"""
WITH booked AS (
    SELECT a.clinician_id,
           count(*) AS appointments,
           count(*) FILTER (WHERE a.status = 'COMPLETED') AS completed,
           count(*) FILTER (WHERE a.status = 'NO_SHOW') AS no_shows
    FROM appointments a
    WHERE a.scheduled_start_at >= %(starts_at)s AND a.scheduled_start_at < %(ends_at)s
      AND {HELD} AND {IN_SCOPE}
    GROUP BY a.clinician_id
), earned AS (
    SELECT a.clinician_id, sum(p.amount) AS revenue
    FROM payments p JOIN appointments a ON a.id = p.appointment_id
    WHERE p.status = 'SUCCESS' AND p.paid_at >= %(starts_at)s AND p.paid_at < %(ends_at)s AND {IN_SCOPE}
    GROUP BY a.clinician_id
)
SELECT cp.id AS clinician_id, u.full_name AS name, cp.specialization,
       COALESCE(b.appointments, 0) AS appointments,
       COALESCE(b.completed, 0) AS completed_appointments,
       COALESCE(b.no_shows, 0) AS no_shows,
       round(b.no_shows * 100.0 / NULLIF(b.completed + b.no_shows, 0), 1) AS no_show_rate,
       COALESCE(e.revenue, 0) AS revenue
FROM booked b
FULL JOIN earned e ON e.clinician_id = b.clinician_id
JOIN clinician_profiles cp ON cp.id = COALESCE(b.clinician_id, e.clinician_id)
JOIN users u ON u.id = cp.user_id
ORDER BY completed_appointments DESC, revenue DESC, cp.id
LIMIT %(limit)s
"""

# Buckets come from Python (zoneinfo cuts local midnights); every bucket is present.
REVENUE_SERIES = f"""
WITH buckets AS (
    SELECT edge AS starts_at, lead(edge) OVER (ORDER BY edge) AS ends_at
    FROM unnest(%(bounds)s::timestamptz[]) AS edge
), paid AS (
    SELECT p.amount, p.paid_at
    FROM payments p LEFT JOIN appointments a ON a.id = p.appointment_id
    WHERE p.status = 'SUCCESS' AND p.paid_at >= %(starts_at)s AND p.paid_at < %(ends_at)s AND {IN_SCOPE}
)
SELECT (b.starts_at AT TIME ZONE %(timezone)s)::date AS date,
       COALESCE(sum(paid.amount), 0) AS revenue,
       count(paid.amount) AS payments
FROM buckets b
LEFT JOIN paid ON paid.paid_at >= b.starts_at AND paid.paid_at < b.ends_at
WHERE b.ends_at IS NOT NULL
GROUP BY b.starts_at
ORDER BY b.starts_at
"""

LEADS_BY_SOURCE = f"""
WITH leads AS (
    SELECT a.source, count(*) AS leads
    FROM appointments a
    WHERE a.created_at >= %(starts_at)s AND a.created_at < %(ends_at)s
      AND a.parent_appointment_id IS NULL AND {IN_SCOPE}
    GROUP BY a.source
)
SELECT s.source, COALESCE(l.leads, 0) AS count,
       COALESCE(round(l.leads * 100.0 / NULLIF(sum(l.leads) OVER (), 0), 1), 0) AS percentage
FROM unnest(%(sources)s::text[]) AS s(source)
LEFT JOIN leads l ON l.source = s.source
ORDER BY count DESC, s.source
"""

# --- reports (plain functions: tests pin the window) ----------------------------


async def dashboard_figures(cur, window: Window, centres: list[int] | None, query=None) -> dict[str, Any]:
    rows = await db.fetch_all(cur, DASHBOARD_FIGURES, _params(window, centres))
    figures: dict[str, Any] = {"period": window.describe()}
    for row in rows:  # four rows, one per figure
        figures[row["name"]] = row["value"]
        figures[row["name"] + "_change"] = row["change"]
    return figures


async def top_doctors(cur, window: Window, centres: list[int] | None, query=None) -> list[dict[str, Any]]:
    limit = (query or {}).get("limit", 10)
    return await db.fetch_all(cur, TOP_DOCTORS, _params(window, centres, limit=limit))


async def revenue_series(cur, window: Window, centres: list[int] | None, query=None) -> list[dict[str, Any]]:
    params = _params(window, centres, bounds=list(window.bounds), timezone=window.timezone)
    return await db.fetch_all(cur, REVENUE_SERIES, params)


async def leads_by_source(cur, window: Window, centres: list[int] | None, query=None) -> list[dict[str, Any]]:
    return await db.fetch_all(cur, LEADS_BY_SOURCE, _params(window, centres, sources=list(SOURCES)))


Report = Callable[..., Awaitable[Any]]  # (cur, window, centres, query) -> rows


async def run_report(request: web.Request, query_schema: Schema, report: Report) -> Any:
    """Parse the query, settle the centres and the period, and run one report."""
    query = read_query(request, query_schema)
    async with db.connection(request.app[DB]) as cur:
        scope = await analytics_scope(cur, request[ACTOR], query.get("centre_id"))
        window = period_window(query["period"], dt.datetime.now(dt.UTC), scope.timezone)
        return await report(cur, window, scope.centres, query)


# --- handlers -------------------------------------------------------------------

TAGS = ("Analytics",)
ERRORS = (400, 403, 404)


@requires("analytics.view")
@documented("Dashboard metrics for a period, with changes against the previous one", tags=TAGS,
            query=AnalyticsQuerySchema, response=DashboardMetricsSchema, errors=ERRORS)
async def dashboard(request: web.Request) -> web.Response:
    """Dashboard metrics for a period."""
    figures = await run_report(request, AnalyticsQuerySchema(), dashboard_figures)
    return ok(DashboardMetricsSchema().dump(figures))


@requires("analytics.view")
@documented("Clinicians ranked by completed appointments and revenue, with no-show rates", tags=TAGS,
            query=TopDoctorsQuerySchema, response=TopDoctorSchema, many=True, errors=ERRORS)
async def top_doctors_report(request: web.Request) -> web.Response:
    """Top clinicians of a period."""
    rows = await run_report(request, TopDoctorsQuerySchema(), top_doctors)
    return ok(TopDoctorSchema(many=True).dump(rows))


@requires("analytics.view")
@documented("Revenue per day (week, month) or per month (year)", tags=TAGS,
            query=AnalyticsQuerySchema, response=RevenueDataPointSchema, many=True, errors=ERRORS)
async def revenue(request: web.Request) -> web.Response:
    """Revenue per bucket of a period."""
    rows = await run_report(request, AnalyticsQuerySchema(), revenue_series)
    return ok(RevenueDataPointSchema(many=True).dump(rows))


@requires("analytics.view")
@documented("Appointments created in the period by booking source", tags=TAGS,
            query=AnalyticsQuerySchema, response=LeadSourceSchema, many=True, errors=ERRORS)
async def leads(request: web.Request) -> web.Response:
    """Leads by booking source."""
    rows = await run_report(request, AnalyticsQuerySchema(), leads_by_source)
    return ok(LeadSourceSchema(many=True).dump(rows))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/analytics/dashboard", dashboard)
    app.router.add_get("/api/analytics/top-doctors", top_doctors_report)
    app.router.add_get("/api/analytics/revenue", revenue)
    app.router.add_get("/api/analytics/leads-by-source", leads)

"""The admin dashboard's figures for a period, chain-wide or for some centres.

Periods are whole local days or months ending with the current one, in the chain's zone (the
setting CHAIN_TIMEZONE) or, when one centre is asked for, in that centre's zone:

- week  = the last 7 days, today included, in daily buckets;
- month = the last 30 days, today included, in daily buckets;
- year  = the last 12 calendar months, this one included, in monthly buckets.

The previous period is the same number of buckets just before, so a change compares like
with like. A CENTRE_MANAGER sees only their centres. What each figure counts:

- totalPatients: the patients in scope at the end of the period, a stock: chain-wide every
  patient registered by then; for centres, the patients who belonged to one of them by then
  (registered there, or booked there: patient_centres.since).
- activeDoctors: the active clinicians in scope at the end of the period, a stock: clinician
  profiles that existed by then and are active (with an active login), working at one of the
  centres (clinician_centres). Whether a profile was active in the past is not recorded, so
  the previous period's figure counts today's active profiles that existed then.
- followUpsBooked: FOLLOW_UP appointments *created* in the period that are not CANCELLED and
  not RESCHEDULED (a moved follow-up is counted once, through its new appointment), by the
  appointment's centre.
- totalRevenue: the sum of SUCCESS payments whose paid_at lies in the period (refunded,
  failed and pending ones are not revenue). A payment's centre is its appointment's centre;
  payments without an appointment count only in chain-wide figures.
- *Change: for the stocks, the end of this period against the end of the previous one; for
  the flows, this period against the previous one: (this − previous) / previous × 100, one
  decimal; 0 when both are 0, and null when the previous figure is 0 and this one is more (no
  finite percentage exists).
- top-doctors: per clinician, held appointments (BOOKED, CONFIRMED, COMPLETED, NO_SHOW)
  scheduled in the period, how many were COMPLETED and NO_SHOW, the no-show rate NO_SHOW /
  (COMPLETED + NO_SHOW) in percent (null while none has an outcome), and their revenue as
  above; ranked by completed appointments, then revenue.
- revenue: totalRevenue per bucket, every bucket present (0 when nothing was paid).
- leads-by-source: appointments *created* in the period by booking source, whatever became
  of them; reschedules (appointments with a parent) are the same lead, not a new one.

Each report is one aggregate query over indexes, whose cost follows the period asked for: the
flows read the period's rows; the patients stock is a tally kept by the database less what came
since (for several centres at once, a count of their patients); clinicians are few.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from mibo.core import db
from mibo.core.actor import Actor
from mibo.core.errors import ApiError
from mibo.domain import access, appointments
from mibo.domain.appointment_states import HELD_SQL
from mibo.domain.clinicians import WORKS_AT_ANY

# Every booking source: the leads report lists each one, 0 when nobody booked that way.
SOURCES = (appointments.WEB_PATIENT, *dict.fromkeys(appointments.SOURCE_BY_ROLE.values()))

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


async def analytics_scope(cur, actor: Actor, centre_id: int | None, chain_timezone: str) -> Scope:
    """The centres a report covers and the zone its periods are cut in."""
    if centre_id is None:
        return Scope(actor.centre_filter(), chain_timezone)
    timezone = await db.fetch_value(cur, CENTRE_TIMEZONE, (centre_id,))
    if timezone is None:
        raise ApiError.not_found("centre")
    access.check_centre(actor, centre_id)
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

HELD = f"a.status IN {HELD_SQL}"

# One row per figure: its value this period and the change against the previous one.
#
# The stocks (patients, doctors) are taken at the end of each period: ends_at, and starts_at for
# the previous one. Patients are counted as the tally (patient_tallies: the chain's, or one
# centre's) less those who came at or after each instant, so only the two periods' rows are read;
# several centres at once are counted one patient at a time, as a patient may belong to more than
# one of them. Exactly one branch of `patients` runs for the given centres.
DASHBOARD_FIGURES = f"""
WITH patients AS (
    SELECT chain.* FROM (
        SELECT (SELECT COALESCE(sum(t.patients), 0) FROM patient_tallies t WHERE t.centre_id = 0) AS total,
               count(*) FILTER (WHERE pp.created_at >= %(ends_at)s) AS since_end,
               count(*) AS since_start
        FROM patient_profiles pp WHERE pp.created_at >= %(starts_at)s
    ) chain WHERE %(centres)s::bigint[] IS NULL
    UNION ALL
    SELECT one.* FROM (
        SELECT (SELECT COALESCE(sum(t.patients), 0) FROM patient_tallies t
                WHERE t.centre_id = (%(centres)s::bigint[])[1]) AS total,
               count(*) FILTER (WHERE pc.since >= %(ends_at)s) AS since_end,
               count(*) AS since_start
        FROM patient_centres pc WHERE pc.centre_id = (%(centres)s::bigint[])[1] AND pc.since >= %(starts_at)s
    ) one WHERE cardinality(%(centres)s::bigint[]) = 1
    UNION ALL
    SELECT several.* FROM (
        SELECT count(*) AS total, count(*) FILTER (WHERE joined >= %(ends_at)s) AS since_end,
               count(*) FILTER (WHERE joined >= %(starts_at)s) AS since_start
        FROM (SELECT min(pc.since) AS joined FROM patient_centres pc
              WHERE pc.centre_id = ANY(%(centres)s::bigint[]) GROUP BY pc.patient_id) related
    ) several WHERE cardinality(%(centres)s::bigint[]) <> 1
), doctors AS (
    SELECT count(*) FILTER (WHERE cp.created_at < %(ends_at)s) AS at_end,
           count(*) FILTER (WHERE cp.created_at < %(starts_at)s) AS at_start
    FROM clinician_profiles cp JOIN users u ON u.id = cp.user_id
    WHERE cp.is_active AND u.is_active AND (%(centres)s::bigint[] IS NULL OR {WORKS_AT_ANY})
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
FROM patients, doctors, follow_ups, paid,
LATERAL (VALUES
    ('total_patients', (patients.total - patients.since_end)::numeric,
                       (patients.total - patients.since_start)::numeric),
    ('active_doctors', doctors.at_end, doctors.at_start),
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
SELECT cp.id AS clinician_id, u.full_name AS name, cp.specialization, cp.profile_picture_url AS avatar,
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


async def run(cur, actor: Actor, report: Report, query: dict[str, Any], now: dt.datetime,
              chain_timezone: str) -> Any:
    """Settle the centres and the period of `query` (period, centre_id) for the actor, and run `report`."""
    access.require(actor, "analytics.view")
    scope = await analytics_scope(cur, actor, query.get("centre_id"), chain_timezone)
    window = period_window(query["period"], now, scope.timezone)
    return await report(cur, window, scope.centres, query)

"""Operations benchmark (prints figures; not a test).

Seeds 3 centres x 40 clinicians x 1 year of appointments (~200k, with status history and
payments) into its own database, starts one API process on a free port, and reports:

1. p50/p99 latency over HTTP, sequential requests as an ADMIN: availability (one clinician,
   one day; target p99 < 15 ms), the appointment list (one centre, one day, a page of 100;
   target p99 < 25 ms) and the dashboard metrics (period=month; target p99 < 50 ms).
2. Booking throughput: POST /api/appointments into distinct free slots from several clients
   (wrk), as a ratio to pgbench running the same SQL (built from the API's own query
   constants) against the same database in the same run (aim >= 0.5).
3. Where the rest of the API's time goes: a py-spy profile of the API during booking load.

Cost as history grows: `--scales 1,10` measures the same hospital with 1 and 10 years of
history side by side (one database per scale, one API process each; the latency samples of
every scale are taken in interleaved rounds so that the machine's other work falls on all of
them alike) and prints a table with the growth of each figure (target: each latency at the
largest scale within 1.5x of the smallest). Scale N is N years of appointments, not N times the
clinicians: a hospital's history only grows, while a day, a clinician's day and a month stay the
size they are, so a query whose cost follows the window asked for stays flat and one whose cost
follows the table grows N-fold. It also times GET /api/appointments with no parameters (what the
admin panel loads), whose cost follows the table.

Seeds are reused when present and fresh (--reseed rebuilds them; 10x takes ~5 minutes);
--seed-only prepares them and stops. The bookings of a previous run are deleted first, so every
run measures the same table sizes. BENCH_DATABASE_URL names the 1x database (default
mibo_bench_ops), scale N uses <name>_x<N>.
Usage: .venv/bin/python bench/ops_bench.py [--scales 1,10] [--seconds 10] [--clients 8] [--samples 300]
                                           [--rounds 5] [--unfiltered-samples 10] [--reseed]
                                           [--seed-only] [--max-load 1.5]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import datetime as dt
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp
import psycopg2
from psycopg2 import sql as pgsql
from psycopg2.extensions import make_dsn, parse_dsn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ensure_py_spy, ensure_wrk, free_port, wait_up  # noqa: E402
from mibo.core import audit, config, outbox, tokens  # noqa: E402
from mibo.core.migrate import ensure_database, migrate  # noqa: E402
from mibo.domain import appointments, schedule  # noqa: E402

# The 1x data set's database; scale N lives beside it in <name>_x<N> (see database_for).
BASE_DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://127.0.0.1:5432/mibo_bench_ops")
DSN = BASE_DSN  # the database the helpers below talk to: set per scale by use_database()
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
ZONE = "Asia/Kolkata"
CLINICIANS_PER_CENTRE = 40
PATIENTS_PER_CLINICIAN = 150  # a clinician's patients of one year (a cohort); scale N has N cohorts
SEED_DAYS_BACK, SEED_DAYS_AHEAD = 337, 28  # 365 days of appointments around the seed date at 1x
DAYS_PER_SCALE = 365  # scale N adds N - 1 earlier years of history: a hospital's history only grows
BOOKING_FIRST_DAY, BOOKING_LAST_DAY = 70, 300  # bench bookings: days ahead with no seeded appointments
HTTP_SLOTS_PER_RUN = 50_000  # the measured HTTP run takes slots 1.., the profiled run the next ones
PGBENCH_FIRST_SLOT = 2 * HTTP_SLOTS_PER_RUN + 1  # pgbench takes slots from here on
BOOKING_MARK = "ops-bench booking"
EXPECTED_APPOINTMENTS = 150_000  # per unit of scale: a smaller table means an interrupted seed

# --- seed -----------------------------------------------------------------------

# The instant of slot 0..15 of a local day: 09:00-13:00 and 14:00-18:00 at the centre.
SLOT_START = (
    f"(day::date + time '09:00' + slot * interval '30 minutes'"
    f" + CASE WHEN slot >= 8 THEN interval '1 hour' ELSE interval '0' END) AT TIME ZONE '{ZONE}'"
)
# Set-based: every table is one INSERT ... SELECT over generate_series; random() is seeded
# so that two seeds give the same data set.
#
# Scale N is N years of history at the same hospital: the same 3 centres, 120 clinicians, rules
# and coming 4 weeks as 1x, with N - 1 more years of past appointments (and their status history
# and payments) before them, and one more cohort of patients per year. Scale 1 is the data set
# the README's figures were measured on (199,212 appointments, 152,988 payments).


def seed_sql(scale: int) -> str:
    days_back = SEED_DAYS_BACK + DAYS_PER_SCALE * (scale - 1)
    clinicians = 3 * CLINICIANS_PER_CENTRE
    return f"""
SELECT setseed(0.42);
SET LOCAL work_mem = '256MB';
SET LOCAL maintenance_work_mem = '512MB';

INSERT INTO centres (name, city, timezone, address_line1, pincode, contact_phone)
VALUES ('Mibo Bangalore', 'bangalore', '{ZONE}', '100 Feet Road', '560038', '+918040000001'),
       ('Mibo Kochi', 'kochi', '{ZONE}', 'Infopark Road', '682030', '+914840000002'),
       ('Mibo Mumbai', 'mumbai', '{ZONE}', 'Hill Road', '400050', '+912240000003');

CREATE TEMP TABLE bench_centre AS
SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM centres;

-- Clinicians: n = 1..120, the first 40 at the first centre, and so on.
INSERT INTO users (phone, username, full_name, user_type)
SELECT '+9170000' || lpad(g::text, 5, '0'), 'clinician' || g, 'Dr Bench Clinician ' || g, 'STAFF'
FROM generate_series(1, {3 * CLINICIANS_PER_CENTRE}) g;

INSERT INTO clinician_profiles (user_id, primary_centre_id, specialization, registration_number,
                                years_of_experience, consultation_fee, default_consultation_duration_minutes,
                                min_notice_minutes, booking_horizon_days)
SELECT u.id, c.id,
       (ARRAY['Psychiatry', 'Clinical Psychology', 'Counselling', 'Child Psychiatry'])[1 + g % 4],
       'KMC-' || g, 2 + g % 25, 800 + (g % 8) * 200, 30, 60, 365
FROM generate_series(1, {3 * CLINICIANS_PER_CENTRE}) g
JOIN users u ON u.username = 'clinician' || g
JOIN bench_centre c ON c.n = (g - 1) / {CLINICIANS_PER_CENTRE};

CREATE TEMP TABLE bench_clinician AS
SELECT row_number() OVER (ORDER BY cp.id) AS n, cp.id, cp.user_id, cp.primary_centre_id AS centre_id,
       cp.consultation_fee AS fee
FROM clinician_profiles cp;

INSERT INTO user_roles (user_id, role_id, centre_id)
SELECT bc.user_id, r.id, bc.centre_id FROM bench_clinician bc JOIN roles r ON r.name = 'CLINICIAN';
INSERT INTO centre_staff_assignments (centre_id, user_id) SELECT centre_id, user_id FROM bench_clinician;

-- Monday to Saturday, 09:00-13:00 and 14:00-18:00 at the primary centre: 16 slots of 30 minutes.
INSERT INTO clinician_availability_rules (clinician_id, centre_id, day_of_week, start_time, end_time,
                                          slot_duration_minutes)
SELECT bc.id, bc.centre_id, dow, w.start_time, w.end_time, 30
FROM bench_clinician bc, generate_series(0, 5) dow,
     (VALUES (time '09:00', time '13:00'), (time '14:00', time '18:00')) AS w(start_time, end_time);

-- Patients: patient n belongs to clinician 1 + (n - 1) % 120, so at any instant the
-- clinicians' patients are distinct and the no-patient-overlap constraint holds. Each year
-- back is another cohort of 150 per clinician (cohort 0, the first 18,000, is this year's).
INSERT INTO users (phone, full_name, user_type)
SELECT '+9181' || lpad(g::text, 8, '0'), 'Bench Patient ' || g, 'PATIENT'
FROM generate_series(1, {clinicians * PATIENTS_PER_CLINICIAN * scale}) g;

INSERT INTO patient_profiles (user_id, gender, date_of_birth)
SELECT id, (ARRAY['FEMALE', 'MALE', 'OTHER'])[1 + id % 3], date '1960-01-01' + (id * 37 % 18000)::int
FROM users WHERE user_type = 'PATIENT' ORDER BY id;

CREATE TEMP TABLE bench_patient AS
SELECT row_number() OVER (ORDER BY id) AS n, id FROM patient_profiles;
CREATE UNIQUE INDEX ON bench_patient (n);

INSERT INTO users (username, phone, full_name, user_type)
VALUES ('opsbench', '+919899999998', 'Ops Bench Admin', 'STAFF');
INSERT INTO user_roles (user_id, role_id)
SELECT u.id, r.id FROM users u JOIN roles r ON r.name = 'ADMIN' WHERE u.username = 'opsbench';

-- About a third of the 600k slots of the year are taken, each booked 1 hour to 4 weeks ahead:
-- the coming 4 weeks fill up as the days come closer (nothing is booked in the future).
CREATE TEMP TABLE bench_appointment AS
SELECT s.*,
       s.start_at + interval '30 minutes' AS end_at,
       CASE WHEN s.start_at < now() THEN
                CASE WHEN r_status < 0.72 THEN 'COMPLETED' WHEN r_status < 0.80 THEN 'NO_SHOW'
                     WHEN r_status < 0.93 THEN 'CANCELLED' ELSE 'RESCHEDULED' END
            ELSE CASE WHEN r_status < 0.55 THEN 'BOOKED' WHEN r_status < 0.87 THEN 'CONFIRMED'
                      WHEN r_status < 0.95 THEN 'CANCELLED' ELSE 'RESCHEDULED' END
       END AS status,
       CASE WHEN r_type < 0.45 THEN 'IN_PERSON' WHEN r_type < 0.75 THEN 'FOLLOW_UP'
            WHEN r_type < 0.95 THEN 'ONLINE' ELSE 'INPATIENT_ASSESSMENT' END AS appointment_type,
       CASE WHEN r_source < 0.40 THEN 'WEB_PATIENT' WHEN r_source < 0.70 THEN 'ADMIN_FRONT_DESK'
            WHEN r_source < 0.90 THEN 'ADMIN_CARE_COORDINATOR' ELSE 'ADMIN_MANAGER' END AS source,
       s.start_at - interval '1 hour' - s.r_lead * interval '28 days' AS created_at
FROM (
    SELECT bc.id AS clinician_id, bc.centre_id, bc.fee, bp.id AS patient_id,
           {SLOT_START} AS start_at,
           random() AS r_take, random() AS r_status, random() AS r_type, random() AS r_source,
           random() AS r_lead, random() AS r_pay
    FROM bench_clinician bc
    CROSS JOIN generate_series((now() AT TIME ZONE '{ZONE}')::date - {days_back},
                               (now() AT TIME ZONE '{ZONE}')::date + {SEED_DAYS_AHEAD},
                               interval '1 day') AS day
    CROSS JOIN generate_series(0, 15) AS slot
    JOIN bench_patient bp
      ON bp.n = bc.n + {clinicians}
                * ({PATIENTS_PER_CLINICIAN}
                   * least({scale - 1}, greatest(0, ((now() AT TIME ZONE '{ZONE}')::date - day::date)
                                                     / {DAYS_PER_SCALE}))
                   + (slot * 37 + (day::date - date '2000-01-01')) % {PATIENTS_PER_CLINICIAN})
    WHERE extract(isodow FROM day::date) < 7
) AS s
WHERE s.r_take < 0.345 AND s.start_at - interval '1 hour' - s.r_lead * interval '28 days' <= now();

INSERT INTO appointments (patient_id, clinician_id, centre_id, appointment_type, scheduled_start_at,
                          scheduled_end_at, duration_minutes, status, booked_by_user_id, source,
                          cancellation_reason, created_at, updated_at)
SELECT b.patient_id, b.clinician_id, b.centre_id, b.appointment_type, b.start_at, b.end_at, 30, b.status,
       CASE WHEN b.source <> 'WEB_PATIENT' THEN (SELECT id FROM users WHERE username = 'opsbench') END,
       b.source, CASE WHEN b.status = 'CANCELLED' THEN 'Patient asked to cancel' END,
       b.created_at, CASE WHEN b.status IN ('BOOKED') THEN b.created_at ELSE least(b.end_at, now()) END
FROM bench_appointment b
ORDER BY b.created_at;

INSERT INTO appointment_status_history (appointment_id, from_status, to_status, reason, created_at)
SELECT id, NULL, 'BOOKED', 'Booked', created_at FROM appointments;
INSERT INTO appointment_status_history (appointment_id, from_status, to_status, reason, created_at)
SELECT id, 'BOOKED', status, cancellation_reason, updated_at FROM appointments WHERE status <> 'BOOKED';

-- Paid: every CONFIRMED and COMPLETED appointment, half the no-shows (prepaid), and a fifth of
-- the cancellations (refunded). A few bookings have a failed attempt.
INSERT INTO payments (patient_id, appointment_id, provider, channel, order_id, payment_id, amount, status,
                      paid_at, refund_requested_at, created_at, updated_at)
SELECT a.patient_id, a.id, p.provider,
       CASE WHEN p.provider = 'RAZORPAY' THEN 'CHECKOUT' ELSE 'DESK' END,
       CASE WHEN p.provider = 'RAZORPAY' THEN 'order_bench_' || a.id END,
       CASE WHEN p.provider = 'RAZORPAY' AND p.status <> 'FAILED' THEN 'pay_bench_' || a.id END,
       b.fee, p.status, p.paid_at,
       CASE WHEN p.status = 'REFUNDED' THEN a.updated_at END,
       coalesce(p.paid_at, a.created_at), greatest(coalesce(p.paid_at, a.created_at), a.updated_at)
FROM appointments a
JOIN bench_appointment b ON b.clinician_id = a.clinician_id AND b.start_at = a.scheduled_start_at,
LATERAL (
    SELECT CASE WHEN b.r_pay < 0.55 THEN 'RAZORPAY' WHEN b.r_pay < 0.75 THEN 'UPI'
                WHEN b.r_pay < 0.9 THEN 'CASH' ELSE 'CARD' END AS provider,
           CASE WHEN a.status IN ('CONFIRMED', 'COMPLETED', 'NO_SHOW') THEN 'SUCCESS'
                WHEN a.status = 'CANCELLED' THEN 'REFUNDED' ELSE 'FAILED' END AS status,
           CASE WHEN a.status = 'BOOKED' THEN NULL
                ELSE least(a.created_at + b.r_pay * (a.scheduled_start_at - a.created_at), now())
           END AS paid_at
) AS p
WHERE a.status IN ('CONFIRMED', 'COMPLETED')
   OR (a.status = 'NO_SHOW' AND b.r_pay < 0.5)
   OR (a.status = 'CANCELLED' AND b.r_pay < 0.2)
   OR (a.status = 'BOOKED' AND b.r_pay > 0.97);

CREATE TABLE bench_meta (seeded_at TIMESTAMPTZ NOT NULL DEFAULT now(), scale INTEGER NOT NULL);
INSERT INTO bench_meta (scale) VALUES ({scale});
"""


SEED_FRESH = """
SELECT (SELECT count(*) FROM appointments) >= %(appointments)s
       AND (SELECT max(seeded_at) FROM bench_meta WHERE scale = %(scale)s) > now() - interval '7 days'
       AS fresh
"""

# Distinct free slots for the bookings, in (day, slot, clinician) order so that concurrent
# clients book different clinicians; the patient of slot n is one of its clinician's patients.
BOOKING_SLOTS_SQL = f"""
DROP TABLE IF EXISTS bench_slots;
CREATE UNLOGGED TABLE bench_slots AS
WITH grid AS (
    SELECT row_number() OVER (ORDER BY day, slot, bc.n) AS n, bc.n AS cn, bc.id AS clinician_id,
           bc.centre_id,
           {SLOT_START} AS start_at
    FROM (SELECT row_number() OVER (ORDER BY id) AS n, id, primary_centre_id AS centre_id
          FROM clinician_profiles) bc
    CROSS JOIN generate_series((now() AT TIME ZONE '{ZONE}')::date + {BOOKING_FIRST_DAY},
                               (now() AT TIME ZONE '{ZONE}')::date + {BOOKING_LAST_DAY}, interval '1 day') day
    CROSS JOIN generate_series(0, 15) slot
    WHERE extract(isodow FROM day::date) < 7
)
SELECT g.n, g.clinician_id, g.centre_id, p.id AS patient_id, g.start_at
FROM grid g
JOIN (SELECT row_number() OVER (ORDER BY id) AS n, id FROM patient_profiles) p
  ON p.n = g.cn + {3 * CLINICIANS_PER_CENTRE}
               * (((g.n - 1) / {3 * CLINICIANS_PER_CENTRE}) % {PATIENTS_PER_CLINICIAN});
ALTER TABLE bench_slots ADD PRIMARY KEY (n);
DROP SEQUENCE IF EXISTS bench_slot_seq;
CREATE SEQUENCE bench_slot_seq START {PGBENCH_FIRST_SLOT};
"""

DELETE_BENCH_BOOKINGS = """
DELETE FROM appointment_status_history
WHERE appointment_id IN (SELECT id FROM appointments WHERE notes = %(mark)s);
DELETE FROM appointments WHERE notes = %(mark)s;
DELETE FROM outbox WHERE actor_name = 'appointment_booked';
"""

BENCH_BOOKINGS = "SELECT count(*) FROM appointments WHERE notes = %s"

SEED_COUNTS = """
SELECT (SELECT count(*) FROM centres) AS centres,
       (SELECT count(*) FROM clinician_profiles) AS clinicians,
       (SELECT count(*) FROM patient_profiles) AS patients,
       (SELECT count(*) FROM appointments) AS appointments,
       (SELECT count(*) FROM appointment_status_history) AS status_history,
       (SELECT count(*) FROM payments) AS payments,
       (SELECT count(*) FROM clinician_availability_rules) AS availability_rules
"""

NEW_SESSION = """
INSERT INTO auth_sessions (user_id, refresh_token_hash, expires_at)
SELECT id, 'ops-bench', now() + interval '1 day' FROM users WHERE username = 'opsbench'
RETURNING id, user_id
"""


def drop_database(dsn: str) -> None:
    admin = psycopg2.connect(make_dsn(dsn, dbname="postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        name = pgsql.Identifier(parse_dsn(dsn)["dbname"])
        cur.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
    admin.close()


def run_sql(sql: str, params=None, *, autocommit: bool = False):
    conn = psycopg2.connect(DSN)
    conn.autocommit = autocommit
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            result = cur.fetchall() if cur.description else None
            names = [c.name for c in cur.description] if cur.description else None
        conn.commit()
    finally:
        conn.close()
    return [dict(zip(names, row, strict=True)) for row in result] if names else None


def database_for(scale: int) -> str:
    """Scale 1 is BENCH_DATABASE_URL itself; scale N its database name + '_x<N>'."""
    if scale == 1:
        return BASE_DSN
    url = urllib.parse.urlsplit(BASE_DSN)  # a URL: the API's DATABASE_URL must be one
    return url._replace(path=f"{url.path}_x{scale}").geturl()


def use_database(dsn: str) -> None:
    """Point run_sql, pgbench and the API environment at one scale's database."""
    global DSN
    DSN = dsn


def seed_is_fresh(scale: int) -> bool:
    try:
        return run_sql(SEED_FRESH, {"appointments": EXPECTED_APPOINTMENTS * scale, "scale": scale})[0]["fresh"]
    except (psycopg2.OperationalError, psycopg2.ProgrammingError):  # no database, no seed, an older seed
        return False


def prepare_database(scale: int, reseed: bool) -> float | None:
    """Seed (or reuse) the data set and apply every migration; the seconds seeding took, if it ran.

    A reused seed gets the migrations added since (indexes are built on the seeded rows then).
    """
    if not reseed and seed_is_fresh(scale):
        migrate(DSN)
        return None
    drop_database(DSN)
    ensure_database(DSN)
    migrate(DSN)
    started = time.perf_counter()
    run_sql(seed_sql(scale))
    run_sql("VACUUM ANALYZE", autocommit=True)
    return time.perf_counter() - started


def prepare_bookings() -> int:
    run_sql(DELETE_BENCH_BOOKINGS, {"mark": BOOKING_MARK})
    run_sql(BOOKING_SLOTS_SQL)
    run_sql("VACUUM ANALYZE appointments, appointment_status_history, outbox, bench_slots", autocommit=True)
    return run_sql("SELECT count(*) AS n FROM bench_slots")[0]["n"]


# --- the API process --------------------------------------------------------------


def api_environment(port: int) -> dict[str, str]:
    return {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": DSN,
        "REDIS_URL": REDIS_URL,
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "JWT_ACCESS_EXPIRY": "2h",
        # The relay publishes outbox rows to Redis from the API process; pgbench does no such
        # thing, so it is off for the comparison (the workers' scheduler sweeps in production too).
        "OUTBOX_RELAY": "false",
    }


def admin_session(env: dict[str, str]) -> tuple[str, int]:
    """(access token, user id) of a fresh ADMIN session, signed as the API expects."""
    session = run_sql(NEW_SESSION)[0]
    token = tokens.access_token(config.load(env), session["user_id"], session["id"])
    return token, session["user_id"]


# --- latency --------------------------------------------------------------------


def percentile(sorted_ms: list[float], share: float) -> float:
    return sorted_ms[max(0, math.ceil(share * len(sorted_ms)) - 1)]


async def latencies(session: aiohttp.ClientSession, base: str, paths: list[str], warmup: int = 20) -> list[float]:
    """Sequential GETs (one at a time, so the figure is service time, not queueing); their ms."""
    samples = []
    warm = paths[:warmup]
    for i, path in enumerate(warm + paths):
        started = time.perf_counter()
        async with session.get(base + path) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"GET {path}: {resp.status} {body[:300]!r}")
        if i >= len(warm):
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def latency_summary(samples: list[float]) -> dict:
    samples = sorted(samples)
    return {
        "requests": len(samples),
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(percentile(samples, 0.99), 2),
        "max_ms": round(samples[-1], 2),
    }


def latency_paths(samples: int, ids: dict, unfiltered: int = 0) -> dict[str, list[str]]:
    """Random clinicians, centres and days (the next 30 days; the list also the last 30).

    `unfiltered`: that many GET /api/appointments with no parameters at all, the call the admin
    panel's dashboard and appointments page make on load (no target: it shows what grows)."""
    rng = random.Random(7)

    def day(lo: int, hi: int) -> str:
        return (ids["today"] + dt.timedelta(days=rng.randint(lo, hi))).isoformat()

    return {
        "availability": [
            f"/api/appointments/availability?clinicianId={rng.choice(ids['clinicians'])}&date={day(0, 30)}"
            for _ in range(samples)
        ],
        "list": [
            f"/api/appointments?centreId={rng.choice(ids['centres'])}&date={day(-30, 30)}&limit=100"
            for _ in range(samples)
        ],
        "dashboard": ["/api/analytics/dashboard?period=month"] * samples,
        "list_all": ["/api/appointments"] * unfiltered,
    }


# --- booking throughput -----------------------------------------------------------

WRK_SCRIPT = """
local bodies = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
end
request = function()
  i = i + 1
  return wrk.format("POST", "/api/appointments", nil, bodies[(i - 1) % #bodies + 1])
end
"""


def booking_bodies(path: Path, first: int, count: int) -> None:
    rows = run_sql(
        "SELECT patient_id, clinician_id, centre_id, start_at FROM bench_slots"
        " WHERE n >= %s AND n < %s ORDER BY n",
        (first, first + count),
    )
    with path.open("w") as out:
        for row in rows:
            out.write(
                json.dumps(
                    {
                        "patientId": row["patient_id"],
                        "clinicianId": row["clinician_id"],
                        "centreId": row["centre_id"],
                        "appointmentType": "IN_PERSON",
                        "scheduledStartAt": row["start_at"].isoformat(),
                        "durationMinutes": 30,
                        "notes": BOOKING_MARK,
                    }
                )
                + "\n"
            )


def wrk_bookings(base: str, token: str, seconds: int, clients: int, workdir: Path, first_slot: int) -> dict:
    """POST distinct free slots from `clients` connections; successes are counted in the database."""
    bodies = workdir / "bodies.jsonl"
    booking_bodies(bodies, first_slot, HTTP_SLOTS_PER_RUN)
    script = workdir / "book.lua"
    script.write_text(WRK_SCRIPT)
    before = run_sql(BENCH_BOOKINGS, (BOOKING_MARK,))[0]["count"]
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{clients}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            "-H",
            f"Authorization: Bearer {token}",
            "-H",
            "Content-Type: application/json",
            f"{base}/api/appointments",
            "--",
            str(bodies),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    created = run_sql(BENCH_BOOKINGS, (BOOKING_MARK,))[0]["count"] - before
    elapsed = float(re.search(r"requests in ([\d.]+)s", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    return {
        "created": created,
        "seconds": elapsed,
        "per_second": created / elapsed,
        "failed_responses": int(non_2xx.group(1)) if non_2xx else 0,
        "p99": f"{p99.group(1)}{p99.group(2)}" if p99 else "?",
    }


def bind(sql: str, *positional: str, **named: str) -> str:
    """The API's psycopg2 query with its placeholders replaced by pgbench variables or literals."""
    if positional:
        parts = sql.split("%s")
        assert len(parts) == len(positional) + 1, sql
        sql = "".join(part + value for part, value in zip(parts, positional, strict=False)) + parts[-1]
    for name, value in named.items():
        sql = sql.replace(f"%({name})s", value)
    assert "%(" not in sql and "%s" not in sql, sql
    return sql.strip()


def pgbench_script(user_id: int, with_reads: bool) -> str:
    """The booking request's SQL, statement for statement (mibo/appointments.create_appointment).

    Values psycopg2 would send as quoted literals come from bench_slots as quote_literal()s,
    so the statements pgbench sends are the API's own text with the same literals. The one
    difference: the outbox args and dedupe key are built from the new id by the server. The
    caller's session lookup is not here: the API serves it from its principal cache.
    """
    slot = (
        "SELECT s.clinician_id, s.centre_id, s.patient_id,"
        " quote_literal(s.start_at) || '::timestamptz' AS start_lit,"
        " quote_literal(s.start_at + interval '30 minutes') || '::timestamptz' AS end_lit,"
        " quote_literal(date_trunc('day', s.start_at) - interval '1 day') || '::timestamptz' AS lo_lit,"
        " quote_literal(date_trunc('day', s.start_at) + interval '2 days') || '::timestamptz' AS hi_lit,"
        " quote_literal(md5(s.n::text)) AS request_id_lit,"
        " quote_literal(json_build_object('clinicianId', s.clinician_id, 'patientId', s.patient_id,"
        " 'scheduledStartAt', s.start_at)::text) AS details_lit"
        " FROM bench_slots s WHERE s.n = (SELECT nextval('bench_slot_seq')) \\gset"
    )
    window = {"clinician_id": ":clinician_id", "lo": ":lo_lit", "hi": ":hi_lit"}
    statements = [slot]
    if with_reads:
        statements += [
            "BEGIN;",
            bind(schedule.CENTRE_ZONE, ":centre_id") + ";",
            bind(appointments.ACTIVE_PATIENT, ":patient_id") + ";",
            bind(schedule.CLINICIAN_SCHEDULING_LOCKED, ":clinician_id") + ";",
            bind(schedule.ACTIVE_RULES, ":clinician_id") + ";",
            bind(schedule.LIVE_APPOINTMENTS_BETWEEN, **window) + ";",
            bind(schedule.ACTIVE_BLOCKS_BETWEEN, **window) + ";",
        ]
    else:
        statements.append("BEGIN;")
    statements += [
        bind(
            appointments.INSERT_APPOINTMENT,
            patient_id=":patient_id",
            clinician_id=":clinician_id",
            centre_id=":centre_id",
            appointment_type="'IN_PERSON'",
            start=":start_lit",
            end=":end_lit",
            duration_minutes="30",
            status="'BOOKED'",
            parent_appointment_id="NULL",
            user_id=str(user_id),
            source="'ADMIN_MANAGER'",
            notes=f"'{BOOKING_MARK}'",
        )
        + " \\gset",
        bind(appointments.INSERT_STATUS_HISTORY, ":id", "NULL", "'BOOKED'", str(user_id), "'Booked'") + ";",
        bind(
            outbox.INSERT_OUTBOX,
            f"'{outbox.APPOINTMENT_BOOKED}'",
            "('[' || :id || ']')",
            f"'{outbox.APPOINTMENT_BOOKED}:' || :id",
        )
        + ";",
        bind(
            audit.INSERT_AUDIT,
            str(user_id),
            "'USER'",
            "'STAFF_API'",  # the caller's surface (mibo.core.actor.STAFF_API)
            "'appointment.create'",
            "'appointment'",
            ":id",
            ":centre_id",
            ":request_id_lit",
            ":details_lit",
        )
        + ";",
    ]
    if with_reads:
        statements.append(bind(appointments.APPOINTMENT_BY_ID, ":id") + ";")
    statements.append("COMMIT;")
    return "\n".join(statements) + "\n"


def pgbench(script: Path, seconds: int, clients: int) -> dict:
    before = run_sql(BENCH_BOOKINGS, (BOOKING_MARK,))[0]["count"]
    binary = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    result = subprocess.run(
        [binary, "-n", "-M", "simple", f"-c{clients}", "-j2", f"-T{seconds}", "-f", str(script), DSN],
        capture_output=True,
        text=True,
    )
    out = result.stdout + result.stderr
    if result.returncode != 0 or "aborted" in out:
        raise RuntimeError(f"pgbench failed:\n{out[-3000:]}")
    created = run_sql(BENCH_BOOKINGS, (BOOKING_MARK,))[0]["count"] - before
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    return {"created": created, "tps": tps, "latency_avg_ms": float(latency.group(1)) if latency else None}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


BACKEND_PIDS = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def with_cpu_shares(api_pid: int, run) -> tuple[dict, dict]:
    """Run `run()` and return its result with the cores the API and its PostgreSQL backends used."""
    backends = [row["pid"] for row in run_sql(BACKEND_PIDS)]
    before = {pid: cpu_seconds(pid) for pid in [api_pid, *backends]}
    started = time.perf_counter()
    result = run()
    elapsed = time.perf_counter() - started
    used = {pid: cpu_seconds(pid) - seconds for pid, seconds in before.items()}
    return result, {
        "api_cores": round(used.pop(api_pid) / elapsed, 2),
        "postgres_cores": round(sum(max(0.0, v) for v in used.values()) / elapsed, 2),
    }


# --- profile --------------------------------------------------------------------

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def frame_parts(frame: str) -> tuple[str, str]:
    match = FRAME.match(frame.strip())
    return (match.group("func"), match.group("file")) if match else (frame.strip(), "")


SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
OURS = ("mibo", "schemas", "jobs")


def package_of(path: str) -> str:
    """py-spy names files relative to their sys.path entry: 'aiohttp/web_app.py', 'copy.py'."""
    top = path.split("/", 1)[0].removesuffix(".py")
    if top in OURS or top == "asyncio":
        return top
    if top and (SITE_PACKAGES / top).exists():
        return top
    return "stdlib"


def summarise_profile(raw: str, top: int = 15) -> str:
    """Own-time shares by frame and by package, and inclusive shares of our functions."""
    own_frames: collections.Counter = collections.Counter()
    own_packages: collections.Counter = collections.Counter()
    ours_inclusive: collections.Counter = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [frame_parts(f) for f in stack.split(";")[1:]]  # [0] is the process/thread
        if not frames:
            continue
        total += n
        func, path = frames[-1]
        own_frames[f"{func} ({path.rsplit('site-packages/', 1)[-1]})"] += n
        own_packages[package_of(path)] += n
        # Below the entry point (mibo/__main__.py, mibo/cli.py), which every sample contains.
        below_main = [(f, p) for f, p in frames if p not in ("mibo/__main__.py", "mibo/cli.py")]
        for name in {
            f"{p.removesuffix('.py').replace('/', '.')}.{f}" for f, p in below_main if package_of(p) in OURS
        }:
            ours_inclusive[name] += n
    if not total:
        return "py-spy recorded no samples"
    share = lambda n: f"{100 * n / total:5.1f}%"  # noqa: E731
    lines = [
        f"{total} samples of the API process holding the GIL (Python's own work) during booking load",
        "",
    ]
    lines += ["own time by package:"]
    lines += [f"  {share(n)}  {name}" for name, n in own_packages.most_common(12)]
    lines += ["", f"top {top} frames by own time:"]
    lines += [f"  {share(n)}  {name}" for name, n in own_frames.most_common(top)]
    lines += ["", "our functions, inclusive (time in them and what they call):"]
    lines += [f"  {share(n)}  {name}" for name, n in ours_inclusive.most_common(top)]
    return "\n".join(lines)


def profile_bookings(api_pid: int, base: str, token: str, seconds: int, clients: int, workdir: Path) -> str:
    raw = workdir / "profile.txt"
    spy = subprocess.Popen(
        [
            str(ensure_py_spy()),
            "record",
            "-p",
            str(api_pid),
            "-f",
            "raw",
            "-o",
            str(raw),
            "-d",
            str(seconds),
            "-r",
            "250",
            "--nonblocking",
            # Python's own work only: without it a thread that is runnable but waiting for a core
            # (2 cores, PostgreSQL woken by each query) is sampled inside the query it just sent.
            "--gil",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1)  # let py-spy attach before the load starts
    # Fresh slots: the profiled run books past the ones the throughput run took.
    wrk_bookings(base, token, seconds, clients, workdir, first_slot=1 + HTTP_SLOTS_PER_RUN)
    _, err = spy.communicate(timeout=seconds + 60)
    if spy.returncode != 0 or not raw.exists():
        return f"py-spy failed: {err.strip()[-500:]}"
    return summarise_profile(raw.read_text())


# --- main -----------------------------------------------------------------------


def parse_log_line(line: str) -> dict | None:
    try:
        return json.loads(line)
    except ValueError:
        return None


@dataclasses.dataclass
class Run:
    """One scale's database, its API process and what was measured on it."""

    scale: int
    dsn: str
    counts: dict
    seed_seconds: float | None
    slots: int
    ids: dict
    base: str = ""
    token: str = ""
    user_id: int = 0
    api: subprocess.Popen | None = None
    api_log: Any = None
    results: dict = dataclasses.field(default_factory=dict)
    api_errors: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    @property
    def label(self) -> str:
        return f"{self.scale}x"


def prepare_scale(scale: int, reseed: bool) -> Run:
    use_database(database_for(scale))
    seed_seconds = prepare_database(scale, reseed)
    slots = prepare_bookings()
    counts = run_sql(SEED_COUNTS)[0]
    print(
        f"{scale}x data set ({parse_dsn(DSN)['dbname']}): {json.dumps(counts)}"
        + (f" (seeded in {seed_seconds:.0f} s)" if seed_seconds else " (reused)"),
        flush=True,
    )
    ids = {
        "clinicians": [r["id"] for r in run_sql("SELECT id FROM clinician_profiles ORDER BY id")],
        "centres": [r["id"] for r in run_sql("SELECT id FROM centres ORDER BY id")],
        "today": run_sql(f"SELECT (now() AT TIME ZONE '{ZONE}')::date AS d")[0]["d"],
    }
    return Run(scale, DSN, counts, seed_seconds, slots, ids)


def start_api(run: Run) -> None:
    use_database(run.dsn)
    port = free_port()
    env = api_environment(port)
    run.token, run.user_id = admin_session(env)
    run.api_log = tempfile.TemporaryFile(mode="w+")
    run.api = subprocess.Popen([sys.executable, "-m", "mibo", "api"], env=env, cwd=ROOT, stderr=run.api_log)
    run.base = f"http://127.0.0.1:{port}"


def stop_api(run: Run) -> None:
    if run.api is None:
        return
    run.api.terminate()
    run.api.wait()
    run.api_log.seek(0)
    run.api_errors = collections.Counter(
        f"{entry.get('msg')}: {entry.get('exc', '').strip().rsplit(chr(10), 1)[-1]}"
        for entry in map(parse_log_line, run.api_log)
        if entry and entry.get("level") == "ERROR"
    )
    run.api_log.close()


async def measure_latencies(runs: list[Run], samples: int, rounds: int, unfiltered: int) -> None:
    """Every figure at every scale, interleaved: `rounds` rounds, each taking a share of the
    samples of each figure at each scale in turn (the first scale alternating), so that what
    else the machine does in the meantime falls on every scale alike."""
    sessions = {
        run.scale: aiohttp.ClientSession(headers={"Authorization": f"Bearer {run.token}"}) for run in runs
    }
    try:
        for run in runs:
            await wait_up(f"{run.base}/api/health")
        # The same clinicians (by rank), centres and days at every scale.
        paths = {run.scale: latency_paths(samples, run.ids, unfiltered) for run in runs}
        raw: dict = {run.scale: collections.defaultdict(list) for run in runs}
        chunk = math.ceil(samples / rounds)
        for r in range(rounds):
            for name in TARGETS:
                order = runs if r % 2 == 0 else runs[::-1]
                for run in order:
                    part = paths[run.scale][name][r * chunk : (r + 1) * chunk]
                    if part:
                        raw[run.scale][name] += await latencies(sessions[run.scale], run.base, part)
        # Seconds each at a large scale: one round, one warm-up request.
        for run in runs if unfiltered else []:
            raw[run.scale]["list_all"] = await latencies(
                sessions[run.scale], run.base, paths[run.scale]["list_all"], warmup=1
            )
        for run in runs:
            for name, values in raw[run.scale].items():
                run.results[name] = latency_summary(values)
                print(f"  {run.label} {name}: {run.results[name]}", flush=True)
    finally:
        for session in sessions.values():
            await session.close()


BOOKING_STEPS = ("http", "pgbench", "pgbench_inserts")


def measure_booking_step(run: Run, step: str, args, workdir: Path) -> None:
    """One booking load run at one scale: over HTTP (wrk), or pgbench with or without the reads."""
    use_database(run.dsn)
    if step == "http":
        run.results["http"], run.results["http_cpu"] = with_cpu_shares(
            run.api.pid, lambda: wrk_bookings(run.base, run.token, args.seconds, args.clients, workdir, first_slot=1)
        )
    else:
        script = workdir / f"{step}.sql"
        script.write_text(pgbench_script(run.user_id, with_reads=step == "pgbench"))
        run.results[step] = pgbench(script, args.seconds, args.clients)
    print(f"  {run.label} {step}: {run.results[step]}", flush=True)


def measure_bookings(runs: list[Run], args, workdir: Path) -> None:
    """Each step at every scale before the next step, the order of the scales alternating
    (1x 10x, 10x 1x, 1x 10x), so that a machine getting busier does not favour one scale."""
    for i, step in enumerate(BOOKING_STEPS):
        for run in runs if i % 2 == 0 else runs[::-1]:
            measure_booking_step(run, step, args, workdir)
    # The profile shows where a request's time goes; once, at the largest history.
    if not args.no_profile:
        last = runs[-1]
        last.results["profile"] = profile_bookings(
            last.api.pid, last.base, last.token, args.profile_seconds, args.clients, workdir
        )


def wait_for_quiet(max_load: float, patience: int = 300) -> None:
    """Wait (up to `patience` seconds) until the 1-minute load average is below max_load."""
    deadline = time.monotonic() + patience
    while max_load and os.getloadavg()[0] >= max_load and time.monotonic() < deadline:
        print(f"  waiting for a quieter machine: load average {os.getloadavg()[0]:.1f}", flush=True)
        time.sleep(10)


TARGETS = {"availability": 15, "list": 25, "dashboard": 50}
LABELS = {
    "availability": "GET /api/appointments/availability (1 clinician, 1 day)",
    "list": "GET /api/appointments (1 centre, 1 day, limit 100)",
    "dashboard": "GET /api/analytics/dashboard?period=month",
    "list_all": "GET /api/appointments (no parameters: what the admin panel loads)",
}
GROWTH_LIMIT = 1.5  # each latency at the largest scale within 1.5x of its figure at the smallest


def report_scale(run: Run, args) -> None:
    r, counts = run.results, run.counts
    print()
    print(
        f"=== ops bench {run.label}: {counts['appointments']} appointments, {counts['clinicians']} clinicians, "
        f"{counts['centres']} centres; {run.slots} free slots for bookings ==="
    )
    for name, target in TARGETS.items():
        f = r[name]
        verdict = "ok" if f["p99_ms"] < target else "MISSED"
        print(
            f"{LABELS[name]}: p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms, max {f['max_ms']} ms "
            f"over {f['requests']} sequential requests (target p99 < {target} ms: {verdict})"
        )
    if "list_all" in r:
        f = r["list_all"]
        print(
            f"{LABELS['list_all']}: p50 {f['p50_ms']} ms, max {f['max_ms']} ms over {f['requests']} "
            "sequential requests (no target)"
        )
    http, pg, pgi = r["http"], r["pgbench"], r["pgbench_inserts"]
    print(
        f"POST /api/appointments, {args.clients} clients (wrk): {http['per_second']:.0f} bookings/s "
        f"({http['created']} created in {http['seconds']:.1f} s, {http['failed_responses']} non-2xx, "
        f"p99 {http['p99']})"
    )
    print(
        f"  during it the API process used {r['http_cpu']['api_cores']} of a core and its PostgreSQL "
        f"backends {r['http_cpu']['postgres_cores']} cores ({os.cpu_count()} cores in all)"
    )
    print(
        f"pgbench, same SQL as the request (its transaction), {args.clients} clients: "
        f"{pg['tps']:.0f} tps ({pg['created']} created, avg latency {pg['latency_avg_ms']} ms)"
    )
    print(f"ratio HTTP / pgbench: {http['per_second'] / pg['tps']:.2f} (aim >= 0.5)")
    print(
        f"  for reference, pgbench of the transaction's four INSERTs alone: {pgi['tps']:.0f} tps "
        f"(ratio {http['per_second'] / pgi['tps']:.2f})"
    )
    if r.get("profile"):
        print()
        print(r["profile"])
    print()
    print(f"API errors logged: {sum(run.api_errors.values())}")
    for message, n in run.api_errors.most_common(5):
        print(f"  {n} x {message}")


def report_side_by_side(runs: list[Run]) -> bool:
    """A Markdown table, one column per scale and the growth of the largest over the smallest;
    True when every latency stays within GROWTH_LIMIT."""
    first, last = runs[0], runs[-1]
    growth_ok = True
    head = [f"{run.label} ({run.counts['appointments']:,} appointments)" for run in runs]
    print()
    print(f"=== side by side: the same hospital with {' / '.join(r.label for r in runs)} its history ===")
    print()
    print("| figure | " + " | ".join(head) + f" | {last.label} / {first.label} |")
    print("|---|" + "---|" * len(runs) + "---|")
    for name in TARGETS:
        cells = [f"{run.results[name]['p50_ms']} / {run.results[name]['p99_ms']} ms" for run in runs]
        g50 = last.results[name]["p50_ms"] / first.results[name]["p50_ms"]
        g99 = last.results[name]["p99_ms"] / first.results[name]["p99_ms"]
        ok = len(runs) == 1 or max(g50, g99) <= GROWTH_LIMIT
        growth_ok &= ok
        print(
            f"| {name} p50 / p99 | " + " | ".join(cells)
            + f" | {g50:.2f} / {g99:.2f} {'✔' if ok else '✘'} |"
        )
    if all("list_all" in run.results for run in runs):
        cells = [f"{run.results['list_all']['p50_ms']} / {run.results['list_all']['max_ms']} ms" for run in runs]
        g = last.results["list_all"]["p50_ms"] / first.results["list_all"]["p50_ms"]
        print("| list, no parameters p50 / max (no target) | " + " | ".join(cells) + f" | {g:.2f} (p50) |")

    def ratio(run: Run) -> float:
        return run.results["http"]["per_second"] / run.results["pgbench"]["tps"]
    cells = [
        f"{run.results['http']['per_second']:.0f}/s vs {run.results['pgbench']['tps']:.0f} tps: {ratio(run):.2f}"
        for run in runs
    ]
    print(
        "| booking HTTP vs pgbench (ratio) | " + " | ".join(cells)
        + f" | {last.results['http']['per_second'] / first.results['http']['per_second']:.2f}"
        f" (HTTP/s), {last.results['pgbench']['tps'] / first.results['pgbench']['tps']:.2f} (tps) |"
    )
    if len(runs) > 1:
        print()
        print(
            f"latencies at {last.label} within {GROWTH_LIMIT}x of {first.label}: "
            + ("yes" if growth_ok else "NO")
        )
    return growth_ok


def main(args) -> None:
    scales = sorted({int(s) for s in args.scales.split(",")})
    ensure_wrk()
    started = time.perf_counter()
    runs = [prepare_scale(scale, args.reseed) for scale in scales]
    if args.seed_only:
        return
    wait_for_quiet(args.max_load)
    load_before = os.getloadavg()[0]
    try:
        for run in runs:
            start_api(run)
        asyncio.run(measure_latencies(runs, args.samples, args.rounds, args.unfiltered_samples))
        with tempfile.TemporaryDirectory(prefix="ops-bench-") as tmp:
            measure_bookings(runs, args, Path(tmp))
    finally:
        for run in runs:
            stop_api(run)

    for run in runs:
        report_scale(run, args)
    report_side_by_side(runs)
    print(
        f"\n(total run {time.perf_counter() - started:.0f} s; 1-minute load average {load_before:.1f} "
        f"at the start, {os.getloadavg()[0]:.1f} at the end on {os.cpu_count()} cores: "
        "other work on the machine slows every figure)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--scales",
        default="1",
        help="comma-separated multiples of today's history, e.g. 1,10: N years of appointments at "
        "the same centres and clinicians, one database each (BENCH_DATABASE_URL, then <name>_x<N>)",
    )
    parser.add_argument("--seconds", type=int, default=10, help="length of each booking load run")
    parser.add_argument("--profile-seconds", type=int, default=8)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--samples", type=int, default=300, help="sequential requests per latency figure")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds the samples are split into")
    parser.add_argument(
        "--unfiltered-samples",
        type=int,
        default=10,
        help="GET /api/appointments with no parameters (seconds each at 10x); 0 skips it",
    )
    parser.add_argument("--reseed", action="store_true", help="drop and rebuild the data sets")
    parser.add_argument("--seed-only", action="store_true", help="seed (or reuse) the data sets and stop")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--max-load",
        type=float,
        default=0,
        help="first wait (up to 5 min) for the 1-minute load average to fall below this",
    )
    main(parser.parse_args())

"""Patient website benchmark (prints figures; not a test).

On the ops bench's data set (bench/ops_bench.py: 3 centres x 40 clinicians, a year of
appointments per unit of --scale, ~200k at 1), in a database of its own, with one API process:

1. p50/p99 of GET /api/booking/dates-with-slots for 60 days (target p99 < 40 ms) and of
   GET /api/booking/available-slots for one day (target p99 < 10 ms), sequential, no token,
   random clinicians and dates in the next 30 days.
2. Anonymous GET /api/users/clinicians requests/s, without and with If-None-Match (the 304
   path), each as a ratio to a bare aiohttp handler returning the same JSON (target >= 0.5).
3. Patient booking throughput: POST /api/booking/create into distinct free slots (each slot's
   own patient, with a patient token of their own) as a ratio to the staff booking path
   (POST /api/appointments into the same kind of slots), both with wrk in the same run.

BENCH_DATABASE_URL names the database (default mibo_bench_site); the seed is reused when fresh.
Usage: .venv/bin/python bench/patient_bench.py [--scale 1] [--seconds 10] [--clients 8] [--samples 300]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE_URL", "postgresql://127.0.0.1:5432/mibo_bench_site")

from bench import ops_bench  # noqa: E402
from bench.common import ensure_wrk, free_port, start_bare_server, wait_up, wrk  # noqa: E402
from mibo.core import config, tokens  # noqa: E402

RANGE_DAYS = 60

# One website session per patient of the slots booked, as the site would have after sign-in.
PATIENT_SESSIONS = """
INSERT INTO auth_sessions (user_id, audience, refresh_token_hash, expires_at)
SELECT DISTINCT pp.user_id, 'PATIENT', 'patient-bench', now() + interval '1 day'
FROM bench_slots s JOIN patient_profiles pp ON pp.id = s.patient_id
WHERE s.n >= %s AND s.n < %s
RETURNING id, user_id
"""

SLOTS_WITH_PATIENTS = """
SELECT s.clinician_id, s.centre_id, s.start_at, pp.user_id
FROM bench_slots s JOIN patient_profiles pp ON pp.id = s.patient_id
WHERE s.n >= %s AND s.n < %s ORDER BY s.n
"""

# Each line: the patient's token, a tab, the body; every request carries its own Authorization.
PATIENT_WRK_SCRIPT = """
local lines = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do
    local tab = line:find("\\t")
    lines[#lines + 1] = {line:sub(1, tab - 1), line:sub(tab + 1)}
  end
end
request = function()
  i = i + 1
  local entry = lines[(i - 1) % #lines + 1]
  return wrk.format("POST", "/api/booking/create",
                    {["Authorization"] = "Bearer " .. entry[1], ["Content-Type"] = "application/json"}, entry[2])
end
"""


def slot_paths(samples: int, ids: dict, clinician_centres: dict[int, int]) -> dict[str, list[str]]:
    rng = random.Random(11)
    dates, days = [], []
    for _ in range(samples):
        clinician = rng.choice(ids["clinicians"])
        query = f"clinicianId={clinician}&centreId={clinician_centres[clinician]}"
        first = ids["today"] + dt.timedelta(days=rng.randint(0, 30))
        dates.append(f"/api/booking/dates-with-slots?{query}&startDate={first}"
                     f"&endDate={first + dt.timedelta(days=RANGE_DAYS)}")
        days.append(f"/api/booking/available-slots?{query}&date={first}")
    return {"dates_with_slots_60d": dates, "available_slots": days}


async def slot_latencies(base: str, paths: dict[str, list[str]]) -> dict[str, dict]:
    async with aiohttp.ClientSession() as session:
        await wait_up(f"{base}/api/health")
        return {name: ops_bench.latency_summary(await ops_bench.latencies(session, base, batch))
                for name, batch in paths.items()}


async def catalogue_body(base: str) -> tuple[str, str]:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/api/users/clinicians") as resp:
        return await resp.text(), resp.headers["ETag"]


def catalogue_rates(base: str, seconds: int) -> dict:
    body, etag = asyncio.run(catalogue_body(base))
    bare_port = free_port()
    bare = start_bare_server(bare_port, "/api/users/clinicians", body)
    try:
        asyncio.run(wait_up(f"http://127.0.0.1:{bare_port}/api/users/clinicians"))
        bare_rps = wrk(f"http://127.0.0.1:{bare_port}/api/users/clinicians", seconds)
        full = wrk(f"{base}/api/users/clinicians", seconds)
        not_modified = wrk(f"{base}/api/users/clinicians", seconds, {"If-None-Match": etag})
    finally:
        bare.terminate()
        bare.wait()
    return {"bytes": len(body), "bare_rps": round(bare_rps), "catalogue_rps": round(full),
            "catalogue_304_rps": round(not_modified), "ratio": round(full / bare_rps, 2),
            "ratio_304": round(not_modified / bare_rps, 2)}


def patient_bodies(path: Path, settings: config.Settings, first: int, count: int) -> None:
    sessions = {row["user_id"]: row["id"] for row in ops_bench.run_sql(PATIENT_SESSIONS, (first, first + count))}
    with path.open("w") as out:
        for row in ops_bench.run_sql(SLOTS_WITH_PATIENTS, (first, first + count)):
            local = row["start_at"].astimezone(ZoneInfo(ops_bench.ZONE))
            token = tokens.access_token(settings, row["user_id"], sessions[row["user_id"]], tokens.PATIENT)
            body = {"clinicianId": row["clinician_id"], "centreId": row["centre_id"],
                    "appointmentDate": local.date().isoformat(), "appointmentTime": local.strftime("%H:%M"),
                    "appointmentType": "IN_PERSON", "patientNotes": ops_bench.BOOKING_MARK}
            out.write(f"{token}\t{json.dumps(body)}\n")


def wrk_patient_bookings(base: str, settings: config.Settings, seconds: int, clients: int, workdir: Path) -> dict:
    bodies = workdir / "patient_bodies.tsv"
    patient_bodies(bodies, settings, ops_bench.HTTP_SLOTS_PER_RUN + 1, ops_bench.HTTP_SLOTS_PER_RUN)
    script = workdir / "patient_book.lua"
    script.write_text(PATIENT_WRK_SCRIPT)
    before = ops_bench.run_sql(ops_bench.BENCH_BOOKINGS, (ops_bench.BOOKING_MARK,))[0]["count"]
    out = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "-s", str(script), base, "--",
                          str(bodies)], capture_output=True, text=True, check=True).stdout
    created = ops_bench.run_sql(ops_bench.BENCH_BOOKINGS, (ops_bench.BOOKING_MARK,))[0]["count"] - before
    elapsed = float(re.search(r"requests in ([\d.]+)s", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"created": created, "seconds": elapsed, "per_second": created / elapsed,
            "failed_responses": int(non_2xx.group(1)) if non_2xx else 0}


def main(args) -> None:
    ensure_wrk()
    run = ops_bench.prepare_scale(args.scale, args.reseed)
    ops_bench.run_sql("DELETE FROM auth_sessions WHERE refresh_token_hash = 'patient-bench'")
    centres = {row["id"]: row["primary_centre_id"]
               for row in ops_bench.run_sql("SELECT id, primary_centre_id FROM clinician_profiles")}
    ops_bench.start_api(run)
    settings = config.load(ops_bench.api_environment(1))  # the secrets the API signs with; the port is unused
    try:
        latency = asyncio.run(slot_latencies(run.base, slot_paths(args.samples, run.ids, centres)))
        catalogue = catalogue_rates(run.base, args.seconds)
        with tempfile.TemporaryDirectory(prefix="patient-bench-") as tmp:
            staff = ops_bench.wrk_bookings(run.base, run.token, args.seconds, args.clients, Path(tmp), first_slot=1)
            patient = wrk_patient_bookings(run.base, settings, args.seconds, args.clients, Path(tmp))
    finally:
        ops_bench.stop_api(run)
    print(f"\n{args.scale}x data set: {json.dumps(run.counts)}")
    for name, target in (("dates_with_slots_60d", 40), ("available_slots", 10)):
        figure = latency[name]
        print(f"{name}: p50 {figure['p50_ms']} ms, p99 {figure['p99_ms']} ms over {figure['requests']} requests "
              f"(target p99 < {target} ms {'ok' if figure['p99_ms'] < target else 'MISSED'})")
    print(f"anonymous GET /api/users/clinicians ({catalogue['bytes']} bytes): {catalogue['catalogue_rps']} req/s, "
          f"with If-None-Match (304) {catalogue['catalogue_304_rps']} req/s; bare aiohttp handler "
          f"{catalogue['bare_rps']} req/s: ratio {catalogue['ratio']} / {catalogue['ratio_304']} (target >= 0.5)")
    print(f"bookings over HTTP ({args.clients} clients): patient POST /api/booking/create "
          f"{patient['per_second']:.0f}/s ({patient['failed_responses']} refused), staff POST /api/appointments "
          f"{staff['per_second']:.0f}/s ({staff['failed_responses']} refused): ratio "
          f"{patient['per_second'] / staff['per_second']:.2f}")
    if run.api_errors:
        print(f"API errors: {dict(run.api_errors)}")
    print(f"(1-minute load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: other work slows every figure)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=1, help="years of history, as ops_bench --scales (1: ~200k)")
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--clients", type=int, default=8, help="connections of the booking runs")
    parser.add_argument("--samples", type=int, default=300, help="sequential requests per latency figure")
    parser.add_argument("--reseed", action="store_true", help="drop and rebuild the data set")
    main(parser.parse_args())

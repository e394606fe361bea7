"""Admin panel benchmark (prints figures; not a test).

The panel's heaviest page loads through its contract (mibo.api.legacy, /legacy/api/...) beside the
same data through the spec's routes, at the ops bench's data set (bench/ops_bench.py: 3 centres x 40
clinicians x 1 year, ~200k appointments; its seed is reused when fresh). One API process serves
both; sequential requests as an ADMIN, in interleaved rounds (legacy, spec, spec, legacy, ...) so
that the machine's other work falls on both alike. For each page: p50/p99 of a page load and the
ratio spec / legacy of each (>= 0.8: the translation costs at most a quarter more).

A page is a function of the data set's ids giving, per sample, the legacy request and the spec
requests that fetch the same rows (the panel never pages; the spec pages at 100): PAGES lists them.

Usage: BENCH_DATABASE_URL=postgresql://127.0.0.1:5432/mibo_bench_panel \
       .venv/bin/python bench/panel_bench.py [--samples 300] [--rounds 6] [--reseed] [--max-load 2]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ops_bench  # noqa: E402
from bench.common import wait_up  # noqa: E402

LEGACY = "/legacy/api"
SPEC_PAGE = 100  # the spec's largest page

# (legacy path, [spec paths]) for one sample of a page load
PageLoad = tuple[str, list[str]]


def clinicians_page(ids: dict, samples: int) -> list[PageLoad]:
    """The Clinicians page: every clinician at once; through the spec, page after page of 100."""
    pages = -(-len(ids["clinicians"]) // SPEC_PAGE)
    spec = [f"/api/clinicians?limit={SPEC_PAGE}&offset={n * SPEC_PAGE}" for n in range(pages)]
    return [(f"{LEGACY}/users/clinicians", spec)] * samples


def clinicians_of_a_centre_page(ids: dict, samples: int) -> list[PageLoad]:
    """The same page filtered to one centre (the centre picker): 40 rows, one spec page."""
    centres = ids["centres"]
    return [(f"{LEGACY}/users/clinicians?centreId={centres[n % len(centres)]}",
             [f"/api/clinicians?centreId={centres[n % len(centres)]}&limit={SPEC_PAGE}"]) for n in range(samples)]


# Appointments per centre and local day around today (the spec's list reads dates at each centre).
CENTRE_DAY_COUNTS = """
SELECT a.centre_id, (a.scheduled_start_at AT TIME ZONE c.timezone)::date AS day, count(*) AS n
FROM appointments a JOIN centres c ON c.id = a.centre_id
WHERE a.scheduled_start_at > now() - interval '32 days' AND a.scheduled_start_at < now() + interval '32 days'
GROUP BY 1, 2
"""


def centre_day_page(ids: dict, samples: int) -> list[PageLoad]:
    """Appointments of a centre for a day (Centre appointments, Block by centre), a random centre and
    a day of the last or next 30: every row at once; through the spec, as many pages of 100 as it takes."""
    counts = {(row["centre_id"], row["day"]): row["n"] for row in ops_bench.run_sql(CENTRE_DAY_COUNTS)}
    rng = random.Random(11)
    loads = []
    for _ in range(samples):
        centre, day = rng.choice(ids["centres"]), ids["today"] + dt.timedelta(days=rng.randint(-30, 30))
        query = f"centreId={centre}&date={day.isoformat()}"
        pages = max(1, -(-counts.get((centre, day), 0) // SPEC_PAGE))
        loads.append((f"{LEGACY}/appointments?{query}",
                      [f"/api/appointments?{query}&limit={SPEC_PAGE}&offset={n * SPEC_PAGE}" for n in range(pages)]))
    return loads


PAGES: dict[str, Callable[[dict, int], list[PageLoad]]] = {
    "clinicians list": clinicians_page,
    "clinicians of a centre": clinicians_of_a_centre_page,
    "appointments of a centre's day": centre_day_page,
}


async def timed(session: aiohttp.ClientSession, base: str, paths: list[str]) -> float:
    """ms to fetch every path in turn (one page load)."""
    started = time.perf_counter()
    for path in paths:
        async with session.get(base + path) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"GET {path}: {resp.status} {body[:300]!r}")
    return (time.perf_counter() - started) * 1000


async def measure(run: ops_bench.Run, samples: int, rounds: int) -> dict[str, dict[str, dict]]:
    results: dict[str, dict[str, dict]] = {}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {run.token}"}) as session:
        await wait_up(f"{run.base}/api/health")
        for name, page in PAGES.items():
            loads = page(run.ids, samples)
            for legacy, spec in loads[:20]:  # warm-up: caches, plans, connections
                await timed(session, run.base, [legacy])
                await timed(session, run.base, spec)
            legacy_ms, spec_ms = [], []
            chunk = -(-len(loads) // rounds)
            for r in range(rounds):
                for legacy, spec in loads[r * chunk:(r + 1) * chunk]:
                    if r % 2 == 0:
                        legacy_ms.append(await timed(session, run.base, [legacy]))
                        spec_ms.append(await timed(session, run.base, spec))
                    else:
                        spec_ms.append(await timed(session, run.base, spec))
                        legacy_ms.append(await timed(session, run.base, [legacy]))
            results[name] = {"legacy": ops_bench.latency_summary(legacy_ms),
                             "spec": ops_bench.latency_summary(spec_ms),
                             "spec requests": round(sum(len(spec) for _, spec in loads) / len(loads), 2)}
    return results


def report(results: dict[str, dict[str, dict]]) -> None:
    print("\n| page | legacy p50 / p99 ms | spec p50 / p99 ms (requests per load) | ratio spec/legacy p50, p99 |")
    print("|---|---|---|---|")
    for name, figures in results.items():
        legacy, spec = figures["legacy"], figures["spec"]
        p50 = spec["p50_ms"] / legacy["p50_ms"]
        p99 = spec["p99_ms"] / legacy["p99_ms"]
        verdict = "✔" if min(p50, p99) >= 0.8 else "✘"
        print(f"| {name} | {legacy['p50_ms']} / {legacy['p99_ms']} | {spec['p50_ms']} / {spec['p99_ms']}"
              f" ({figures['spec requests']}) | {p50:.2f}, {p99:.2f} {verdict} |")


def main(args) -> None:
    started = time.perf_counter()
    run = ops_bench.prepare_scale(1, args.reseed)
    ops_bench.wait_for_quiet(args.max_load)
    load_before = os.getloadavg()[0]
    try:
        ops_bench.start_api(run)
        results = asyncio.run(measure(run, args.samples, args.rounds))
    finally:
        ops_bench.stop_api(run)
    for name, figures in results.items():
        print(f"  {name}: {figures}")
    report(results)
    if run.api_errors:
        print(f"API errors: {dict(run.api_errors)}")
    print(f"\n(total run {time.perf_counter() - started:.0f} s; 1-minute load average {load_before:.1f} at the"
          f" start, {os.getloadavg()[0]:.1f} at the end on {os.cpu_count()} cores)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=300, help="page loads per page and contract")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds the samples are split into")
    parser.add_argument("--reseed", action="store_true", help="drop and rebuild the data set")
    parser.add_argument("--max-load", type=float, default=0,
                        help="first wait (up to 5 min) for the 1-minute load average to fall below this")
    main(parser.parse_args())

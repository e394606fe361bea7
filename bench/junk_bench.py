"""Junk benchmark (prints figures; not a test): what unauthenticated junk costs everyone else.

GET /api/health p50/p99 with nothing else running, then while 4 clients keep sending junk to
POST /api/auth/login/username-password, and the ratio of the p99s:
  - "at the limit": JSON objects of unknown keys just under the login route's body limit (4 KB),
    the largest body that is parsed at all;
  - "8 MB": the 700,000-key body that used to stall the loop, announced with its length; it is
    now refused before it is read.
The rate limits are raised out of the way, so every junk request is served in full. The junk
clients run in a process of their own; on one machine they still take CPU from the API.

Runs one API process on a free port against its own database (mibo_bench_junk).
Usage: .venv/bin/python bench/junk_bench.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port, wait_up  # noqa: E402
from mibo.api.resources.auth import AUTH_MAX_BODY  # noqa: E402
from mibo.core.migrate import ensure_database, migrate  # noqa: E402

DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://127.0.0.1:5432/mibo_bench_junk")
LOGIN = "/api/auth/login/username-password"
JUNK_CLIENTS = 4


def junk(size: int) -> bytes:
    """A JSON object of distinct unknown keys, at most `size` bytes."""
    parts, length, i = [], 2, 0
    while True:
        part = f'"junk{i}":{i}'
        if length + len(part) + 1 > size:
            break
        parts.append(part)
        length += len(part) + 1
        i += 1
    return ("{" + ",".join(parts) + "}").encode()


async def health_latencies(base: str, seconds: float) -> list[float]:
    latencies = []
    async with aiohttp.ClientSession() as session:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.get(f"{base}/api/health") as resp:
                await resp.read()
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)
    return sorted(latencies)


async def junk_client(base: str, body: bytes, deadline: float, answers: Counter) -> None:
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        while time.time() < deadline:
            try:
                async with session.post(f"{base}{LOGIN}", data=body, headers=headers) as resp:
                    await resp.read()
                    answers[resp.status] += 1
            except aiohttp.ClientError:  # the server closes a refused upload mid-body
                answers["closed"] += 1


def junk_process(base: str, size: int, deadline: float, results) -> None:
    """The junk clients, in a process of their own so that their work never delays the probe's loop."""
    body, answers = junk(size), Counter()

    async def run():
        await asyncio.gather(*(junk_client(base, body, deadline, answers) for _ in range(JUNK_CLIENTS)))

    asyncio.run(run())
    results.put(dict(answers))


async def under_junk(base: str, size: int, seconds: float) -> tuple[list[float], Counter]:
    results = multiprocessing.Queue()
    sender = multiprocessing.Process(target=junk_process, args=(base, size, time.time() + seconds + 1.5, results))
    sender.start()
    await asyncio.sleep(1)  # let the junk get going
    latencies = await health_latencies(base, seconds)
    answers = Counter(await asyncio.to_thread(results.get))
    sender.join()
    return latencies, answers


def p(latencies: list[float], q: float) -> float:
    return round(latencies[max(0, int(len(latencies) * q) - 1)], 2)


async def main(seconds: int) -> None:
    ensure_database(DSN)
    migrate(DSN)
    port = free_port()
    env = {**os.environ, "APP_ENV": "development", "DATABASE_URL": DSN, "PORT": str(port), "LOG_LEVEL": "WARNING",
           "RATE_LIMIT_LOGIN_PER_MINUTE": "10000", "RATE_LIMIT_CLIENT_PER_MINUTE": "100000"}
    api = subprocess.Popen([sys.executable, "-m", "mibo", "api"], env=env, cwd=ROOT)
    results = {}
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_up(f"{base}/api/health")
        await health_latencies(base, 1)  # warm up
        quiet = await health_latencies(base, seconds)
        results["no junk"] = (quiet, Counter())
        results[f"at the limit ({AUTH_MAX_BODY} B)"] = await under_junk(base, AUTH_MAX_BODY - 1, seconds)
        results["8 MB"] = await under_junk(base, 8_300_000, seconds)
    finally:
        api.terminate()
        api.wait()
    baseline = p(quiet, 0.99)
    for name, (latencies, answers) in results.items():
        ratio = p(latencies, 0.99) / baseline
        print(f"GET /api/health, {name}: {len(latencies)} requests, p50 {round(statistics.median(latencies), 2)} ms, "
              f"p99 {p(latencies, 0.99)} ms, max {round(latencies[-1], 2)} ms; p99 ratio to no junk {ratio:.2f}"
              + (f"; junk answers {json.dumps(dict(answers))}" if answers else ""))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    asyncio.run(main(parser.parse_args().seconds))

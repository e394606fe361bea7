"""Refund drain figures (not a test): `.venv/bin/python bench/refund_bench.py`.

N captured Razorpay payments (made at the sandbox: an order, then a captured payment each), then
N refund requests committed as fast as one connection allows, or at --rate per second
(mibo.domain.refunds.request, each in its own transaction with its outbox step, as the API does).
Real workers drain them through the sandbox: issue_refund looks the refund up by its receipt,
creates it, stores it PROCESSING; the sandbox settles it and posts its signed refund.processed
webhook to the API, which stores it; the worker applies it (PROCESSED). Printed: the time from each request's commit to
PROCESSING and to PROCESSED (p50 / p99 / max), and the whole drain.

Everything is private to the run: a database `mibo_bench_refunds` (dropped and re-created), a
redis-server on a free port, the sandbox, the API and the workers as subprocesses.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port, recreate_database, wait_up  # noqa: E402
from mibo.core import config, db  # noqa: E402
from mibo.core.actor import CLI, Actor  # noqa: E402
from mibo.domain import refunds  # noqa: E402

DB_NAME = "mibo_bench_refunds"
FEE_PAISE = 150_000

SEED = """
INSERT INTO centres (name, city, timezone) VALUES ('Bench centre', 'bangalore', 'Asia/Kolkata');
INSERT INTO users (phone, full_name, user_type) VALUES ('+918000000001', 'Dr Bench', 'STAFF');
INSERT INTO clinician_profiles (user_id, primary_centre_id, specialization, consultation_fee)
  SELECT id, 1, 'Psychiatry', 1500 FROM users WHERE phone = '+918000000001';
INSERT INTO users (phone, full_name, user_type)
  SELECT '+9190' || lpad(n::text, 8, '0'), 'Patient ' || n, 'PATIENT' FROM generate_series(1, %(n)s) n;
INSERT INTO patient_profiles (user_id) SELECT id FROM users WHERE user_type = 'PATIENT' ORDER BY id;
"""

# Patient k's CONFIRMED appointment in the k-th half hour from `day`, and its captured payment.
PAID_APPOINTMENT = """
WITH a AS (
  INSERT INTO appointments (patient_id, clinician_id, centre_id, appointment_type, scheduled_start_at,
                            scheduled_end_at, duration_minutes, status, source)
  VALUES (%(k)s, 1, 1, 'IN_PERSON', %(start)s, %(start)s + interval '30 minutes', 30, 'CONFIRMED', 'ADMIN_FRONT_DESK')
  RETURNING id, patient_id)
INSERT INTO payments (patient_id, appointment_id, provider, channel, order_id, payment_id, amount, currency,
                      status, paid_at)
SELECT patient_id, id, 'RAZORPAY', 'CHECKOUT', %(order_id)s, %(payment_id)s, 1500, 'INR', 'SUCCESS', now() FROM a
RETURNING id
"""

TIMES = """
SELECT EXTRACT(EPOCH FROM processing_at - created_at) AS to_processing,
       EXTRACT(EPOCH FROM processed_at - created_at) AS to_processed
FROM refunds WHERE status = 'PROCESSED'
"""


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


async def captured_at_sandbox(http: aiohttp.ClientSession, settings, n: int) -> list[tuple[str, str]]:
    """(order id, payment id) of n payments captured at the sandbox."""
    auth = {"Authorization": aiohttp.encode_basic_auth(settings.razorpay_key_id, settings.razorpay_key_secret)}
    made = []
    for k in range(n):
        async with http.post(f"{settings.sandbox_url}/razorpay/v1/orders", headers=auth, json={
                "amount": FEE_PAISE, "currency": "INR", "receipt": f"bench-{k}"}) as resp:
            order = await resp.json()
        async with http.post(f"{settings.sandbox_url}/_sandbox/razorpay/pay",
                             json={"orderId": order["id"], "outcome": "captured"}) as resp:
            made.append((order["id"], (await resp.json())["payment"]["id"]))
    return made


def quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))]


async def main(args) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mibo-refund-bench-"))
    redis_port, sandbox_port, api_port = free_port(), free_port(), free_port()
    env = dict(os.environ, APP_ENV="development", DATABASE_URL=recreate_database(DB_NAME),
               REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", SANDBOX_URL=f"http://127.0.0.1:{sandbox_port}",
               LOG_LEVEL="WARNING", WORKER_METRICS_PORT="0", PYTHONPATH=str(ROOT), OUTBOX_RELAY_INTERVAL="1")
    settings = config.load(env)
    procs = [subprocess.Popen(["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no",
                               "--dir", str(workdir)], stdout=subprocess.DEVNULL)]
    procs.append(start([str(ROOT / ".venv/bin/mibo"), "sandbox", "--port", str(sandbox_port)], env,
                       workdir / "sandbox.log"))
    procs.append(start([str(ROOT / ".venv/bin/mibo"), "api", "--port", str(api_port)], env, workdir / "api.log"))
    procs.append(start([str(ROOT / ".venv/bin/dramatiq"), "jobs.worker", "--processes", str(args.processes),
                        "--threads", str(args.threads)], env, workdir / "worker.log"))
    pool = await db.create_pool(settings, minsize=2, maxsize=10)
    try:
        await wait_up(f"{settings.sandbox_url}/_sandbox/requests")
        await wait_up(f"http://127.0.0.1:{api_port}/api/health")
        async with aiohttp.ClientSession() as http:
            async with http.put(f"{settings.sandbox_url}/_sandbox/razorpay/refunds", json={
                    "outcome": "processed", "delay": 0,
                    "webhookUrl": f"http://127.0.0.1:{api_port}/api/payments/webhook"}) as resp:
                assert resp.status == 200, await resp.text()
            made = await captured_at_sandbox(http, settings, args.refunds)
        day = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
        async with db.connection(pool) as cur:
            await cur.execute(SEED, {"n": args.refunds})
            payment_ids = []
            for k, (order_id, payment_id) in enumerate(made):
                payment_ids.append(await db.fetch_value(cur, PAID_APPOINTMENT, {
                    "k": k + 1, "start": day + timedelta(minutes=30 * k), "order_id": order_id,
                    "payment_id": payment_id}))
        print(f"refunds: {args.refunds} captured payments at the sandbox; workers: {args.processes} x"
              f" {args.threads} threads")
        await asyncio.sleep(3)  # the workers have booted by now
        staff = Actor.system(CLI, "refund-bench")
        started = time.monotonic()
        for k, payment_id in enumerate(payment_ids):
            async with db.transaction(pool) as cur:
                await refunds.request(cur, staff, payment_id, None, "Bench refund")
            if args.rate:
                await asyncio.sleep(max(0.0, started + (k + 1) / args.rate - time.monotonic()))
        requested = time.monotonic() - started
        print(f"  requests committed:   {args.refunds} in {requested:.2f} s ({args.refunds / requested:.0f}/s)")
        while await db.query_value(pool, "SELECT count(*) FROM refunds WHERE status = 'PROCESSED'") < args.refunds:
            if time.monotonic() - started > args.timeout:
                stuck = await db.query_all(pool, "SELECT status, count(*) FROM refunds GROUP BY status")
                raise RuntimeError(f"drain timed out: {stuck}; logs in {workdir}")
            await asyncio.sleep(0.2)
        drained = time.monotonic() - started
        rows = await db.query_all(pool, TIMES)
        at_razorpay = await db.query_value(pool, "SELECT count(DISTINCT razorpay_refund_id) FROM refunds")
        print(f"  drained (PROCESSED):  {args.refunds} in {drained:.1f} s ({args.refunds / drained:.0f}/s);"
              f" {at_razorpay} distinct refunds at the sandbox")
        for label, key in (("request -> PROCESSING", "to_processing"), ("request -> PROCESSED ", "to_processed")):
            values = sorted(float(r[key]) for r in rows)
            print(f"  {label}: p50 {statistics.median(values) * 1000:.0f} ms, p99 {quantile(values, 0.99) * 1000:.0f}"
                  f" ms, max {values[-1] * 1000:.0f} ms")
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(30)
        pool.close()
        await pool.wait_closed()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refunds", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rate", type=float, default=0, help="requests per second (0: as fast as possible)")
    parser.add_argument("--timeout", type=float, default=600)
    asyncio.run(main(parser.parse_args()))

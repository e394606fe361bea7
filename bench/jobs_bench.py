"""Job throughput and latency figures (not a test): `.venv/bin/python bench/jobs_bench.py`.

1. Reminders: 100k appointments tomorrow; time for the scheduler's reminder job to queue them
   (outbox INSERT ... SELECT) and to publish them to Redis (the sweep), then time for real
   workers to drain them through the provider sandbox (reminder step + WhatsApp send each, the
   send queued through the outbox and published by the relay).
2. Latency: bookings committed at 20/s (appointment + outbox row in one transaction, as the API
   does) with the API's relay running; p50/p99 from commit to notification_logs.sent_at
   (when the sandbox's Gallabox accepted the message).

Everything is private to the run: a database `mibo_bench_jobs` (dropped and re-created), a
redis-server on a free port, the sandbox and the workers as subprocesses.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port, recreate_database  # noqa: E402
from jobs import scheduler  # noqa: E402
from mibo.core import config, db, relay  # noqa: E402

DB_NAME = "mibo_bench_jobs"
KOLKATA = ZoneInfo("Asia/Kolkata")

SEED = """
INSERT INTO centres (name, city, timezone) VALUES ('Bench centre', 'bangalore', 'Asia/Kolkata');
INSERT INTO users (phone, full_name, user_type)
  SELECT '+9180' || lpad(n::text, 8, '0'), 'Clinician ' || n, 'STAFF' FROM generate_series(1, %(people)s) n;
INSERT INTO users (phone, full_name, user_type)
  SELECT '+9190' || lpad(n::text, 8, '0'), 'Patient ' || n, 'PATIENT' FROM generate_series(1, %(people)s) n;
INSERT INTO clinician_profiles (user_id, primary_centre_id, specialization)
  SELECT id, 1, 'Psychiatry' FROM users WHERE user_type = 'STAFF' ORDER BY id;
INSERT INTO patient_profiles (user_id) SELECT id FROM users WHERE user_type = 'PATIENT' ORDER BY id;
"""

# Clinician k and patient k meet in every half hour of tomorrow (local): no overlaps.
APPOINTMENTS = """
INSERT INTO appointments (patient_id, clinician_id, centre_id, appointment_type, scheduled_start_at,
                          scheduled_end_at, duration_minutes, status, source)
SELECT k, k, 1, 'IN_PERSON', %(day)s + s * interval '30 minutes', %(day)s + (s + 1) * interval '30 minutes',
       30, 'BOOKED', 'ADMIN_FRONT_DESK'
FROM generate_series(1, %(people)s) k, generate_series(0, 47) s
LIMIT %(count)s
"""

BOOKING = """
WITH a AS (
  INSERT INTO appointments (patient_id, clinician_id, centre_id, appointment_type, scheduled_start_at,
                            scheduled_end_at, duration_minutes, status, source)
  VALUES (%(k)s, %(k)s, 1, 'IN_PERSON', %(start)s, %(start)s + interval '30 minutes', 30, 'BOOKED',
          'ADMIN_FRONT_DESK')
  RETURNING id)
INSERT INTO outbox (actor_name, args) SELECT 'appointment_booked', jsonb_build_array(id) FROM a RETURNING args
"""


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


async def count(pool, sql: str, params=None) -> int:
    return await db.query_value(pool, sql, params)


async def wait_sent(pool, expected: int, limit: float) -> float:
    started = time.monotonic()
    while await count(pool, "SELECT count(*) FROM notification_logs WHERE status = 'SENT'") < expected:
        if time.monotonic() - started > limit:
            raise RuntimeError("drain timed out")
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def reminders(settings, pool, publisher, n: int) -> None:
    today_local = datetime.now(KOLKATA).date()
    tomorrow = datetime.combine(today_local + timedelta(days=1), datetime.min.time(), tzinfo=KOLKATA)
    now = datetime.combine(today_local, datetime.min.time(), tzinfo=KOLKATA) + timedelta(hours=10)
    people = -(-n // 48)
    async with db.connection(pool) as cur:
        await cur.execute(SEED, {"people": people})
        await cur.execute(APPOINTMENTS, {"day": tomorrow, "people": people, "count": n})
    print(f"reminders: {n} appointments tomorrow ({people} clinicians x 48 slots)")
    t0 = time.monotonic()
    queued = await scheduler.enqueue_reminders(pool, now)
    t1 = time.monotonic()
    published = await relay.publish_pending(pool, publisher)
    t2 = time.monotonic()
    print(f"  queue (outbox INSERT ... SELECT): {queued} rows in {t1 - t0:.2f} s")
    print(f"  publish to Redis (sweep):         {published} messages in {t2 - t1:.2f} s")
    print(f"  sweep total:                      {t2 - t0:.2f} s")


async def drain(pool, n: int, limit: float) -> None:
    seconds = await wait_sent(pool, n, limit)
    print(f"  drain through the sandbox:        {n} WhatsApp messages in {seconds:.1f} s"
          f" ({n / seconds:.0f}/s)")


async def latency(pool, bookings: int, rate: float) -> None:
    base = await db.query_value(pool, "SELECT COALESCE(max(id), 0) FROM notification_logs")
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=5)
    committed: dict[int, datetime] = {}

    async def one(k: int):
        async with db.transaction(pool) as cur:
            row = await db.fetch_one(cur, BOOKING, {"k": k % 2000 + 1,
                                                    "start": day + timedelta(minutes=30 * (k // 2000))})
        committed[row["args"][0]] = datetime.now(UTC)

    tasks = []
    started = time.monotonic()
    for k in range(bookings):
        tasks.append(asyncio.create_task(one(k)))
        await asyncio.sleep(max(0.0, started + (k + 1) / rate - time.monotonic()))
    await asyncio.gather(*tasks)
    deadline = time.monotonic() + 60
    sent = "SELECT count(*) FROM notification_logs WHERE id > %s AND status = 'SENT'"
    while await count(pool, sent, (base,)) < bookings:
        if time.monotonic() > deadline:
            raise RuntimeError("latency run did not finish")
        await asyncio.sleep(0.2)
    rows = await db.query_all(pool, "SELECT appointment_id, sent_at FROM notification_logs WHERE id > %s",
                              (base,))
    delays = sorted((r["sent_at"] - committed[r["appointment_id"]]).total_seconds() for r in rows)
    p50 = statistics.median(delays)
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    print(f"latency: {bookings} bookings at {rate:.0f}/s, commit -> WhatsApp sent:"
          f" p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms")


def start_services(workdir: Path) -> tuple[dict, list[subprocess.Popen]]:
    """A private redis-server and the sandbox; returns the environment for our processes."""
    redis_port, sandbox_port = free_port(), free_port()
    env = dict(os.environ, APP_ENV="development", DATABASE_URL=recreate_database(DB_NAME),
               REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", SANDBOX_URL=f"http://127.0.0.1:{sandbox_port}",
               LOG_LEVEL="WARNING", WORKER_METRICS_PORT="0", PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen(["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no",
                               "--dir", str(workdir)], stdout=subprocess.DEVNULL)]
    procs.append(subprocess.Popen([str(ROOT / ".venv/bin/mibo"), "sandbox", "--port", str(sandbox_port)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_port(redis_port)
    wait_port(sandbox_port)
    return env, procs


def start_workers(env: dict, workdir: Path, processes: int, threads: int) -> subprocess.Popen:
    with open(workdir / "worker.log", "w") as log:
        command = [str(ROOT / ".venv/bin/dramatiq"), "jobs.worker", "--processes", str(processes),
                   "--threads", str(threads)]
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


async def main(args) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mibo-bench-"))
    env, procs = start_services(workdir)
    settings = config.load(env)
    pool = await db.create_pool(settings, minsize=2, maxsize=20)
    publisher = relay.Publisher(settings)
    try:
        await reminders(settings, pool, publisher, args.appointments)
        # The relay an API process runs: each reminder step queues its send through the outbox.
        relay_task = asyncio.create_task(relay.run_relay(pool, settings, publisher))
        procs.append(start_workers(env, workdir, args.processes, args.threads))
        await drain(pool, args.appointments, args.drain_timeout)
        await latency(pool, args.bookings, args.rate)
        relay_task.cancel()
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(30)
        publisher.close()
        pool.close()
        await pool.wait_closed()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appointments", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--bookings", type=int, default=400)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--drain-timeout", type=float, default=1800)
    asyncio.run(main(parser.parse_args()))

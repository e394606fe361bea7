"""Fault runs of the job chains (not a test): `.venv/bin/python bench/faults.py`.

Each run starts a private system: two API processes, two workers, two schedulers, the provider
sandbox and a redis-server that keeps nothing (no AOF, no RDB), all on ports of their own. It
books BOOKINGS appointments over HTTP (a third of them ONLINE) at RATE a second, round robin over
the two APIs, lands one fault while the work is in flight, waits for the system to settle, and
counts what the patients and the calendar got from the sandbox:

    messages missing      bookings whose WhatsApp booking message never reached Gallabox
    messages duplicated   extra copies of a booking message; "in window" are those whose send was
                          in flight (claimed, outcome not yet written) when a worker was killed
    events missing        ONLINE bookings without their Calendar event (and, separately, without
                          a Meet link stored)

It also prints the measured window of a WhatsApp send: from the committed attempt to the
committed outcome (the provider call included), and the part of it after Gallabox accepted the
message, the only part in which a crash can lead to a second copy.

Leases are shortened (OUTBOX_LEASE, NOTIFICATION_LEASE below) so that a run settles in a couple of
minutes; production keeps the defaults (10 and 2 minutes), which only make recovery slower.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import psycopg2
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port, recreate_database, wait_up  # noqa: E402
from mibo.core import config, db  # noqa: E402
from mibo.providers.google_calendar import event_id_for  # noqa: E402
from mibo.seed import seed_demo  # noqa: E402

DB_NAME = "mibo_bench_faults"
CLINICIANS = 20
LEASES = {"OUTBOX_LEASE": "60", "NOTIFICATION_LEASE": "20"}

PEOPLE = """
INSERT INTO users (username, phone, email, full_name, user_type)
  SELECT 'fault.dr' || n, '+9181' || lpad(n::text, 8, '0'), 'dr' || n || '@mibo.example', 'Dr Fault ' || n, 'STAFF'
  FROM generate_series(1, %(clinicians)s) n;
INSERT INTO clinician_profiles (user_id, primary_centre_id, specialization, consultation_fee)
  SELECT id, 1, 'Psychiatry', 1000 FROM users WHERE username LIKE 'fault.dr%%' ORDER BY id;
INSERT INTO clinician_availability_rules (clinician_id, centre_id, day_of_week, start_time, end_time,
                                          slot_duration_minutes)
  SELECT cp.id, 1, d, '00:00', '23:30', 30
  FROM clinician_profiles cp JOIN users u ON u.id = cp.user_id, generate_series(0, 6) d
  WHERE u.username LIKE 'fault.dr%%';
INSERT INTO users (phone, email, full_name, user_type)
  SELECT '+9191' || lpad(n::text, 8, '0'), 'patient' || n || '@mibo.example', 'Patient ' || n, 'PATIENT'
  FROM generate_series(1, %(patients)s) n;
INSERT INTO patient_profiles (user_id) SELECT id FROM users WHERE phone LIKE '+9191%%' ORDER BY id;
"""

CLINICIAN_IDS = """
SELECT cp.id FROM clinician_profiles cp JOIN users u ON u.id = cp.user_id
WHERE u.username LIKE 'fault.dr%%' ORDER BY cp.id
"""

PATIENTS = """
SELECT pp.id, u.phone FROM patient_profiles pp JOIN users u ON u.id = pp.user_id
WHERE u.phone LIKE '+9191%%' ORDER BY pp.id
"""

IN_FLIGHT = "SELECT id FROM notification_logs WHERE status <> 'SENT' AND lease_until > now()"

SENT_WINDOWS = """
SELECT n.recipient_phone, EXTRACT(EPOCH FROM n.sent_at - n.attempt_started_at) AS attempt, n.sent_at
FROM notification_logs n WHERE n.status = 'SENT' AND n.kind = 'APPOINTMENT_BOOKED'
"""


class Redis:
    """Our own redis-server: stop, restart empty, or restart from the snapshot it last SAVEd."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    def start(self, *, from_snapshot: bool = False) -> None:
        snapshot = self.workdir / "dump.rdb"
        if not from_snapshot and snapshot.exists():
            snapshot.unlink()
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--dbfilename", "dump.rdb"], stdout=subprocess.DEVNULL)
        for _ in range(200):
            try:
                self.client().ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def save(self) -> None:
        self.client().save()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # as a crash: nothing written on the way down
            self.process.wait(10)
            self.process = None

    def queued(self) -> int:
        return self.client().llen("dramatiq:default")

    def held_by_workers(self) -> list[int]:
        """Messages each worker has taken and not acknowledged yet."""
        client = self.client()
        return [client.scard(key) for key in client.keys("dramatiq:__acks__.*")]


class System:
    """api x2, worker x2, scheduler x2 and the sandbox, each a subprocess of its own."""

    def __init__(self, env: dict, workdir: Path):
        self.env = env
        self.workdir = workdir
        self.api_ports = [free_port(), free_port()]
        self.sandbox_port = int(env["SANDBOX_URL"].rsplit(":", 1)[1])
        self.others: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen | None] = [None, None]

    def _start(self, name: str, command: list[str], **extra) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115  (kept open for the child's lifetime)
        process = subprocess.Popen(command, env={**self.env, **extra}, cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return process

    async def start(self) -> None:
        mibo = str(ROOT / ".venv/bin/mibo")
        self.others.append(self._start("sandbox", [mibo, "sandbox", "--port", str(self.sandbox_port)]))
        await wait_up(f"http://127.0.0.1:{self.sandbox_port}/_sandbox/requests")
        for i, port in enumerate(self.api_ports):
            self.others.append(self._start(f"api{i}", [mibo, "api", "--port", str(port)]))
        for i in range(2):
            self.others.append(self._start(f"scheduler{i}", [mibo, "scheduler"]))
            self.start_worker(i)
        for port in self.api_ports:
            await wait_up(f"http://127.0.0.1:{port}/api/health", 30)

    def start_worker(self, i: int) -> None:
        self.workers[i] = self._start(f"worker{i}", [str(ROOT / ".venv/bin/dramatiq"), "jobs.worker",
                                                     "--processes", "1", "--threads", "4"])

    def kill_worker(self, i: int) -> None:
        os.killpg(self.workers[i].pid, signal.SIGKILL)
        self.workers[i].wait(10)

    def stop(self) -> None:
        for process in [*self.workers, *self.others]:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [*self.workers, *self.others]:
            if process is None:
                continue
            try:
                process.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


@dataclass
class Fault:
    name: str
    act: Callable[[Bench, Fault], Awaitable[None]]  # lands the fault while the bookings go on
    latency: float = 0.0  # seconds every Gallabox and Google call waits at the sandbox
    rate: float | None = None  # bookings a second, when not the command line's
    in_flight_at_kill: set[int] = field(default_factory=set)


class Bench:
    def __init__(self, args, database_url: str):
        self.args = args
        self.database_url = database_url

    async def run(self, fault: Fault) -> dict:
        workdir = Path(tempfile.mkdtemp(prefix="mibo-faults-"))
        self.redis = Redis(workdir)
        self.redis.start()
        reset_database(self.database_url)
        env = dict(os.environ, APP_ENV="development", DATABASE_URL=self.database_url, REDIS_URL=self.redis.url,
                   SANDBOX_URL=f"http://127.0.0.1:{free_port()}", LOG_LEVEL="WARNING", WORKER_METRICS_PORT="0",
                   SCHEDULER_METRICS_PORT="0", PYTHONPATH=str(ROOT), OTP_CHANNEL="console", DB_POOL_MIN="1",
                   DB_POOL_MAX="6", **LEASES)
        settings = config.load(env)
        self.system = System(env, workdir)
        pool = await db.create_pool(settings, minsize=1, maxsize=4)
        self.pool = pool
        try:
            await self.system.start()
            async with aiohttp.ClientSession() as http:
                self.http = http
                sandbox = f"http://127.0.0.1:{self.system.sandbox_port}"
                if fault.latency:
                    for provider in ("gallabox", "google"):
                        await http.post(f"{sandbox}/_sandbox/faults", json={
                            "provider": provider, "delay": fault.latency, "count": 100_000})
                token = await self.login()
                booking = asyncio.create_task(self.book(token, fault.rate or self.args.rate))
                started = time.monotonic()
                await fault.act(self, fault)
                booked = await booking
                await self.settle(booked)
                report = await self.count(fault, booked, sandbox)
                report["seconds"] = round(time.monotonic() - started)
                return report
        finally:
            self.system.stop()
            self.redis.stop()
            pool.close()
            await pool.wait_closed()

    async def login(self) -> str:
        url = f"http://127.0.0.1:{self.system.api_ports[0]}/api/auth/login/username-password"
        async with self.http.post(url, json={"username": "admin", "password": "Mibo@2026"}) as resp:
            body = await resp.json()
        return body["data"]["accessToken"]

    async def book(self, token: str, rate: float) -> dict[int, tuple[str, str]]:
        """BOOKINGS appointments at `rate` a second; {appointment id: (kind, patient phone)} of those answered 201."""
        clinicians = [row["id"] for row in await db.query_all(self.pool, CLINICIAN_IDS)]
        patients = await db.query_all(self.pool, PATIENTS)
        day = (datetime.now(UTC) + timedelta(days=3)).replace(hour=4, minute=30, second=0, microsecond=0)
        booked: dict[int, tuple[str, str]] = {}
        headers = {"Authorization": f"Bearer {token}"}

        async def one(k: int) -> None:
            kind = "ONLINE" if k % 3 == 0 else "IN_PERSON"
            port = self.system.api_ports[k % 2]
            body = {"patientId": patients[k]["id"], "clinicianId": clinicians[k % CLINICIANS], "centreId": 1,
                    "appointmentType": kind,
                    "scheduledStartAt": (day + timedelta(minutes=30 * (k // CLINICIANS))).isoformat()}
            async with self.http.post(f"http://127.0.0.1:{port}/api/appointments", json=body,
                                      headers=headers) as resp:
                if resp.status == 201:
                    booked[(await resp.json())["data"]["id"]] = (kind, patients[k]["phone"])

        started = time.monotonic()
        tasks = []
        for k in range(self.args.bookings):
            tasks.append(asyncio.create_task(one(k)))
            await asyncio.sleep(max(0.0, started + (k + 1) / rate - time.monotonic()))
        await asyncio.gather(*tasks)
        return booked

    async def settle(self, booked: dict) -> float:
        """Wait until every booking has its message sent and every ONLINE one its link (or time runs out)."""
        started = time.monotonic()
        online = sum(1 for kind, _ in booked.values() if kind == "ONLINE")
        while time.monotonic() - started < self.args.settle_timeout:
            sent = await db.query_value(self.pool, "SELECT count(*) FROM notification_logs WHERE status = 'SENT'")
            links = await db.query_value(self.pool, "SELECT count(*) FROM appointments WHERE meet_link IS NOT NULL")
            if sent >= len(booked) and links >= online:
                break
            await asyncio.sleep(1)
        await asyncio.sleep(5)  # late copies (a request a killed worker left in flight) land
        return time.monotonic() - started

    async def count(self, fault: Fault, booked: dict, sandbox: str) -> dict:
        async with self.http.get(f"{sandbox}/_sandbox/gallabox/messages") as resp:
            messages = (await resp.json())["messages"]
        async with self.http.get(f"{sandbox}/_sandbox/requests", params={"provider": "google"}) as resp:
            google = (await resp.json())["requests"]
        per_phone = Counter(m["phone"] for m in messages if m["templateName"].startswith("appointment_booked"))
        phones = {phone.removeprefix("+"): appointment for appointment, (_, phone) in booked.items()}
        missing = sum(1 for phone in phones if per_phone[phone] == 0)
        extra = {phone: n - 1 for phone, n in per_phone.items() if n > 1}
        in_flight = await db.query_all(self.pool, "SELECT recipient_phone FROM notification_logs WHERE id = ANY(%s)",
                                       (list(fault.in_flight_at_kill),))
        window_phones = {row["recipient_phone"].removeprefix("+") for row in in_flight}
        events = {r["body"]["id"] for r in google
                  if r["method"] == "POST" and r["path"].endswith("/events") and r["status"] == 200}
        online = [a for a, (kind, _) in booked.items() if kind == "ONLINE"]
        links = {row["id"] for row in await db.query_all(
            self.pool, "SELECT id FROM appointments WHERE meet_link IS NOT NULL")}
        # The copy whose outcome was written is the last one (a first copy lost with a killed worker
        # is the crash the window is about, not part of it).
        accepted = {m["phone"]: datetime.fromisoformat(m["time"]) for m in messages}
        attempts, after_accept = [], []
        for row in await db.query_all(self.pool, SENT_WINDOWS):
            attempts.append(float(row["attempt"]))
            phone = row["recipient_phone"].removeprefix("+")
            if phone in accepted:
                after_accept.append((row["sent_at"] - accepted[phone]).total_seconds())
        return {
            "fault": fault.name, "bookings": len(booked), "missing": missing,
            "duplicated": sum(extra.values()),
            "in_window": sum(n for phone, n in extra.items() if phone in window_phones),
            "events_missing": sum(1 for a in online if event_id_for(f"mibo-appt-{a}") not in events),
            "links_missing": sum(1 for a in online if a not in links), "online": len(online),
            "attempt_ms": _spread(attempts), "after_accept_ms": _spread(after_accept),
        }


def _spread(seconds: list[float]) -> tuple[float, float, float]:
    if not seconds:
        return (0.0, 0.0, 0.0)
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (round(statistics.median(ordered) * 1000, 1), round(p99 * 1000, 1), round(ordered[-1] * 1000, 1))


def reset_database(url: str) -> None:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    " AND tablename NOT IN ('roles', 'schema_migrations')")
        tables = ", ".join(row[0] for row in cur.fetchall())
        cur.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    conn.close()
    settings = config.load({"DATABASE_URL": url})
    seed_demo(settings)
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute(PEOPLE, {"clinicians": CLINICIANS, "patients": 1000})
    conn.close()


async def until(check, timeout: float = 60) -> bool:
    """Poll `check` (sync or async) until it is true; False if `timeout` passed first."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)


async def snapshot_in_flight(bench: Bench, fault: Fault) -> None:
    fault.in_flight_at_kill |= {row["id"] for row in await db.query_all(bench.pool, IN_FLIGHT)}


async def kill_then_empty_redis(bench: Bench, fault: Fault) -> None:
    """kill -9 one worker at +15 s and stop Redis for 20 s; Redis comes back empty, the worker too."""
    await asyncio.sleep(15)
    bench.system.kill_worker(0)
    await snapshot_in_flight(bench, fault)
    bench.redis.stop()
    await asyncio.sleep(20)
    bench.redis.start()
    bench.system.start_worker(0)


async def kill_holding(bench: Bench, fault: Fault) -> None:
    """kill -9 both workers once each holds at least 8 messages; both start again a second later."""
    def holding():
        held = bench.redis.held_by_workers()
        return len(held) >= 2 and min(held) >= 8
    if not await until(holding):
        raise RuntimeError("the workers never held 8 messages each")
    for i in range(2):
        bench.system.kill_worker(i)
    await snapshot_in_flight(bench, fault)
    await asyncio.sleep(1)
    for i in range(2):
        bench.system.start_worker(i)


async def empty_redis_with_queue(bench: Bench, fault: Fault) -> None:
    """Redis restarted empty while it holds queued messages (at least 100, or what 30 s brought)."""
    await until(lambda: bench.redis.queued() >= 100, timeout=30)
    fault.name = f"Redis restarted empty while holding {bench.redis.queued()} queued messages"
    bench.redis.stop()
    bench.redis.start()


async def snapshot_reload(bench: Bench, fault: Fault) -> None:
    """Redis saved, then crashed 3 s later and restarted from that snapshot after a 10 s outage."""
    await until(lambda: bench.redis.queued() >= 20, timeout=30)
    bench.redis.save()
    await asyncio.sleep(3)
    bench.redis.stop()
    await asyncio.sleep(10)
    bench.redis.start(from_snapshot=True)


FAULTS = [
    Fault("worker kill -9 at +15 s, Redis stopped 20 s and restarted empty", kill_then_empty_redis),
    Fault("the same with 0.3 s of provider latency", kill_then_empty_redis, latency=0.3),
    Fault("kill -9 while each worker held 8 messages", kill_holding, latency=0.3, rate=40),
    Fault("Redis restarted empty while holding queued messages", empty_redis_with_queue, latency=0.5, rate=40),
    Fault("Redis saved and reloaded, 10 s outage", snapshot_reload, latency=0.3, rate=40),
]


async def main(args) -> None:
    database_url = recreate_database(DB_NAME)
    bench = Bench(args, database_url)
    reports = []
    for fault in FAULTS if args.only is None else [FAULTS[args.only]]:
        report = await bench.run(fault)
        reports.append(report)
        print(f"  {report['fault']}: {report}", flush=True)
    print()
    print(f"{args.bookings} bookings per run, 1/3 ONLINE, at {args.rate:.0f}/s (the last three runs: 40/s)"
          f" over api x2; worker x2 (4 threads), scheduler x2; Redis without AOF or RDB; leases {LEASES}")
    print()
    print("| fault | bookings | messages missing | duplicated (in window) | events missing | Meet links missing |")
    print("|---|---|---|---|---|---|")
    for r in reports:
        print(f"| {r['fault']} | {r['bookings']} | {r['missing']} | {r['duplicated']} ({r['in_window']})"
              f" | {r['events_missing']} of {r['online']} | {r['links_missing']} |")
    print()
    print("seconds per run (bookings, fault, settling): " + ", ".join(str(r["seconds"]) for r in reports))
    print("WhatsApp send window, p50 / p99 / max in ms: attempt committed -> outcome committed;"
          " Gallabox accepted -> outcome committed")
    for r in reports:
        print(f"  {r['fault']}: {' / '.join(map(str, r['attempt_ms']))};"
              f" {' / '.join(map(str, r['after_accept_ms']))}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--settle-timeout", type=float, default=240)
    parser.add_argument("--only", type=int, help="run one fault only (its index)")
    asyncio.run(main(parser.parse_args()))

"""Helpers for the job tests: appointment rows with their outbox row, a private Redis server,
a real Dramatiq worker subprocess, and polling with a deadline.

The workflow tests never touch the machine's shared Redis on 6379: they start their own
redis-server on a free port, which they may stop and restart at will.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis

from mibo.core import outbox
from mibo.core.config import Settings
from tests.factories import insert_appointment_row

ROOT = Path(__file__).resolve().parent.parent
DRAMATIQ = ROOT / ".venv" / "bin" / "dramatiq"

@dataclass
class People:
    centre_id: int
    clinician_id: int
    clinician_phone: str
    patient_id: int
    patient_phone: str


async def people(factory, *, timezone: str = "Asia/Kolkata") -> People:
    centre_id = await factory.centre(timezone=timezone)
    clinician = await factory.staff("CLINICIAN", [centre_id], login=False)
    patient = await factory.patient(full_name="Asha Patient")
    return People(centre_id, clinician.clinician_id, clinician.phone, patient["id"], patient["phone"])


def future_slot(index: int = 0, days: int = 3) -> datetime:
    """Distinct 30-minute slots (the exclusion constraints forbid overlaps)."""
    base = (datetime.now(UTC) + timedelta(days=days)).replace(hour=4, minute=30, second=0, microsecond=0)
    return base + timedelta(hours=index)


async def insert_appointment(cur, who: People, start: datetime, kind: str = "ONLINE",
                             status: str = "BOOKED") -> int:
    """`who`'s appointment, on the caller's cursor (to share its transaction)."""
    return await insert_appointment_row(cur, patient_id=who.patient_id, clinician_id=who.clinician_id,
                                        centre_id=who.centre_id, start=start, kind=kind, status=status)


async def book(pool, who: People, start: datetime, kind: str = "ONLINE") -> int:
    """An appointment and its appointment_booked outbox row, in one transaction (as the API does)."""
    async with pool.acquire() as conn, conn.cursor() as cur:
        async with cur.begin():
            appointment_id = await insert_appointment(cur, who, start, kind)
            await cur.execute("INSERT INTO outbox (actor_name, args) VALUES (%s, %s::jsonb)",
                              (outbox.APPOINTMENT_BOOKED, json.dumps([appointment_id])))
    return appointment_id


async def wait_for(check, timeout: float = 20.0, interval: float = 0.1, what="condition"):  # noqa: ASYNC109
    """Poll `check` (sync or async) until it returns something truthy, or fail after `timeout`.

    `what` may be a callable (e.g. reading a worker's log), evaluated only on failure."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {described}")
        await asyncio.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of our own on a free port, so that a test may stop and restart it."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def flush(self) -> None:
        client = redis.Redis.from_url(self.url)
        client.flushall()
        client.close()


class Worker:
    """`dramatiq jobs.worker` as a subprocess in its own process group (so SIGKILL takes all of it)."""

    def __init__(self, env: dict[str, str], log_path: Path, threads: int = 2):
        self.env = env
        self.log_path = log_path
        self.threads = threads
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115  (kept open for the child's lifetime)
        self.process = subprocess.Popen(
            [str(DRAMATIQ), "jobs.worker", "--processes", "1", "--threads", str(self.threads)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """SIGKILL the whole group (a crash); SIGTERM only the main process, which forwards it
        (a second SIGTERM straight to the child would turn the graceful stop into a hard one)."""
        if self.process is None:
            return
        try:
            if sig == signal.SIGKILL:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def start_scheduler(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """`mibo scheduler` as a subprocess, its output in log_path."""
    with open(log_path, "wb") as log:
        return subprocess.Popen([str(ROOT / ".venv" / "bin" / "mibo"), "scheduler"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a worker or scheduler subprocess using the test's database, Redis and sandbox."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "APP_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SANDBOX_URL": settings.sandbox_url,
        "LOG_LEVEL": "WARNING",
        "WORKER_METRICS_PORT": "0",
        "PYTHONUNBUFFERED": "1",
        "PYTHONWARNINGS": "ignore",
        **extra,
    }



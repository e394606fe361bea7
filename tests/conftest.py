"""Test set-up: a real PostgreSQL database migrated once per run, a real Redis, and the app.

Each test starts from empty tables (all but the reference tables are truncated after it)
and an empty Redis database. MIBO_TEST_DB / MIBO_TEST_REDIS_DB pick other ones, so that
two suites can run side by side on one machine.
"""

from __future__ import annotations

import os

import psycopg2
import pytest
import redis.asyncio as aioredis
from psycopg2 import sql

from mibo.api.app import init_app
from mibo.core import config, db
from mibo.core.migrate import migrate
from tests.factories import Factory
from tests.jobs_support import PrivateRedis
from tests.sandbox_support import running_sandbox

# In-process actors (jobs/) bind to Dramatiq's StubBroker, whichever test module imports them
# first; the workflow tests run real workers as subprocesses with a real Redis broker.
os.environ.setdefault("MIBO_BROKER", "stub")
# Modules that read settings from the environment at import (jobs.broker): an unset APP_ENV is production.
os.environ.setdefault("APP_ENV", "test")

TEST_DB = os.environ.get("MIBO_TEST_DB", "mibo_test")
TEST_REDIS_DB = int(os.environ.get("MIBO_TEST_REDIS_DB", "15"))
PG_HOST = "postgresql://127.0.0.1:5432"
KEEP_TABLES = {"roles", "schema_migrations"}


class RecordingOtpSender:
    """The pluggable OTP delivery of mibo.domain.otp, keeping what it sent so tests can log in."""

    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    async def send(self, phone: str, otp: str, expiry_minutes: int) -> None:
        self.sent.append((phone, otp))

    def last_for(self, phone: str) -> str:
        return next(code for sent_phone, code in reversed(self.sent) if sent_phone == phone)


def _recreate_database() -> None:
    admin = psycopg2.connect(f"{PG_HOST}/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEST_DB)))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEST_DB)))
    admin.close()


@pytest.fixture(scope="session")
def settings() -> config.Settings:
    return config.load({
        "APP_ENV": "test",
        "DATABASE_URL": f"{PG_HOST}/{TEST_DB}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{TEST_REDIS_DB}",
        "DB_POOL_MIN": "1",
        "DB_POOL_MAX": "20",
        "LOG_LEVEL": "WARNING",
    })


@pytest.fixture(scope="session")
def migrated(settings) -> list[str]:
    """Tables to empty between tests. The database is rebuilt and migrated once per run."""
    _recreate_database()
    migrate(settings.database_url)
    conn = psycopg2.connect(settings.database_url)
    with conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = sorted(row[0] for row in cur.fetchall() if row[0] not in KEEP_TABLES)
    conn.close()
    return tables


@pytest.fixture
async def pool(settings, migrated):
    pool = await db.create_pool(settings, minsize=1)
    yield pool
    async with pool.acquire() as conn, conn.cursor() as cur:
        truncate = sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
            sql.SQL(", ").join(map(sql.Identifier, migrated))).as_string(conn.raw)
        for attempt in range(3):
            try:
                await cur.execute(truncate)
                break
            except psycopg2.errors.DeadlockDetected:
                # A process of the test (a worker, a relay) may still be writing as it shuts down;
                # PostgreSQL then aborts one side, and the emptying is simply tried again.
                if attempt == 2:
                    raise
    pool.close()
    await pool.wait_closed()


@pytest.fixture
async def redis(settings):
    client = aioredis.from_url(settings.redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def otp_sender() -> RecordingOtpSender:
    return RecordingOtpSender()


@pytest.fixture
def app(settings, pool, redis, otp_sender):
    return init_app(settings, pool=pool, redis=redis, otp_sender=otp_sender)


@pytest.fixture
async def client(aiohttp_client, app):
    return await aiohttp_client(app)


@pytest.fixture
def factory(pool, settings) -> Factory:
    return Factory(pool, settings)


@pytest.fixture
async def sandbox(aiohttp_server, settings):
    """The provider sandbox on a test server; `sandbox.settings` point the provider clients at it."""
    async with running_sandbox(aiohttp_server, settings) as running:
        yield running


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of the test's own, which it may stop and restart (the real worker's broker)."""
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def e2e_settings(sandbox, private_redis):
    """The sandbox's settings on the private Redis, with a relay that sweeps every second."""
    return sandbox.settings.replace(redis_url=private_redis.url, outbox_relay_interval=1)

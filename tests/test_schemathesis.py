"""The API against its own OpenAPI document, fuzzed by schemathesis: every operation, as ADMIN and as
a FRONT_DESK user, and the patient website's own (/api/patient/) as a patient, with a few generated
requests each. Every answer must be no server error, have a documented status code and content
type, and match the documented response schema.

schemathesis calls over HTTP with requests (synchronously), so the API and the provider sandbox run
on an event loop of their own in a thread, on free ports, against the test database. Each call gets
a fresh session token (a logout or a deactivation must not end the run), and the rows the calls
need live at ids no generated small integer will hit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import hypothesis
import psycopg2
import pytest
import redis as redis_sync
import schemathesis
from aiohttp import web
from psycopg2 import sql

from mibo.api.app import init_app
from mibo.core import db, tokens
from mibo.providers.sandbox import create_sandbox_app
from tests.factories import Factory

EXAMPLES_PER_OPERATION = 8
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]
FIRST_ID = 5_000_000  # far above anything the generated path ids hit often (1, 0, small numbers)


class ServedApi:
    """The API and the sandbox, each on a free port, served by a thread's own event loop."""

    def __init__(self, settings):
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="schemathesis-api", daemon=True)
        self.runners: list[web.AppRunner] = []
        self.base_url = ""

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def _start(self):
        sandbox_url = await self._serve(create_sandbox_app(self.settings))
        self.settings = self.settings.replace(sandbox_url=sandbox_url)
        self.pool = await db.create_pool(self.settings, minsize=1)
        self.base_url = await self._serve(init_app(self.settings, pool=self.pool))

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    def start(self):
        self.thread.start()
        assert self.ready.wait(30), "the API did not start"

    def stop(self):
        async def shutdown():
            for runner in reversed(self.runners):
                await runner.cleanup()
            self.pool.close()
            await self.pool.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def execute(settings, statement, params=()):
    conn = psycopg2.connect(settings.database_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchone() if cur.description else None
    finally:
        conn.close()


def build_world(settings) -> dict[str, int]:
    """A centre with an admin, a front desk, a clinician (with weekly hours), a patient and a booking."""
    for sequence in ("centres_id_seq", "users_id_seq", "clinician_profiles_id_seq", "patient_profiles_id_seq",
                     "appointments_id_seq"):
        execute(settings, sql.SQL("ALTER SEQUENCE {} RESTART WITH %s").format(sql.Identifier(sequence)),
                (FIRST_ID,))
    return asyncio.run(write_world(settings))


async def write_world(settings) -> dict[str, int]:
    pool = await db.create_pool(settings, minsize=1)
    try:
        factory = Factory(pool, settings)
        centre = await factory.centre("Fuzz Centre")
        world = {"centre": centre}
        for n, role in enumerate(("ADMIN", "FRONT_DESK", "CLINICIAN")):
            staff = await factory.staff(role, [centre], login=False, phone=f"+91990000{n:04d}",
                                        username=f"fuzz.{role.lower()}", full_name=f"Fuzz {role.title()}")
            world[role] = staff.id
        for day in range(7):
            await factory.availability_rule(staff.clinician_id, centre, day)
        patient = await factory.patient("Fuzz Patient", "+919800000099")
        world["PATIENT"] = patient["user_id"]
        appointment = await factory.appointment(patient_id=patient["id"], clinician_id=staff.clinician_id,
                                                centre_id=centre, start=dt.datetime.now(dt.UTC) + dt.timedelta(days=3))
        # What the patient's own pages list: a payment and two notifications (one about no appointment).
        await factory.payment(patient_id=patient["id"], appointment_id=appointment, status="FAILED")
        for key, about in (("fuzz:1", appointment), ("fuzz:2", None)):
            await factory.fetchone(
                "INSERT INTO patient_notifications (patient_id, kind, title, message, appointment_id, event_key)"
                " VALUES (%s, 'APPOINTMENT_BOOKED', 'Booked', 'Your appointment is booked.', %s, %s) RETURNING id",
                (patient["id"], about, key))
        return world
    finally:
        pool.close()
        await pool.wait_closed()


def empty_everything(settings, migrated):
    execute(settings, sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
        sql.SQL(", ").join(map(sql.Identifier, migrated))))
    client = redis_sync.Redis.from_url(settings.redis_url)
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def served(settings, migrated):
    empty_everything(settings, migrated)
    world = build_world(settings)
    api = ServedApi(settings.replace(rate_limit_login_per_minute=10_000, rate_limit_client_per_minute=100_000))
    api.start()
    try:
        yield api, world
    finally:
        api.stop()
        empty_everything(settings, migrated)


def fresh_token(api: ServedApi, user_id: int, audience: str = tokens.STAFF) -> str:
    session = execute(api.settings, "INSERT INTO auth_sessions (user_id, audience, refresh_token_hash, expires_at)"
                                    " VALUES (%s, %s, 'fuzz', now() + interval '1 hour') RETURNING id",
                      (user_id, audience))[0]
    return tokens.access_token(api.settings, user_id, session, audience)


FUZZ = hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                           suppress_health_check=list(hypothesis.HealthCheck), phases=[hypothesis.Phase.generate])


def fuzz_every_operation(served, role: str, audience: str = tokens.STAFF, prefix: str = "/api/",
                         at_least: int = 60, generated_tokens: bool = True) -> None:
    """Each operation of the served document under `prefix` in turn; the failures of all of them
    reported together. schemathesis puts a generated Authorization header on most cases; with
    `generated_tokens` false every call carries the caller's own token instead."""
    api, world = served
    document = schemathesis.openapi.from_url(f"{api.base_url}/api/openapi.json")
    failures, operations = [], 0
    for result in document.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(prefix):
            continue
        operations += 1

        @FUZZ
        @hypothesis.given(case=operation.as_strategy())
        def run(case):
            # Reactivate the caller if an earlier request deactivated them (DELETE /api/users/{id}).
            execute(api.settings, "UPDATE users SET is_active = TRUE WHERE id = %s AND NOT is_active",
                    (world[role],))
            headers = {"Authorization": f"Bearer {fresh_token(api, world[role], audience)}"}
            if not generated_tokens and case.headers:
                case.headers.pop("Authorization", None)
            if case.headers and "Authorization" in case.headers:
                headers = {}  # the generated request tests an Authorization header of its own
            case.call_and_validate(base_url=api.base_url, headers=headers, checks=CHECKS, timeout=30)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - every operation's failure is collected, then reported
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert operations >= at_least
    assert not failures, f"{len(failures)} of {operations} operations failed:\n" + "\n\n".join(failures)


def test_every_operation_as_admin(served):
    fuzz_every_operation(served, "ADMIN")


def test_every_operation_as_front_desk(served):
    fuzz_every_operation(served, "FRONT_DESK")


def test_the_patient_websites_own_operations_as_a_patient(served):
    fuzz_every_operation(served, "PATIENT", tokens.PATIENT, "/api/patient/", at_least=8, generated_tokens=False)

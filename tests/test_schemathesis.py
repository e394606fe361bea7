"""The API against its own OpenAPI document, fuzzed by schemathesis, each call signed in for real:
every operation of the spec's API (/api/) as ADMIN and as a FRONT_DESK user, every operation a patient
token may call as a patient, and the admin panel's contract (/legacy/api/) as ADMIN, with a few
generated requests each. Every answer must be no server error, have a documented status code and
content type, and match the documented response schema. One more pass sends the made-up token
schemathesis derives from the document's bearer security: a documented 401 everywhere.

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
import hypothesis.strategies as st
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

# Generated requests per operation, per pass: the whole file stays within a few minutes on two cores.
EXAMPLES = {"ADMIN": 20, "FRONT_DESK": 8, "PATIENT": 40, "PANEL": 20}
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]
# The world's rows start here, far above anything the generated path ids hit often (1, 0, small numbers);
# half the generated cases name the first row of each kind instead (see at_the_worlds_rows).
FIRST_ID = 5_000_000


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
        self.app = init_app(self.settings, pool=self.pool)
        self.base_url = await self._serve(self.app)

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
                     "appointments_id_seq", "payments_id_seq", "patient_notifications_id_seq"):
        execute(settings, sql.SQL("ALTER SEQUENCE {} RESTART WITH %s").format(sql.Identifier(sequence)),
                (FIRST_ID,))
    return asyncio.run(write_world(settings))


async def write_world(settings) -> dict[str, int]:
    pool = await db.create_pool(settings, minsize=1)
    try:
        factory = Factory(pool, settings)
        centre = await factory.centre("Fuzz Centre")
        world = {"centre": centre}
        # The first user, whom /api/users/{id} at FIRST_ID changes or deactivates: none of the callers.
        await factory.staff("FRONT_DESK", [centre], login=False, phone="+919900009999", username="fuzz.target",
                            full_name="Fuzz Target")
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


class Caller:
    """Who the calls of one pass come from: a fresh session token for each call (a logout or a
    deactivation must not end the run), over one database connection kept for the pass."""

    def __init__(self, api: ServedApi, user_id: int, audience: str):
        self.api, self.user_id, self.audience = api, user_id, audience
        self.conn = psycopg2.connect(api.settings.database_url)
        self.conn.autocommit = True

    def headers(self) -> dict[str, str]:
        with self.conn.cursor() as cur:
            # Reactivate the caller if an earlier request deactivated them (DELETE /api/users/{id}).
            cur.execute("UPDATE users SET is_active = TRUE WHERE id = %s AND NOT is_active", (self.user_id,))
            cur.execute("INSERT INTO auth_sessions (user_id, audience, refresh_token_hash, expires_at)"
                        " VALUES (%s, %s, 'fuzz', now() + interval '1 hour') RETURNING id",
                        (self.user_id, self.audience))
            session = cur.fetchone()[0]
        token = tokens.access_token(self.api.settings, self.user_id, session, self.audience)
        return {"Authorization": f"Bearer {token}"}

    def close(self):
        self.conn.close()


def fuzz_settings(examples: int) -> hypothesis.settings:
    return hypothesis.settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                               suppress_health_check=list(hypothesis.HealthCheck),
                               phases=[hypothesis.Phase.generate])


def served_document(api: ServedApi, generated_tokens: bool = False):
    """The served document; by default schemathesis generates no Authorization header of its own
    (the document declares bearer security), so that every call carries the caller's real token."""
    document = schemathesis.openapi.from_url(f"{api.base_url}/api/openapi.json")
    document.config.generation.update(with_security_parameters=generated_tokens)
    return document


def handlers(api: ServedApi) -> dict[tuple[str, str], object]:
    """(method, documented path) -> the handler that serves it, sub-applications included."""
    return {(route.method, route.resource.canonical): route.handler
            for route in api.app.router.routes() if route.resource is not None}


def at_the_worlds_rows(case, real_ids: bool):
    """With `real_ids`, every integer path id names the world's first row of its kind, so the fuzz
    reaches what the handlers do with a row, not only their 404."""
    if real_ids:
        for name, value in (case.path_parameters or {}).items():
            if isinstance(value, int):
                case.path_parameters[name] = FIRST_ID
    return case


def cases(operation):
    """Requests that fit the document and, for an operation with input to get wrong (a body, a query,
    an id), requests that do not: a bad input must be a documented 4xx too, never a 500."""
    fitting = st.builds(at_the_worlds_rows, operation.as_strategy(), st.booleans())
    has_input = "requestBody" in operation.definition.raw or any(
        parameter.location == "query" or parameter.definition.get("schema", {}).get("type") == "integer"
        for parameter in operation.iter_parameters())
    return st.one_of(fitting, operation.as_strategy(schemathesis.GenerationMode.NEGATIVE)) if has_input else fitting


def fuzz_each(document, wanted, test_for, at_least: int) -> None:
    """Run `test_for(operation)` (a hypothesis test) for each operation that `wanted(operation)` picks;
    the failures of all of them reported together."""
    failures, operations = [], 0
    for result in document.get_all_operations():
        operation = result.ok()
        if not wanted(operation):
            continue
        operations += 1
        try:
            test_for(operation)()
        except Exception as exc:  # noqa: BLE001 - every operation's failure is collected, then reported
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert operations >= at_least
    assert not failures, f"{len(failures)} of {operations} operations failed:\n" + "\n\n".join(failures)


def fuzz_operations(served, role: str, audience: str, wanted, examples: int, at_least: int) -> None:
    """Each operation of the served document that `wanted(operation, handler)` picks, every call with
    the caller's own token."""
    api, world = served
    served_by = handlers(api)
    caller = Caller(api, world[role], audience)

    def test_for(operation):
        @fuzz_settings(examples)
        @hypothesis.given(case=cases(operation))
        def run(case):
            assert "Authorization" not in (case.headers or {}), "a generated token would replace the caller's"
            case.call_and_validate(base_url=api.base_url, headers=caller.headers(), checks=CHECKS, timeout=30)
        return run

    try:
        fuzz_each(served_document(api),
                  lambda operation: wanted(operation, served_by[(operation.method.upper(), operation.path)]),
                  test_for, at_least)
    finally:
        caller.close()


def spec_api(operation, handler) -> bool:
    return operation.path.startswith("/api/")


def admin_panel(operation, handler) -> bool:
    return operation.path.startswith("/legacy/api/")


def open_to_patients(operation, handler) -> bool:
    """What a patient token may call: the website's own routes and the staff routes that take patients too."""
    return getattr(handler, "accepts_patients", False)


def test_every_operation_as_admin(served):
    fuzz_operations(served, "ADMIN", tokens.STAFF, spec_api, EXAMPLES["ADMIN"], at_least=120)


def test_every_operation_as_front_desk(served):
    fuzz_operations(served, "FRONT_DESK", tokens.STAFF, spec_api, EXAMPLES["FRONT_DESK"], at_least=120)


def test_every_operation_open_to_patients_as_a_patient(served):
    fuzz_operations(served, "PATIENT", tokens.PATIENT, open_to_patients, EXAMPLES["PATIENT"], at_least=25)


def test_the_admin_panels_operations_as_admin(served):
    fuzz_operations(served, "ADMIN", tokens.STAFF, admin_panel, EXAMPLES["PANEL"], at_least=90)


def test_a_made_up_token_is_refused_with_the_documented_error(served):
    """With the generated Authorization header schemathesis derives from the document's bearer
    security, every operation that needs a token answers 401 with the documented error body."""
    api, _ = served

    def needs_a_token(operation) -> bool:
        security = operation.definition.raw.get("security")
        return bool(security) and {} not in security  # not public, and the token is not optional

    def test_for(operation):
        @fuzz_settings(1)
        @hypothesis.given(case=operation.as_strategy())
        def run(case):
            # Where the document offers two bearer schemes (a token or the service token) schemathesis
            # generates neither: the call then has no Authorization header, a 401 all the same.
            response = case.call_and_validate(base_url=api.base_url, checks=CHECKS, timeout=30)
            assert response.status_code == 401, response.text
            if case.method.upper() != "HEAD":
                assert response.json()["error"]["code"] in ("UNAUTHORIZED", "INVALID_TOKEN")
        return run

    fuzz_each(served_document(api, generated_tokens=True), needs_a_token, test_for, at_least=180)

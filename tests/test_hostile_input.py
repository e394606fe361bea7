"""Bad input is a 4xx, never a 500 — thrown at every route that reads a body or a query.

The routes and their schemas come from the app itself (each handler's @documented body/query),
so a new route is covered the day it is added. For each one a plausible valid body is built from the schema, then each
field in turn is replaced by hostile values: NUL bytes, huge and 19+ digit integers, year 0 and
9999, naive datetimes, long strings, wrong JSON types. As ADMIN, every answer must be < 500.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from marshmallow import fields, validate

from mibo.api.access import PUBLIC
from mibo.api.app import init_app
from mibo.core import config
from tests.factories import PASSWORD, unique_phone
from tests.ops_helpers import insert_appointment

PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")

HUGE_INTS = [2**63, 10**30, -(2**63) - 1, int("9" * 19), -1, 0]
ANY_FIELD = [None, [], {}, True, "\u0000", "a\u0000b"]
STRINGS = ["x" * 100_000, "\u0000" * 3, "\ud7ff\uffff", 12345, "' OR 1=1 --", "\ud800", "a\udfffb"]
INTEGERS = [*HUGE_INTS, 1.5, "1" * 19, "1" * 40, "12abc", 1e300]
DATES = ["0000-01-01", "0001-01-01", "9999-12-31", "2026-02-30", "-1-01-01"]
DATETIMES = [
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59-14:00",
    "2030-01-01T10:00:00",  # no offset
    "2030-01-01T10:00:00+23:59",
    "0000-01-01T00:00:00Z",
]
DECIMALS = ["NaN", "Infinity", "1e400", 10**30, -1, "0.001"]
LONG_QUERY = "x" * 5_000  # a longer request line is refused by aiohttp's parser, before the app
QUERY_EXTRA = {"limit": ["0", "-1", "1000", "9" * 30], "offset": ["9" * 19, "-1", "9" * 30, "\u0000"]}
WHOLE_BODIES = ["[]", "null", '"x"', "1", '{"\\u0000": 1}', "[" * 50_000, '{"a": ' * 50_000, "1e400"]


def _settings():
    return config.load({"APP_ENV": "test", "DATABASE_URL": "postgresql://127.0.0.1:5432/unused",
                        "REDIS_URL": "redis://127.0.0.1:6379/0"})


def schema_routes():
    """(method, path, body schema, query schema) for every route that reads a body or a query."""
    app = init_app(_settings())
    found = []
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS"):
            continue
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter")
        doc = getattr(route.handler, "api_doc", None)
        body = doc.body if doc else None
        query = doc.query if doc else None
        if body or query:
            found.append((route.method, path, body, query, getattr(route.handler, "permission", None)))
    return found


ROUTES = schema_routes()


def test_the_walk_finds_the_routes():
    names = {(method, path) for method, path, *_ in ROUTES}
    assert ("POST", "/api/appointments") in names
    assert ("GET", "/api/patients") in names
    assert ("POST", "/api/auth/login/username-password") in names
    assert len(ROUTES) >= 40


class World:
    """Real rows for ids, so a valid body gets past the 404s and down to the database."""

    def __init__(self, factory):
        self.factory = factory

    async def build(self):
        f = self.factory
        self.centre = await f.centre()
        self.admin = await f.staff("ADMIN", [self.centre])
        self.clinician = await f.staff("CLINICIAN", [self.centre])
        self.patient = await f.patient()
        self.appointment = await insert_appointment(
            f, patient_id=self.patient["id"], clinician_id=self.clinician.clinician_id, centre_id=self.centre,
        )
        return self

    def ids(self) -> dict[str, int]:
        return {
            "centre": self.centre, "clinician": self.clinician.clinician_id, "patient": self.patient["id"],
            "appointment": self.appointment, "user": self.clinician.id,
        }

    def path_id(self, path: str, name: str) -> int:
        if name != "id":
            return 999_999
        for prefix, key in (("/api/centres", "centre"), ("/api/users", "user"), ("/api/clinicians", "clinician"),
                            ("/api/patients", "patient"), ("/api/appointments", "appointment"),
                            ("/api/payments/patient", "patient"), ("/api/video/appointment", "appointment")):
            if path.startswith(prefix):
                return self.ids()[key]
        return 999_999

    def id_for(self, name: str) -> int:
        for key, value in self.ids().items():
            if key in name:
                return value
        return 1


def _range_min(field) -> int | None:
    for validator in field.validators:
        if isinstance(validator, validate.Range) and validator.min is not None:
            return validator.min
    return None


def valid_value(name: str, field, world: World):
    """A plausible value for a field, so that one hostile field at a time reaches the handler."""
    for validator in field.validators:
        if isinstance(validator, validate.OneOf):
            return validator.choices[0]
    if isinstance(field, fields.Nested):
        return valid_body(field.schema, world)
    if isinstance(field, fields.List):
        return [valid_value(name, field.inner, world)]
    if isinstance(field, fields.Integer):
        if name.endswith("id") or name.endswith("Id"):
            return world.id_for(name.lower())
        return max(_range_min(field) or 1, {"dayOfWeek": 0}.get(name, 30))
    if isinstance(field, fields.Decimal | fields.Float):
        return 100
    if isinstance(field, fields.Boolean):
        return True
    if isinstance(field, fields.AwareDateTime | fields.DateTime):
        return (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).replace(microsecond=0).isoformat()
    if isinstance(field, fields.Date):
        return (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).date().isoformat()
    if isinstance(field, fields.Email):
        return "someone@example.test"
    if "phone" in name.lower():
        return unique_phone()
    if "password" in name.lower():
        return PASSWORD
    lowered = name.lower()
    for part, value in (("time", "10:00"), ("otp", "123456"), ("signature", "a" * 64), ("razorpay", "order_X1"),
                        ("username", "hostile.user"), ("pincode", "560001")):
        if part in lowered:
            return value
    return "Hostile Test"


def valid_body(schema, world: World) -> dict:
    schema = schema() if isinstance(schema, type) else schema
    return {f.data_key or name: valid_value(f.data_key or name, f, world)
            for name, f in schema.fields.items() if not f.dump_only}


def hostile_values(field) -> list:
    values = list(ANY_FIELD)
    if isinstance(field, fields.Integer):
        values += INTEGERS
    elif isinstance(field, fields.Decimal | fields.Float):
        values += DECIMALS + HUGE_INTS
    elif isinstance(field, fields.AwareDateTime | fields.DateTime):
        values += DATETIMES
    elif isinstance(field, fields.Date):
        values += DATES
    elif isinstance(field, fields.List):
        values += [[None], [[]], ["\u0000"], [{}] * 1000]
    elif isinstance(field, fields.Nested):
        values += [{"\u0000": "x"}, [{}]]
    else:
        values += STRINGS
    return values


def _as_query(value) -> str | None:
    if value is None or isinstance(value, list | dict):
        return None
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _label(value) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


@pytest.mark.parametrize(("method", "path", "body_schema", "query_schema", "permission"), ROUTES,
                         ids=[f"{m} {p}" for m, p, *_ in ROUTES])
async def test_hostile_input_is_never_a_500(aiohttp_client, sandbox, pool, redis, otp_sender, factory, method, path,
                                            body_schema, query_schema, permission):
    # Providers answer from the sandbox, so a valid payment body is a 2xx rather than a 502.
    client = await aiohttp_client(init_app(sandbox.settings, pool=pool, redis=redis, otp_sender=otp_sender))
    world = await World(factory).build()
    url = PATH_PARAM.sub(lambda m: str(world.path_id(path, m.group(1))), path)
    failures = []

    async def send(label, *, body=None, raw=None, query=None):
        # A fresh session per call: logout ends the one it is called with.
        headers = {"Authorization": f"Bearer {await factory.token_for(world.admin.id)}"}
        if permission == PUBLIC:
            headers = {}
        if raw is not None:
            headers["Content-Type"] = "application/json"
            resp = await client.request(method, url, data=raw.encode(), headers=headers, params=query)
        else:
            resp = await client.request(method, url, json=body, headers=headers, params=query)
        if resp.status >= 500 or resp.content_type != "application/json":
            failures.append((label, resp.status, (await resp.text())[:300]))
        return resp.status

    if body_schema is not None:
        base = valid_body(body_schema, world)
        await send("valid body", body=base)
        for raw in WHOLE_BODIES:
            await send(f"whole body {raw[:20]!r}", raw=raw)
        for name, field in body_schema().fields.items():
            key = field.data_key or name
            for value in hostile_values(field):
                await send(f"{key}={_label(value)}", body={**base, key: value})
                await send(f"only {key}={_label(value)}", body={key: value})
            await send(f"{key}=1e400", raw=json.dumps(base)[:-1] + f', "{key}": 1e400}}')
    if query_schema is not None:
        base = {k: str(v) for k, v in valid_body(query_schema, world).items() if not isinstance(v, list | dict)}
        await send("valid query", query=base)
        for name, field in query_schema().fields.items():
            key = field.data_key or name
            values = [LONG_QUERY if value == STRINGS[0] else value for value in hostile_values(field)]
            values += QUERY_EXTRA.get(key, [])
            for value in values:
                text = _as_query(value)
                if text is not None and _encodable(text):  # a URL cannot carry a lone surrogate
                    await send(f"?{key}={_label(text)}", query={**base, key: text})
                    await send(f"only ?{key}={_label(text)}", query={key: text})
    assert not failures, "\n".join(f"{label} -> {status} {text}" for label, status, text in failures)


# --- the shared mechanisms, one by one -------------------------------------------------------


async def test_nul_bytes_are_a_400_naming_the_field(client, factory):
    admin = await factory.staff("ADMIN")
    resp = await client.post("/api/patients", headers=admin.headers,
                             json={"fullName": "Ravi\u0000Kumar", "phone": "9812345678"})
    assert resp.status == 400
    assert (await resp.json())["error"]["details"] == {"fullName": ["Must not contain NUL characters."]}
    resp = await client.get("/api/patients", params={"search": "a\u0000"}, headers=admin.headers)
    assert resp.status == 400 and "search" in (await resp.json())["error"]["details"]


async def test_out_of_range_integers_and_dates_name_their_field(client, factory):
    admin = await factory.staff("ADMIN")
    resp = await client.get("/api/audit", params={"centreId": str(2**63)}, headers=admin.headers)
    assert resp.status == 400 and "centreId" in (await resp.json())["error"]["details"]
    resp = await client.get("/api/appointments", params={"to": "9999-12-31"}, headers=admin.headers)
    assert resp.status == 400 and "to" in (await resp.json())["error"]["details"]
    resp = await client.get("/api/audit", params={"from": "2030-01-01T10:00:00+23:59"}, headers=admin.headers)
    assert resp.status == 400 and "from" in (await resp.json())["error"]["details"]


async def test_deeply_nested_json_is_a_400(client):
    # Within the route's body limit, and deeper than json's recursion allows.
    resp = await client.post("/api/auth/login/username-password", data=b"[" * 4000,
                             headers={"Content-Type": "application/json"})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "INVALID_JSON"


def test_every_data_error_of_postgresql_is_a_400(settings, migrated):
    import psycopg2

    from mibo.core.errors import from_db_error

    conn = psycopg2.connect(settings.database_url)
    try:
        with conn.cursor() as cur, pytest.raises(psycopg2.DataError) as exc:
            cur.execute("SELECT %s::timestamptz", ("2030-01-01T10:00:00+23:59",))
    finally:
        conn.close()
    error = from_db_error(exc.value)
    assert error is not None and (error.status, error.code) == (400, "VALIDATION_ERROR")

"""The OpenAPI document lists every route with its schemas and roles; /api/docs works offline."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from aiohttp import web
from marshmallow import fields

from mibo.api import openapi
from mibo.api.access import requires
from mibo.api.apidoc import documented
from schemas.base import CamelSchema

SKIPPED_METHODS = {"OPTIONS"}


class LateBodySchema(CamelSchema):
    scheduled_start_at = fields.DateTime(required=True)
    duration_minutes = fields.Integer()


@requires("appointments.create")
@documented("A route added after the OpenAPI module was set up", tags=("Late",), body=LateBodySchema,
            status=201)
async def late_documented(request: web.Request) -> web.Response:
    raise AssertionError("never called")


@requires("appointments.view")
async def late_undocumented(request: web.Request) -> web.Response:
    """Summary taken from the docstring.

    Not this line.
    """
    raise AssertionError("never called")


@pytest.fixture
def late_app(app):
    # Registered after mibo.api.routes ran (openapi included), as a later module would be.
    app.router.add_post(r"/api/late/{id:\d+}/things/{slug}", late_documented)
    app.router.add_get(r"/api/late/{id:\d+}/things/{slug}", late_undocumented)
    return app


@pytest.fixture
async def document(aiohttp_client, late_app):
    client = await aiohttp_client(late_app)
    resp = await client.get("/api/openapi.json")  # public: no token
    assert resp.status == 200
    assert resp.content_type == "application/json"
    return await resp.json()


def refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(document: dict, ref: str) -> dict:
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                yield path, method, op


async def test_document_is_structurally_valid_openapi_3(document):
    assert re.fullmatch(r"3\.\d+\.\d+", document["openapi"])
    assert document["info"]["title"] == "Mibo API" and document["info"]["version"]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
    }
    assert document["paths"]
    for ref in refs(document):
        assert isinstance(resolve(document, ref), dict), ref
    operation_ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(operation_ids) == len(set(operation_ids))
    for path, method, op in operations(document):
        assert path.startswith("/") and ":" not in path, path  # no aiohttp regex left in a path
        assert op["summary"] and op["responses"], (path, method)
        assert all(re.fullmatch(r"[1-5]\d\d", status) for status in op["responses"]), (path, method)
        declared = {p["name"] for p in document["paths"][path].get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"\{(\w+)\}", path)), path


async def test_every_registered_route_is_in_the_document(document, late_app):
    registered = {
        (route.method.lower(), route.resource.canonical)
        for route in late_app.router.routes()
        if route.method not in SKIPPED_METHODS
    }
    documented_ops = {(method, path) for path, method, _ in operations(document)}
    assert registered - documented_ops == set()
    assert ("get", "/api/analytics/dashboard") in documented_ops
    assert ("post", "/api/late/{id}/things/{slug}") in documented_ops


async def test_path_parameters_are_typed_from_the_route_regex(document):
    parameters = {p["name"]: p for p in document["paths"]["/api/late/{id}/things/{slug}"]["parameters"]}
    assert parameters["id"] == {"in": "path", "name": "id", "required": True,
                                "schema": {"type": "integer", "minimum": 1}}
    assert parameters["slug"]["schema"] == {"type": "string"} and parameters["slug"]["required"] is True


async def test_documented_bodies_appear_with_camel_case_properties(document):
    late = document["paths"]["/api/late/{id}/things/{slug}"]["post"]
    assert late["summary"] == "A route added after the OpenAPI module was set up"
    assert late["tags"] == ["Late"]
    assert "201" in late["responses"] and "400" in late["responses"]
    body = resolve(document, late["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert set(body["properties"]) == {"scheduledStartAt", "durationMinutes"}
    assert body["required"] == ["scheduledStartAt"]

    bodies = 0
    for path, method, op in operations(document):
        # Razorpay's own JSON is snake_case, and so are the patient website's sign-up and much of the
        # admin panel's contract (their own casing).
        if ("requestBody" not in op or path in ("/api/payments/webhook", "/api/patient-auth/verify-otp")
                or path.startswith("/legacy/")):
            continue
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        schema = resolve(document, schema["$ref"]) if "$ref" in schema else schema
        assert all("_" not in name for name in schema.get("properties", {})), (path, method)
        bodies += 1
    assert bodies >= 1


async def test_query_parameters_and_response_envelope_of_a_documented_handler(document):
    op = document["paths"]["/api/analytics/top-doctors"]["get"]
    query = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
    assert set(query) == {"period", "centreId", "limit"}
    assert query["period"]["schema"]["enum"] == ["week", "month", "year"]
    data = op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]
    assert data["type"] == "array"
    row = resolve(document, data["items"]["$ref"])
    assert {"clinicianId", "completedAppointments", "noShowRate", "revenue"} <= set(row["properties"])


async def test_roles_and_security_come_from_the_permission_table(document):
    dashboard = document["paths"]["/api/analytics/dashboard"]["get"]
    assert "Roles: ADMIN, MANAGER, CENTRE_MANAGER (permission `analytics.view`)" in dashboard["description"]
    assert dashboard["security"] == [{"bearerAuth": []}]
    assert {"401", "403"} <= set(dashboard["responses"])
    health = document["paths"]["/api/health"]["get"]
    assert health["security"] == [] and health["description"].startswith("Public")
    for path, method, op in operations(document):
        assert op["security"] in ([], [{"bearerAuth": []}], [{"bearerAuth": []}, {"serviceToken": []}],
                                  [{"bearerAuth": []}, {}]), (path, method)  # {}: the token is optional


async def test_undocumented_route_is_summarised_by_its_docstring(document):
    op = document["paths"]["/api/late/{id}/things/{slug}"]["get"]
    assert op["summary"] == "Summary taken from the docstring."
    assert op["tags"] == ["Late"]
    roles = "ADMIN, MANAGER, CENTRE_MANAGER, CARE_COORDINATOR, FRONT_DESK, CLINICIAN"
    assert f"Roles: {roles} (permission `appointments.view`)" in op["description"]


async def test_document_is_built_once_per_app(aiohttp_client, app, monkeypatch):
    client = await aiohttp_client(app)
    first = await (await client.get("/api/openapi.json")).text()
    monkeypatch.setattr(openapi, "build_document", lambda app: pytest.fail("rebuilt the document"))
    assert await (await client.get("/api/openapi.json")).text() == first


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [attrs[name] for name in ("src", "href") if name in attrs]
        self._in_script = tag == "script"

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag):
        self._in_script = False


async def test_docs_page_uses_only_local_assets(client):
    resp = await client.get("/api/docs")
    assert resp.status == 200 and resp.content_type == "text/html"
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-eval" not in csp
    page = _Links()
    page.feed(await resp.text())
    assert page.inline_scripts == 0  # the CSP allows no inline script
    assert page.urls and all(url.startswith("/api/docs/") for url in page.urls), page.urls
    for url in page.urls:
        asset = await client.get(url)
        assert asset.status == 200, url
        if url.endswith(".js"):
            assert "javascript" in asset.content_type, url
            assert "SwaggerUIBundle" in await asset.text(), url
        if url.endswith(".css"):
            assert asset.content_type == "text/css"
    init = await (await client.get("/api/docs/init.js")).text()
    assert '"/api/openapi.json"' in init


async def test_bundle_comes_from_the_package_and_other_files_are_not_served(client):
    resp = await client.get("/api/docs/static/swagger-ui-bundle.js")
    assert resp.status == 200
    assert len(await resp.read()) == (openapi.SWAGGER_UI_DIR / "swagger-ui-bundle.js").stat().st_size
    assert resp.headers["Cache-Control"].startswith("public")
    for name in ("swagger-initializer.js", "LICENSE", "..%2F__init__.py", "index.html"):
        resp = await client.get(f"/api/docs/static/{name}")
        assert resp.status == 404, name


# --- what the document says is what the API does -------------------------------------------------


async def test_summaries_come_from_the_spec_tables_never_the_path(document):
    assert document["paths"]["/api/health"]["get"]["summary"] == "System health check"
    assert document["paths"]["/api/analytics/dashboard"]["get"]["summary"] == "Get dashboard metrics"
    assert document["paths"]["/api/auth/send-otp"]["post"]["summary"] == "Send OTP to phone"
    for path, method, op in operations(document):
        assert path not in op["summary"] and not op["summary"].startswith(method.upper()), (path, method)


def schema_of(document, op, status):
    schema = op["responses"][status]["content"]["application/json"]["schema"]
    return resolve(document, schema["$ref"]) if "$ref" in schema else schema


async def test_auth_routes_have_request_and_response_schemas_and_429(document):
    for path in ("/api/auth/send-otp", "/api/auth/login/phone-otp", "/api/auth/login/phone-password",
                 "/api/auth/login/username-password", "/api/auth/refresh"):
        op = document["paths"][path]["post"]
        assert op["requestBody"]["required"] is True, path
        data = schema_of(document, op, "200")["properties"]["data"]
        assert resolve(document, data["$ref"])["properties"], path
        assert {"400", "413", "415", "429"} <= set(op["responses"]), path
    login = document["paths"]["/api/auth/login/username-password"]["post"]
    user = resolve(document, schema_of(document, login, "200")["properties"]["data"]["$ref"])
    assert {"user", "accessToken", "refreshToken"} <= set(user["properties"])
    logout = document["paths"]["/api/auth/logout"]["post"]
    assert logout["requestBody"]["required"] is False
    body = resolve(document, logout["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert "refreshToken" in body["properties"] and "required" not in body


async def test_ids_lists_webhook_and_service_token_are_described(document):
    user = document["paths"]["/api/users/{id}"]["get"]
    assert {"400", "404"} <= set(user["responses"])
    listing = document["paths"]["/api/patients"]["get"]
    envelope = schema_of(document, listing, "200")
    assert envelope["properties"]["meta"]["required"] == ["total", "limit", "offset"]
    assert "meta" in envelope["required"]
    webhook = document["paths"]["/api/payments/webhook"]["post"]
    headers = {p["name"]: p for p in webhook["parameters"] if p["in"] == "header"}
    assert headers["X-Razorpay-Signature"]["required"] is True
    assert "X-Razorpay-Event-Id" in headers
    assert webhook["requestBody"]["content"]["application/json"]["schema"]["required"] == ["event", "payload"]
    assert "serviceToken" in document["components"]["securitySchemes"]
    confirmation = document["paths"]["/api/notifications/appointment-confirmation"]["post"]
    assert {"serviceToken": []} in confirmation["security"]
    for path, method, op in operations(document):
        if "requestBody" in op:
            assert {"413", "415"} <= set(op["responses"]), (path, method)


async def test_head_routes_are_documented_without_bodies(document):
    head = document["paths"]["/api/health"]["head"]
    assert all("content" not in response for response in head["responses"].values())
    assert set(head["responses"]) == set(document["paths"]["/api/health"]["get"]["responses"])


async def test_every_json_success_answer_has_its_shape_documented(document):
    # Undocumented, or a bare {"type": "object"}, an answer's shape is one the fuzz cannot hold it to
    # (the panel's unblock and availability-by-day answers were so).
    loose = []
    for path, method, op in operations(document):
        if method == "head" or path == "/api/openapi.json" or path.startswith("/api/late/"):
            continue
        for code, response in op["responses"].items():
            if not code.startswith("2"):
                continue
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if "content" not in response or (schema is not None and "properties" not in schema):
                loose.append(f"{method.upper()} {path} {code}")
    assert not loose


async def test_the_panels_rules_by_day_and_unblock_answers_are_described(document):
    by_day = document["paths"]["/legacy/api/users/clinicians/{id}/availability/by-day"]["get"]
    data = by_day["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]
    assert set(data["properties"]) == {str(day) for day in range(7)} and data["additionalProperties"] is False
    assert data["properties"]["0"]["items"] == {"$ref": "#/components/schemas/legacy.clinicians.PanelRule"}
    unblock = document["paths"]["/legacy/api/admin/slots/unblock/{id}"]["post"]
    data = unblock["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]
    assert data == {"type": "object", "nullable": True, "enum": [None]}

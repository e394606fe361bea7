"""The admin panel's sub-application: mounted at its prefix, with the API's middlewares and the
panel's envelope, surface and origins."""

from __future__ import annotations

from mibo.api.app import init_app
from mibo.core import config
from tests.factories import PASSWORD
from tests.legacy_support import BASE, PANEL_ORIGIN, data_of, refusal_of


async def test_login_answers_in_the_panels_envelope_with_the_names_it_reads(client, factory):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre], login=False, full_name="Asha Desk")
    resp = await client.post(f"{BASE}/auth/login/username-password",
                             json={"username": desk.username, "password": PASSWORD})
    assert resp.status == 200
    body = await resp.json()
    data = data_of(body)
    assert isinstance(data["accessToken"], str) and isinstance(data["refreshToken"], str)
    user = data["user"]
    assert user["full_name"] == user["name"] == "Asha Desk"
    assert user["role"] == "FRONT_DESK" and user["assignedCentreId"] == str(centre)
    assert user["centreIds"] == [str(centre)] and user["isActive"] is True
    me = await client.get(f"{BASE}/auth/me", headers={"Authorization": f"Bearer {data['accessToken']}"})
    assert me.status == 200 and data_of(await me.json())["id"] == str(desk.id)


async def test_errors_carry_the_message_at_the_top_and_the_request_id(client):
    resp = await client.get(f"{BASE}/auth/me", headers={"X-Request-ID": "panel-req-1"})
    assert resp.status == 401
    assert resp.headers["X-Request-ID"] == "panel-req-1"
    assert resp.headers["Cache-Control"] == "no-store"
    code, message, _ = refusal_of(await resp.json())
    assert code == "UNAUTHORIZED" and message


async def test_a_validation_error_names_the_field_in_both_places(client):
    resp = await client.post(f"{BASE}/auth/login/username-password", json={"username": "x", "pasword": "y"})
    assert resp.status == 400
    code, message, details = refusal_of(await resp.json())
    assert code == "VALIDATION_ERROR" and set(details) == {"password", "pasword"}


async def test_the_spec_api_keeps_its_own_envelope(client):
    resp = await client.get("/api/auth/me")
    assert resp.status == 401
    body = await resp.json()
    assert set(body) == {"success", "error"} and body["error"]["code"] == "UNAUTHORIZED"


async def test_an_unknown_panel_path_is_a_404_in_the_panels_envelope_with_cors(client):
    resp = await client.get(f"{BASE}/no/such/thing", headers={"Origin": PANEL_ORIGIN})
    assert resp.status == 404
    assert resp.headers["Access-Control-Allow-Origin"] == PANEL_ORIGIN
    assert refusal_of(await resp.json())[0] == "NOT_FOUND"


async def make_client(aiohttp_client, settings, pool, redis, **changes):
    return await aiohttp_client(init_app(settings.replace(**changes), pool=pool, redis=redis))


async def test_the_panels_origins_are_allowed_on_its_routes_only(aiohttp_client, settings, pool, redis):
    client = await make_client(aiohttp_client, settings, pool, redis, cors_origins=("https://www.mibo.example",),
                               admin_panel_origins=("https://admin.mibo.example",))
    preflight = {"Origin": "https://admin.mibo.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "Content-Type, Authorization"}
    resp = await client.options(f"{BASE}/auth/login/username-password", headers=preflight)
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "https://admin.mibo.example"
    resp = await client.options("/api/auth/login/username-password", headers=preflight)
    assert "Access-Control-Allow-Origin" not in resp.headers
    # The spec's origins reach the panel's routes as well.
    resp = await client.options(f"{BASE}/auth/me", headers={**preflight, "Origin": "https://www.mibo.example",
                                                            "Access-Control-Request-Method": "GET"})
    assert resp.headers["Access-Control-Allow-Origin"] == "https://www.mibo.example"


async def test_the_prefix_comes_from_the_configuration(aiohttp_client, settings, pool, redis):
    client = await make_client(aiohttp_client, settings, pool, redis, admin_panel_prefix="/panel")
    assert (await client.get("/panel/api/auth/me")).status == 401
    assert (await client.get(f"{BASE}/auth/me")).status == 404


def test_development_serves_the_panels_vite_origins_and_production_none_unless_listed():
    assert "http://localhost:5173" in config.load({"APP_ENV": "development"}).admin_panel_origins
    assert "http://127.0.0.1:5174" in config.load({"APP_ENV": "test"}).admin_panel_origins
    listed = config.load({"APP_ENV": "test", "ADMIN_PANEL_ORIGINS": "https://admin.mibo.example"})
    assert listed.admin_panel_origins == ("https://admin.mibo.example",)
    assert config.Settings().admin_panel_origins == ()


def test_a_bad_prefix_is_refused_naming_the_variable():
    for bad in ("legacy", "/legacy/", "/api", "/api/old", "/Legacy"):
        try:
            config.load({"APP_ENV": "test", "ADMIN_PANEL_PREFIX": bad})
        except config.ConfigError as exc:
            assert "ADMIN_PANEL_PREFIX" in str(exc)
        else:
            raise AssertionError(f"{bad!r} accepted")


async def test_metrics_name_the_panels_route_template(client, factory):
    admin = await factory.staff("ADMIN")
    assert (await client.get(f"{BASE}/auth/me", headers=admin.headers)).status == 200
    text = await (await client.get("/metrics")).text()
    assert 'route="/legacy/api/auth/me"' in text


async def test_the_panels_sign_in_shares_the_apis_limits(aiohttp_client, settings, pool, redis, factory):
    client = await make_client(aiohttp_client, settings, pool, redis, rate_limit_login_per_minute=3)
    admin = await factory.staff("ADMIN", login=False)
    wrong = {"username": admin.username, "password": "not-it"}
    for path in (f"{BASE}/auth/login/username-password", "/api/auth/login/username-password",
                 f"{BASE}/auth/login/username-password"):
        assert (await client.post(path, json=wrong)).status == 401
    resp = await client.post(f"{BASE}/auth/login/username-password", json=wrong)
    assert resp.status == 429
    assert refusal_of(await resp.json())[0] == "RATE_LIMITED" and resp.headers["Retry-After"]


async def test_the_openapi_document_lists_the_panels_routes_under_their_tag(client):
    document = await (await client.get("/api/openapi.json")).json()
    panel = {path: ops for path, ops in document["paths"].items() if path.startswith("/legacy/api/")}
    assert len(panel) >= 20
    for path, operations in panel.items():
        for method, op in operations.items():
            if method == "parameters":
                continue
            assert op["tags"] == ["Admin panel (legacy contract)"], (path, method)
            refs = {resp.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
                    for code, resp in op["responses"].items() if code.startswith("4")}
            assert refs <= {"#/components/schemas/LegacyError", None}, (path, method)
    assert document["components"]["schemas"]["LegacyError"]["required"] == ["success", "message", "error"]
    upload = document["paths"]["/legacy/api/upload/clinician-profile"]["post"]["requestBody"]["content"]
    assert list(upload) == ["multipart/form-data"]
    assert all(op["tags"] != ["Admin panel (legacy contract)"]
               for path, ops in document["paths"].items() if path.startswith("/api/")
               for method, op in ops.items() if method != "parameters")

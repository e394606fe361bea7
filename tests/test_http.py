"""The HTTP envelope and pipeline: bad input is a clear 4xx, headers, request ids, CORS, gzip, metrics."""

import asyncio
import gzip
import io
import json
import logging
import socket

import aiohttp
import pytest

from mibo.api.access import public
from mibo.api.app import init_app
from mibo.core import db


async def test_malformed_json_is_400(client):
    resp = await client.post("/api/auth/login/username-password", data=b"{not json",
                             headers={"Content-Type": "application/json"})
    assert resp.status == 400
    body = await resp.json()
    assert body == {"success": False, "message": body["error"]["message"],
                    "error": {"code": "INVALID_JSON", "message": body["error"]["message"]}}


async def test_json_that_is_not_an_object_is_400(client):
    resp = await client.post("/api/auth/login/username-password", json=["admin", "x"])
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "INVALID_JSON"


async def test_wrong_content_type_is_415(client):
    resp = await client.post("/api/auth/login/username-password", data="username=a&password=b",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 415
    assert (await resp.json())["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_a_streamed_body_over_the_route_limit_is_413(client):
    big = b'{"username": "' + b"a" * (1024 * 1024) + b'", "password": "x"}'
    resp = await client.post("/api/auth/login/username-password", data=io.BytesIO(big),
                             headers={"Content-Type": "application/json"})
    assert resp.status == 413
    assert (await resp.json())["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_unknown_route_and_method(client):
    missing = await client.get("/api/nowhere")
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "NOT_FOUND"
    wrong_method = await client.delete("/api/health")
    assert wrong_method.status == 405
    assert (await wrong_method.json())["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_security_headers_and_request_id(client):
    resp = await client.get("/api/health", headers={"X-Request-ID": "front-desk-42"})
    assert resp.headers["X-Request-ID"] == "front-desk-42"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    generated = await client.get("/api/health", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["X-Request-ID"] != "bad id with spaces"
    assert len(generated.headers["X-Request-ID"]) == 32


async def test_cors_preflight_and_response_headers(aiohttp_client, settings, pool, redis):
    app = init_app(settings.replace(cors_origins=("https://admin.mibo.example",)), pool=pool, redis=redis)
    client = await aiohttp_client(app)
    preflight = await client.options("/api/auth/me", headers={
        "Origin": "https://admin.mibo.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization",
    })
    assert preflight.status == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://admin.mibo.example"
    resp = await client.get("/api/health", headers={"Origin": "https://admin.mibo.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "https://admin.mibo.example"
    stranger = await client.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers


async def test_large_responses_are_gzipped(client):
    resp = await client.get("/metrics", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    raw = await resp.read()
    assert resp.headers.get("Content-Encoding") == "gzip"
    assert b"mibo_http_requests_total" in gzip.decompress(raw)


async def test_metrics_count_requests_by_route_template(client, factory):
    centre = await factory.centre()
    staff = await factory.staff("ADMIN", [centre])
    await client.get("/api/auth/me", headers=staff.headers)
    await client.get("/api/nowhere/12345")
    text = await (await client.get("/metrics")).text()
    assert 'mibo_http_requests_total{method="GET",route="/api/auth/me",status="200"} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "12345" not in text
    assert 'mibo_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/auth/me"}' in text


async def test_health_is_503_when_the_database_is_unreachable(aiohttp_client, settings, redis):
    dead = settings.replace(database_url="postgresql://127.0.0.1:1/nowhere")
    pool = await db.create_pool(dead, minsize=0)
    client = await aiohttp_client(init_app(dead, pool=pool, redis=redis))
    resp = await client.get("/api/health")
    assert resp.status == 503
    body = await resp.json()
    assert body["success"] is False
    assert body["error"]["code"] == "UNHEALTHY"
    assert body["error"]["details"]["database"] == "disconnected"
    pool.close()


async def test_database_outage_on_a_route_is_503_not_500(aiohttp_client, settings, redis):
    dead = settings.replace(database_url="postgresql://127.0.0.1:1/nowhere")
    pool = await db.create_pool(dead, minsize=0)
    client = await aiohttp_client(init_app(dead, pool=pool, redis=redis))
    resp = await client.post("/api/auth/login/username-password", json={"username": "a", "password": "b"})
    assert resp.status == 503
    assert (await resp.json())["error"]["code"] == "DATABASE_UNAVAILABLE"
    pool.close()


async def test_health_degraded_without_redis(aiohttp_client, settings, pool):
    import redis.asyncio as aioredis

    dead_redis = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    client = await aiohttp_client(init_app(settings, pool=pool, redis=dead_redis))
    resp = await client.get("/api/health")
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert (data["status"], data["redis"], data["database"]) == ("degraded", "disconnected", "connected")
    await dead_redis.aclose()


async def test_logs_are_json_with_request_id_and_no_secrets(client, factory, caplog, capsys):
    from mibo.core.logs import JsonFormatter

    await factory.staff("ADMIN", login=False, phone="+919844444444")
    caplog.set_level(logging.INFO)
    credentials = {"phone": "9844444444", "password": "Correct-Horse-9"}
    resp = await client.post("/api/auth/login/phone-password", json=credentials,
                             headers={"X-Request-ID": "req-abc"})
    assert resp.status == 200
    tokens = await resp.json()
    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(record)) for record in caplog.records]
    text = "\n".join(json.dumps(line) for line in lines)
    assert any(line.get("requestId") == "req-abc" for line in lines)
    for secret in ("Correct-Horse-9", "9844444444", tokens["data"]["accessToken"], tokens["data"]["refreshToken"]):
        assert secret not in text


@pytest.mark.parametrize("unsafe", ["call +91 98765 43210 now", "9876543210", "asha.rao@mibo.example"])
def test_mask_hides_phones_and_emails(unsafe):
    from mibo.core.logs import mask

    masked = mask(unsafe)
    assert "98765" not in masked and "asha.rao" not in masked


# --- what the HTTP parser refuses --------------------------------------------------------------


async def raw_exchange(client, request: bytes) -> tuple[int, dict, bytes]:
    """Send bytes as they are (no client library would send these) and read the whole answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.parametrize("request_bytes", [
    b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
    b"GARBAGE\r\n\r\n",
    b"GET /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
    b"POST /api/auth/refresh HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
], ids=["oversized header", "garbage request line", "bad content-length", "bad chunk"])
async def test_parser_errors_get_the_envelope_and_a_warning_without_traceback(client, caplog, request_bytes):
    caplog.set_level(logging.INFO)
    status, headers, body = await raw_exchange(client, request_bytes)
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)
    assert error["success"] is False and error["error"]["code"] == "BAD_HTTP_REQUEST"
    refused = [r for r in caplog.records if r.getMessage() == "request refused by the HTTP parser"]
    assert [r.levelno for r in refused] == [logging.WARNING]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


# --- CORS where aiohttp-cors has no say --------------------------------------------------------

ORIGIN = "https://admin.mibo.example"


@pytest.fixture
async def cors_client(aiohttp_client, settings, pool, redis):
    return await aiohttp_client(init_app(settings.replace(cors_origins=(ORIGIN,)), pool=pool, redis=redis))


async def test_unregistered_routes_and_methods_carry_cors_headers(cors_client):
    for method, path, status in (("GET", "/api/nowhere", 404), ("DELETE", "/api/health", 405)):
        resp = await cors_client.request(method, path, headers={"Origin": ORIGIN})
        assert resp.status == status
        assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert resp.headers["Access-Control-Allow-Credentials"] == "true"
        assert "X-Request-ID" in resp.headers["Access-Control-Expose-Headers"]
        assert (await resp.json())["success"] is False
        stranger = await cors_client.request(method, path, headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in stranger.headers


async def test_preflights_of_unregistered_routes_let_the_real_error_through(cors_client):
    for path, method in (("/api/nowhere", "GET"), ("/api/health", "DELETE")):
        preflight = await cors_client.options(path, headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "Authorization"})
        assert preflight.status == 200, (path, method)
        assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert method in preflight.headers["Access-Control-Allow-Methods"]
        assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    stranger = await cors_client.options("/api/nowhere", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in stranger.headers


# --- environments ---------------------------------------------------------------------------------


@public
async def explode(request):
    raise RuntimeError("a bug with a secret in its traceback")


@pytest.mark.parametrize("env", ["staging", "production"])
async def test_no_stack_traces_outside_development_and_test(aiohttp_client, settings, pool, redis, env):
    app = init_app(settings.replace(env=env), pool=pool, redis=redis)
    app.router.add_get("/api/explode", explode)
    client = await aiohttp_client(app)
    resp = await client.get("/api/explode")
    assert resp.status == 500
    body = await resp.json()
    assert "stack" not in body["error"] and "secret" not in json.dumps(body)
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_test_environment_shows_the_stack_to_developers(aiohttp_client, settings, pool, redis):
    app = init_app(settings, pool=pool, redis=redis)
    app.router.add_get("/api/explode", explode)
    client = await aiohttp_client(app)
    body = await (await client.get("/api/explode")).json()
    assert "RuntimeError" in body["error"]["stack"]


# --- metrics ------------------------------------------------------------------------------------

METRICS_TOKEN = "m" * 40


async def test_metrics_behind_a_token(aiohttp_client, settings, pool, redis):
    client = await aiohttp_client(init_app(settings.replace(env="production", metrics_token=METRICS_TOKEN),
                                           pool=pool, redis=redis))
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 401
    resp = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert resp.status == 200 and "mibo_http_requests_total" in await resp.text()


async def test_production_without_a_token_serves_no_metrics_on_the_api_port(aiohttp_client, settings, pool, redis):
    client = await aiohttp_client(init_app(settings.replace(env="production"), pool=pool, redis=redis))
    assert (await client.get("/metrics")).status == 404


async def test_metrics_on_a_port_of_their_own(aiohttp_client, settings, pool, redis):
    port = free_port()
    client = await aiohttp_client(init_app(settings.replace(env="production", metrics_port=port),
                                           pool=pool, redis=redis))
    await client.get("/api/health")
    assert (await client.get("/metrics")).status == 404
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as resp:
        assert resp.status == 200
        assert 'route="/api/health"' in await resp.text()
    assert listening_address(port) == "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening_address(port: int) -> str:
    """The address a local TCP port listens on, from /proc/net/tcp (IPv4, little-endian hex)."""
    with open("/proc/net/tcp") as table:
        for line in list(table)[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if int(hex_port, 16) == port and state == "0A":  # LISTEN
                return socket.inet_ntoa(bytes.fromhex(address)[::-1])
    raise AssertionError(f"nothing listens on {port}")


def test_worker_and_scheduler_metrics_listen_on_loopback_by_default():
    import prometheus_client

    from jobs.metrics import serve
    from mibo.core import config

    assert config.load({"APP_ENV": "test"}).metrics_host == "127.0.0.1"
    port = serve(prometheus_client.CollectorRegistry(), free_port())
    assert listening_address(port) == "127.0.0.1"


# --- the patient website's origins and error bodies ----------------------------------------------

WEBSITE = "http://localhost:5173"


async def test_the_websites_development_origins_are_allowed_beside_cors_origin(cors_client, settings):
    assert settings.website_origins == ("http://localhost:5173", "http://127.0.0.1:5173")
    for origin in settings.website_origins:
        preflight = await cors_client.options("/api/auth/login/username-password", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type"})
        assert preflight.status == 200
        assert preflight.headers["Access-Control-Allow-Origin"] == origin
        resp = await cors_client.get("/api/health", headers={"Origin": origin})
        assert resp.headers["Access-Control-Allow-Origin"] == origin
    admin = await cors_client.get("/api/health", headers={"Origin": ORIGIN})
    assert admin.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_website_origins_come_from_config():
    from mibo.core import config
    assert config.load({"APP_ENV": "test", "WEBSITE_ORIGINS": "https://mibo.care"}).website_origins == (
        "https://mibo.care",)
    assert config.load({"APP_ENV": "test", "CORS_ORIGIN": "https://a.example"}).allowed_origins == (
        "https://a.example", "http://localhost:5173", "http://127.0.0.1:5173")
    with pytest.raises(config.ConfigError, match="WEBSITE_ORIGINS"):
        config.load({"APP_ENV": "test", "WEBSITE_ORIGINS": " , "})


async def test_every_error_answer_carries_the_message_at_the_top_too(client, cors_client):
    answers = [
        await client.post("/api/auth/login/username-password", json={"username": "x"}),  # 400
        await client.get("/api/auth/me"),  # 401
        await client.get("/api/nowhere"),  # 404 from aiohttp
        await client.delete("/api/health"),  # 405
        await client.post("/api/auth/refresh", data=b"x", headers={"Content-Type": "text/plain"}),  # 415
    ]
    assert [resp.status for resp in answers] == [400, 401, 404, 405, 415]
    for resp in answers:
        body = await resp.json()
        assert body["success"] is False
        assert isinstance(body["message"], str) and body["message"] == body["error"]["message"]
        assert body["error"]["code"]
    stranger_site = await cors_client.get("/api/nowhere", headers={"Origin": WEBSITE})
    assert stranger_site.headers["Access-Control-Allow-Origin"] == WEBSITE

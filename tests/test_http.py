"""The HTTP envelope and pipeline: bad input is a clear 4xx, headers, request ids, CORS, gzip, metrics."""

import gzip
import io
import json
import logging

import pytest

from mibo.api.app import init_app
from mibo.core import db


async def test_malformed_json_is_400(client):
    resp = await client.post("/api/auth/login/username-password", data=b"{not json",
                             headers={"Content-Type": "application/json"})
    assert resp.status == 400
    body = await resp.json()
    assert body == {"success": False, "error": {"code": "INVALID_JSON", "message": body["error"]["message"]}}


async def test_json_that_is_not_an_object_is_400(client):
    resp = await client.post("/api/auth/login/username-password", json=["admin", "x"])
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "INVALID_JSON"


async def test_wrong_content_type_is_415(client):
    resp = await client.post("/api/auth/login/username-password", data="username=a&password=b",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 415
    assert (await resp.json())["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_body_over_10_mb_is_413(client):
    big = b'{"username": "' + b"a" * (10 * 1024 * 1024 + 10) + b'", "password": "x"}'
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

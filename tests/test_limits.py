"""What one request may cost: bodies bounded per route, the per-client auth limit counted before
any body is read, and error answers that stay small whatever was sent."""

from __future__ import annotations

import asyncio
import json
import time

from mibo.api.apidoc import DEFAULT_MAX_BODY, KB
from mibo.api.app import init_app
from mibo.api.http import MAX_DETAIL_ENTRIES
from mibo.api.resources.auth import AUTH_MAX_BODY

LOGIN = "/api/auth/login/username-password"


def junk_body(size: int) -> bytes:
    """A JSON object of unknown keys, `size` bytes long: what a stall attempt sends."""
    keys, body = [], b"{}"
    while len(body) < size:
        keys.append(f'"k{len(keys)}":0')
        body = ("{" + ",".join(keys) + "}").encode()
    return body


async def post_raw(client, path: str, body: bytes, headers=None):
    resp = await client.post(path, data=body, headers={"Content-Type": "application/json", **(headers or {})})
    return resp.status, await resp.json()


async def test_auth_bodies_are_bounded_at_a_few_kilobytes(client, factory):
    status, body = await post_raw(client, LOGIN, junk_body(AUTH_MAX_BODY + 1))
    assert status == 413 and body["error"]["code"] == "PAYLOAD_TOO_LARGE"
    status, body = await post_raw(client, LOGIN, junk_body(AUTH_MAX_BODY - 100))
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR"


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_arrives(client):
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    try:
        started = time.monotonic()
        # The 8 MB are announced and never sent: only an answer that reads no body comes back.
        writer.write(f"POST {LOGIN} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {8 * 1024 * 1024}\r\n\r\n".encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
        assert b" 413 " in status_line
        assert time.monotonic() - started < 5
    finally:
        writer.close()


async def test_ordinary_routes_default_to_a_small_limit_and_notes_declare_a_larger_one(client, factory):
    admin = await factory.staff("ADMIN")
    patient = await factory.patient()
    padded = {"fullName": "Ravi", "phone": "9812345678", "notes": "x" * DEFAULT_MAX_BODY}
    resp = await client.post("/api/patients", json=padded, headers=admin.headers)
    assert resp.status == 413
    # A 20,000-character note is larger than the default limit and within the notes route's own.
    resp = await client.post(f"/api/patients/{patient['id']}/notes", json={"note": "n" * 20_000},
                             headers=admin.headers)
    assert resp.status == 201, await resp.text()
    resp = await client.post(f"/api/patients/{patient['id']}/notes", json={"note": "n" * (70 * KB)},
                             headers=admin.headers)
    assert resp.status == 413


async def test_the_client_limit_is_counted_before_the_body_is_read(aiohttp_client, settings, pool, redis):
    client = await aiohttp_client(init_app(settings.replace(rate_limit_client_per_minute=3), pool=pool, redis=redis))
    for _ in range(3):  # junk too large to parse still costs an attempt
        status, _ = await post_raw(client, LOGIN, junk_body(64 * KB))
        assert status == 413
    status, body = await post_raw(client, LOGIN, json.dumps({"username": "admin", "password": "x"}).encode())
    assert status == 429 and body["error"]["code"] == "RATE_LIMITED"
    # Once limited, even a body too large to read is answered 429: the count comes first.
    status, _ = await post_raw(client, LOGIN, junk_body(64 * KB))
    assert status == 429
    for path in ("/api/auth/send-otp", "/api/auth/refresh", "/api/auth/login/phone-otp"):
        status, _ = await post_raw(client, path, b"{not json")
        assert status == 429, path


async def test_validation_details_are_capped(client, factory):
    admin = await factory.staff("ADMIN")
    clinician = await factory.staff("CLINICIAN", [await factory.centre()])
    resp = await client.put(f"/api/clinicians/{clinician.clinician_id}/availability",
                            json={"rules": [{"dayOfWeek": 9}] * 1000}, headers=admin.headers)
    assert resp.status == 400
    details = (await resp.json())["error"]["details"]
    assert len(details["rules"]) == MAX_DETAIL_ENTRIES + 1
    assert details["rules"]["_more"] == [f"{1000 - MAX_DETAIL_ENTRIES} more entries not shown."]
    assert len(await resp.read()) < 8 * KB

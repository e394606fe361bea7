"""Foundation benchmark (prints figures; not a test).

1. p50/p99 of GET /api/health while 5 password logins per second run beside it: bcrypt
   (cost 10, ~100 ms of CPU) must never block the event loop (target p99 < 20 ms).
2. Requests/s of an authenticated GET /api/auth/me as a ratio to a bare aiohttp handler
   returning the same JSON, both measured with wrk in the same run (target >= 0.6).
3. The price of the principal cache that makes (2) possible: how long after a revocation
   commits in another process (here, this script's own connection) the API refuses the token,
   and how many requests in that window were still answered.

Runs against its own database (mibo_bench) and one API process on a free port.
Usage: .venv/bin/python bench/auth_bench.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ensure_wrk, free_port, start_bare_server, wait_up, wrk  # noqa: E402
from mibo.core.migrate import ensure_database, migrate  # noqa: E402
from mibo.core.passwords import hash_password_sync  # noqa: E402
from mibo.core.tokens import token_hash  # noqa: E402

DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://127.0.0.1:5432/mibo_bench")
PASSWORD = "Bench-Password-1"

def prepare_database() -> None:
    ensure_database(DSN)
    migrate(DSN)
    conn = psycopg2.connect(DSN)
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM auth_sessions; DELETE FROM user_roles; DELETE FROM users WHERE username = 'bench'")
        cur.execute(
            "INSERT INTO users (username, phone, full_name, password_hash, user_type)"
            " VALUES ('bench', '+919899999999', 'Bench Admin', %s, 'STAFF') RETURNING id",
            (hash_password_sync(PASSWORD, 10),),
        )
        user_id = cur.fetchone()[0]
        cur.execute("INSERT INTO user_roles (user_id, role_id) SELECT %s, id FROM roles WHERE name = 'ADMIN'",
                    (user_id,))
    conn.close()


async def health_under_logins(base: str, seconds: float) -> dict:
    latencies: list[float] = []
    login_statuses: list[int] = []
    async with aiohttp.ClientSession() as session:

        async def login_once():
            async with session.post(f"{base}/api/auth/login/username-password",
                                    json={"username": "bench", "password": PASSWORD}) as resp:
                await resp.read()
                login_statuses.append(resp.status)

        async def logins():
            tasks = []
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                tasks.append(asyncio.create_task(login_once()))
                await asyncio.sleep(0.2)  # 5 per second
            await asyncio.gather(*tasks)

        async def health():
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.get(f"{base}/api/health") as resp:
                    await resp.read()
                latencies.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.01)

        await asyncio.gather(logins(), health())
    latencies.sort()
    return {
        "health_requests": len(latencies),
        "health_p50_ms": round(statistics.median(latencies), 2),
        "health_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "health_max_ms": round(latencies[-1], 2),
        "logins": len(login_statuses),
        "logins_ok": login_statuses.count(200),
    }


async def revocation_lag(base: str, sessions: int = 30) -> dict:
    """Revoke cached sessions from outside the API; time until each token is refused."""
    lags, stale = [], 0
    conn = psycopg2.connect(DSN)
    conn.autocommit = True
    async with aiohttp.ClientSession() as session:
        for _ in range(sessions):
            async with session.post(f"{base}/api/auth/login/username-password",
                                    json={"username": "bench", "password": PASSWORD}) as resp:
                data = (await resp.json())["data"]
            headers = {"Authorization": f"Bearer {data['accessToken']}"}
            for _ in range(2):  # the second answer comes from the cache
                async with session.get(f"{base}/api/auth/me", headers=headers) as resp:
                    assert resp.status == 200, resp.status
            with conn.cursor() as cur:
                cur.execute("UPDATE auth_sessions SET revoked_at = now() WHERE refresh_token_hash = %s",
                            (token_hash(data["refreshToken"]),))
                assert cur.rowcount == 1
            committed = time.perf_counter()
            while True:
                async with session.get(f"{base}/api/auth/me", headers=headers) as resp:
                    if resp.status == 401:
                        break
                    stale += 1
            lags.append((time.perf_counter() - committed) * 1000)
    conn.close()
    lags.sort()
    return {"revocations": sessions, "refused_after_p50_ms": round(statistics.median(lags), 2),
            "refused_after_max_ms": round(lags[-1], 2), "answered_after_revocation": stale}


async def main(seconds: int) -> None:
    ensure_wrk()
    prepare_database()
    api_port, bare_port = free_port(), free_port()
    env = {**os.environ, "APP_ENV": "development", "DATABASE_URL": DSN, "PORT": str(api_port), "LOG_LEVEL": "WARNING",
           "RATE_LIMIT_LOGIN_PER_MINUTE": "10000", "RATE_LIMIT_CLIENT_PER_MINUTE": "100000"}
    api = subprocess.Popen([sys.executable, "-m", "mibo", "api"], env=env, cwd=ROOT)
    bare = None
    try:
        base = f"http://127.0.0.1:{api_port}"
        await wait_up(f"{base}/api/health")
        health = await health_under_logins(base, seconds)

        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base}/api/auth/login/username-password",
                                    json={"username": "bench", "password": PASSWORD}) as resp:
                token = (await resp.json())["data"]["accessToken"]
            async with session.get(f"{base}/api/auth/me", headers={"Authorization": f"Bearer {token}"}) as resp:
                me_body = json.dumps(await resp.json(), separators=(",", ":"))
        bare = start_bare_server(bare_port, "/api/auth/me", me_body)
        await wait_up(f"http://127.0.0.1:{bare_port}/api/auth/me")
        me_rps = wrk(f"{base}/api/auth/me", seconds, {"Authorization": f"Bearer {token}"})
        bare_rps = wrk(f"http://127.0.0.1:{bare_port}/api/auth/me", seconds)
        lag = await revocation_lag(base)
    finally:
        api.terminate()
        api.wait()
        if bare:
            bare.terminate()
            bare.wait()
    print(json.dumps(health, indent=2))
    print(f"GET /api/health while 5 logins/s: p50 {health['health_p50_ms']} ms, "
          f"p99 {health['health_p99_ms']} ms (target p99 < 20 ms); "
          f"{health['logins_ok']}/{health['logins']} logins ok")
    print(f"GET /api/auth/me: {me_rps:.0f} req/s; bare aiohttp handler: {bare_rps:.0f} req/s; "
          f"ratio {me_rps / bare_rps:.2f} (target >= 0.6)")
    print(f"revocation committed by another process: token refused after p50 {lag['refused_after_p50_ms']} ms, "
          f"max {lag['refused_after_max_ms']} ms; {lag['answered_after_revocation']} requests answered "
          f"in between over {lag['revocations']} revocations")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    asyncio.run(main(parser.parse_args().seconds))

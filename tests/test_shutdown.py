"""SIGTERM drains in-flight requests, then closes the pool and exits cleanly."""

import asyncio
import os
import signal
import socket
import sys

import aiohttp

from tests.factories import PASSWORD


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_sigterm_drains_in_flight_requests(settings, factory):
    staff = await factory.staff("ADMIN", login=False)
    port = free_port()
    env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "PORT": str(port), "LOG_LEVEL": "INFO", "RATE_LIMIT_LOGIN_PER_MINUTE": "100"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mibo", "api", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(f"{base}/api/health") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            # Six connections open first, so that each login is on the wire at once: a request the
            # server has not read when SIGTERM comes is not in flight.
            async def ping():
                async with session.get(f"{base}/api/health") as resp:
                    await resp.read()  # read, so the connection goes back to the session's pool, open

            await asyncio.gather(*(ping() for _ in range(6)))
            # bcrypt makes each login take ~100 ms of CPU: several are still running at SIGTERM.
            logins = [
                asyncio.create_task(session.post(f"{base}/api/auth/login/username-password",
                                                 json={"username": staff.username, "password": PASSWORD}))
                for _ in range(6)
            ]
            await asyncio.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            responses = await asyncio.gather(*logins)
            assert [resp.status for resp in responses] == [200] * 6
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    output = (await proc.stdout.read()).decode()
    assert PASSWORD not in output
    sessions = await factory.fetchone("SELECT count(*) FROM auth_sessions WHERE user_id = %s", (staff.id,))
    assert sessions[0] == 6

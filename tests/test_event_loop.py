"""bcrypt never runs on the event loop: while logins and user creations hash and check passwords
over HTTP, the loop keeps ticking. One bcrypt at cost 12 takes about 350 ms here, so a handler
that ran one inline would stall the loop for at least that long."""

from __future__ import annotations

import asyncio
import time

from mibo.api.app import init_app
from tests.factories import PASSWORD, Factory

COST = 12
MAX_TICK_GAP_SECONDS = 0.2  # legitimate gaps stay under ~80 ms here, even with the machine busy


class TickGaps:
    """The longest time the loop took to come back to a task that only sleeps a millisecond."""

    def __init__(self):
        self.longest = 0.0
        self._running = True

    async def run(self) -> None:
        while self._running:
            started = time.perf_counter()
            await asyncio.sleep(0.001)
            self.longest = max(self.longest, time.perf_counter() - started - 0.001)

    def stop(self) -> None:
        self._running = False


async def test_logins_and_user_creation_never_stall_the_event_loop(aiohttp_client, settings, pool, redis,
                                                                 otp_sender):
    costly = settings.replace(bcrypt_rounds=COST)
    factory = Factory(pool, costly)
    client = await aiohttp_client(init_app(costly, pool=pool, redis=redis, otp_sender=otp_sender))
    admin = await factory.staff("ADMIN")
    users = [await factory.staff("FRONT_DESK", [await factory.centre()], login=False) for _ in range(6)]
    centre = await factory.centre()

    async def login(user):
        resp = await client.post("/api/auth/login/username-password",
                                 json={"username": user.username, "password": PASSWORD})
        return resp.status

    async def create(n):
        resp = await client.post("/api/users", headers=admin.headers, json={
            "name": f"New Desk {n}", "phone": f"+9196{n:08d}", "username": f"new.desk.{n}",
            "password": "A-Strong-Passw0rd", "role": "FRONT_DESK", "centreIds": [centre]})
        return resp.status

    gaps = TickGaps()
    ticker = asyncio.create_task(gaps.run())
    started = time.perf_counter()
    statuses = await asyncio.gather(*(login(user) for user in users), *(create(n) for n in range(3)))
    elapsed = time.perf_counter() - started
    gaps.stop()
    await ticker
    assert statuses == [200] * 6 + [201] * 3
    assert elapsed > 0.3  # the bcrypt work did happen, alongside the ticks
    assert gaps.longest < MAX_TICK_GAP_SECONDS, f"the loop stalled for {gaps.longest * 1000:.0f} ms"

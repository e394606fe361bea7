"""The provider sandbox started in-process for tests, and settings that point the clients at it.

Provider clients are synchronous, so tests call them with asyncio.to_thread: the sandbox runs on
the test's event loop and must keep serving while a client waits for it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import aiohttp
from aiohttp.test_utils import TestServer

from mibo.core.config import Settings
from mibo.providers.sandbox import SANDBOX, SandboxState, create_sandbox_app


@dataclass
class Sandbox:
    server: TestServer
    settings: Settings
    http: aiohttp.ClientSession
    clients: list = field(default_factory=list)

    def keep(self, client):
        """Register a provider client to be closed after the test (open sockets fail -W error)."""
        self.clients.append(client)
        return client

    @property
    def state(self) -> SandboxState:
        return self.server.app[SANDBOX]

    async def post(self, path: str, body: dict) -> tuple[int, dict]:
        async with self.http.post(self.server.make_url(path), json=body) as resp:
            return resp.status, await resp.json()

    async def requests(self, provider: str) -> list[dict]:
        async with self.http.get(self.server.make_url("/_sandbox/requests"),
                                 params={"provider": provider}) as resp:
            assert resp.status == 200
            return (await resp.json())["requests"]

    async def fault(self, provider: str, **fault) -> None:
        status, body = await self.post("/_sandbox/faults", {"provider": provider, **fault})
        assert status == 201, body


@contextlib.asynccontextmanager
async def running_sandbox(aiohttp_server, settings: Settings):
    """Use from a `sandbox` fixture: `async with running_sandbox(aiohttp_server, settings) as s: yield s`."""
    server = await aiohttp_server(create_sandbox_app(settings))
    async with aiohttp.ClientSession() as http:
        running = Sandbox(server, settings.replace(sandbox_url=str(server.make_url("")).rstrip("/")), http)
        try:
            yield running
        finally:
            for client in running.clients:
                client.close()

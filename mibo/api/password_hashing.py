"""A password from a request body, hashed off the event loop with the configured cost."""

from __future__ import annotations

from aiohttp import web

from mibo.api.keys import EXECUTOR, SETTINGS
from mibo.core import passwords


async def hash_if_given(request: web.Request, password: str | None) -> str | None:
    if password is None:
        return None
    return await passwords.hash_password(request.app[EXECUTOR], password, request.app[SETTINGS].bcrypt_rounds)

"""One unit of work for a handler: a domain rule run with the caller's Actor on a connection of the
pool, in one transaction (`write`) or on a plain connection (`read`).

The admin panel's contract (mibo.api.legacy) holds no database code of its own; its handlers call
the rules through these.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from mibo.api.keys import ACTOR, DB
from mibo.core import db

Rule = Callable[..., Awaitable[Any]]


async def read(request: web.Request, rule: Rule, *args: Any) -> Any:
    """`rule(cursor, actor, *args)` on one connection, outside a transaction (a read)."""
    async with db.connection(request.app[DB]) as cur:
        return await rule(cur, request[ACTOR], *args)


async def write(request: web.Request, rule: Rule, *args: Any) -> Any:
    """`rule(cursor, actor, *args)` in one transaction: all of it commits, or none of it."""
    async with db.transaction(request.app[DB]) as cur:
        return await rule(cur, request[ACTOR], *args)

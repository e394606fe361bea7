"""PostgreSQL access: the aiopg pool, transactions, and small query helpers.

aiopg connections are in autocommit mode, so anything that writes more than one row
opens a transaction explicitly with `transaction(pool)`. Query functions take the cursor
first, as in `fetch_one(cur, SQL, params)`, and the SQL is always parameterised.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiopg
from psycopg2.extras import RealDictCursor

from mibo.core.config import Settings

Params = Sequence[Any] | dict[str, Any] | None


async def create_pool(settings: Settings, *, minsize: int | None = None, maxsize: int | None = None):
    # Sessions run in UTC so that timestamps come back with +00:00 and no server zone leaks in.
    return await aiopg.create_pool(
        settings.database_url,
        minsize=settings.db_pool_min if minsize is None else minsize,
        maxsize=settings.db_pool_max if maxsize is None else maxsize,
        timeout=10,
        options="-c timezone=UTC -c statement_timeout=30000",
    )


@asynccontextmanager
async def transaction(pool) -> AsyncIterator[Any]:
    """A cursor inside one transaction: committed on exit, rolled back on any exception."""
    async with pool.acquire() as conn:
        async with conn.cursor(cursor_factory=RealDictCursor) as cur:
            async with cur.begin():
                yield cur


@asynccontextmanager
async def connection(pool) -> AsyncIterator[Any]:
    """A cursor in autocommit mode, for single statements and reads."""
    async with pool.acquire() as conn:
        async with conn.cursor(cursor_factory=RealDictCursor) as cur:
            yield cur


async def fetch_one(cur, sql: str, params: Params = None) -> dict[str, Any] | None:
    await cur.execute(sql, params)
    return await cur.fetchone()


async def fetch_all(cur, sql: str, params: Params = None) -> list[dict[str, Any]]:
    await cur.execute(sql, params)
    return await cur.fetchall()


async def fetch_value(cur, sql: str, params: Params = None) -> Any:
    await cur.execute(sql, params)
    row = await cur.fetchone()
    return None if row is None else next(iter(row.values()))


async def execute(cur, sql: str, params: Params = None) -> int:
    await cur.execute(sql, params)
    return cur.rowcount


def set_clause(columns: dict[str, str], values: dict[str, Any]) -> str:
    """`column = %(field)s, ...` for the fields present in `values` (a partial update), in the
    order of `columns` (field -> column); empty when none is present. Column names come from
    our own mapping, never from the request."""
    return ", ".join(f"{column} = %({field})s" for field, column in columns.items() if field in values)


async def query_one(pool, sql: str, params: Params = None) -> dict[str, Any] | None:
    async with connection(pool) as cur:
        return await fetch_one(cur, sql, params)


async def query_all(pool, sql: str, params: Params = None) -> list[dict[str, Any]]:
    async with connection(pool) as cur:
        return await fetch_all(cur, sql, params)


async def query_value(pool, sql: str, params: Params = None) -> Any:
    async with connection(pool) as cur:
        return await fetch_value(cur, sql, params)

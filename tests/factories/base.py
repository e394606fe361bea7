"""What every factory shares: the pool and settings, reading a statement's rows, unique numbers."""

from __future__ import annotations

import itertools

from mibo.core.config import Settings

_numbers = itertools.count(1)


def next_number() -> int:
    """A number no other row of this test run has used (for names, phones, usernames)."""
    return next(_numbers)


async def rows(db, sql: str, params=None) -> list[tuple]:
    """The rows a statement returns ([] for one that returns none). `db` is a pool or a Factory."""
    async with db.acquire() as conn, conn.cursor() as cur:
        await cur.execute(sql, params)
        return await cur.fetchall() if cur.description else []


async def value(db, sql: str, params=None):
    """The first column of the first row, or None when there is no row."""
    found = await rows(db, sql, params)
    return found[0][0] if found else None


async def insert(cur, table: str, columns: dict) -> int:
    """One row of `table` with these columns (names are the caller's constants); its id."""
    names = ", ".join(columns)
    placeholders = ", ".join(["%s"] * len(columns))
    await cur.execute(f"INSERT INTO {table} ({names}) VALUES ({placeholders}) RETURNING id", tuple(columns.values()))
    return (await cur.fetchone())[0]


class BaseFactory:
    def __init__(self, pool, settings: Settings):
        self.pool = pool
        self.settings = settings

    def acquire(self):
        return self.pool.acquire()

    async def fetchone(self, sql: str, params=None):
        found = await rows(self, sql, params)
        return found[0] if found else None

    async def insert(self, table: str, **columns) -> int:
        async with self.acquire() as conn, conn.cursor() as cur:
            return await insert(cur, table, columns)

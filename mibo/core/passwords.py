"""bcrypt hashing, always off the event loop: cost 10 is ~100 ms of CPU, which would stall every request."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import Executor

import bcrypt


# Compared against when the user does not exist, so a missing account costs the same time
# as a wrong password and logins cannot be used to discover accounts.
@functools.cache
def _dummy_hash(rounds: int) -> bytes:
    return bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds))


def hash_password_sync(password: str, rounds: int = 10) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def check_password_sync(password: str, hashed: str | None, rounds: int = 10) -> bool:
    if not hashed:
        bcrypt.checkpw(password.encode(), _dummy_hash(rounds))
        return False
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:  # a malformed stored hash is a failed login, not a 500
        return False


async def hash_password(executor: Executor | None, password: str, rounds: int = 10) -> str:
    return await asyncio.get_running_loop().run_in_executor(executor, hash_password_sync, password, rounds)


async def check_password(executor: Executor | None, password: str, hashed: str | None, rounds: int = 10) -> bool:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, check_password_sync, password, hashed, rounds)

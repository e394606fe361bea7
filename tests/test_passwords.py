"""Password hashing: bcrypt at cost 10, verification that refuses anything else, off the event loop."""

from mibo.core import passwords


def test_bcrypt_cost_10_and_verification():
    hashed = passwords.hash_password_sync("Correct-Horse-9")
    assert hashed.startswith("$2b$10$")
    assert passwords.check_password_sync("Correct-Horse-9", hashed)
    assert not passwords.check_password_sync("wrong", hashed)
    assert not passwords.check_password_sync("anything", None)
    assert not passwords.check_password_sync("anything", "not-a-bcrypt-hash")


async def test_bcrypt_runs_off_the_event_loop():
    import asyncio

    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.gather(*(passwords.hash_password(None, "pw", 10) for _ in range(3)))
    task.cancel()
    # Three ~100 ms hashes: a blocked loop would tick almost never.
    assert ticks >= 10

"""The panel's way of refreshing: on every 401 it posts the refresh token it got at sign-in, several
at once when several requests failed together, keeps only the new access token and never the
successor refresh token. That must never sign it out (mibo.domain.sessions' refresh rule)."""

from __future__ import annotations

import asyncio

from tests.factories import PASSWORD
from tests.legacy_support import BASE, data_of, refusal_of


async def sign_in(client, username: str) -> dict:
    resp = await client.post(f"{BASE}/auth/login/username-password", json={"username": username, "password": PASSWORD})
    assert resp.status == 200
    return data_of(await resp.json())


async def refresh(client, refresh_token: str):
    return await client.post(f"{BASE}/auth/refresh", json={"refreshToken": refresh_token})


async def test_parallel_refreshes_with_the_first_token_never_sign_the_panel_out(client, factory):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre], login=False)
    first = (await sign_in(client, desk.username))["refreshToken"]
    for _ in range(3):  # three bursts of failed requests, each answered by refreshes fired together
        answers = await asyncio.gather(*(refresh(client, first) for _ in range(6)))
        assert [resp.status for resp in answers] == [200] * 6
        tokens = [data_of(await resp.json())["accessToken"] for resp in answers]
        for token in tokens:
            me = await client.get(f"{BASE}/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status == 200
    # The session is still the one opened at sign-in, and it is live.
    row = await factory.fetchone("SELECT count(*), count(*) FILTER (WHERE revoked_at IS NULL) FROM auth_sessions"
                                 " WHERE user_id = %s", (desk.id,))
    assert row == (1, 1)


async def test_a_client_that_used_a_successor_cannot_go_back_to_an_older_token(client, factory):
    """The same rule refuses a replayed token once its successor was used: the panel's pattern is safe
    because it never uses successors, not because refresh tokens never retire."""
    admin = await factory.staff("ADMIN", login=False)
    first = (await sign_in(client, admin.username))["refreshToken"]
    second = data_of(await (await refresh(client, first)).json())["refreshToken"]
    assert (await refresh(client, second)).status == 200
    # Past the grace period given to a token's parallel uses.
    await factory.fetchone("UPDATE auth_sessions SET previous_rotated_at = previous_rotated_at - interval '1 minute'"
                           " WHERE user_id = %s RETURNING id", (admin.id,))
    resp = await refresh(client, first)
    assert resp.status == 401
    assert refusal_of(await resp.json())[0] == "TOKEN_REUSED"

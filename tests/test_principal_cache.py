"""The per-process principal cache (mibo/principals.py): no database round trip for a known
session, yet a revoked session, a removed role or a deactivated user is refused as soon as the
change commits, whoever commits it."""

from __future__ import annotations

import select
import time

import psycopg2
import pytest

from mibo.api.principals import CHANNEL, PRINCIPALS, PrincipalCache
from mibo.core import tokens
from tests.factories import PASSWORD
from tests.jobs_support import wait_for

# --- the cache itself ------------------------------------------------------------------


def live_cache(**kwargs) -> PrincipalCache:
    cache = PrincipalCache(max_age=60, **kwargs)
    cache.set_live(True)
    return cache


def test_nothing_is_kept_unless_listening():
    cache = PrincipalCache(max_age=60)
    cache.put("token", "principal", 7, cache.epoch)
    assert cache.get("token") is None
    cache.set_live(True)
    cache.put("token", "principal", 7, cache.epoch)
    assert cache.get("token") == "principal"
    cache.set_live(False)  # the LISTEN connection dropped: changes may be missed from now on
    assert cache.get("token") is None


def test_a_value_read_while_a_change_arrived_is_not_kept():
    cache = live_cache()
    epoch = cache.epoch  # a request starts reading the database...
    cache.heard("7")  # ...a change to user 7 arrives before it stores what it read
    cache.put("token", "stale principal", 7, epoch)
    assert cache.get("token") is None


def test_a_change_drops_only_that_users_entries():
    cache = live_cache()
    cache.put("a", "principal a", 7, cache.epoch)
    cache.put(("me", 7), "user 7", 7, cache.epoch)
    cache.put("b", "principal b", 8, cache.epoch)
    cache.heard("7")
    assert (cache.get("a"), cache.get(("me", 7)), cache.get("b")) == (None, None, "principal b")
    cache.heard("")  # everyone
    assert cache.get("b") is None


def test_forgetting_a_session_drops_only_its_entries():
    cache = live_cache()
    cache.put(("STAFF", "a"), "session 1", 7, cache.epoch, session_id=1)
    cache.put(("STAFF", "b"), "session 2", 7, cache.epoch, session_id=2)
    cache.put(("me", 7), "user 7", 7, cache.epoch)
    epoch = cache.epoch
    cache.forget_session(1)
    assert (cache.get(("STAFF", "a")), cache.get(("STAFF", "b")), cache.get(("me", 7))) == (
        None, "session 2", "user 7")
    assert cache.epoch > epoch  # a read of that session still on its way is not kept either


def test_entries_expire_with_the_token_and_with_max_age():
    cache = live_cache()
    cache.put("expired", "p", 7, cache.epoch, expires_at=time.time() - 1)
    assert cache.get("expired") is None
    off = PrincipalCache(max_age=0)
    off.set_live(True)
    off.put("token", "p", 7, off.epoch)
    assert off.get("token") is None


def test_the_cache_is_bounded():
    cache = live_cache(max_entries=2)
    for n in range(3):
        cache.put(f"t{n}", n, n, cache.epoch)
    assert [cache.get(f"t{n}") for n in range(3)] == [None, 1, 2]


# --- the triggers ----------------------------------------------------------------------


async def test_every_table_behind_a_principal_notifies_its_user(settings, factory):
    centre = await factory.centre()
    listener = psycopg2.connect(settings.database_url)
    listener.autocommit = True
    writer = psycopg2.connect(settings.database_url)
    writer.autocommit = True

    def heard_after(sql: str, params=()) -> set[str]:
        """What the statement notified: everything heard before a fence sent after it commits."""
        with writer.cursor() as cur:
            cur.execute(sql, params)
            cur.execute("SELECT pg_notify(%s, 'fence')", (CHANNEL,))
        heard: set[str] = set()
        deadline = time.monotonic() + 5
        while "fence" not in heard and time.monotonic() < deadline:
            select.select([listener], [], [], 0.1)
            listener.poll()
            heard |= {n.payload for n in listener.notifies if n.channel == CHANNEL}
            listener.notifies.clear()
        assert "fence" in heard
        return heard - {"fence"}

    try:
        with listener.cursor() as cur:
            cur.execute(f"LISTEN {CHANNEL}")
        user = heard_after(
            "INSERT INTO users (username, phone, full_name, user_type) VALUES ('t1', '+919800000001', 'T', 'STAFF')")
        assert len(user) == 1
        mine = set(user)
        uid = int(user.pop())
        # Not ADMIN: the database keeps the last active administrator from being deactivated below.
        assert heard_after("INSERT INTO user_roles (user_id, role_id) SELECT %s, id FROM roles WHERE name = 'MANAGER'",
                           (uid,)) == mine
        assert heard_after("INSERT INTO centre_staff_assignments (centre_id, user_id) VALUES (%s, %s)",
                           (centre, uid)) == mine
        assert heard_after("UPDATE centre_staff_assignments SET is_active = FALSE WHERE user_id = %s", (uid,)) == mine
        assert heard_after("INSERT INTO auth_sessions (user_id, refresh_token_hash, expires_at)"
                           " VALUES (%s, 'h', now() + interval '1 day')", (uid,)) == set()  # a new session
        # Rotating a refresh token changes nothing a cached principal holds.
        assert heard_after("UPDATE auth_sessions SET refresh_token_hash = 'h2', rotated_at = now(),"
                           " refresh_generation = 1 WHERE user_id = %s", (uid,)) == set()
        assert heard_after("UPDATE auth_sessions SET expires_at = now() WHERE user_id = %s", (uid,)) == mine
        assert heard_after("UPDATE auth_sessions SET revoked_at = now() WHERE user_id = %s", (uid,)) == mine
        assert heard_after("UPDATE users SET is_active = FALSE WHERE id = %s", (uid,)) == mine
        assert heard_after("DELETE FROM user_roles WHERE user_id = %s", (uid,)) == mine
        assert heard_after("TRUNCATE auth_sessions") == {""}
    finally:
        listener.close()
        writer.close()


# --- through the API ------------------------------------------------------------------------


async def me(client, staff) -> tuple[int, dict | None]:
    resp = await client.get("/api/auth/me", headers=staff.headers)
    return resp.status, (await resp.json()).get("data")


async def without_triggers(pool, sql: str, params) -> None:
    """Change a row the way nothing in Mibo does: with the notifying triggers switched off. Only a
    cached answer can then still show the old value."""
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute("SET session_replication_role = replica")
        try:
            await cur.execute(sql, params)
        finally:
            await cur.execute("RESET session_replication_role")


async def test_a_known_session_is_served_from_the_cache(client, app, factory, pool):
    staff = await factory.staff("ADMIN")
    assert app[PRINCIPALS].live  # the app starts listening before it serves
    status, user = await me(client, staff)
    assert status == 200
    await without_triggers(pool, "UPDATE users SET full_name = 'Unseen' WHERE id = %s", (staff.id,))
    status, cached = await me(client, staff)
    assert status == 200 and cached == user and cached["name"] != "Unseen"


async def test_a_revocation_committed_elsewhere_reaches_a_cached_session(client, app, factory, pool):
    staff = await factory.staff("ADMIN")
    assert (await me(client, staff))[0] == 200
    await without_triggers(pool, "UPDATE users SET full_name = 'Unseen' WHERE id = %s", (staff.id,))
    assert (await me(client, staff))[1]["name"] != "Unseen"  # served from the cache
    # Another process (here the test) revokes the session: the notification drops the entry.
    await factory.fetchone("UPDATE auth_sessions SET revoked_at = now() WHERE user_id = %s RETURNING id",
                           (staff.id,))

    async def refused():
        return (await me(client, staff))[0] == 401

    await wait_for(refused, timeout=5, what="the revoked session to be refused")


@pytest.mark.parametrize("change", ["role", "deactivate"])
async def test_a_change_made_through_the_api_applies_to_the_very_next_request(client, app, factory, change):
    admin, colleague = await factory.staff("ADMIN"), await factory.staff("ADMIN")
    assert (await client.get("/api/audit", headers=colleague.headers)).status == 200  # cached as ADMIN
    if change == "role":
        resp = await client.put(f"/api/users/{colleague.id}", json={"role": "MANAGER"}, headers=admin.headers)
        expected = 403
    else:
        resp = await client.delete(f"/api/users/{colleague.id}", headers=admin.headers)
        expected = 401
    assert resp.status == 200
    assert (await client.get("/api/audit", headers=colleague.headers)).status == expected


async def test_logout_ends_a_cached_session_at_once(client, factory):
    staff = await factory.staff("ADMIN")
    assert (await me(client, staff))[0] == 200
    assert (await client.post("/api/auth/logout", headers=staff.headers)).status == 200
    assert (await me(client, staff))[0] == 401


async def test_a_failed_refresh_keeps_everyone_elses_entries(client, app, factory, pool, settings):
    staff = await factory.staff("ADMIN")
    assert (await me(client, staff))[0] == 200
    await without_triggers(pool, "UPDATE users SET full_name = 'Unseen' WHERE id = %s", (staff.id,))
    stranger = await factory.staff("ADMIN", login=False)
    for token in ("garbage", tokens.refresh_token(settings, stranger.id, 999_999, 0)):
        resp = await client.post("/api/auth/refresh", json={"refreshToken": token})
        assert resp.status == 401
    status, user = await me(client, staff)
    assert status == 200 and user["name"] != "Unseen"  # still served from the cache


async def test_a_detected_reuse_ends_that_session_at_once_and_no_other(client, app, factory, pool):
    bystander = await factory.staff("ADMIN")
    assert (await me(client, bystander))[0] == 200
    victim = await factory.staff("ADMIN", login=False)
    login = await client.post("/api/auth/login/username-password",
                              json={"username": victim.username, "password": PASSWORD})
    first = (await login.json())["data"]
    successor = await client.post("/api/auth/refresh", json={"refreshToken": first["refreshToken"]})
    adopted = await client.post("/api/auth/refresh",
                                json={"refreshToken": (await successor.json())["data"]["refreshToken"]})
    victim.token = (await adopted.json())["data"]["accessToken"]
    assert (await me(client, victim))[0] == 200  # cached
    await factory.fetchone("UPDATE auth_sessions SET previous_rotated_at = now() - interval '1 minute'"
                           " WHERE user_id = %s RETURNING id", (victim.id,))
    await without_triggers(pool, "UPDATE users SET full_name = 'Unseen' WHERE id = %s", (bystander.id,))
    reused = await client.post("/api/auth/refresh", json={"refreshToken": first["refreshToken"]})
    assert (await reused.json())["error"]["code"] == "TOKEN_REUSED"
    assert (await me(client, victim))[0] == 401
    status, user = await me(client, bystander)
    assert status == 200 and user["name"] != "Unseen"


async def test_losing_the_listener_empties_the_cache_until_it_is_back(client, app, factory, pool):
    staff = await factory.staff("ADMIN")
    assert (await me(client, staff))[0] == 200
    await without_triggers(pool, "UPDATE users SET full_name = 'Seen after reconnect' WHERE id = %s", (staff.id,))
    cache = app[PRINCIPALS]
    epoch = cache.epoch
    listener_pid = await factory.fetchone(
        "SELECT pid FROM pg_stat_activity WHERE query = %s AND datname = current_database()",
        (f"LISTEN {CHANNEL}",))
    await factory.fetchone("SELECT pg_terminate_backend(%s)", listener_pid)
    await wait_for(lambda: cache.epoch >= epoch + 2 and cache.live, timeout=10, what="the listener to reconnect")
    status, user = await me(client, staff)
    assert status == 200 and user["name"] == "Seen after reconnect"

"""mibo.domain.sessions and the tokens under it: audiences keep patient and staff sessions apart,
refresh chains, and the principal lookup refusing every session that is not live."""

from __future__ import annotations

import time

import jwt
import pytest

from mibo.core import db, tokens
from mibo.core.errors import ApiError
from mibo.domain import sessions


async def open_session(pool, settings, phone: str, audience: str) -> sessions.Tokens:
    async with db.transaction(pool) as cur:
        user = await sessions.user_by_phone(cur, phone)
        return await sessions.open_session(cur, settings, user, audience)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- tokens -----------------------------------------------------------------------------


def test_a_token_is_refused_by_the_other_audience(settings):
    for encode, decode in ((tokens.access_token, tokens.decode_access),
                           (lambda *a, **k: tokens.refresh_token(*a, 0, **k), tokens.decode_refresh)):
        patient = encode(settings, 7, 3, audience=tokens.PATIENT)
        assert decode(settings, patient, tokens.PATIENT).audience == tokens.PATIENT
        with pytest.raises(tokens.TokenError):
            decode(settings, patient, tokens.STAFF)
        with pytest.raises(tokens.TokenError):
            decode(settings, encode(settings, 7, 3), tokens.PATIENT)
    with pytest.raises(ValueError):
        tokens.access_token(settings, 7, 3, audience="ADMIN")


def test_a_refresh_token_carries_its_generation(settings):
    assert tokens.decode_refresh(settings, tokens.refresh_token(settings, 7, 3, 4), tokens.STAFF).generation == 4
    now = int(time.time())
    base = {"sub": "7", "sid": "3", "typ": "refresh", "aud": "STAFF", "iss": "mibo", "iat": now, "exp": now + 60}
    for claims in (base, {**base, "gen": -1}, {**base, "gen": "1"}, {**base, "gen": 1.5}):
        with pytest.raises(tokens.TokenError):
            tokens.decode_refresh(settings, jwt.encode(claims, settings.jwt_refresh_secret), tokens.STAFF)


# --- opening sessions -----------------------------------------------------------------------


async def test_each_audience_opens_sessions_for_its_own_users_only(pool, settings, factory):
    staff = await factory.staff("ADMIN", login=False)
    patient = await factory.patient()
    for phone, audience, code in ((patient["phone"], tokens.STAFF, "STAFF_ONLY"),
                                  (staff.phone, tokens.PATIENT, "PATIENT_ONLY")):
        with pytest.raises(ApiError) as refused:
            await open_session(pool, settings, phone, audience)
        assert (refused.value.status, refused.value.code) == (403, code)
    opened = await open_session(pool, settings, patient["phone"], tokens.PATIENT)
    row = await factory.fetchone("SELECT user_id, audience, refresh_token_hash FROM auth_sessions WHERE id = %s",
                                 (opened.session_id,))
    assert row == (patient["user_id"], "PATIENT", tokens.token_hash(opened.refresh_token))
    assert (await factory.fetchone("SELECT count(*) FROM auth_sessions"))[0] == 1


async def test_a_patient_session_is_live_for_the_patient_surface_only(pool, settings, factory, client):
    patient = await factory.patient()
    opened = await open_session(pool, settings, patient["phone"], tokens.PATIENT)
    claims = tokens.decode_access(settings, opened.access_token, tokens.PATIENT)
    async with db.connection(pool) as cur:
        actor, ends_at = await sessions.live_actor(cur, claims)
        # The same session named by a staff token (as if minted with the secret) is not a staff session.
        as_staff = await sessions.live_actor(cur, tokens.Claims(claims.user_id, claims.session_id, tokens.STAFF,
                                                                claims.expires_at))
    assert (actor.user_id, actor.patient_id, actor.roles) == (patient["user_id"], patient["id"], frozenset())
    assert actor.is_patient and ends_at > time.time() + 6 * 86400
    assert as_staff is None
    # On the staff API: its access token (the other surface's: 403), and its refresh token, are refused.
    me = await client.get("/api/auth/me", headers=bearer(opened.access_token))
    assert me.status == 403
    assert (await me.json())["error"]["code"] == "STAFF_ONLY"
    resp = await client.post("/api/auth/refresh", json={"refreshToken": opened.refresh_token})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "INVALID_TOKEN"


async def test_a_patient_refresh_follows_the_same_chain_rules(pool, settings, factory):
    patient = await factory.patient()
    opened = await open_session(pool, settings, patient["phone"], tokens.PATIENT)
    async with db.transaction(pool) as cur:
        first = await sessions.refresh(cur, settings, opened.refresh_token, tokens.PATIENT)
        again = await sessions.refresh(cur, settings, opened.refresh_token, tokens.PATIENT)
        staff_side = await sessions.refresh(cur, settings, opened.refresh_token, tokens.STAFF)
    assert first.error is None and again.error is None
    assert tokens.decode_access(settings, first.tokens.access_token, tokens.PATIENT).session_id == opened.session_id
    assert tokens.decode_refresh(settings, first.tokens.refresh_token, tokens.PATIENT).generation == 1
    assert staff_side.tokens is None and staff_side.error.code == "INVALID_TOKEN"


async def test_revoke_ends_a_session_once(pool, settings, factory):
    staff = await factory.staff("ADMIN", login=False)
    opened = await open_session(pool, settings, staff.phone, tokens.STAFF)
    async with db.connection(pool) as cur:
        assert await sessions.revoke(cur, opened.session_id, "LOGOUT") is True
        assert await sessions.revoke(cur, opened.session_id, "LOGOUT") is False
        claims = tokens.decode_access(settings, opened.access_token, tokens.STAFF)
        assert await sessions.live_actor(cur, claims) is None


# --- the principal lookup over HTTP ----------------------------------------------------------------


async def test_an_expired_session_with_a_valid_access_token_is_refused(client, factory, settings):
    staff = await factory.staff("ADMIN", login=False)
    session = await factory.fetchone(
        "INSERT INTO auth_sessions (user_id, refresh_token_hash, expires_at)"
        " VALUES (%s, 'h', now() - interval '1 second') RETURNING id", (staff.id,))
    access = tokens.access_token(settings, staff.id, session[0])  # the token itself has 15 minutes left
    resp = await client.get("/api/auth/me", headers=bearer(access))
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "SESSION_REVOKED"


async def test_a_cached_session_is_refused_once_it_expires(client, factory, settings):
    staff = await factory.staff("ADMIN", login=False)
    session = await factory.fetchone(
        "INSERT INTO auth_sessions (user_id, refresh_token_hash, expires_at)"
        " VALUES (%s, 'h', now() + interval '1 second') RETURNING id, expires_at", (staff.id,))
    access = tokens.access_token(settings, staff.id, session[0])
    assert (await client.get("/api/auth/me", headers=bearer(access))).status == 200  # now cached
    # Time passing notifies nobody: the cached entry itself must end with the session.
    await factory.fetchone("SELECT pg_sleep(GREATEST(0, EXTRACT(EPOCH FROM %s - now())) + 0.05)", (session[1],))
    assert (await client.get("/api/auth/me", headers=bearer(access))).status == 401


async def test_a_patients_token_on_staff_routes_is_403_and_a_forged_staff_one_401(client, factory, pool, settings):
    patient = await factory.patient()
    # A staff-audience token for the patient's user (what a bug minting tokens would make): no live session.
    staff_style = await factory.token_for(patient["user_id"])
    # A real patient-audience token from a patient session: the other surface's, so 403.
    patient_token = (await open_session(pool, settings, patient["phone"], tokens.PATIENT)).access_token
    for token, status in ((staff_style, 401), (patient_token, 403)):
        for path in ("/api/auth/me", "/api/audit"):
            resp = await client.get(path, headers=bearer(token))
            assert resp.status == status, path

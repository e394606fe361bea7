"""Every /api/auth endpoint: the happy paths and the ways people and attackers get them wrong."""

import asyncio

import jwt
import pytest

from mibo.core import tokens
from tests.factories import PASSWORD


async def login(client, username, password=PASSWORD):
    return await client.post("/api/auth/login/username-password", json={"username": username, "password": password})


async def error_code(resp):
    body = await resp.json()
    assert body["success"] is False
    return body["error"]["code"]


# --- password logins -------------------------------------------------------------


async def test_username_login_returns_auth_response(client, factory, settings):
    centre = await factory.centre()
    staff = await factory.staff("FRONT_DESK", [centre], login=False)
    resp = await login(client, staff.username)
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert data["user"]["id"] == str(staff.id)
    assert data["user"]["role"] == "FRONT_DESK"
    assert data["user"]["roles"] == ["FRONT_DESK"]
    assert data["user"]["centreIds"] == [str(centre)]
    assert data["user"]["isActive"] is True
    assert "passwordHash" not in data["user"] and "password_hash" not in data["user"]
    assert tokens.decode_access(settings, data["accessToken"], tokens.STAFF).user_id == staff.id


async def test_username_is_case_insensitive(client, factory):
    await factory.staff("ADMIN", login=False, username="Asha.Admin")
    assert (await login(client, "asha.admin")).status == 200


async def test_phone_password_login_accepts_any_indian_format(client, factory):
    staff = await factory.staff("ADMIN", login=False, phone="+919812345678")
    for phone in ("9812345678", "09812345678", "+91 98123 45678"):
        resp = await client.post("/api/auth/login/phone-password", json={"phone": phone, "password": PASSWORD})
        assert resp.status == 200, phone
        assert (await resp.json())["data"]["user"]["id"] == str(staff.id)


async def test_wrong_password_and_unknown_user_look_the_same(client, factory):
    staff = await factory.staff("ADMIN", login=False)
    wrong = await login(client, staff.username, "not-the-password")
    missing = await login(client, "nobody-here")
    assert wrong.status == missing.status == 401
    assert await error_code(wrong) == await error_code(missing) == "INVALID_CREDENTIALS"


async def test_patient_cannot_use_staff_login(client, factory, pool):
    patient = await factory.user(user_type="PATIENT", phone="+919811111111")
    resp = await client.post("/api/auth/login/phone-password", json={"phone": "9811111111", "password": PASSWORD})
    assert resp.status == 403
    assert await error_code(resp) == "STAFF_ONLY"
    sessions = await factory.fetchone("SELECT count(*) FROM auth_sessions WHERE user_id = %s", (patient["id"],))
    assert sessions[0] == 0


async def test_inactive_user_is_refused(client, factory):
    staff = await factory.staff("ADMIN", login=False, active=False)
    resp = await login(client, staff.username)
    assert resp.status == 403
    assert await error_code(resp) == "ACCOUNT_DISABLED"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"username": "x"}, "password"),
        ({"password": "x"}, "username"),
        ({"username": "x", "password": ""}, "password"),
        ({"username": "x", "password": "p" * 73}, "password"),
        ({"username": "x", "password": "y", "extra": 1}, "extra"),
        ({"username": 5, "password": "y"}, "username"),
    ],
)
async def test_login_validation_names_the_field(client, body, field):
    resp = await client.post("/api/auth/login/username-password", json=body)
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in error["details"]


async def test_password_over_72_bytes_is_a_400_not_a_500(client):
    # 36 two-byte characters: 72 characters would pass a naive length check.
    resp = await client.post("/api/auth/login/phone-password", json={"phone": "9812345678", "password": "é" * 37})
    assert resp.status == 400
    assert "password" in (await resp.json())["error"]["details"]


# --- OTP -------------------------------------------------------------------------


async def send_otp(client, phone):
    return await client.post("/api/auth/send-otp", json={"phone": phone})


async def otp_login(client, phone, otp):
    return await client.post("/api/auth/login/phone-otp", json={"phone": phone, "otp": otp})


async def test_otp_login_happy_path_and_single_use(client, factory, otp_sender):
    staff = await factory.staff("CARE_COORDINATOR", [await factory.centre()], login=False)
    resp = await send_otp(client, staff.phone)
    assert resp.status == 200
    code = otp_sender.last_for(staff.phone)
    assert len(code) == 6 and code.isdigit()
    first = await otp_login(client, staff.phone, code)
    assert first.status == 200
    assert (await first.json())["data"]["user"]["id"] == str(staff.id)
    again = await otp_login(client, staff.phone, code)
    assert again.status == 401


async def test_otp_is_stored_hashed_with_expiry(client, factory, otp_sender):
    staff = await factory.staff("ADMIN", login=False)
    await send_otp(client, staff.phone)
    code = otp_sender.last_for(staff.phone)
    row = await factory.fetchone(
        "SELECT otp_hash, expires_at - created_at, attempts_count, is_used FROM otp_requests WHERE phone = %s",
        (staff.phone,),
    )
    otp_hash, lifetime, attempts, used = row
    assert code not in otp_hash and len(otp_hash) == 64
    assert lifetime.total_seconds() == pytest.approx(600, abs=2)
    assert (attempts, used) == (0, False)


async def test_unknown_number_gets_the_same_answer_and_no_otp(client, factory, otp_sender):
    staff = await factory.staff("ADMIN", login=False)
    known, unknown = await send_otp(client, staff.phone), await send_otp(client, "9000000001")
    assert known.status == unknown.status == 200
    assert (await known.json()) == (await unknown.json())
    assert [phone for phone, _ in otp_sender.sent] == [staff.phone]
    # The unknown number's code is stored like any other, but nobody receives it or signs in with it.
    assert (await factory.fetchone("SELECT count(*) FROM otp_requests WHERE phone = '+919000000001'"))[0] == 1
    assert (await factory.fetchone("SELECT count(*) FROM auth_sessions"))[0] == 0


@pytest.mark.parametrize("request_code_first", [True, False])
async def test_wrong_otps_are_answered_alike_for_staff_and_for_any_other_number(
        client, factory, otp_sender, request_code_first):
    """Nothing in the answers, attempts left included, tells a guesser whose number it is."""
    active = await factory.staff("ADMIN", login=False)
    inactive = await factory.staff("ADMIN", login=False, active=False)
    patient = await factory.patient()
    answers = {}
    for label, phone in [("staff", active.phone), ("inactive staff", inactive.phone),
                         ("patient", patient["phone"]), ("nobody", "+919000000002")]:
        if request_code_first:
            assert (await send_otp(client, phone)).status == 200
        wrong = "000000" if not otp_sender.sent or otp_sender.sent[-1][1] != "000000" else "111111"
        answers[label] = []
        for _ in range(4):
            resp = await otp_login(client, phone, wrong)
            answers[label].append((resp.status, (await resp.json())["error"]))
    assert answers["staff"] == answers["inactive staff"] == answers["patient"] == answers["nobody"]
    if request_code_first:
        assert [error.get("details") for _, error in answers["nobody"]] == [
            {"remainingAttempts": 2}, {"remainingAttempts": 1}, {"remainingAttempts": 0}, None]


async def test_wrong_otp_four_times_locks_even_the_right_code(client, factory, otp_sender):
    staff = await factory.staff("ADMIN", login=False)
    await send_otp(client, staff.phone)
    code = otp_sender.last_for(staff.phone)
    wrong = "000000" if code != "000000" else "111111"
    remaining = []
    for _ in range(3):
        resp = await otp_login(client, staff.phone, wrong)
        assert resp.status == 401
        body = await resp.json()
        assert body["error"]["code"] == "OTP_INVALID"
        remaining.append(body["error"]["details"]["remainingAttempts"])
    assert remaining == [2, 1, 0]
    fourth = await otp_login(client, staff.phone, code)
    assert fourth.status == 401
    assert await error_code(fourth) == "OTP_ATTEMPTS_EXCEEDED"
    attempts = await factory.fetchone("SELECT attempts_count FROM otp_requests WHERE phone = %s", (staff.phone,))
    assert attempts[0] == 3


async def test_expired_otp_is_refused(client, factory, otp_sender):
    staff = await factory.staff("ADMIN", login=False)
    await send_otp(client, staff.phone)
    await factory.fetchone(
        "UPDATE otp_requests SET expires_at = now() - interval '1 second' WHERE phone = %s RETURNING id",
        (staff.phone,),
    )
    resp = await otp_login(client, staff.phone, otp_sender.last_for(staff.phone))
    assert resp.status == 401
    assert await error_code(resp) == "OTP_EXPIRED"


async def test_new_otp_replaces_the_old_one(client, factory, otp_sender):
    staff = await factory.staff("ADMIN", login=False)
    await send_otp(client, staff.phone)
    old = otp_sender.last_for(staff.phone)
    await send_otp(client, staff.phone)
    new = otp_sender.last_for(staff.phone)
    if old != new:
        assert (await otp_login(client, staff.phone, old)).status == 401
    assert (await otp_login(client, staff.phone, new)).status == 200


async def test_otp_login_for_patient_is_forbidden(client, factory, otp_sender):
    # A patient number never gets an OTP from the staff endpoint, so there is nothing to log in with.
    await factory.user(user_type="PATIENT", phone="+919822222222")
    await send_otp(client, "9822222222")
    assert otp_sender.sent == []
    resp = await otp_login(client, "9822222222", "123456")
    assert resp.status == 401


async def test_otp_must_be_six_digits(client):
    resp = await otp_login(client, "9812345678", "12345a")
    assert resp.status == 400
    assert "otp" in (await resp.json())["error"]["details"]


# --- tokens, refresh, logout, me ---------------------------------------------------


async def logged_in(client, factory, role="ADMIN", centres=()):
    staff = await factory.staff(role, list(centres), login=False)
    data = (await (await login(client, staff.username)).json())["data"]
    return staff, data["accessToken"], data["refreshToken"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


async def test_me_returns_the_user_with_roles_and_centres(client, factory):
    centre_a, centre_b = await factory.centre(), await factory.centre()
    staff, access, _ = await logged_in(client, factory, "CENTRE_MANAGER", [centre_a, centre_b])
    resp = await client.get("/api/auth/me", headers=bearer(access))
    assert resp.status == 200
    user = (await resp.json())["data"]
    assert user["id"] == str(staff.id)
    assert user["roles"] == ["CENTRE_MANAGER"]
    assert sorted(user["centreIds"]) == sorted([str(centre_a), str(centre_b)])
    assert user["createdAt"].endswith("+00:00")


async def refresh_with(client, token):
    return await client.post("/api/auth/refresh", json={"refreshToken": token})


async def refreshed(client, token) -> dict:
    resp = await refresh_with(client, token)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["data"]


async def test_a_client_that_keeps_its_first_refresh_token_stays_signed_in(client, factory):
    """Both real frontends keep the refresh token they got at sign-in and refresh in parallel."""
    staff, _, first = await logged_in(client, factory)
    successors = [(await refreshed(client, first))["refreshToken"] for _ in range(3)]
    parallel = await asyncio.gather(*(refresh_with(client, first) for _ in range(4)))
    assert [resp.status for resp in parallel] == [200] * 4
    latest = (await parallel[-1].json())["data"]
    assert len({first, *successors}) == 4
    assert (await client.get("/api/auth/me", headers=bearer(latest["accessToken"]))).status == 200
    # ...until the session's absolute expiry, set at sign-in and never extended by a refresh.
    await factory.fetchone("UPDATE auth_sessions SET expires_at = now() - interval '1 second'"
                           " WHERE user_id = %s RETURNING id", (staff.id,))
    expired = await refresh_with(client, first)
    assert expired.status == 401
    assert await error_code(expired) == "SESSION_REVOKED"


async def test_once_a_successor_is_used_an_older_token_is_reuse_and_ends_the_session(client, factory):
    staff, _, first = await logged_in(client, factory)
    successor = (await refreshed(client, first))["refreshToken"]
    adopted = await refreshed(client, successor)  # the client adopted the successor: `first` is retired
    await factory.fetchone("UPDATE auth_sessions SET previous_rotated_at = now() - interval '6 seconds'"
                           " WHERE user_id = %s RETURNING id", (staff.id,))
    reused = await refresh_with(client, first)
    assert reused.status == 401
    assert await error_code(reused) == "TOKEN_REUSED"
    # Someone holds a copy: the whole session ends, the newest tokens with it.
    assert (await refresh_with(client, adopted["refreshToken"])).status == 401
    assert (await client.get("/api/auth/me", headers=bearer(adopted["accessToken"]))).status == 401
    row = await factory.fetchone("SELECT revoked_reason FROM auth_sessions WHERE user_id = %s", (staff.id,))
    assert row[0] == "REUSE_DETECTED"


async def test_a_retired_token_presented_within_five_seconds_of_its_last_use_is_not_reuse(client, factory):
    """Parallel tabs and parallel 401s bring the same token just after one of them adopted its successor."""
    staff, _, first = await logged_in(client, factory)
    successor = (await refreshed(client, first))["refreshToken"]
    await refreshed(client, successor)
    late = await asyncio.gather(*(refresh_with(client, first) for _ in range(3)))
    assert [resp.status for resp in late] == [200] * 3
    await factory.fetchone("UPDATE auth_sessions SET previous_rotated_at = now() - interval '4 seconds'"
                           " WHERE user_id = %s RETURNING id", (staff.id,))
    assert (await refresh_with(client, first)).status == 200
    await factory.fetchone("UPDATE auth_sessions SET previous_rotated_at = now() - interval '6 seconds'"
                           " WHERE user_id = %s RETURNING id", (staff.id,))
    assert await error_code(await refresh_with(client, first)) == "TOKEN_REUSED"


async def test_a_refresh_token_of_another_session_or_a_forged_one_is_refused(client, factory, settings):
    staff, _, first = await logged_in(client, factory)
    claims = jwt.decode(first, options={"verify_signature": False})
    for forged in (jwt.encode({**claims, "gen": 7}, "another-secret-of-32-characters!!"),
                   tokens.refresh_token(settings, staff.id, 999_999, 0)):
        resp = await refresh_with(client, forged)
        assert resp.status == 401
        assert await error_code(resp) in ("INVALID_TOKEN", "SESSION_REVOKED")
    assert (await refresh_with(client, first)).status == 200


async def test_only_refresh_token_hashes_are_stored(client, factory):
    staff, _, refresh = await logged_in(client, factory)
    row = await factory.fetchone("SELECT refresh_token_hash FROM auth_sessions WHERE user_id = %s", (staff.id,))
    assert row[0] == tokens.token_hash(refresh) and refresh not in row[0]


async def test_logout_revokes_access_and_refresh(client, factory):
    _, access, refresh = await logged_in(client, factory)
    resp = await client.post("/api/auth/logout", headers=bearer(access), json={"refreshToken": refresh})
    assert resp.status == 200
    assert (await client.get("/api/auth/me", headers=bearer(access))).status == 401
    assert (await client.post("/api/auth/refresh", json={"refreshToken": refresh})).status == 401


async def test_logout_needs_a_token(client):
    assert (await client.post("/api/auth/logout")).status == 401


async def test_tampered_token_is_refused(client, factory):
    _, access, _ = await logged_in(client, factory)
    header, payload, signature = access.split(".")
    forged = jwt.encode(
        {**jwt.decode(access, options={"verify_signature": False}), "sub": "999"}, "another-secret-of-32-characters!!"
    )
    for token in (f"{header}.{payload}.{signature[:-2]}AA", forged):
        resp = await client.get("/api/auth/me", headers=bearer(token))
        assert resp.status == 401
        assert await error_code(resp) == "INVALID_TOKEN"


async def test_alg_none_token_is_refused(client, factory):
    staff, access, _ = await logged_in(client, factory)
    claims = jwt.decode(access, options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")
    resp = await client.get("/api/auth/me", headers=bearer(unsigned))
    assert resp.status == 401


async def test_refresh_token_is_not_an_access_token(client, factory):
    _, _, refresh = await logged_in(client, factory)
    assert (await client.get("/api/auth/me", headers=bearer(refresh))).status == 401


async def test_expired_access_token(client, factory, settings):
    staff, _, _ = await logged_in(client, factory)
    session = await factory.fetchone("SELECT id FROM auth_sessions WHERE user_id = %s", (staff.id,))
    expired = tokens.access_token(settings.replace(jwt_access_ttl=-10), staff.id, session[0])
    resp = await client.get("/api/auth/me", headers=bearer(expired))
    assert resp.status == 401
    assert await error_code(resp) == "TOKEN_EXPIRED"


async def test_deactivated_user_loses_access_at_once(client, factory):
    # Not an ADMIN: the database keeps the last active administrator from being deactivated.
    staff, access, refresh = await logged_in(client, factory, "MANAGER")
    await factory.fetchone("UPDATE users SET is_active = FALSE WHERE id = %s RETURNING id", (staff.id,))
    assert (await client.get("/api/auth/me", headers=bearer(access))).status == 401
    resp = await client.post("/api/auth/refresh", json={"refreshToken": refresh})
    assert resp.status == 403


async def test_malformed_authorization_header(client):
    for header in ("Token abc", "Bearer", "Bearer    ", "abc"):
        resp = await client.get("/api/auth/me", headers={"Authorization": header})
        assert resp.status == 401, header


# --- rate limits -------------------------------------------------------------------


async def test_sixth_login_for_one_account_is_rate_limited(client, factory):
    staff = await factory.staff("ADMIN", login=False)
    for _ in range(5):
        assert (await login(client, staff.username, "wrong")).status == 401
    sixth = await login(client, staff.username)
    assert sixth.status == 429
    assert int(sixth.headers["Retry-After"]) >= 1
    assert await error_code(sixth) == "RATE_LIMITED"


async def test_one_mistyping_colleague_does_not_lock_out_the_front_office(client, factory):
    colleague = await factory.staff("FRONT_DESK", [await factory.centre()], login=False)
    typo = await factory.staff("FRONT_DESK", [await factory.centre()], login=False)
    for _ in range(6):
        await login(client, typo.username, "wrong")
    assert (await login(client, colleague.username)).status == 200


async def test_per_client_ceiling_across_auth_endpoints(aiohttp_client, settings, pool, redis, otp_sender):
    from mibo.api.app import init_app

    tight = settings.replace(rate_limit_client_per_minute=8)
    client = await aiohttp_client(init_app(tight, pool=pool, redis=redis, otp_sender=otp_sender))
    statuses = [
        (await client.post("/api/auth/login/username-password", json={"username": f"u{i}", "password": "x"})).status
        for i in range(10)
    ]
    assert statuses[:8] == [401] * 8
    assert statuses[8:] == [429, 429]


async def test_rate_limit_keys_hold_no_personal_data(client, factory, redis):
    staff = await factory.staff("ADMIN", login=False, phone="+919833333333")
    await client.post("/api/auth/login/phone-password", json={"phone": "9833333333", "password": "x"})
    keys = [key.decode() for key in await redis.keys("mibo:rl:*")]
    assert keys and not any("9833333333" in key or staff.username in key for key in keys)

"""/api/patient-auth/*: OTP sign-up and sign-in, password login, refresh, logout, me."""

import asyncio

import pytest

from mibo.api.app import init_app
from mibo.core import tokens
from mibo.core.errors import ApiError
from tests.factories import PASSWORD


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


async def send_otp(client, phone):
    return await client.post("/api/patient-auth/send-otp", json={"phone": phone})


async def verify(client, phone, otp, **details):
    return await client.post("/api/patient-auth/verify-otp", json={"phone": phone, "otp": otp, **details})


async def sign_up(client, otp_sender, phone="919876500001", **details) -> dict:
    assert (await send_otp(client, phone)).status == 200
    code = otp_sender.sent[-1][1]
    resp = await verify(client, phone, code, **({"first_name": "Asha", "last_name": "Rao"} | details))
    assert resp.status == 200, await resp.text()
    return (await resp.json())["data"]


async def count(factory, sql, *params):
    return (await factory.fetchone(sql, params))[0]


async def test_send_otp_says_whether_the_phone_is_new_and_stores_a_code(client, factory, otp_sender):
    resp = await send_otp(client, "919876500001")
    assert resp.status == 200
    assert (await resp.json())["data"] == {"phone": "+919876500001", "expiresIn": 600, "isNewUser": True}
    assert otp_sender.sent[-1][0] == "+919876500001"
    row = await factory.fetchone("SELECT audience, otp_hash FROM otp_requests WHERE phone = '+919876500001'")
    assert row[0] == "PATIENT" and otp_sender.sent[-1][1] not in row[1]
    walk_in = await factory.patient(phone="+919876500002")
    resp = await send_otp(client, "919876500002")
    assert (await resp.json())["data"]["isNewUser"] is False
    assert walk_in["phone"] == "+919876500002"


async def test_first_verification_signs_a_new_phone_up_in_one_go(client, factory, otp_sender, settings):
    data = await sign_up(client, otp_sender, email="asha@example.test", age=34, gender="NON_BINARY")
    assert data["isNewUser"] is True and data["requiresProfileCompletion"] is False
    assert data["user"] == {"id": data["user"]["id"], "phone": "+919876500001", "email": "asha@example.test",
                            "fullName": "Asha Rao", "firstName": "Asha", "lastName": "Rao", "userType": "PATIENT"}
    assert data["patient"] == {"id": data["patient"]["id"], "dateOfBirth": None, "age": 34, "gender": "NON_BINARY",
                               "bloodGroup": None}
    row = await factory.fetchone(
        "SELECT u.user_type, pp.gender, pp.age FROM users u JOIN patient_profiles pp ON pp.user_id = u.id"
        " WHERE u.id = %s", (data["user"]["id"],))
    assert row == ("PATIENT", "OTHER", 34)  # the records' name for it
    claims = tokens.decode_access(settings, data["accessToken"], tokens.PATIENT)
    assert claims.user_id == data["user"]["id"]
    me = await client.get("/api/patient-auth/me", headers=bearer(data["accessToken"]))
    assert me.status == 200
    assert (await me.json())["data"]["patient"]["id"] == data["patient"]["id"]
    # Signing in again: the same record, not a new one.
    again = await sign_up(client, otp_sender)
    assert again["isNewUser"] is False and again["patient"]["id"] == data["patient"]["id"]
    assert await count(factory, "SELECT count(*) FROM patient_profiles") == 1


async def test_a_new_phone_needs_a_name_and_keeps_its_code_until_it_comes(client, factory, otp_sender):
    await send_otp(client, "919876500003")
    code = otp_sender.sent[-1][1]
    missing = await verify(client, "919876500003", code)
    assert missing.status == 400
    body = await missing.json()
    assert "first_name" in body["error"]["details"] and body["message"] == body["error"]["message"]
    assert await count(factory, "SELECT count(*) FROM users") == 0
    resp = await verify(client, "919876500003", code, first_name="Ravi")
    assert resp.status == 200
    assert (await resp.json())["data"]["requiresProfileCompletion"] is True


@pytest.mark.parametrize("site_phone", ["9876500004", "+919876500004", "919876500004", "09876500004"])
async def test_a_walk_in_and_a_site_sign_up_with_one_number_are_one_patient(client, factory, otp_sender,
                                                                            site_phone):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    walk_in = await client.post("/api/patients", headers=desk.headers,
                                json={"fullName": "Meera Nair", "phone": "98765 00004"})
    assert walk_in.status == 201
    patient_id = int((await walk_in.json())["data"]["id"])
    assert (await (await send_otp(client, site_phone)).json())["data"]["isNewUser"] is False
    resp = await verify(client, site_phone, otp_sender.sent[-1][1])
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert data["patient"]["id"] == patient_id and data["isNewUser"] is False
    assert await count(factory, "SELECT count(*) FROM users WHERE user_type = 'PATIENT'") == 1


async def test_a_wrong_code_is_counted_and_refused(client, factory, otp_sender):
    await send_otp(client, "919876500005")
    code = otp_sender.sent[-1][1]
    wrong = await verify(client, "919876500005", "000000" if code != "000000" else "111111", first_name="X")
    assert wrong.status == 401
    assert (await wrong.json())["error"] == {"code": "OTP_INVALID", "message": "The OTP is incorrect",
                                             "details": {"remainingAttempts": 2}}
    assert await count(factory, "SELECT count(*) FROM users") == 0


async def test_a_staff_phone_cannot_sign_in_on_the_website(client, factory, otp_sender):
    staff = await factory.staff("ADMIN", login=False)
    await send_otp(client, staff.phone)
    resp = await verify(client, staff.phone, otp_sender.sent[-1][1])
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "PATIENT_ONLY"
    assert await count(factory, "SELECT count(*) FROM auth_sessions") == 0


class FailingSender:
    async def send(self, phone, otp, expiry_minutes):
        raise ApiError.unavailable("down", "OTP_DELIVERY_UNAVAILABLE")


async def test_a_delivery_failure_still_answers_200_with_the_code_stored(aiohttp_client, settings, pool, redis,
                                                                         factory, caplog):
    client = await aiohttp_client(init_app(settings, pool=pool, redis=redis, otp_sender=FailingSender()))
    resp = await send_otp(client, "919876500006")
    assert resp.status == 200
    assert await count(factory, "SELECT count(*) FROM otp_requests WHERE phone = '+919876500006'") == 1
    logged = [r for r in caplog.records if r.getMessage() == "patient otp not handed over for delivery"]
    assert len(logged) == 1 and "9876500006" not in str(logged[0].__dict__)


async def test_otp_issuance_is_capped_per_phone_and_per_client(aiohttp_client, settings, pool, redis, otp_sender):
    tight = settings.replace(rate_limit_otp_per_phone_per_hour=2, rate_limit_otp_per_client_per_hour=3,
                             rate_limit_login_per_minute=100)
    client = await aiohttp_client(init_app(tight, pool=pool, redis=redis, otp_sender=otp_sender))
    statuses = [(await send_otp(client, "919876500007")).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert (await send_otp(client, "919876500008")).status == 200  # the client's third
    refused = await send_otp(client, "919876500009")
    assert refused.status == 429 and "Retry-After" in refused.headers
    assert len(otp_sender.sent) == 3


async def test_password_login_for_a_patient_and_not_for_staff(client, factory):
    patient = await factory.patient()
    staff = await factory.staff("ADMIN", login=False)
    await factory.fetchone("UPDATE users SET username = 'asha', password_hash = (SELECT password_hash FROM users"
                           " WHERE id = %s) WHERE id = %s RETURNING id", (staff.id, patient["user_id"]))
    resp = await client.post("/api/patient-auth/login-with-password", json={"username": "asha", "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    data = (await resp.json())["data"]
    assert data["patient"]["id"] == patient["id"] and data["user"]["userType"] == "PATIENT"
    wrong = await client.post("/api/patient-auth/login-with-password", json={"username": "asha", "password": "x"})
    assert wrong.status == 401
    staff_try = await client.post("/api/patient-auth/login-with-password",
                                  json={"username": staff.username, "password": PASSWORD})
    assert staff_try.status == 403
    assert (await staff_try.json())["error"]["code"] == "PATIENT_ONLY"


# --- refresh: the three cases, with the patient audience -------------------------------------------


async def refresh_with(client, token):
    return await client.post("/api/patient-auth/refresh-token", json={"refreshToken": token})


async def test_a_site_that_keeps_its_first_refresh_token_stays_signed_in(client, otp_sender):
    first = (await sign_up(client, otp_sender))["refreshToken"]
    statuses = [(await refresh_with(client, first)).status for _ in range(3)]
    parallel = await asyncio.gather(*(refresh_with(client, first) for _ in range(4)))
    assert statuses + [resp.status for resp in parallel] == [200] * 7
    access = (await parallel[0].json())["data"]["accessToken"]
    assert (await client.get("/api/patient-auth/me", headers=bearer(access))).status == 200


async def test_an_older_token_after_a_successor_was_used_is_reuse(client, factory, otp_sender):
    data = await sign_up(client, otp_sender)
    first = data["refreshToken"]
    successor = (await (await refresh_with(client, first)).json())["data"]["refreshToken"]
    adopted = (await (await refresh_with(client, successor)).json())["data"]
    await factory.fetchone("UPDATE auth_sessions SET previous_rotated_at = now() - interval '6 seconds'"
                           " RETURNING id")
    reused = await refresh_with(client, first)
    assert reused.status == 401
    assert (await reused.json())["error"]["code"] == "TOKEN_REUSED"
    assert (await client.get("/api/patient-auth/me", headers=bearer(adopted["accessToken"]))).status == 401
    row = await factory.fetchone("SELECT audience, revoked_reason FROM auth_sessions")
    assert row == ("PATIENT", "REUSE_DETECTED")


async def test_the_same_token_within_five_seconds_of_its_last_use_is_not_reuse(client, factory, otp_sender):
    first = (await sign_up(client, otp_sender))["refreshToken"]
    successor = (await (await refresh_with(client, first)).json())["data"]["refreshToken"]
    assert (await refresh_with(client, successor)).status == 200
    late = await asyncio.gather(*(refresh_with(client, first) for _ in range(3)))
    assert [resp.status for resp in late] == [200] * 3
    await factory.fetchone("UPDATE auth_sessions SET previous_rotated_at = now() - interval '6 seconds'"
                           " RETURNING id")
    assert (await (await refresh_with(client, first)).json())["error"]["code"] == "TOKEN_REUSED"


async def test_a_staff_refresh_token_is_refused_on_the_patient_route(client, factory):
    staff = await factory.staff("ADMIN", login=False)
    login = await client.post("/api/auth/login/username-password",
                              json={"username": staff.username, "password": PASSWORD})
    staff_refresh = (await login.json())["data"]["refreshToken"]
    assert (await refresh_with(client, staff_refresh)).status == 401


async def test_logout_ends_the_session_and_staff_tokens_are_403_here(client, factory, otp_sender):
    data = await sign_up(client, otp_sender)
    out = await client.post("/api/patient-auth/logout", headers=bearer(data["accessToken"]),
                            json={"refreshToken": data["refreshToken"]})
    assert out.status == 200
    assert (await client.get("/api/patient-auth/me", headers=bearer(data["accessToken"]))).status == 401
    assert (await refresh_with(client, data["refreshToken"])).status == 401
    staff = await factory.staff("ADMIN")
    resp = await client.get("/api/patient-auth/me", headers=staff.headers)
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "PATIENT_ONLY"

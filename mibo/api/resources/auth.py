"""/api/auth/*: staff OTP and password logins, token refresh, logout, me.

The rules (sessions, refresh chains, OTPs) are mibo.domain.sessions and mibo.domain.otp, shared
with the patient website's sign-in; the limits are mibo.api.ratelimit.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from mibo.api import ratelimit
from mibo.api.access import public, requires
from mibo.api.apidoc import KB, documented
from mibo.api.http import ok, ok_json_text, read_json
from mibo.api.keys import ACTOR, DB, EXECUTOR, OTP_SENDER, SETTINGS
from mibo.api.principals import PRINCIPALS
from mibo.core import db, passwords
from mibo.core.errors import ApiError
from mibo.core.logs import log_event, mask_phone
from mibo.core.tokens import STAFF
from mibo.domain import otp, sessions
from mibo.domain.access import RANKING, ROLES_AND_CENTRES_OF_USER
from schemas.auth import (
    AuthResponseSchema,
    AuthUserSchema,
    LogoutSchema,
    MessageSchema,
    OtpSentSchema,
    PhoneOtpLoginSchema,
    PhonePasswordLoginSchema,
    RefreshSchema,
    SendOtpSchema,
    TokenPairSchema,
    UsernamePasswordLoginSchema,
)

log = logging.getLogger(__name__)

AUTH_MAX_BODY = 4 * KB  # a phone, a password or a token: a few hundred bytes

# The AuthResponse user, built by PostgreSQL. Roles are ordered highest first; "role" is the highest.
AUTH_USER_JSON = f"""
SELECT json_build_object(
    'id', u.id::text,
    'name', u.full_name,
    'email', u.email,
    'phone', u.phone,
    'username', u.username,
    'role', r.roles[1],
    'roles', r.roles,
    'avatar', u.avatar_url,
    'centreIds', c.centre_ids::text[],
    'clinicianId', cp.id::text,
    'isActive', u.is_active,
    'createdAt', u.created_at,
    'updatedAt', u.updated_at
)::text AS user_json
FROM users u
LEFT JOIN clinician_profiles cp ON cp.user_id = u.id
{ROLES_AND_CENTRES_OF_USER}
WHERE u.id = %(user_id)s
"""


async def auth_user_json(cur, user_id: int) -> str:
    return await db.fetch_value(cur, AUTH_USER_JSON, {"user_id": user_id, "ranking": RANKING})


async def start_session(request: web.Request, user: dict) -> tuple[str, sessions.Tokens]:
    """Open a staff session for a user whose credentials were just proven: (the user's JSON, the session)."""
    async with db.transaction(request.app[DB]) as cur:
        session = await sessions.open_session(cur, request.app[SETTINGS], user, STAFF)
        user_json = await auth_user_json(cur, user["id"])
    await ratelimit.forget_failed_logins(request, user["id"])
    return user_json, session


async def signed_in(request: web.Request, user: dict) -> web.Response:
    """The spec's AuthResponse for a user whose credentials were just proven."""
    user_json, session = await start_session(request, user)
    return ok_json_text('{"user":' + user_json + ',"accessToken":' + json.dumps(session.access_token)
                        + ',"refreshToken":' + json.dumps(session.refresh_token) + "}")


async def password_user(request: web.Request, find_user, identifier: str, password: str) -> dict:
    """The user whose password this is, under the sign-in limits; 401 otherwise."""
    await ratelimit.per_identifier(request, identifier)
    async with db.connection(request.app[DB]) as cur:
        user = await find_user(cur, identifier)
    account = ratelimit.account(user and user["id"], identifier)
    await ratelimit.refuse_locked_account(request, account)
    settings = request.app[SETTINGS]
    valid = await passwords.check_password(
        request.app[EXECUTOR], password, user and user["password_hash"], settings.bcrypt_rounds
    )
    if not valid:
        await ratelimit.count_failed_login(request, account)
        log_event(log, logging.INFO, "login failed", reason="bad credentials")
        raise ApiError.unauthorized("Invalid credentials", "INVALID_CREDENTIALS")
    return user


async def otp_user(request: web.Request, phone: str, code: str) -> dict:
    """The staff user of `phone` once `code` is proven (the OTP is consumed); 401 otherwise."""
    await ratelimit.per_identifier(request, phone)
    async with db.transaction(request.app[DB]) as cur:
        attempt = await otp.consume(cur, request.app[SETTINGS], phone, code, STAFF)
        user = await sessions.user_by_phone(cur, phone) if attempt.matched else None
    error = attempt.refusal(account_found=user is not None)
    if error is not None:
        raise error
    return user


async def issue_otp(request: web.Request, phone: str, purpose: str) -> dict:
    """Issue an OTP for `phone` under the OTP limits; the answer is the same for any number."""
    await ratelimit.per_identifier(request, phone)
    await ratelimit.otp_issuance(request, phone)
    settings = request.app[SETTINGS]
    # A code is stored for any number, so that checking one answers alike whoever's number it is;
    # it is delivered only to an active staff member.
    async with db.transaction(request.app[DB]) as cur:
        code = await otp.issue(cur, settings, phone, STAFF, purpose)
        user = await sessions.user_by_phone(cur, phone)
    if sessions.may_sign_in(user, STAFF):
        await request.app[OTP_SENDER].send(phone, code, settings.otp_expiry_minutes)
    else:
        log_event(log, logging.INFO, "otp requested for a number with no staff account", phone=mask_phone(phone))
    return {"message": "If the number belongs to a staff account, an OTP has been sent",
            "expiresInMinutes": settings.otp_expiry_minutes}


async def refreshed_tokens(request: web.Request, refresh_token: str, audience: str = STAFF) -> sessions.Tokens:
    """The new access token and its successor refresh token (mibo.domain.sessions.refresh decides)."""
    async with db.transaction(request.app[DB]) as cur:
        result = await sessions.refresh(cur, request.app[SETTINGS], refresh_token, audience)
    if result.revoked:
        request.app[PRINCIPALS].forget_session(result.session_id)
    if result.error is not None:
        raise result.error
    return result.tokens


async def end_session(request: web.Request) -> None:
    session_id = request[ACTOR].session_id
    async with db.connection(request.app[DB]) as cur:
        await sessions.revoke(cur, session_id, "LOGOUT")
    # The caller's next request must see it, even before the commit's notification arrives.
    request.app[PRINCIPALS].forget_session(session_id)


async def me_json(request: web.Request) -> str:
    """The signed-in user's AuthResponse user as JSON, from this process's principal cache."""
    user_id = request[ACTOR].user_id

    async def load():
        async with db.connection(request.app[DB]) as cur:
            return await auth_user_json(cur, user_id), None

    return await request.app[PRINCIPALS].get_or_load(("me", user_id), user_id, load)


# --- handlers -----------------------------------------------------------------


@public
@documented("Send an OTP to a staff phone over WhatsApp (the same answer for any number)", tags=("Auth",),
            body=SendOtpSchema, response=OtpSentSchema, errors=(429,), max_body=AUTH_MAX_BODY)
async def send_otp(request: web.Request) -> web.Response:
    await ratelimit.per_client(request)
    body = await read_json(request, SendOtpSchema())
    return ok(await issue_otp(request, body["phone"], body["purpose"]))


@public
@documented("Log in with a phone and the OTP sent to it", tags=("Auth",), body=PhoneOtpLoginSchema,
            response=AuthResponseSchema, errors=(401, 403, 429), max_body=AUTH_MAX_BODY)
async def login_phone_otp(request: web.Request) -> web.Response:
    await ratelimit.per_client(request)
    body = await read_json(request, PhoneOtpLoginSchema())
    return await signed_in(request, await otp_user(request, body["phone"], body["otp"]))


@public
@documented("Log in with a phone and password", tags=("Auth",), body=PhonePasswordLoginSchema,
            response=AuthResponseSchema, errors=(401, 403, 429), max_body=AUTH_MAX_BODY)
async def login_phone_password(request: web.Request) -> web.Response:
    await ratelimit.per_client(request)
    body = await read_json(request, PhonePasswordLoginSchema())
    return await signed_in(request, await password_user(request, sessions.user_by_phone, body["phone"],
                                                        body["password"]))


@public
@documented("Log in with a username and password", tags=("Auth",), body=UsernamePasswordLoginSchema,
            response=AuthResponseSchema, errors=(401, 403, 429), max_body=AUTH_MAX_BODY)
async def login_username_password(request: web.Request) -> web.Response:
    await ratelimit.per_client(request)
    body = await read_json(request, UsernamePasswordLoginSchema())
    return await signed_in(request, await password_user(request, sessions.user_by_username, body["username"],
                                                        body["password"]))


@public
@documented("Exchange a refresh token for a new access token and its successor refresh token", tags=("Auth",),
            body=RefreshSchema, response=TokenPairSchema, errors=(401, 403, 429), max_body=AUTH_MAX_BODY)
async def refresh(request: web.Request) -> web.Response:
    await ratelimit.per_client(request)
    body = await read_json(request, RefreshSchema())
    pair = await refreshed_tokens(request, body["refresh_token"])
    return ok({"accessToken": pair.access_token, "refreshToken": pair.refresh_token})


@requires("auth.session")
@documented("End the caller's session (the refresh token in the body is optional)", tags=("Auth",),
            body=LogoutSchema, body_optional=True, response=MessageSchema, max_body=AUTH_MAX_BODY)
async def logout(request: web.Request) -> web.Response:
    if request.can_read_body:
        await read_json(request, LogoutSchema())  # the refresh token is optional: the session is known
    await end_session(request)
    return ok({"message": "Logged out"})


@requires("auth.session")
@documented("The signed-in staff user", tags=("Auth",), response=AuthUserSchema)
async def me(request: web.Request) -> web.Response:
    return ok_json_text(await me_json(request))


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/auth/send-otp", send_otp)
    app.router.add_post("/api/auth/login/phone-otp", login_phone_otp)
    app.router.add_post("/api/auth/login/phone-password", login_phone_password)
    app.router.add_post("/api/auth/login/username-password", login_username_password)
    app.router.add_post("/api/auth/refresh", refresh)
    app.router.add_post("/api/auth/logout", logout)
    app.router.add_get("/api/auth/me", me)

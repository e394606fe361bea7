"""The panel's sign-in at /auth/*: the spec's sign-in (mibo.api.resources.auth: the same limits,
sessions and refresh rule of mibo.domain.sessions), answered with the names the panel reads.

The panel keeps its first refresh token and fires one refresh per failed request, several at once;
the refresh rule keeps such a client signed in (a token is retired only once a successor was used).
"""

from __future__ import annotations

import json

from aiohttp import web

from mibo.api import ratelimit
from mibo.api.access import public, requires
from mibo.api.http import read_json
from mibo.api.legacy.contract import panel_route
from mibo.api.legacy.envelope import ok
from mibo.api.resources import auth
from mibo.domain import sessions
from schemas.auth import (
    LogoutSchema,
    OtpSentSchema,
    PhoneOtpLoginSchema,
    PhonePasswordLoginSchema,
    RefreshSchema,
    SendOtpSchema,
    UsernamePasswordLoginSchema,
)
from schemas.legacy.auth import PanelAccessTokenSchema, PanelAuthSchema, PanelMessageSchema, PanelUserSchema

LIMITS = {"max_body": auth.AUTH_MAX_BODY}


def panel_user(user_json: str) -> dict:
    """The spec's AuthResponse user with the panel's names for the same facts."""
    user = json.loads(user_json)
    centres = user["centreIds"]
    return {**user, "full_name": user["name"], "assignedCentreId": centres[0] if centres else None,
            "userType": "STAFF"}


async def signed_in(request: web.Request, user: dict) -> web.Response:
    user_json, session = await auth.start_session(request, user)
    return ok({"user": panel_user(user_json), "accessToken": session.access_token,
               "refreshToken": session.refresh_token}, message="Login successful")


@public
@panel_route("Send an OTP to a staff phone", translates=("POST", "/api/auth/send-otp"), body=SendOtpSchema,
             response=OtpSentSchema, errors=(429,), **LIMITS)
async def send_otp(request: web.Request) -> web.Response:
    await ratelimit.per_client(request)
    body = await read_json(request, SendOtpSchema())
    answer = await auth.issue_otp(request, body["phone"], body["purpose"])
    return ok(answer, message=answer["message"])


@public
@panel_route("Log in with a phone and OTP", translates=("POST", "/api/auth/login/phone-otp"),
             body=PhoneOtpLoginSchema, response=PanelAuthSchema, errors=(401, 403, 429), **LIMITS)
async def login_phone_otp(request: web.Request) -> web.Response:
    await ratelimit.per_client(request)
    body = await read_json(request, PhoneOtpLoginSchema())
    return await signed_in(request, await auth.otp_user(request, body["phone"], body["otp"]))


@public
@panel_route("Log in with a phone and password", translates=("POST", "/api/auth/login/phone-password"),
             body=PhonePasswordLoginSchema, response=PanelAuthSchema, errors=(401, 403, 429), **LIMITS)
async def login_phone_password(request: web.Request) -> web.Response:
    await ratelimit.per_client(request)
    body = await read_json(request, PhonePasswordLoginSchema())
    return await signed_in(request, await auth.password_user(request, sessions.user_by_phone, body["phone"],
                                                             body["password"]))


@public
@panel_route("Log in with a username and password", translates=("POST", "/api/auth/login/username-password"),
             body=UsernamePasswordLoginSchema, response=PanelAuthSchema, errors=(401, 403, 429), **LIMITS)
async def login_username_password(request: web.Request) -> web.Response:
    await ratelimit.per_client(request)
    body = await read_json(request, UsernamePasswordLoginSchema())
    return await signed_in(request, await auth.password_user(request, sessions.user_by_username, body["username"],
                                                             body["password"]))


@public
@panel_route("A new access token for a refresh token", translates=("POST", "/api/auth/refresh"),
             body=RefreshSchema, response=PanelAccessTokenSchema, errors=(401, 403, 429), **LIMITS)
async def refresh(request: web.Request) -> web.Response:
    await ratelimit.per_client(request)
    body = await read_json(request, RefreshSchema())
    pair = await auth.refreshed_tokens(request, body["refresh_token"])
    return ok({"accessToken": pair.access_token, "refreshToken": pair.refresh_token})


@requires("auth.session")
@panel_route("End the caller's session", translates=("POST", "/api/auth/logout"), body=LogoutSchema,
             body_optional=True, response=PanelMessageSchema, **LIMITS)
async def logout(request: web.Request) -> web.Response:
    if request.can_read_body:
        await read_json(request, LogoutSchema())
    await auth.end_session(request)
    return ok({"message": "Logged out"}, message="Logged out successfully")


@requires("auth.session")
@panel_route("The signed-in staff user", translates=("GET", "/api/auth/me"), response=PanelUserSchema)
async def me(request: web.Request) -> web.Response:
    return ok(panel_user(await auth.me_json(request)))


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/auth/send-otp", send_otp)
    app.router.add_post("/api/auth/login/phone-otp", login_phone_otp)
    app.router.add_post("/api/auth/login/phone-password", login_phone_password)
    app.router.add_post("/api/auth/login/username-password", login_username_password)
    app.router.add_post("/api/auth/refresh", refresh)
    app.router.add_post("/api/auth/logout", logout)
    app.router.add_get("/api/auth/me", me)

"""/api/patient-auth/*: the patient website's sign-in (OTP sign-up and login, password login,
refresh, logout, me).

The same rules as the staff sign-in (mibo.domain.otp, mibo.domain.sessions, mibo.api.ratelimit)
with the PATIENT audience; the first verified OTP of a new phone signs it up
(mibo.domain.patient_accounts). Unlike staff codes, a patient's code is sent to any number: that
is how a new patient signs up.
"""

from __future__ import annotations

import logging

from aiohttp import web

from mibo.api import ratelimit
from mibo.api.access import patient, public
from mibo.api.apidoc import documented
from mibo.api.http import ok, read_json
from mibo.api.keys import ACTOR, DB, OTP_SENDER, REQUEST_ID, SETTINGS
from mibo.api.resources.auth import AUTH_MAX_BODY, end_session, password_user, refreshed_tokens
from mibo.core import db
from mibo.core.actor import PATIENT_WEB, Actor
from mibo.core.errors import ApiError
from mibo.core.logs import log_event, mask_phone
from mibo.core.tokens import PATIENT
from mibo.domain import otp, patient_accounts, sessions
from schemas.auth import LogoutSchema, MessageSchema, RefreshSchema
from schemas.patient_auth import (
    PatientAccountSchema,
    PatientOtpSentSchema,
    PatientPasswordLoginSchema,
    PatientSendOtpSchema,
    PatientSessionSchema,
    PatientTokensSchema,
    PatientVerifyOtpSchema,
)

log = logging.getLogger(__name__)

TAGS = ("Patient website",)

_session_schema = PatientSessionSchema()
_account_schema = PatientAccountSchema()


def present_account(row: dict) -> dict:
    return _account_schema.dump({"user": row, "patient": row})


async def signed_in(request: web.Request, user: dict, *, is_new_user: bool) -> web.Response:
    """Open a patient session for a user whose credentials were just proven (inside no transaction)."""
    async with db.transaction(request.app[DB]) as cur:
        session = await sessions.open_session(cur, request.app[SETTINGS], user, PATIENT)
        row = await patient_accounts.account(cur, user["id"])
    await ratelimit.forget_failed_logins(request, user["id"])
    return ok(_session_schema.dump({
        "user": row, "patient": row, "access_token": session.access_token, "refresh_token": session.refresh_token,
        "is_new_user": is_new_user, "requires_profile_completion": patient_accounts.needs_profile(row)}))


@public
@documented("Send a sign-in code to a phone over WhatsApp; says whether the phone is new", tags=TAGS,
            body=PatientSendOtpSchema, response=PatientOtpSentSchema, errors=(429,), max_body=AUTH_MAX_BODY,
            description="A delivery failure still answers 200: the code is stored and its delivery is retried.")
async def send_otp(request: web.Request) -> web.Response:
    await ratelimit.per_client(request)
    body = await read_json(request, PatientSendOtpSchema())
    phone = body["phone"]
    await ratelimit.per_identifier(request, phone)
    await ratelimit.otp_issuance(request, phone)
    settings = request.app[SETTINGS]
    async with db.transaction(request.app[DB]) as cur:
        code = await otp.issue(cur, settings, phone, PATIENT)
        user = await sessions.user_by_phone(cur, phone)
    try:
        await request.app[OTP_SENDER].send(phone, code, settings.otp_expiry_minutes)
    except ApiError as exc:  # the code stands; the patient may ask again once delivery is back
        log_event(log, logging.WARNING, "patient otp not handed over for delivery", phone=mask_phone(phone),
                  error=exc.code)
    return ok(PatientOtpSentSchema().dump({"phone": phone, "expires_in": settings.otp_expiry_minutes * 60,
                                           "is_new_user": user is None}))


@public
@documented("Verify a sign-in code: signs a new phone up (names required), or signs the patient in", tags=TAGS,
            body=PatientVerifyOtpSchema, response=PatientSessionSchema, errors=(401, 403, 409, 429),
            max_body=AUTH_MAX_BODY)
async def verify_otp(request: web.Request) -> web.Response:
    await ratelimit.per_client(request)
    body = await read_json(request, PatientVerifyOtpSchema())
    phone = body["phone"]
    await ratelimit.per_identifier(request, phone)
    settings = request.app[SETTINGS]
    actor = Actor(user_id=None, surface=PATIENT_WEB, request_id=request[REQUEST_ID])
    signed = None
    async with db.transaction(request.app[DB]) as cur:
        # Before the code is used: a new phone sent without names may try again with the same code.
        await patient_accounts.check_sign_up(cur, phone, body)
        attempt = await otp.consume(cur, settings, phone, body["otp"], PATIENT)
        if attempt.matched:
            signed = await patient_accounts.sign_in(cur, actor, phone, body)
    error = attempt.refusal()
    if error is not None:
        raise error  # after the commit, so that a wrong try is counted
    return await signed_in(request, signed.user, is_new_user=signed.created)


@public
@documented("Sign a patient in with a username and password", tags=TAGS, body=PatientPasswordLoginSchema,
            response=PatientSessionSchema, errors=(401, 403, 429), max_body=AUTH_MAX_BODY)
async def login_with_password(request: web.Request) -> web.Response:
    await ratelimit.per_client(request)
    body = await read_json(request, PatientPasswordLoginSchema())
    user = await password_user(request, sessions.user_by_username, body["username"], body["password"])
    return await signed_in(request, user, is_new_user=False)


@public
@documented("A new access token for a patient's refresh token (the token sent keeps working)", tags=TAGS,
            body=RefreshSchema, response=PatientTokensSchema, errors=(401, 403, 429), max_body=AUTH_MAX_BODY)
async def refresh_token(request: web.Request) -> web.Response:
    await ratelimit.per_client(request)
    body = await read_json(request, RefreshSchema())
    tokens = await refreshed_tokens(request, body["refresh_token"], PATIENT)
    return ok({"accessToken": tokens.access_token, "refreshToken": tokens.refresh_token})


@patient
@documented("End the patient's session", tags=TAGS, body=LogoutSchema, body_optional=True, response=MessageSchema,
            max_body=AUTH_MAX_BODY)
async def logout(request: web.Request) -> web.Response:
    if request.can_read_body:
        await read_json(request, LogoutSchema())  # the refresh token is optional: the session is known
    await end_session(request)
    return ok({"message": "Logged out"})


@patient
@documented("The signed-in patient", tags=TAGS, response=PatientAccountSchema)
async def me(request: web.Request) -> web.Response:
    async with db.connection(request.app[DB]) as cur:
        row = await patient_accounts.account(cur, request[ACTOR].user_id)
    return ok(present_account(row))


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/patient-auth/send-otp", send_otp)
    app.router.add_post("/api/patient-auth/verify-otp", verify_otp)
    app.router.add_post("/api/patient-auth/login-with-password", login_with_password)
    app.router.add_post("/api/patient-auth/refresh-token", refresh_token)
    app.router.add_post("/api/patient-auth/logout", logout)
    app.router.add_get("/api/patient-auth/me", me)

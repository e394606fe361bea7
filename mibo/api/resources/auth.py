"""/api/auth/*: OTP and password logins, token refresh with reuse detection, logout, me."""

from __future__ import annotations

import enum
import json
import logging

from aiohttp import web

from mibo.api import ratelimit
from mibo.api.access import public, requires
from mibo.api.apidoc import KB, documented
from mibo.api.http import ok, ok_json_text, read_json
from mibo.api.keys import ACTOR, DB, EXECUTOR, OTP_SENDER, REDIS, SETTINGS
from mibo.api.principals import PRINCIPALS, changes_principals
from mibo.core import db, passwords, tokens
from mibo.core.errors import ApiError
from mibo.core.logs import log_event, mask_phone
from mibo.domain import otp
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

# --- SQL ------------------------------------------------------------------------

STAFF_USER_BY_PHONE = "SELECT id FROM users WHERE phone = %s AND user_type = 'STAFF' AND is_active"

LOGIN_USER_BY_PHONE = "SELECT id, password_hash, user_type, is_active FROM users WHERE phone = %s"

LOGIN_USER_BY_USERNAME = "SELECT id, password_hash, user_type, is_active FROM users WHERE lower(username) = lower(%s)"

# A new OTP replaces any earlier unused one for the same phone and purpose.
RETIRE_OPEN_OTPS = "UPDATE otp_requests SET is_used = TRUE WHERE phone = %s AND purpose = %s AND NOT is_used"

INSERT_OTP = """
INSERT INTO otp_requests (phone, otp_hash, purpose, expires_at)
VALUES (%s, %s, %s, now() + make_interval(mins => %s))
"""

LATEST_OPEN_OTP_FOR_UPDATE = """
SELECT id, otp_hash, attempts_count, expires_at <= now() AS expired
FROM otp_requests
WHERE phone = %s AND purpose = 'LOGIN' AND NOT is_used
ORDER BY created_at DESC, id DESC
LIMIT 1
FOR UPDATE
"""

RECORD_OTP_ATTEMPT = """
UPDATE otp_requests SET attempts_count = attempts_count + 1, is_used = %(matched)s WHERE id = %(id)s
"""

NEXT_SESSION_ID = "SELECT nextval('auth_sessions_id_seq') AS id"

INSERT_SESSION = """
INSERT INTO auth_sessions (id, user_id, refresh_token_hash, expires_at)
VALUES (%s, %s, %s, now() + make_interval(secs => %s))
"""

SESSION_FOR_UPDATE = """
SELECT s.refresh_token_hash, s.revoked_at IS NOT NULL AS revoked, s.expires_at <= now() AS expired,
       u.is_active AND u.user_type = 'STAFF' AS user_ok
FROM auth_sessions s JOIN users u ON u.id = s.user_id
WHERE s.id = %s AND s.user_id = %s
FOR UPDATE OF s
"""

ROTATE_SESSION = "UPDATE auth_sessions SET refresh_token_hash = %s, rotated_at = now() WHERE id = %s"

REVOKE_SESSION = """
UPDATE auth_sessions SET revoked_at = now(), revoked_reason = %s WHERE id = %s AND revoked_at IS NULL
"""

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


# --- helpers ------------------------------------------------------------------


def client_address(request: web.Request) -> str:
    if request.app[SETTINGS].trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.remote or "unknown"


async def limit_client(request: web.Request) -> None:
    """The per-client limit, first thing: before the body is read, so junk bodies are counted too."""
    await ratelimit.check_client(request.app[REDIS], client_address(request),
                                 request.app[SETTINGS].rate_limit_client_per_minute)


async def rate_limit(request: web.Request, identifier: str) -> None:
    """The per-(client, account) limit, once the body has named the account."""
    settings = request.app[SETTINGS]
    await ratelimit.check_auth_limits(
        request.app[REDIS],
        client_address(request),
        identifier,
        per_identifier=settings.rate_limit_login_per_minute,
        per_client=None,
    )


async def auth_user_json(cur, user_id: int) -> str:
    return await db.fetch_value(cur, AUTH_USER_JSON, {"user_id": user_id, "ranking": RANKING})


async def start_session(request: web.Request, user_id: int) -> web.Response:
    """Open a session for a verified staff user and answer with the spec's AuthResponse."""
    settings = request.app[SETTINGS]
    async with db.transaction(request.app[DB]) as cur:
        session_id = await db.fetch_value(cur, NEXT_SESSION_ID)
        refresh = tokens.refresh_token(settings, user_id, session_id)
        await db.execute(
            cur, INSERT_SESSION, (session_id, user_id, tokens.token_hash(refresh), settings.jwt_refresh_ttl)
        )
        user_json = await auth_user_json(cur, user_id)
    access = tokens.access_token(settings, user_id, session_id)
    log_event(log, logging.INFO, "login", userId=user_id, sessionId=session_id)
    return ok_json_text(
        '{"user":' + user_json + ',"accessToken":' + json.dumps(access) + ',"refreshToken":' + json.dumps(refresh) + "}"
    )


def ensure_staff(user: dict) -> None:
    """Called only after the credentials were proven, so these answers reveal nothing to a guesser."""
    if user["user_type"] != "STAFF":
        raise ApiError.forbidden("Patients sign in on the Mibo website, not the admin panel", "STAFF_ONLY")
    if not user["is_active"]:
        raise ApiError.forbidden("This account has been deactivated", "ACCOUNT_DISABLED")


async def password_login(request: web.Request, sql: str, identifier: str, password: str) -> web.Response:
    await rate_limit(request, identifier)
    user = await db.query_one(request.app[DB], sql, (identifier,))
    settings = request.app[SETTINGS]
    valid = await passwords.check_password(
        request.app[EXECUTOR], password, user and user["password_hash"], settings.bcrypt_rounds
    )
    if not valid:
        log_event(log, logging.INFO, "login failed", reason="bad credentials")
        raise ApiError.unauthorized("Invalid credentials", "INVALID_CREDENTIALS")
    ensure_staff(user)
    return await start_session(request, user["id"])


# --- handlers -----------------------------------------------------------------


@public
@documented("Send an OTP to a staff phone over WhatsApp (the same answer for any number)", tags=("Auth",),
            body=SendOtpSchema, response=OtpSentSchema, errors=(429,), max_body=AUTH_MAX_BODY)
async def send_otp(request: web.Request) -> web.Response:
    await limit_client(request)
    body = await read_json(request, SendOtpSchema())
    await rate_limit(request, body["phone"])
    settings = request.app[SETTINGS]
    code = otp.generate_otp()
    async with db.transaction(request.app[DB]) as cur:
        user_id = await db.fetch_value(cur, STAFF_USER_BY_PHONE, (body["phone"],))
        if user_id is not None:
            await db.execute(cur, RETIRE_OPEN_OTPS, (body["phone"], body["purpose"]))
            otp_hash = otp.hash_otp(settings.otp_hash_secret, body["phone"], code)
            await db.execute(cur, INSERT_OTP, (body["phone"], otp_hash, body["purpose"], settings.otp_expiry_minutes))
    if user_id is not None:
        await request.app[OTP_SENDER].send(body["phone"], code, settings.otp_expiry_minutes)
    else:
        log_event(log, logging.INFO, "otp requested for unknown number", phone=mask_phone(body["phone"]))
    # The same answer either way, so this endpoint cannot be used to find staff numbers.
    return ok({"message": "If the number belongs to a staff account, an OTP has been sent",
               "expiresInMinutes": settings.otp_expiry_minutes})


class OtpCheck(enum.Enum):
    MATCHED = "matched"
    MISSING = "missing"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    WRONG = "wrong"


async def consume_otp(cur, settings, phone: str, code: str) -> tuple[OtpCheck, int]:
    """Check a submitted OTP against the latest open one, counting the attempt. Single use."""
    row = await db.fetch_one(cur, LATEST_OPEN_OTP_FOR_UPDATE, (phone,))
    if row is None:
        return OtpCheck.MISSING, 0
    if row["expired"]:
        return OtpCheck.EXPIRED, 0
    if row["attempts_count"] >= settings.otp_max_attempts:
        return OtpCheck.EXHAUSTED, 0
    matched = otp.verify_otp(settings.otp_hash_secret, phone, code, row["otp_hash"])
    await db.execute(cur, RECORD_OTP_ATTEMPT, {"id": row["id"], "matched": matched})
    remaining = settings.otp_max_attempts - row["attempts_count"] - 1
    return (OtpCheck.MATCHED if matched else OtpCheck.WRONG), remaining


@public
@documented("Log in with a phone and the OTP sent to it", tags=("Auth",), body=PhoneOtpLoginSchema,
            response=AuthResponseSchema, errors=(401, 403, 429), max_body=AUTH_MAX_BODY)
async def login_phone_otp(request: web.Request) -> web.Response:
    await limit_client(request)
    body = await read_json(request, PhoneOtpLoginSchema())
    await rate_limit(request, body["phone"])
    settings = request.app[SETTINGS]
    async with db.transaction(request.app[DB]) as cur:
        outcome, remaining = await consume_otp(cur, settings, body["phone"], body["otp"])
        user = await db.fetch_one(cur, LOGIN_USER_BY_PHONE, (body["phone"],))
    # Raised after the commit so that a wrong attempt is still counted.
    if outcome is OtpCheck.EXPIRED:
        raise ApiError.unauthorized("The OTP has expired; request a new one", "OTP_EXPIRED")
    if outcome is OtpCheck.EXHAUSTED:
        raise ApiError.unauthorized("Too many wrong attempts; request a new OTP", "OTP_ATTEMPTS_EXCEEDED")
    if outcome is not OtpCheck.MATCHED or user is None:
        raise ApiError(401, "OTP_INVALID", "The OTP is incorrect", {"remainingAttempts": max(remaining, 0)})
    ensure_staff(user)
    return await start_session(request, user["id"])


@public
@documented("Log in with a phone and password", tags=("Auth",), body=PhonePasswordLoginSchema,
            response=AuthResponseSchema, errors=(401, 403, 429), max_body=AUTH_MAX_BODY)
async def login_phone_password(request: web.Request) -> web.Response:
    await limit_client(request)
    body = await read_json(request, PhonePasswordLoginSchema())
    return await password_login(request, LOGIN_USER_BY_PHONE, body["phone"], body["password"])


@public
@documented("Log in with a username and password", tags=("Auth",), body=UsernamePasswordLoginSchema,
            response=AuthResponseSchema, errors=(401, 403, 429), max_body=AUTH_MAX_BODY)
async def login_username_password(request: web.Request) -> web.Response:
    await limit_client(request)
    body = await read_json(request, UsernamePasswordLoginSchema())
    return await password_login(request, LOGIN_USER_BY_USERNAME, body["username"], body["password"])


@changes_principals
@public
@documented("Exchange a refresh token for a new pair (the old one is spent)", tags=("Auth",),
            body=RefreshSchema, response=TokenPairSchema, errors=(401, 403, 429), max_body=AUTH_MAX_BODY)
async def refresh(request: web.Request) -> web.Response:
    await limit_client(request)
    body = await read_json(request, RefreshSchema())
    settings = request.app[SETTINGS]
    presented = body["refresh_token"]
    try:
        claims = tokens.decode_refresh(settings, presented)
    except tokens.TokenError:
        raise ApiError.unauthorized("Invalid or expired refresh token", "INVALID_TOKEN") from None
    new_refresh = tokens.refresh_token(settings, claims.user_id, claims.session_id)
    async with db.transaction(request.app[DB]) as cur:
        session = await db.fetch_one(cur, SESSION_FOR_UPDATE, (claims.session_id, claims.user_id))
        reused = session is not None and session["refresh_token_hash"] != tokens.token_hash(presented)
        if reused and not session["revoked"]:
            # A rotated-out token came back: someone holds a copy. End the whole session.
            await db.execute(cur, REVOKE_SESSION, ("REUSE_DETECTED", claims.session_id))
            log_event(log, logging.WARNING, "refresh token reuse detected", sessionId=claims.session_id)
        usable = session is not None and not (reused or session["revoked"] or session["expired"])
        if usable and session["user_ok"]:
            await db.execute(cur, ROTATE_SESSION, (tokens.token_hash(new_refresh), claims.session_id))
    if reused:
        raise ApiError.unauthorized("This refresh token was already used; sign in again", "TOKEN_REUSED")
    if not usable:
        raise ApiError.unauthorized("The session has ended; sign in again", "SESSION_REVOKED")
    if not session["user_ok"]:
        raise ApiError.forbidden("This account has been deactivated", "ACCOUNT_DISABLED")
    return ok({"accessToken": tokens.access_token(settings, claims.user_id, claims.session_id),
               "refreshToken": new_refresh})


@changes_principals
@requires("auth.session")
@documented("End the caller's session (the refresh token in the body is optional)", tags=("Auth",),
            body=LogoutSchema, body_optional=True, response=MessageSchema, max_body=AUTH_MAX_BODY)
async def logout(request: web.Request) -> web.Response:
    if request.can_read_body:
        await read_json(request, LogoutSchema())  # the refresh token is optional: the session is known
    actor = request[ACTOR]
    async with db.connection(request.app[DB]) as cur:
        await db.execute(cur, REVOKE_SESSION, ("LOGOUT", actor.session_id))
    return ok({"message": "Logged out"})


@requires("auth.session")
@documented("The signed-in staff user", tags=("Auth",), response=AuthUserSchema)
async def me(request: web.Request) -> web.Response:
    user_id = request[ACTOR].user_id

    async def load():
        async with db.connection(request.app[DB]) as cur:
            return await auth_user_json(cur, user_id), None

    return ok_json_text(await request.app[PRINCIPALS].get_or_load(("me", user_id), user_id, load))


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/auth/send-otp", send_otp)
    app.router.add_post("/api/auth/login/phone-otp", login_phone_otp)
    app.router.add_post("/api/auth/login/phone-password", login_phone_password)
    app.router.add_post("/api/auth/login/username-password", login_username_password)
    app.router.add_post("/api/auth/refresh", refresh)
    app.router.add_post("/api/auth/logout", logout)
    app.router.add_get("/api/auth/me", me)

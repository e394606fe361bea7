"""The request pipeline, outermost first: context (id, logs, metrics, headers) → errors → auth."""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import re
import time
import traceback

import psycopg2
from aiohttp import web

from mibo.api.access import PUBLIC
from mibo.api.http import dumps
from mibo.api.keys import ACTOR, DB, METRICS, REQUEST_ID, SETTINGS
from mibo.api.principals import PRINCIPALS
from mibo.core import db, tokens
from mibo.core.actor import STAFF_API, Actor
from mibo.core.errors import ApiError, from_db_error
from mibo.core.logs import log_event, request_id_var
from mibo.domain import access

log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    # Responses carry patient data: no shared or browser cache may keep them.
    "Cache-Control": "no-store",
}

GZIP_MIN_BYTES = 1024


def route_template(request: web.Request) -> str:
    """The route's pattern ('/api/users/{id}'), so metrics do not explode per id."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def context_middleware(request: web.Request, handler):
    incoming = request.headers.get("X-Request-ID", "")
    # Ids need to be unique, not secret: no system call per request (uuid4 reads os.urandom).
    request_id = incoming if _REQUEST_ID.match(incoming) else f"{random.getrandbits(128):032x}"
    request[REQUEST_ID] = request_id
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    try:
        response = await handler(request)
        elapsed = time.perf_counter() - started
        route = route_template(request)
        request.app[METRICS].observe(request.method, route, response.status, elapsed)
        log_event(
            log, logging.INFO, "request",
            method=request.method, route=route, status=response.status, ms=round(elapsed * 1000, 2),
        )
        response.headers["X-Request-ID"] = request_id
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.app[SETTINGS].is_production:
            response.headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        if (
            isinstance(response, web.Response)
            and response.body is not None
            and len(response.body) >= GZIP_MIN_BYTES
            and "Content-Encoding" not in response.headers
            and "gzip" in request.headers.get("Accept-Encoding", "")
        ):
            response.enable_compression()
        return response
    finally:
        request_id_var.reset(token)


HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    431: "HEADERS_TOO_LARGE",
}


def error_response(request: web.Request, error: ApiError, stack: str | None = None) -> web.Response:
    body = {"code": error.code, "message": error.message}
    if error.details is not None:
        body["details"] = error.details
    if stack and request.app[SETTINGS].is_development:
        body["stack"] = stack
    response = web.Response(
        text=dumps({"success": False, "error": body}),
        status=error.status,
        content_type="application/json",
        headers=error.headers,
    )
    if error.status == 413:
        response.force_close()  # the rest of that body is not worth reading
    return response


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = HTTP_CODES.get(exc.status, "HTTP_ERROR")
        message = exc.reason if exc.status != 413 else "The request body is too large"
        return error_response(request, ApiError(exc.status, code, message))
    except asyncio.CancelledError:
        raise
    except ConnectionResetError:
        # The client went away mid-request: nothing of ours failed, and nobody reads the answer.
        log.info("client disconnected")
        return error_response(request, ApiError.bad_request("The client disconnected", code="CLIENT_DISCONNECTED"))
    except psycopg2.OperationalError:
        log.exception("database unavailable")
        return error_response(request, ApiError.unavailable("The database is unavailable", "DATABASE_UNAVAILABLE"))
    except psycopg2.Error as exc:
        mapped = from_db_error(exc)
        if mapped is not None:
            return error_response(request, mapped)
        log.exception("database error")
        return error_response(request, ApiError.internal(), traceback.format_exc())
    except TimeoutError:
        log.exception("timeout")
        return error_response(request, ApiError.unavailable("A dependency did not answer in time", "TIMEOUT"))
    except Exception:
        log.exception("unhandled error")
        return error_response(request, ApiError.internal(), traceback.format_exc())


# --- authentication -------------------------------------------------------------

# The session must be live and the user an active staff member; roles and centres come from
# the database, never from the token. Cached per process until any of it changes.
PRINCIPAL_BY_SESSION = """
SELECT
    COALESCE((SELECT array_agg(DISTINCT r.name) FROM user_roles ur JOIN roles r ON r.id = ur.role_id
              WHERE ur.user_id = u.id AND ur.is_active), '{}') AS roles,
    COALESCE((SELECT array_agg(csa.centre_id) FROM centre_staff_assignments csa
              WHERE csa.user_id = u.id AND csa.is_active), '{}') AS centre_ids,
    (SELECT cp.id FROM clinician_profiles cp WHERE cp.user_id = u.id) AS clinician_id,
    EXTRACT(EPOCH FROM s.expires_at) AS session_expires_at
FROM auth_sessions s
JOIN users u ON u.id = s.user_id
WHERE s.id = %s AND s.user_id = %s AND s.revoked_at IS NULL AND s.expires_at > now()
  AND u.is_active AND u.user_type = 'STAFF'
"""

SERVICE_ACTOR = Actor(user_id=None, is_service=True)


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError.unauthorized("Send an access token as 'Authorization: Bearer <token>'")
    if not token.isascii():  # tokens are ASCII; anything else cannot even be compared as bytes
        raise ApiError.unauthorized("The access token is invalid or has expired", "INVALID_TOKEN")
    return token.strip()


async def authenticate(request: web.Request, accepts_service_token: bool) -> Actor:
    settings = request.app[SETTINGS]
    token = bearer_token(request)
    if accepts_service_token and hmac.compare_digest(token.encode(), settings.service_token.encode()):
        return SERVICE_ACTOR
    cache = request.app[PRINCIPALS]
    # A hit skips even the signature check: an entry lives no longer than its token (mibo/principals.py).
    actor = cache.get(token)
    if actor is not None:
        return actor
    try:
        claims = tokens.decode_access(settings, token)
    except tokens.TokenError as exc:
        code = "TOKEN_EXPIRED" if str(exc) == "expired" else "INVALID_TOKEN"
        raise ApiError.unauthorized("The access token is invalid or has expired", code) from None

    async def load() -> tuple[Actor, float]:
        row = await db.query_one(request.app[DB], PRINCIPAL_BY_SESSION, (claims.session_id, claims.user_id))
        if row is None:
            raise ApiError.unauthorized("The session has ended; sign in again", "SESSION_REVOKED")
        actor = Actor(
            user_id=claims.user_id,
            session_id=claims.session_id,
            roles=frozenset(row["roles"]),
            centre_ids=frozenset(row["centre_ids"]),
            clinician_id=row["clinician_id"],
        )
        return actor, min(claims.expires_at, float(row["session_expires_at"]))

    return await cache.get_or_load(token, claims.user_id, load)


@web.middleware
async def auth_middleware(request: web.Request, handler):
    match = request.match_info
    if match.http_exception is not None:  # no route: let aiohttp raise its 404/405
        return await handler(request)
    target = match.handler
    permission = getattr(target, "permission", None)
    if permission == PUBLIC or (permission is None and request.method == "OPTIONS"):
        return await handler(request)  # CORS preflight handlers belong to aiohttp-cors
    if permission is None:
        raise ApiError.internal("This route has no permission declared")
    actor = await authenticate(request, getattr(target, "accepts_service_token", False))
    access.require(actor, permission)
    request[ACTOR] = actor.within(STAFF_API, request[REQUEST_ID])
    return await handler(request)

"""The request pipeline, outermost first: context (id, logs, metrics, headers) → errors → auth."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
import traceback

import psycopg2
from aiohttp import web

from mibo.api.access import PUBLIC
from mibo.api.http import dumps
from mibo.api.keys import ACTOR, METRICS, REQUEST_ID, SETTINGS
from mibo.api.principals import authenticate
from mibo.core import tokens
from mibo.core.actor import STAFF_API
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
    actor = await authenticate(request, tokens.STAFF, getattr(target, "accepts_service_token", False))
    access.require(actor, permission)
    request[ACTOR] = actor.within(STAFF_API, request[REQUEST_ID])
    return await handler(request)

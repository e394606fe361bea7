"""CORS: aiohttp-cors for every registered route, and the same headers where it has no say.

aiohttp-cors answers only for the routes it was given. A path nobody registered (404), a method a
path does not have (405), and their preflights would reach the browser without CORS headers, and
the browser would report a CORS failure instead of the real error. cors_fallback_middleware answers
those preflights for an allowed origin and puts the headers on those errors.
"""

from __future__ import annotations

import aiohttp_cors
from aiohttp import hdrs, web

from mibo.api.keys import SETTINGS
from mibo.core.config import Settings

ALLOW_HEADERS = ("Authorization", "Content-Type", "X-Request-ID")
EXPOSE_HEADERS = ("X-Request-ID", "Retry-After")
ALLOW_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_AGE = 600


def setup_cors(app: web.Application, settings: Settings) -> None:
    options = aiohttp_cors.ResourceOptions(
        allow_credentials="*" not in settings.cors_origins,
        expose_headers=EXPOSE_HEADERS,
        allow_headers=ALLOW_HEADERS,
        allow_methods=ALLOW_METHODS,
        max_age=MAX_AGE,
    )
    cors = aiohttp_cors.setup(app, defaults={origin: options for origin in settings.cors_origins})
    for route in list(app.router.routes()):
        cors.add(route)


def allowed_origin(settings: Settings, origin: str | None) -> str | None:
    """The Access-Control-Allow-Origin value for `origin`, or None for an origin not allowed."""
    if not origin:
        return None
    if origin in settings.cors_origins:
        return origin
    return "*" if "*" in settings.cors_origins else None


def _headers(settings: Settings, allow: str) -> dict[str, str]:
    headers = {hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: allow}
    if allow != "*":
        headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
        headers[hdrs.VARY] = "Origin"
    return headers


def _is_preflight(request: web.Request) -> bool:
    return request.method == hdrs.METH_OPTIONS and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers


def _route_has(request: web.Request, method: str) -> bool:
    resource = request.match_info.route.resource
    return resource is not None and any(route.method == method for route in resource)


@web.middleware
async def cors_fallback_middleware(request: web.Request, handler):
    settings = request.app[SETTINGS]
    allow = allowed_origin(settings, request.headers.get(hdrs.ORIGIN))
    unmatched = request.match_info.http_exception is not None
    if allow is not None and _is_preflight(request):
        wanted = request.headers[hdrs.ACCESS_CONTROL_REQUEST_METHOD].upper()
        if unmatched or not _route_has(request, wanted):
            # Let the browser send the real request, whose 404/405 then reaches the page.
            return web.Response(status=200, headers={
                **_headers(settings, allow),
                hdrs.ACCESS_CONTROL_ALLOW_METHODS: ",".join(ALLOW_METHODS),
                hdrs.ACCESS_CONTROL_ALLOW_HEADERS: ",".join(ALLOW_HEADERS),
                hdrs.ACCESS_CONTROL_MAX_AGE: str(MAX_AGE),
            })
    response = await handler(request)
    if allow is not None and unmatched and hdrs.ACCESS_CONTROL_ALLOW_ORIGIN not in response.headers:
        response.headers.update(_headers(settings, allow))
        response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = ",".join(EXPOSE_HEADERS)
    return response

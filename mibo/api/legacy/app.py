"""The admin panel's sub-application, mounted by mibo.api.app at ADMIN_PANEL_PREFIX (so the panel's
base URL is http://host/legacy/api by default).

It has no middleware and no state of its own: the API's middlewares (request ids, logs, metrics,
security headers, CORS, errors, authentication with the staff audience and the route's permission)
run for its routes too, and read from it only what differs — the Actor's surface (ADMIN_PANEL), the
error envelope (mibo.api.legacy.envelope) and the panel's origins. Its handlers use the API's pool,
Redis and caches: `share_api_state` points request.app at the API for them.

Each resource module defines setup_routes(app); MODULES lists them.
"""

from __future__ import annotations

from aiohttp import web

from mibo.api.keys import CORS_ORIGINS, ERROR_ENVELOPE, SURFACE
from mibo.api.legacy import (
    analytics,
    appointments,
    auth,
    booking,
    calendar,
    centres,
    clinicians,
    consultations,
    patients,
    slots,
    staff,
    uploads,
)
from mibo.api.legacy.envelope import error_envelope
from mibo.core.actor import ADMIN_PANEL
from mibo.core.config import Settings

MODULES = (auth, analytics, centres, staff, clinicians, calendar, patients, uploads, consultations, appointments,
           booking, slots)


@web.middleware
async def share_api_state(request: web.Request, handler):
    """request.app is the API itself (the first app of the match), whose resources the handlers use."""
    request.match_info.current_app = request.match_info.apps[0]
    return await handler(request)


def create_legacy_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[share_api_state])
    app[SURFACE] = ADMIN_PANEL
    app[ERROR_ENVELOPE] = error_envelope
    app[CORS_ORIGINS] = settings.admin_panel_origins
    for module in MODULES:
        module.setup_routes(app)
    return app

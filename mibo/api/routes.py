"""Every route of the API, module by module. Each handler declares its permission itself."""

from __future__ import annotations

from aiohttp import web

from mibo.api import metrics, openapi, uploads
from mibo.api.keys import METRICS, SETTINGS
from mibo.api.resources import (
    analytics,
    appointments,
    audit,
    auth,
    blocks,
    centres,
    clinicians,
    health,
    notifications,
    patients,
    payments,
    users,
    video,
)


def setup_routes(app: web.Application) -> None:
    health.setup_routes(app)
    metrics.setup_routes(app, app[METRICS], app[SETTINGS])
    auth.setup_routes(app)
    analytics.setup_routes(app)
    centres.setup_routes(app)
    users.setup_routes(app)
    clinicians.setup_routes(app)
    patients.setup_routes(app)
    audit.setup_routes(app)
    payments.setup_routes(app)
    appointments.setup_routes(app)
    blocks.setup_routes(app)
    notifications.setup_routes(app)
    video.setup_routes(app)
    uploads.setup_routes(app)
    # Keep LAST: the OpenAPI document lists the routes registered above (add new modules before this line).
    openapi.setup_routes(app)

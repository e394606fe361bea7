"""The panel's dashboard at /analytics/*: the spec's reports (mibo.domain.analytics, through the spec
handlers' run_report), shaped as its cards and charts read them."""

from __future__ import annotations

from aiohttp import web

from mibo.api.access import requires
from mibo.api.legacy.contract import panel_route
from mibo.api.legacy.envelope import ok
from mibo.api.resources.analytics import ERRORS, run_report
from mibo.domain import analytics
from schemas.analytics import AnalyticsQuerySchema, TopDoctorsQuerySchema
from schemas.legacy.analytics import (
    PanelDashboardSchema,
    PanelLeadSchema,
    PanelRevenuePointSchema,
    PanelTopDoctorSchema,
)

# The original backend's names and colours for the booking sources, as the leads chart shows them.
SOURCE_LABELS = {
    "WEB_PATIENT": ("Website", "#3b82f6"),
    "ADMIN_FRONT_DESK": ("Front desk", "#10b981"),
    "ADMIN_CARE_COORDINATOR": ("Care coordinator", "#f59e0b"),
    "ADMIN_MANAGER": ("Manager", "#8b5cf6"),
}
OTHER_SOURCE = "#6b7280"


@requires("analytics.view")
@panel_route("Dashboard cards (a change with nothing to compare with is 0)",
             translates=("GET", "/api/analytics/dashboard"), query=AnalyticsQuerySchema,
             response=PanelDashboardSchema, errors=ERRORS)
async def dashboard(request: web.Request) -> web.Response:
    figures = await run_report(request, AnalyticsQuerySchema(), analytics.dashboard_figures)
    cards = {key: 0 if value is None and key.endswith("_change") else value for key, value in figures.items()}
    return ok(PanelDashboardSchema().dump(cards))


@requires("analytics.view")
@panel_route("Top doctors", translates=("GET", "/api/analytics/top-doctors"), query=TopDoctorsQuerySchema,
             response=PanelTopDoctorSchema, many=True, errors=ERRORS)
async def top_doctors(request: web.Request) -> web.Response:
    rows = await run_report(request, TopDoctorsQuerySchema(), analytics.top_doctors)
    return ok(PanelTopDoctorSchema(many=True).dump(rows))


@requires("analytics.view")
@panel_route("Revenue over time", translates=("GET", "/api/analytics/revenue"), query=AnalyticsQuerySchema,
             response=PanelRevenuePointSchema, many=True, errors=ERRORS)
async def revenue(request: web.Request) -> web.Response:
    rows = await run_report(request, AnalyticsQuerySchema(), analytics.revenue_series)
    return ok(PanelRevenuePointSchema(many=True).dump(rows))


@requires("analytics.view")
@panel_route("Appointments by booking source", translates=("GET", "/api/analytics/leads-by-source"),
             query=AnalyticsQuerySchema, response=PanelLeadSchema, many=True, errors=ERRORS)
async def leads(request: web.Request) -> web.Response:
    rows = await run_report(request, AnalyticsQuerySchema(), analytics.leads_by_source)
    shaped = []
    for row in rows:
        label, color = SOURCE_LABELS.get(row["source"], (row["source"], OTHER_SOURCE))
        shaped.append({**row, "label": label, "color": color})
    return ok(PanelLeadSchema(many=True).dump(shaped))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/analytics/dashboard", dashboard)
    app.router.add_get("/api/analytics/top-doctors", top_doctors)
    app.router.add_get("/api/analytics/revenue", revenue)
    app.router.add_get("/api/analytics/leads-by-source", leads)

"""/api/analytics/*: the admin dashboard's figures. Thin handlers over mibo.domain.analytics."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from marshmallow import Schema

from mibo.api.access import requires
from mibo.api.apidoc import documented
from mibo.api.http import ok, read_query
from mibo.api.keys import ACTOR, DB, SETTINGS
from mibo.core import db
from mibo.domain import analytics
from mibo.domain.appointments import utc_now
from schemas.analytics import (
    AnalyticsQuerySchema,
    DashboardMetricsSchema,
    LeadSourceSchema,
    RevenueDataPointSchema,
    TopDoctorSchema,
    TopDoctorsQuerySchema,
)

TAGS = ("Analytics",)
ERRORS = (400, 403, 404)


async def run_report(request: web.Request, query_schema: Schema, report: analytics.Report) -> Any:
    query = read_query(request, query_schema)
    async with db.connection(request.app[DB]) as cur:
        return await analytics.run(cur, request[ACTOR], report, query, utc_now(),
                                   request.app[SETTINGS].chain_timezone)


@requires("analytics.view")
@documented("Dashboard metrics for a period, with changes against the previous one", tags=TAGS,
            query=AnalyticsQuerySchema, response=DashboardMetricsSchema, errors=ERRORS)
async def dashboard(request: web.Request) -> web.Response:
    figures = await run_report(request, AnalyticsQuerySchema(), analytics.dashboard_figures)
    return ok(DashboardMetricsSchema().dump(figures))


@requires("analytics.view")
@documented("Clinicians ranked by completed appointments and revenue, with no-show rates", tags=TAGS,
            query=TopDoctorsQuerySchema, response=TopDoctorSchema, many=True, errors=ERRORS)
async def top_doctors(request: web.Request) -> web.Response:
    rows = await run_report(request, TopDoctorsQuerySchema(), analytics.top_doctors)
    return ok(TopDoctorSchema(many=True).dump(rows))


@requires("analytics.view")
@documented("Revenue per day (week, month) or per month (year)", tags=TAGS,
            query=AnalyticsQuerySchema, response=RevenueDataPointSchema, many=True, errors=ERRORS)
async def revenue(request: web.Request) -> web.Response:
    rows = await run_report(request, AnalyticsQuerySchema(), analytics.revenue_series)
    return ok(RevenueDataPointSchema(many=True).dump(rows))


@requires("analytics.view")
@documented("Appointments created in the period by booking source", tags=TAGS,
            query=AnalyticsQuerySchema, response=LeadSourceSchema, many=True, errors=ERRORS)
async def leads(request: web.Request) -> web.Response:
    rows = await run_report(request, AnalyticsQuerySchema(), analytics.leads_by_source)
    return ok(LeadSourceSchema(many=True).dump(rows))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/analytics/dashboard", dashboard)
    app.router.add_get("/api/analytics/top-doctors", top_doctors)
    app.router.add_get("/api/analytics/revenue", revenue)
    app.router.add_get("/api/analytics/leads-by-source", leads)

"""/api/patient/*: the patient website's dashboard, appointments, payments and profile.

A patient's token only (staff tokens get 403): each handler reads the signed-in patient's own
records through mibo.domain.patient_dashboard and mibo.domain.patients, in the website's shapes
(schemas/patient_dashboard.py).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from aiohttp import web

from mibo.api.access import patient
from mibo.api.apidoc import documented
from mibo.api.http import ok, read_json, read_query
from mibo.api.keys import ACTOR, DB, SETTINGS
from mibo.core import db
from mibo.domain import patient_dashboard, patients
from schemas.patient_dashboard import (
    DashboardSchema,
    ProfileSchema,
    SiteAppointmentsSchema,
    SiteListQuerySchema,
    SitePaymentsSchema,
    UpdateProfileSchema,
)

TAGS = ("Patient website",)

_dashboard = DashboardSchema()
_appointments = SiteAppointmentsSchema()
_payments = SitePaymentsSchema()
_profile = ProfileSchema()


def chain_today(request: web.Request) -> dt.date:
    """Today on the chain's calendar (ages are reckoned on it), never the server's."""
    return dt.datetime.now(ZoneInfo(request.app[SETTINGS].chain_timezone)).date()


@patient
@documented("The signed-in patient's dashboard: totals, upcoming and recent appointments", tags=TAGS,
            response=DashboardSchema)
async def dashboard(request: web.Request) -> web.Response:
    async with db.transaction(request.app[DB]) as cur:
        data = await patient_dashboard.dashboard(cur, request[ACTOR], dt.datetime.now(dt.UTC))
    return ok(_dashboard.dump(data))


@patient
@documented("The signed-in patient's appointments, newest first", tags=TAGS, query=SiteListQuerySchema,
            response=SiteAppointmentsSchema)
async def appointments(request: web.Request) -> web.Response:
    query = read_query(request, SiteListQuerySchema())
    async with db.transaction(request.app[DB]) as cur:
        rows, total = await patient_dashboard.appointments(cur, request[ACTOR], query["limit"], query["offset"])
    return ok(_appointments.dump({"appointments": rows, "total": total}))


@patient
@documented("The signed-in patient's payments, newest first", tags=TAGS, query=SiteListQuerySchema,
            response=SitePaymentsSchema)
async def payments(request: web.Request) -> web.Response:
    query = read_query(request, SiteListQuerySchema())
    async with db.transaction(request.app[DB]) as cur:
        rows, total = await patient_dashboard.payment_history(cur, request[ACTOR], query["limit"], query["offset"])
    return ok(_payments.dump({"payments": rows, "total": total}))


@patient
@documented("The signed-in patient's profile", tags=TAGS, response=ProfileSchema)
async def get_profile(request: web.Request) -> web.Response:
    async with db.connection(request.app[DB]) as cur:
        record = await patients.own_record(cur, request[ACTOR], chain_today(request))
    return ok(_profile.dump(record))


@patient
@documented("Change the signed-in patient's name, e-mail, date of birth or gender", tags=TAGS,
            body=UpdateProfileSchema, response=ProfileSchema, errors=(400,))
async def update_profile(request: web.Request) -> web.Response:
    body = await read_json(request, UpdateProfileSchema())
    async with db.transaction(request.app[DB]) as cur:
        record = await patients.update_own(cur, request[ACTOR], body, chain_today(request))
    return ok(_profile.dump(record))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/patient/dashboard", dashboard)
    app.router.add_get("/api/patient/appointments", appointments)
    app.router.add_get("/api/patient/payments", payments)
    app.router.add_get("/api/patient/profile", get_profile)
    app.router.add_put("/api/patient/profile", update_profile)

"""The panel's patients page at /patients: the spec's rules (mibo.domain.patients: who sees which
patient, registration at the caller's centre, one patient per phone), rows with the visit counts
and next appointment the page shows, and updates addressed by the patient's user id.

The page lists every patient and filters in the browser: the list holds the newest LIST_CAP
patients the caller sees (`search` narrows it on the server)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mibo.api import work
from mibo.api.access import requires
from mibo.api.http import load, path_id, read_json, read_query
from mibo.api.legacy.contract import panel_route
from mibo.api.legacy.envelope import ok
from mibo.api.legacy.names import centre_names
from mibo.core.actor import Actor
from mibo.domain import patients
from schemas.legacy.base import LIST_CAP
from schemas.legacy.patients import (
    CreatePanelPatientSchema,
    PanelPatientFieldsSchema,
    PanelPatientQuerySchema,
    PanelPatientSchema,
)
from schemas.patients import PatientQuerySchema

_row = PanelPatientSchema()
NO_VISITS = {"upcoming": 0, "past": 0, "next_appointment": None}


async def with_visits(cur, actor: Actor, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counted = await patients.visits(cur, actor, [row["id"] for row in rows])
    names = await centre_names(cur, actor)
    shaped = []
    for row in rows:
        seen = counted.get(row["id"], NO_VISITS)
        upcoming = seen["next_appointment"]
        if upcoming is not None:
            upcoming = {**upcoming, "centre_name": names.get(upcoming["centre_id"])}
        contact = row["emergency_contact"] or {}
        shaped.append(_row.dump({
            **row, "emergency_contact_name": contact.get("name"), "emergency_contact_phone": contact.get("phone"),
            "upcoming_appointments_count": seen["upcoming"], "past_appointments_count": seen["past"],
            "upcoming_appointments": [upcoming] if upcoming else []}))
    return shaped


async def listed(cur, actor: Actor, filters: dict[str, Any]) -> list[dict[str, Any]]:
    rows, _ = await patients.list_page(cur, actor, filters, LIST_CAP, 0, newest_first=True)
    return await with_visits(cur, actor, rows)


async def registered(cur, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    return (await with_visits(cur, actor, [await patients.register(cur, actor, data)]))[0]


async def updated(cur, actor: Actor, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    patient = await patients.update(cur, actor, await patients.of_user(cur, actor, user_id), changes)
    return (await with_visits(cur, actor, [patient]))[0]


@requires("patients.view")
@panel_route(f"The patients the caller sees, newest first (at most {LIST_CAP}), with their visits",
             translates=("GET", "/api/patients"), query=PanelPatientQuerySchema, response=PanelPatientSchema,
             many=True)
async def list_patients(request: web.Request) -> web.Response:
    query = read_query(request, PanelPatientQuerySchema())
    # The spec's reading of a search text (a phone, digits of one, or a name).
    filters = load(PatientQuerySchema(), query) if query else {}
    return ok(await work.read(request, listed, filters))


@requires("patients.create")
@panel_route("Register a walk-in patient (at the caller's centre, or centreId)", translates=("POST", "/api/patients"),
             body=CreatePanelPatientSchema, response=PanelPatientSchema, status=201, errors=(400, 403, 409))
async def create_patient(request: web.Request) -> web.Response:
    body = await read_json(request, CreatePanelPatientSchema())
    return ok(await work.write(request, registered, body), message="Patient created", status=201)


@requires("patients.update")
@panel_route("Update a patient, addressed by their user id", translates=("PUT", "/api/patients/{id}"),
             body=PanelPatientFieldsSchema, response=PanelPatientSchema, errors=(400, 404, 409))
async def update_patient(request: web.Request) -> web.Response:
    user_id = path_id(request)
    body = await read_json(request, PanelPatientFieldsSchema())
    return ok(await work.write(request, updated, user_id, body), message="Patient updated")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/patients", list_patients)
    app.router.add_post("/api/patients", create_patient)
    app.router.add_put(r"/api/patients/{id:\d+}", update_patient)

"""The panel's clinicians at /users/clinicians (and its toggle at /clinicians/{id}/toggle-active): the
spec's rules of mibo.domain.clinicians for the profile and of mibo.domain.staff for the login behind
it — a phone or e-mail changed on the profile form, or the credentials form, changes the login only
as PUT /api/users/{id} would (a CENTRE_MANAGER: only their own clinicians', never a password).

The panel lists every clinician at once (newest first, at most LIST_CAP) and reads availability
days numbered from Sunday; schemas.legacy.clinicians converts both ways."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mibo.api import work
from mibo.api.access import requires
from mibo.api.apidoc import MAX_BODY_CEILING
from mibo.api.http import path_id, read_json, read_query
from mibo.api.legacy.contract import panel_route
from mibo.api.legacy.envelope import ok
from mibo.api.password_hashing import hash_if_given
from mibo.api.principals import changes_principals
from mibo.core.actor import Actor
from mibo.domain import clinicians, staff
from schemas.legacy.base import LIST_CAP
from schemas.legacy.centres import ToggleActiveSchema
from schemas.legacy.clinicians import (
    RULES_BY_DAY,
    ByDayQuerySchema,
    CreatePanelClinicianSchema,
    CredentialsSchema,
    DeleteByDaySchema,
    DeletedRulesSchema,
    PanelAvailabilitySchema,
    PanelClinicianDetailSchema,
    PanelClinicianQuerySchema,
    PanelClinicianSchema,
    PanelRuleSchema,
    UpdatePanelClinicianSchema,
    from_sunday,
)
from schemas.legacy.staff import PanelStaffSchema

_row = PanelClinicianSchema()
_detail = PanelClinicianDetailSchema()
_rule = PanelRuleSchema()
LOGIN_FIELDS = ("phone", "email")


def one_session_each(slots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The create form's slots are single sessions: each rule offers one slot as long as itself."""
    return [{**slot, "slot_duration_minutes": clinicians.minutes_of(slot["end_time"])
             - clinicians.minutes_of(slot["start_time"])} for slot in slots]


async def created(cur, actor: Actor, data: dict[str, Any], password_hash: str | None) -> dict[str, Any]:
    slots = data.pop("availability_slots", None)
    clinician = await clinicians.create(cur, actor, data, password_hash)
    if slots:
        await clinicians.replace_availability(cur, actor, clinician["id"], one_session_each(slots))
        clinician = await clinicians.detail(cur, clinician["id"])
    return clinician


async def updated(cur, actor: Actor, clinician_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    current = await clinicians.visible_detail(cur, actor, clinician_id)
    login = {key: changes.pop(key) for key in LOGIN_FIELDS if key in changes}
    login = {key: value for key, value in login.items() if value != current[key]}
    if login:
        await staff.update(cur, actor, current["user_id"], login)
    return await clinicians.update(cur, actor, clinician_id, changes)


async def toggled(cur, actor: Actor, clinician_id: int, active: bool) -> dict[str, Any]:
    if active:
        return await clinicians.reactivate(cur, actor, clinician_id)
    return await clinicians.remove(cur, actor, clinician_id)


def at_centre(rules: list[dict[str, Any]], centre_id: int | None) -> list[dict[str, Any]]:
    return [rule for rule in rules if centre_id is None or rule["centre_id"] == centre_id]


RULE_KEYS = ("day_of_week", "start_time", "end_time", "slot_duration_minutes", "centre_id", "consultation_mode")


async def day_deleted(cur, actor: Actor, clinician_id: int, day: int, centre_id: int | None) -> int:
    """Replace the rules by those not on `day` (at `centre_id`): the spec's one way to change them."""
    rules = (await clinicians.visible_detail(cur, actor, clinician_id))["availability_rules"]
    doomed = [rule for rule in at_centre(rules, centre_id) if rule["day_of_week"] == day]
    kept = [{key: rule[key] for key in RULE_KEYS} for rule in rules if rule not in doomed]
    await clinicians.replace_availability(cur, actor, clinician_id, kept)
    return len(doomed)


async def credentials_changed(cur, actor: Actor, clinician_id: int, changes: dict[str, Any],
                              password_hash: str | None) -> dict[str, Any]:
    clinician = await clinicians.visible_detail(cur, actor, clinician_id)
    return await staff.update(cur, actor, clinician["user_id"], changes, password_hash)


@requires("clinicians.view")
@panel_route(f"Every clinician the caller sees, newest first (at most {LIST_CAP})",
             translates=("GET", "/api/clinicians"), query=PanelClinicianQuerySchema, response=PanelClinicianSchema,
             many=True)
async def list_clinicians(request: web.Request) -> web.Response:
    query = read_query(request, PanelClinicianQuerySchema())
    rows, _ = await work.read(request, clinicians.list_page, query, LIST_CAP, 0, True)
    return ok(_row.dump(rows, many=True))


@requires("clinicians.view")
@panel_route("A clinician with their availability", translates=("GET", "/api/clinicians/{id}"),
             response=PanelClinicianDetailSchema, errors=(403, 404))
async def get_clinician(request: web.Request) -> web.Response:
    return ok(_detail.dump(await work.read(request, clinicians.visible_detail, path_id(request))))


@changes_principals
@requires("clinicians.create")
@panel_route("Create a clinician with their login (and their availability slots)",
             translates=("POST", "/api/clinicians"), body=CreatePanelClinicianSchema,
             response=PanelClinicianDetailSchema, status=201, errors=(400, 403, 409), max_body=MAX_BODY_CEILING)
async def create_clinician(request: web.Request) -> web.Response:
    body = await read_json(request, CreatePanelClinicianSchema())
    password_hash = await hash_if_given(request, body.pop("password", None))
    clinician = await work.write(request, created, body, password_hash)
    return ok(_detail.dump(clinician), message="Clinician created", status=201)


@changes_principals
@requires("clinicians.update")
@panel_route("Update a clinician's profile (and their login's phone and e-mail)",
             translates=("PUT", "/api/clinicians/{id}"), body=UpdatePanelClinicianSchema,
             response=PanelClinicianDetailSchema, errors=(400, 403, 404, 409))
async def update_clinician(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    body = await read_json(request, UpdatePanelClinicianSchema())
    clinician = await work.write(request, updated, clinician_id, body)
    return ok(_detail.dump(clinician), message="Clinician updated")


@changes_principals
@requires("clinicians.delete")
@panel_route("Remove a clinician (unbookable; refused while they have appointments ahead)",
             translates=("DELETE", "/api/clinicians/{id}"), response=PanelClinicianDetailSchema,
             errors=(400, 403, 404, 409))
async def delete_clinician(request: web.Request) -> web.Response:
    clinician = await work.write(request, clinicians.remove, path_id(request))
    return ok(_detail.dump(clinician), message="Clinician removed")


@changes_principals
@requires("clinicians.delete")
@panel_route("Remove a clinician (isActive false) or bring them back (true)",
             translates=("DELETE", "/api/clinicians/{id}"), body=ToggleActiveSchema,
             response=PanelClinicianDetailSchema, errors=(400, 403, 404, 409))
async def toggle_clinician(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    body = await read_json(request, ToggleActiveSchema())
    clinician = await work.write(request, toggled, clinician_id, body["is_active"])
    return ok(_detail.dump(clinician),
              message="Clinician activated" if clinician["is_active"] else "Clinician deactivated")


@requires("clinicians.view")
@panel_route("A clinician's weekly availability rules (days from Sunday)", translates=("GET", "/api/clinicians/{id}"),
             response=PanelRuleSchema, many=True, errors=(403, 404))
async def get_availability(request: web.Request) -> web.Response:
    clinician = await work.read(request, clinicians.visible_detail, path_id(request))
    return ok(_rule.dump(clinician["availability_rules"], many=True))


@requires("clinicians.update")
@panel_route("Replace a clinician's weekly availability rules (days from Sunday)",
             translates=("PUT", "/api/clinicians/{id}/availability"), body=PanelAvailabilitySchema,
             response=PanelRuleSchema, many=True, errors=(400, 403, 404), max_body=MAX_BODY_CEILING)
async def replace_availability(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    body = await read_json(request, PanelAvailabilitySchema())
    saved = await work.write(request, clinicians.replace_availability, clinician_id, body["availability_rules"])
    return ok(_rule.dump(saved, many=True), message="Availability updated")


@requires("clinicians.view")
@panel_route("A clinician's weekly rules grouped by day (keys: 0 = Sunday … 6 = Saturday)",
             translates=("GET", "/api/clinicians/{id}"), query=ByDayQuerySchema, errors=(403, 404),
             response=RULES_BY_DAY)
async def availability_by_day(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    query = read_query(request, ByDayQuerySchema())
    clinician = await work.read(request, clinicians.visible_detail, clinician_id)
    by_day: dict[str, list] = {}
    for rule in _rule.dump(at_centre(clinician["availability_rules"], query.get("centre_id")), many=True):
        by_day.setdefault(str(rule["day_of_week"]), []).append(rule)
    return ok(by_day)


@requires("clinicians.update")
@panel_route("Remove a clinician's rules of one weekday (0 = Sunday), at one centre if given",
             translates=("PUT", "/api/clinicians/{id}/availability"), body=DeleteByDaySchema,
             response=DeletedRulesSchema, errors=(400, 403, 404))
async def delete_day(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    body = await read_json(request, DeleteByDaySchema())
    count = await work.write(request, day_deleted, clinician_id, from_sunday(body["day_of_week"]),
                             body.get("centre_id"))
    return ok({"deletedCount": count}, message=f"Deleted {count} availability rule(s) of the day")


@changes_principals
@requires("users.update_clinician_logins")
@panel_route("Change a clinician's username or password (a password only by an ADMIN)",
             translates=("PUT", "/api/users/{id}"), body=CredentialsSchema, response=PanelStaffSchema,
             errors=(400, 403, 404, 409))
async def change_credentials(request: web.Request) -> web.Response:
    clinician_id = path_id(request)
    body = await read_json(request, CredentialsSchema())
    password_hash = await hash_if_given(request, body.pop("password", None))
    user = await work.write(request, credentials_changed, clinician_id, body, password_hash)
    return ok(PanelStaffSchema().dump(user), message="Credentials updated")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/users/clinicians", list_clinicians)
    app.router.add_post("/api/users/clinicians", create_clinician)
    app.router.add_get(r"/api/users/clinicians/{id:\d+}", get_clinician)
    app.router.add_put(r"/api/users/clinicians/{id:\d+}", update_clinician)
    app.router.add_delete(r"/api/users/clinicians/{id:\d+}", delete_clinician)
    app.router.add_patch(r"/api/clinicians/{id:\d+}/toggle-active", toggle_clinician)
    app.router.add_get(r"/api/users/clinicians/{id:\d+}/availability", get_availability)
    app.router.add_put(r"/api/users/clinicians/{id:\d+}/availability", replace_availability)
    app.router.add_get(r"/api/users/clinicians/{id:\d+}/availability/by-day", availability_by_day)
    app.router.add_post(r"/api/users/clinicians/{id:\d+}/availability/delete-by-day", delete_day)
    app.router.add_patch(r"/api/users/clinicians/{id:\d+}/credentials", change_credentials)

"""Every route of the admin panel's contract needs the permission of the spec route it translates,
and answers each role as that route does. The routes are read from the sub-application's router, so
a route added later is walked too, and one that declares no translation fails the first test."""

from __future__ import annotations

import re

from mibo.api.access import PUBLIC
from mibo.core.actor import CLINICIAN, ROLES
from mibo.domain.access import PERMISSIONS
from tests.legacy_support import panel_routes

MISSING_ID = "900000000"
_PARAMETER = re.compile(r"\{(\w+)(:[^}]*)?\}")


def spec_routes(app) -> dict[tuple[str, str], object]:
    return {(route.method, route.resource.canonical): route.handler for route in app.router.routes()
            if route.resource is not None and route.resource.canonical.startswith("/api/")}


def concrete(path: str) -> str:
    """A path of the route with every parameter filled with an id nothing has."""
    return _PARAMETER.sub(MISSING_ID, path)


def test_every_panel_route_names_the_spec_route_it_translates_and_requires_its_permission(app):
    spec = spec_routes(app)
    routes = panel_routes(app)
    assert len(routes) >= 7
    problems = []
    for route in routes:
        label = f"{route.method} {route.resource.canonical}"
        handler = route.handler
        permission = getattr(handler, "permission", None)
        if not hasattr(handler, "translates"):
            problems.append(f"{label}: not declared with panel_route")
            continue
        if permission != PUBLIC and permission not in PERMISSIONS:
            problems.append(f"{label}: no permission")
        if handler.translates is None:
            continue
        target = spec.get(handler.translates)
        if target is None:
            problems.append(f"{label}: translates {handler.translates}, which is no spec route")
        elif target.permission != permission:
            problems.append(f"{label}: needs {permission}, the spec route {target.permission}")
    assert problems == []


async def status_for(client, factory, method: str, path: str, user) -> tuple[int, str | None]:
    headers = {"Authorization": f"Bearer {await factory.token_for(user.id)}"}
    kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    resp = await client.request(method, concrete(path), headers=headers, **kwargs)
    body = await resp.json() if resp.content_type == "application/json" else {}
    return resp.status, (body.get("error") or {}).get("code")


async def test_each_role_is_answered_by_a_panel_route_as_by_the_spec_route_and_the_table(app, client, factory):
    centre = await factory.centre()
    people = {role: await factory.staff(role, [centre], login=False) for role in ROLES}
    assert people[CLINICIAN].clinician_id is not None
    walked, problems = 0, []
    for route in panel_routes(app):
        handler = route.handler
        if handler.permission == PUBLIC:
            continue
        path = route.resource.canonical
        spec_path = handler.translates and handler.translates[1]
        for role, user in people.items():
            allowed = role in PERMISSIONS[handler.permission]
            status, code = await status_for(client, factory, route.method, path, user)
            walked += 1
            if status == 401 or (status == 403 and code == "FORBIDDEN") == allowed:
                problems.append(f"{role} {route.method} {path}: {status} {code} (allowed: {allowed})")
            if spec_path is not None:
                spec_status, spec_code = await status_for(client, factory, handler.translates[0], spec_path, user)
                if (spec_status == 403) != (status == 403):
                    problems.append(f"{role} {route.method} {path}: {status} {code}, the spec route"
                                    f" {spec_status} {spec_code}")
    assert walked >= 2 * len(ROLES)
    assert problems == []

"""Every route, every role, from the one permission table.

The walk is generic over the app's router, so a route added tomorrow is covered by it
tomorrow: a role outside the route's permission gets 403 FORBIDDEN before anything else
happens; a permitted role never does (it may get 400/404/422, or 403 CENTRE_FORBIDDEN).
"""

import re

from mibo.api.access import PATIENT_SELF, PUBLIC
from mibo.core.actor import ROLES
from mibo.domain.access import PERMISSIONS

SPEC_MATRIX = {
    "users.create": ["ADMIN"],
    "users.update": ["ADMIN"],
    "users.delete": ["ADMIN"],
    "centres.create": ["ADMIN"],
    "centres.update": ["ADMIN", "CENTRE_MANAGER"],
    "centres.delete": ["ADMIN"],
    "clinicians.create": ["ADMIN", "CENTRE_MANAGER"],
    "clinicians.update": ["ADMIN", "CENTRE_MANAGER"],
    "clinicians.delete": ["ADMIN", "CENTRE_MANAGER"],
    "appointments.view_all": ["ADMIN", "MANAGER"],
    "appointments.view_centre": ["ADMIN", "MANAGER", "CENTRE_MANAGER", "CARE_COORDINATOR", "FRONT_DESK"],
    "appointments.view_own": ["CLINICIAN"],
    "appointments.create": ["ADMIN", "MANAGER", "CENTRE_MANAGER", "CARE_COORDINATOR", "FRONT_DESK"],
    "appointments.update": ["ADMIN", "MANAGER", "CENTRE_MANAGER", "CARE_COORDINATOR"],
    "appointments.cancel": ["ADMIN", "MANAGER", "CENTRE_MANAGER", "CARE_COORDINATOR", "FRONT_DESK"],
    "analytics.view": ["ADMIN", "MANAGER", "CENTRE_MANAGER"],
    "patients.create": ["ADMIN", "MANAGER", "CENTRE_MANAGER", "CARE_COORDINATOR", "FRONT_DESK"],
    "patients.view": ["ADMIN", "MANAGER", "CENTRE_MANAGER", "CARE_COORDINATOR", "FRONT_DESK", "CLINICIAN"],
    "patients.update": ["ADMIN", "MANAGER", "CENTRE_MANAGER", "CARE_COORDINATOR", "FRONT_DESK"],
}

PATH_PARAM = re.compile(r"\{[^}]+\}")


def test_permission_table_mirrors_the_spec():
    for key, roles in SPEC_MATRIX.items():
        assert PERMISSIONS[key] == frozenset(roles), key


def api_routes(app):
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS"):
            continue
        handler = route.handler
        permission = getattr(handler, "permission", None)
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        yield route.method, path, permission


def test_every_route_declares_a_permission(app):
    undeclared = [(method, path) for method, path, permission in api_routes(app) if permission is None]
    assert undeclared == []


async def test_every_role_against_every_protected_route(client, factory):
    centre = await factory.centre()
    staff = {role: await factory.staff(role, [centre]) for role in ROLES}
    checked = 0
    for method, path, permission in api_routes(client.server.app):
        if permission == PUBLIC or path is None:
            continue
        url = PATH_PARAM.sub("999999", path)
        for role in ROLES:
            # A fresh session per call: some routes (logout) end the session they are called with.
            kwargs = {"headers": {"Authorization": f"Bearer {await factory.token_for(staff[role].id)}"}}
            if method in ("POST", "PUT", "PATCH", "DELETE"):
                kwargs["json"] = {}
            resp = await client.request(method, url, **kwargs)
            body = await resp.json() if resp.content_type == "application/json" else {}
            code = body.get("error", {}).get("code")
            if permission == PATIENT_SELF:  # the website's own routes: no staff role at all
                assert (resp.status, code) == (403, "PATIENT_ONLY"), (method, path, role, resp.status)
            elif role in PERMISSIONS[permission]:
                assert not (resp.status == 403 and code == "FORBIDDEN"), (method, path, role)
                assert resp.status < 500, (method, path, role, resp.status, body)
            else:
                assert (resp.status, code) == (403, "FORBIDDEN"), (method, path, role, resp.status)
            checked += 1
    assert checked >= len(ROLES) * 2


async def test_protected_routes_need_a_token(client):
    anonymous = {(route.method, route.resource.canonical) for route in client.server.app.router.routes()
                 if getattr(route.handler, "anonymous", False)}
    assert {path for _, path in anonymous} == {"/api/centres/{id}"}  # a public answer of its own without a token
    for method, path, permission in api_routes(client.server.app):
        if permission == PUBLIC or path is None or (method, path) in anonymous:
            continue
        resp = await client.request(method, PATH_PARAM.sub("1", path))
        assert resp.status == 401, (method, path)

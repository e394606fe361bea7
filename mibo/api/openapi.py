"""GET /api/openapi.json and GET /api/docs: the API described from its own routes and schemas.

The document is generated with apispec from the app's router: every GET/POST/PUT/PATCH/DELETE
route appears, with what its handler declares — `@documented(...)` (mibo/apidoc.py) for the
summary, tags and the marshmallow schemas that also validate its requests, and `@requires` for
the roles allowed. A route without an ApiDoc still appears, summarised by its docstring.

It is built on the first request and kept for the life of the app, so it sees every route
whichever module registered it and whenever. /api/docs is Swagger UI, served from the files
of the swagger-ui-py package (no CDN), under a Content-Security-Policy of its own.
"""

from __future__ import annotations

import copy
import http
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from mibo import __version__
from mibo.api.access import PATIENT_SELF, PUBLIC, public
from mibo.api.apidoc import documented
from mibo.api.http import dumps
from mibo.core.actor import ROLES
from mibo.core.errors import ApiError
from mibo.domain.access import PERMISSIONS
from schemas.base import PageQuerySchema

DOCUMENTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
BEARER = "bearerAuth"
SERVICE = "serviceToken"

# The one-line descriptions of the spec's endpoint tables; a route the spec does not list keeps its
# own summary (from @documented or its docstring).
SPEC_SUMMARIES = {
    ("POST", "/api/auth/send-otp"): "Send OTP to phone",
    ("POST", "/api/auth/login/phone-otp"): "Login with phone + OTP",
    ("POST", "/api/auth/login/phone-password"): "Login with phone + password",
    ("POST", "/api/auth/login/username-password"): "Login with username + password",
    ("POST", "/api/auth/refresh"): "Refresh access token",
    ("POST", "/api/auth/logout"): "Logout user",
    ("GET", "/api/auth/me"): "Get current user",
    ("GET", "/api/analytics/dashboard"): "Get dashboard metrics",
    ("GET", "/api/analytics/top-doctors"): "Get top performing doctors",
    ("GET", "/api/analytics/revenue"): "Get revenue data",
    ("GET", "/api/analytics/leads-by-source"): "Get appointment sources",
    ("GET", "/api/users"): "Get all staff users",
    ("GET", "/api/users/{id}"): "Get staff user by ID",
    ("POST", "/api/users"): "Create staff user",
    ("PUT", "/api/users/{id}"): "Update staff user",
    ("DELETE", "/api/users/{id}"): "Delete staff user",
    ("GET", "/api/centres"): "Get all centres",
    ("GET", "/api/centres/{id}"): "Get centre by ID",
    ("POST", "/api/centres"): "Create centre",
    ("PUT", "/api/centres/{id}"): "Update centre",
    ("DELETE", "/api/centres/{id}"): "Delete centre",
    ("GET", "/api/clinicians"): "Get all clinicians",
    ("GET", "/api/clinicians/{id}"): "Get clinician by ID",
    ("POST", "/api/clinicians"): "Create clinician",
    ("PUT", "/api/clinicians/{id}"): "Update clinician",
    ("DELETE", "/api/clinicians/{id}"): "Delete clinician",
    ("PUT", "/api/clinicians/{id}/availability"): "Update availability",
    ("GET", "/api/patients"): "Get all patients",
    ("GET", "/api/patients/{id}"): "Get patient by ID",
    ("POST", "/api/patients"): "Create patient",
    ("PUT", "/api/patients/{id}"): "Update patient",
    ("GET", "/api/patients/{id}/appointments"): "Get patient appointments",
    ("POST", "/api/patients/{id}/notes"): "Add medical note",
    ("GET", "/api/appointments"): "Get appointments",
    ("GET", "/api/appointments/{id}"): "Get appointment by ID",
    ("POST", "/api/appointments"): "Create appointment",
    ("PUT", "/api/appointments/{id}"): "Update appointment",
    ("DELETE", "/api/appointments/{id}"): "Cancel appointment",
    ("GET", "/api/appointments/availability"): "Check clinician availability",
    ("POST", "/api/payments/create-order"): "Create Razorpay order",
    ("POST", "/api/payments/verify"): "Verify payment",
    ("POST", "/api/payments/webhook"): "Razorpay webhook",
    ("GET", "/api/payments/patient/{id}"): "Get patient payments",
    ("POST", "/api/notifications/appointment-confirmation"): "Send confirmation",
    ("POST", "/api/notifications/appointment-reminder"): "Send reminder",
    ("GET", "/api/notifications/history"): "Get notification history",
    ("POST", "/api/video/generate-meet-link"): "Generate Google Meet link",
    ("GET", "/api/video/appointment/{id}/meet-link"): "Get Meet link for appointment",
    ("GET", "/api/health"): "System health check",
}

PAGE_META = {
    "type": "object",
    "required": ["total", "limit", "offset"],
    "properties": {"total": {"type": "integer", "minimum": 0}, "limit": {"type": "integer", "minimum": 1},
                   "offset": {"type": "integer", "minimum": 0}},
}

ERROR_ENVELOPE = {
    "type": "object",
    "required": ["success", "message", "error"],
    "properties": {
        "success": {"type": "boolean", "enum": [False]},
        "message": {"type": "string", "description": "The same text as error.message"},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "example": "VALIDATION_ERROR"},
                "message": {"type": "string"},
                "details": {"description": "For VALIDATION_ERROR: {field: [messages]}"},
            },
        },
    },
}

# --- the document ----------------------------------------------------------------


def schema_name(schema) -> str | None:
    """Components are named module.Class ('analytics.DashboardMetrics', 'legacy.auth.PanelUser'), so
    equal class names in two modules cannot collide; a schema narrowed with only/exclude/partial is inlined instead."""
    if not isinstance(schema, type):
        if schema.only or schema.exclude or schema.load_only or schema.dump_only or schema.partial:
            return None
        schema = type(schema)
    # schemas.legacy.* (the admin panel's shapes) keep their package: legacy.centres.X beside centres.X.
    module = schema.__module__.removeprefix("schemas.")
    return f"{module}.{schema.__name__.removesuffix('Schema')}"


_GROUP = re.compile(r"\(\?P<(\w+)>")
_INTEGER_PATTERNS = {r"\d+", "[0-9]+"}


def _group_regex(pattern: str, start: int) -> str:
    """The regex of the named group opened just before `start`, up to its closing parenthesis."""
    depth, i = 1, start
    while True:
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return pattern[start:i]
        i += 1


def path_parameters(resource: web.AbstractResource) -> list[dict[str, Any]]:
    """Parameters of an aiohttp path ('/api/users/{id:\\d+}' is documented as '/api/users/{id}')."""
    pattern = resource.get_info().get("pattern")
    if pattern is None:
        return []
    parameters = []
    for match in _GROUP.finditer(pattern.pattern):
        regex = _group_regex(pattern.pattern, match.end())
        kind = {"type": "integer", "minimum": 1} if regex in _INTEGER_PATTERNS else {"type": "string"}
        parameters.append({"in": "path", "name": match.group(1), "required": True, "schema": kind})
    return parameters


def access(handler) -> str:
    """Who may call the route, in words, from the one permission table."""
    permission = getattr(handler, "permission", None)
    if permission == PUBLIC:
        return "Public: no authentication."
    if permission is None:
        return "No permission declared: the API refuses every call."
    if permission == PATIENT_SELF:
        return "A patient signed in on the website (patient token), for their own records only."
    roles = ", ".join(role for role in ROLES if role in PERMISSIONS[permission])
    text = f"Roles: {roles} (permission `{permission}`)."
    if getattr(handler, "accepts_patients", False):
        text += " Also a patient signed in on the website, for their own records."
    if getattr(handler, "anonymous", False):
        text += " Without an Authorization header: the public fields only (the patient website)."
    if getattr(handler, "accepts_service_token", False):
        text += " Also accepts the service token."
    return text


def envelope(schema, many: bool, paged: bool = False) -> dict[str, Any]:
    if isinstance(schema, dict):
        schema = copy.deepcopy(schema)  # apispec resolves the schemas it names in place
    data = {"type": "array", "items": schema} if many else schema
    properties = {"success": {"type": "boolean", "enum": [True]}, "data": data}
    if paged:
        properties["meta"] = PAGE_META
    return {"type": "object", "required": ["success", "data", *(["meta"] if paged else [])],
            "properties": properties}


def is_paged(doc) -> bool:
    """A list answered with ok_page: its query is (a subclass of) the shared limit/offset schema."""
    return bool(doc and doc.many and doc.query and issubclass(doc.query, PageQuerySchema))


def summary_of(method: str, path: str, handler, doc) -> str:
    docstring = (handler.__doc__ or "").strip()
    own = doc.summary if doc else (docstring.splitlines()[0] if docstring else "")
    return SPEC_SUMMARIES.get((method, path)) or own


def operation(method: str, path: str, handler, *, has_id: bool) -> dict[str, Any]:
    doc = getattr(handler, "api_doc", None)
    segment = path.removeprefix("/api/").strip("/").split("/")[0]
    summary = summary_of("GET" if method == "HEAD" else method, path, handler, doc)
    own = doc.summary if doc else ""
    description = " ".join(part for part in (access(handler), f"{own}." if own and own != summary else "",
                                             doc.description if doc else "") if part)
    op: dict[str, Any] = {
        "operationId": re.sub(r"[^A-Za-z0-9]+", "_", f"{method.lower()}{path}").strip("_"),
        "summary": summary + (" (headers only)" if method == "HEAD" else ""),
        "tags": list(doc.tags) if doc and doc.tags else [segment.replace("-", " ").title() or "Docs"],
        "description": description,
        "responses": {},
    }
    public_route = getattr(handler, "permission", None) == PUBLIC
    op["security"] = [] if public_route else [{BEARER: []}]
    if getattr(handler, "anonymous", False):
        op["security"].append({})  # the token is optional
    if getattr(handler, "accepts_service_token", False):
        op["security"].append({SERVICE: []})
    errors = set(doc.errors) if doc else set()
    parameters = []
    if doc and doc.query:
        parameters.append({"in": "query", "schema": doc.query})
        errors.add(400)
    headers = list(doc.headers) if doc else []
    if doc and doc.cached:
        headers.append(("If-None-Match", "The ETag of an answer already held: 304 if it is still current", False))
    for name, text, required in headers:
        parameters.append({"in": "header", "name": name, "description": text, "required": required,
                           "schema": {"type": "string"}})
    if parameters:
        op["parameters"] = parameters
    if doc and (doc.body or doc.raw_body) and method != "HEAD":
        schema = doc.body or doc.raw_body
        kind = "JSON" if doc.body_media_type == "application/json" else doc.body_media_type
        op["requestBody"] = {"required": not doc.body_optional,
                             "description": f"{kind}, at most {doc.max_body} bytes.",
                             "content": {doc.body_media_type: {"schema": schema}}}
        errors |= {400, 413, 415}
    if has_id:
        errors |= {400, 404}  # an id of more than 18 digits is a 400; one that names nothing a 404
    if not public_route:
        errors |= {401, 403}
    status = str(doc.status if doc else 200)
    if method == "HEAD":
        op["responses"][status] = {"description": "Success (no body)"}
    elif doc and doc.text_response:
        kind = {"type": "object"} if doc.text_response == "application/json" else {"type": "string"}
        op["responses"][status] = {"description": "Success", "content": {doc.text_response: {"schema": kind}}}
    elif doc and doc.response:
        op["responses"][status] = {
            "description": http.HTTPStatus(doc.status).phrase,
            "content": {"application/json": {"schema": envelope(doc.response, doc.many, is_paged(doc))}},
        }
    else:
        op["responses"][status] = {"description": "Success"}
    if doc and doc.cached:
        op["responses"]["304"] = {"description": "Not Modified: the ETag sent is still current"}
    for code in sorted(errors):
        op["responses"][str(code)] = {"description": http.HTTPStatus(code).phrase}
        if method != "HEAD":
            op["responses"][str(code)]["content"] = {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return op


def build_document(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3 document of every route registered on `app`."""
    spec = APISpec(
        title="Mibo API",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin(schema_name_resolver=schema_name)],
        info={"description": "Operations API of the Mibo mental-health hospital chain. JSON is camelCase; "
                             "success is {success: true, data}, errors {success: false, error}."},
    )
    spec.components.security_scheme(BEARER, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.security_scheme(SERVICE, {
        "type": "http", "scheme": "bearer",
        "description": "The SERVICE_TOKEN of our own processes, on the routes marked as accepting it."})
    spec.components.schema("Error", ERROR_ENVELOPE)
    paths: dict[str, tuple[list[dict], dict[str, dict]]] = {}
    for route in app.router.routes():
        if route.method not in DOCUMENTED_METHODS or route.resource is None:
            continue
        path = route.resource.canonical
        parameters, operations = paths.setdefault(path, (path_parameters(route.resource), {}))
        operations[route.method.lower()] = operation(route.method, path, route.handler,
                                                     has_id=any(p["schema"]["type"] == "integer" for p in parameters))
    for path, (parameters, operations) in paths.items():
        spec.path(path=path, operations=operations, parameters=parameters)
    return spec.to_dict()


# --- handlers ---------------------------------------------------------------------


@dataclass
class DocumentCache:
    text: str | None = None


OPENAPI_CACHE = web.AppKey("openapi_cache", DocumentCache)


@public
@documented("The OpenAPI 3 document of this API", tags=("Docs",), text_response="application/json")
async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI 3 document of this API."""
    cache = request.app[OPENAPI_CACHE]
    if cache.text is None:
        # Built once per app (tens of milliseconds), when every route is registered.
        cache.text = dumps(build_document(request.app))
    return web.Response(text=cache.text, content_type="application/json")


_spec = importlib.util.find_spec("swagger_ui")  # located, not imported: only its static files are used
SWAGGER_UI_DIR = Path(next(iter(_spec.submodule_search_locations))) / "static"
ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "favicon-16x16.png"})
STATIC = "/api/docs/static"

DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

DOCS_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Mibo API</title>
<link rel="icon" type="image/png" href="{STATIC}/favicon-32x32.png">
<link rel="stylesheet" href="{STATIC}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{STATIC}/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script>
</body>
</html>
"""

# A file, not an inline script, so the page's CSP needs no 'unsafe-inline' for scripts.
DOCS_INIT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
"""


@public
@documented("Interactive API documentation (Swagger UI)", tags=("Docs",), text_response="text/html")
async def docs_page(request: web.Request) -> web.Response:
    """Interactive API documentation (Swagger UI)."""
    # The default CSP (default-src 'none') would stop Swagger UI; this one allows only our own assets.
    return web.Response(text=DOCS_PAGE, content_type="text/html",
                        headers={"Content-Security-Policy": DOCS_CSP})


@public
@documented("The script that starts Swagger UI", tags=("Docs",), text_response="text/javascript")
async def docs_init(request: web.Request) -> web.Response:
    """The script that starts Swagger UI on /api/docs."""
    return web.Response(text=DOCS_INIT, content_type="text/javascript")


@public
@documented("A Swagger UI asset (script, style sheet or icon)", tags=("Docs",), text_response="*/*",
            errors=(404,))
async def docs_asset(request: web.Request) -> web.StreamResponse:
    """A Swagger UI asset (script, style sheet or icon) from the swagger-ui-py package."""
    name = request.match_info["name"]
    if name not in ASSETS:
        raise ApiError.not_found("asset")
    return web.FileResponse(SWAGGER_UI_DIR / name, headers={"Cache-Control": "public, max-age=86400"})


def setup_routes(app: web.Application) -> None:
    """Register last in mibo/routes.py; the document is built lazily, so it lists every route."""
    app[OPENAPI_CACHE] = DocumentCache()
    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/api/docs", docs_page)
    app.router.add_get("/api/docs/init.js", docs_init)
    app.router.add_get(STATIC + r"/{name:[\w.-]+}", docs_asset)

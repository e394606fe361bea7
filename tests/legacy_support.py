"""Helpers for the admin panel's contract tests: its base URL and its envelope."""

from __future__ import annotations

BASE = "/legacy/api"
PANEL_ORIGIN = "http://localhost:5173"


def data_of(body: dict):
    """What the panel reads: `data.data || data`, from a success envelope."""
    assert body["success"] is True, body
    return body["data"]


def refusal_of(body: dict) -> tuple[str, str, dict | None]:
    """(code, top-level message, details) of a panel error answer, checking the envelope."""
    assert body["success"] is False, body
    assert body["message"] == body["error"]["message"], body
    return body["error"]["code"], body["message"], body["error"].get("details")


def panel_app(app):
    """The admin panel's sub-application mounted on the API `app`."""
    return next(resource.get_info()["app"] for resource in app.router.resources()
                if resource.get_info().get("app") is not None)


def panel_routes(app) -> list:
    """Every route of the panel's contract (the preflight and HEAD routes aside)."""
    return [route for route in panel_app(app).router.routes() if route.method not in ("OPTIONS", "HEAD")]

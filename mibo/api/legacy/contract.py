"""How a panel route declares itself: its OpenAPI entry (under the panel's tag, with the panel's error
envelope) and the spec route it translates, whose permission it must require.

    @requires("clinicians.view")
    @panel_route("List clinicians", translates=("GET", "/api/clinicians"), response=..., many=True)
    async def list_clinicians(request): ...

`translates=None` marks a route of the panel with no spec counterpart (its permission is then the one
of the rule it calls); tests/test_legacy_permissions.py walks every route of the sub-application
against this declaration and the permission table.
"""

from __future__ import annotations

from mibo.api.apidoc import documented

TAG = "Admin panel (legacy contract)"


def panel_route(summary: str, *, translates: tuple[str, str] | None, description: str = "", **doc):
    """Document a panel handler and name the spec route (method, path) it translates."""
    said = f"Translates {translates[0]} {translates[1]}." if translates else "No spec route: the panel's own."

    def mark(handler):
        handler.translates = translates
        return documented(summary, tags=(TAG,), description=" ".join(filter(None, (said, description))), **doc)(handler)

    return mark

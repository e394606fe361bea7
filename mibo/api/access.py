"""Route declarations: each handler names the one permission it needs, or is public.

The auth middleware refuses a route that declares neither, so a new route cannot be reachable
by accident. The permissions themselves are the table of mibo.domain.access.
"""

from __future__ import annotations

from mibo.domain.access import PERMISSIONS

PUBLIC = "public"


def requires(permission: str, *, service: bool = False):
    """Declare the permission a handler needs; checked by the auth middleware before it runs."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def mark(handler):
        handler.permission = permission
        handler.accepts_service_token = service
        return handler

    return mark


def public(handler):
    """Declare a handler that needs no authentication (login, health, webhooks)."""
    handler.permission = PUBLIC
    handler.accepts_service_token = False
    return handler


"""Route declarations: each handler names the one permission it needs, or is public.

The auth middleware refuses a route that declares neither, so a new route cannot be reachable
by accident. The permissions themselves are the table of mibo.domain.access.
"""

from __future__ import annotations

from mibo.domain.access import PERMISSIONS

PUBLIC = "public"
# The patient website's own routes: a signed-in patient (PATIENT audience), acting on their own
# records only; the rules give another patient's records 404.
PATIENT_SELF = "patient-self"


def requires(permission: str, *, service: bool = False, patients: bool = False, anonymous: bool = False):
    """Declare the permission a handler needs; checked by the auth middleware before it runs.
    `patients`: a signed-in patient may call it too (for their own records: the rules scope them).
    `anonymous`: a request with no Authorization header at all reaches the handler without an
    actor, for a public answer of its own (a bad or foreign token is still refused)."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def mark(handler):
        handler.permission = permission
        handler.accepts_service_token = service
        handler.accepts_patients = patients
        handler.anonymous = anonymous
        return handler

    return mark


def patient(handler):
    """Declare a route of the patient website: a signed-in patient only (staff tokens get 403)."""
    handler.permission = PATIENT_SELF
    handler.accepts_service_token = False
    handler.accepts_patients = True
    return handler


def public(handler):
    """Declare a handler that needs no authentication (login, health, webhooks)."""
    handler.permission = PUBLIC
    handler.accepts_service_token = False
    return handler


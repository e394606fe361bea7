"""The one permission table, and centre scoping.

PERMISSIONS mirrors the spec's matrix; the keys the spec leaves out come from the role
columns of its endpoint tables. Every route names exactly one permission with `@requires`
(or is marked `@public`), and the auth middleware refuses anything else, so a new route
cannot be reachable by accident.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .errors import ApiError

ADMIN = "ADMIN"
MANAGER = "MANAGER"
CENTRE_MANAGER = "CENTRE_MANAGER"
CLINICIAN = "CLINICIAN"
CARE_COORDINATOR = "CARE_COORDINATOR"
FRONT_DESK = "FRONT_DESK"

# Highest first: a user's "role" in AuthResponse is the highest they hold.
ROLES = (ADMIN, MANAGER, CENTRE_MANAGER, CARE_COORDINATOR, FRONT_DESK, CLINICIAN)
ALL_STAFF = frozenset(ROLES)

# SQL joined onto `users u` wherever a user is shown with roles and centres (the auth user and
# the staff user), so both rank roles alike: lateral r.roles holds the active roles, highest
# first (r.roles[1] is "role"; pass RANKING as %(ranking)s), and lateral c.centre_ids the
# active centre assignments, ascending.
ROLES_AND_CENTRES_OF_USER = """
CROSS JOIN LATERAL (
    SELECT COALESCE(array_agg(name ORDER BY array_position(%(ranking)s::text[], name::text)), '{}') AS roles
    FROM (SELECT DISTINCT ro.name FROM user_roles ur JOIN roles ro ON ro.id = ur.role_id
          WHERE ur.user_id = u.id AND ur.is_active) held
) r
CROSS JOIN LATERAL (
    SELECT COALESCE(array_agg(csa.centre_id ORDER BY csa.centre_id), '{}') AS centre_ids
    FROM centre_staff_assignments csa WHERE csa.user_id = u.id AND csa.is_active
) c
"""
RANKING = list(ROLES)
# Roles that see every centre; everyone else sees only the centres they are assigned to.
CHAIN_WIDE = frozenset({ADMIN, MANAGER})
# Roles allowed to read clinical content (medical notes).
CLINICAL = frozenset({ADMIN, CLINICIAN})

_DESK = (ADMIN, MANAGER, CENTRE_MANAGER, CARE_COORDINATOR, FRONT_DESK)

PERMISSIONS: dict[str, frozenset[str]] = {
    key: frozenset(roles)
    for key, roles in {
        # --- the spec's matrix, verbatim ---
        "users.create": [ADMIN],
        "users.update": [ADMIN],
        "users.delete": [ADMIN],
        "centres.create": [ADMIN],
        "centres.update": [ADMIN, CENTRE_MANAGER],
        "centres.delete": [ADMIN],
        "clinicians.create": [ADMIN, CENTRE_MANAGER],
        "clinicians.update": [ADMIN, CENTRE_MANAGER],
        "clinicians.delete": [ADMIN, CENTRE_MANAGER],
        "appointments.view_all": [ADMIN, MANAGER],
        "appointments.view_centre": list(_DESK),
        "appointments.view_own": [CLINICIAN],
        "appointments.create": list(_DESK),
        "appointments.update": [ADMIN, MANAGER, CENTRE_MANAGER, CARE_COORDINATOR],
        "appointments.cancel": list(_DESK),
        "analytics.view": [ADMIN, MANAGER, CENTRE_MANAGER],
        "patients.create": list(_DESK),
        "patients.view": list(_DESK) + [CLINICIAN],
        "patients.update": list(_DESK),
        # --- from the endpoint tables ---
        "auth.session": list(ROLES),  # /api/auth/me, /api/auth/logout: any signed-in staff member
        "users.view": [ADMIN],
        "centres.view": list(ROLES),
        "clinicians.view": list(ROLES),
        "appointments.view": list(ROLES),  # scoped further by view_all / view_centre / view_own
        "availability.view": list(ROLES),
        "notes.create": [CLINICIAN, ADMIN],
        "notes.view": sorted(CLINICAL),
        "payments.create": list(ROLES),
        "payments.view": list(ROLES),
        "payments.record": list(_DESK),  # desk payments (cash/card/UPI) and payment links
        "notifications.send": [ADMIN],  # "System": ADMIN or the service token
        "notifications.view": [ADMIN],
        "video.generate": [ADMIN],  # "System"
        "video.view": list(ROLES),
        "blocks.manage": [ADMIN, MANAGER, CENTRE_MANAGER, CARE_COORDINATOR],
        "audit.view": [ADMIN],
    }.items()
}


def allowed(roles: frozenset[str], permission: str) -> bool:
    return not PERMISSIONS[permission].isdisjoint(roles)


# --- route declarations ---------------------------------------------------------

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


# --- who is asking ---------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, loaded from the database on every request."""

    user_id: int | None  # None for the service token
    session_id: int | None
    roles: frozenset[str]
    centre_ids: frozenset[int]
    clinician_id: int | None = None
    is_service: bool = False

    @property
    def chain_wide(self) -> bool:
        return self.is_service or bool(self.roles & CHAIN_WIDE)

    def can(self, permission: str) -> bool:
        return self.is_service or allowed(self.roles, permission)

    def can_access_centre(self, centre_id: int | None) -> bool:
        return self.chain_wide or (centre_id is not None and centre_id in self.centre_ids)

    def centre_filter(self) -> list[int] | None:
        """Centre ids to restrict a list to, or None when the caller sees every centre."""
        return None if self.chain_wide else sorted(self.centre_ids)


def check_centre(principal: Principal, centre_id: int | None) -> None:
    """Raise 403 unless the caller may act on this centre's data."""
    if not principal.can_access_centre(centre_id):
        raise ApiError.forbidden("This record belongs to a centre you are not assigned to", "CENTRE_FORBIDDEN")


def primary_role(roles: Iterable[str]) -> str | None:
    held = set(roles)
    return next((role for role in ROLES if role in held), None)

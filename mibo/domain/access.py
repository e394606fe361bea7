"""The one permission table, and the centre-scoping rules every surface applies.

PERMISSIONS mirrors the spec's matrix; the keys the spec leaves out come from the role columns
of its endpoint tables. Routes name the permission they need (mibo.api.access); rules call
`can` and `check_centre` with the Actor they were given, whoever calls them.
"""

from __future__ import annotations

from mibo.core.actor import (
    ADMIN,
    CARE_COORDINATOR,
    CENTRE_MANAGER,
    CLINICIAN,
    FRONT_DESK,
    MANAGER,
    ROLES,
    Actor,
)
from mibo.core.errors import ApiError

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
        # PUT /api/users/{id} for a CENTRE_MANAGER too, but only on the logins of their own clinicians
        # (mibo.domain.staff.may_manage_login): users.update above stays "any account", ADMIN only.
        "users.update_clinician_logins": [ADMIN, CENTRE_MANAGER],
        "centres.view": list(ROLES),
        "clinicians.view": list(ROLES),
        "appointments.view": list(ROLES),  # scoped further by view_all / view_centre / view_own
        "availability.view": list(ROLES),
        "notes.create": [CLINICIAN, ADMIN],
        # A consultation is run by its clinician: begin, complete, book the follow-up (mibo.domain.consultations).
        "consultations.run": [CLINICIAN],
        "notes.view": sorted(CLINICAL),
        "payments.create": list(ROLES),
        "payments.view": list(ROLES),
        "payments.record": list(_DESK),  # desk payments (cash/card/UPI) and payment links
        # A desk payment for less than what is due, with a reason (a waiver or a discount).
        "payments.waive": [ADMIN, MANAGER, CENTRE_MANAGER],
        # Refund a payment (fully or in part), within the centres the actor is assigned to; and see
        # a payment's refunds (the desk answers "where is my refund?").
        "payments.refund": [ADMIN, MANAGER, CENTRE_MANAGER],
        "payments.refunds_view": list(_DESK),
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


def can(actor: Actor, permission: str) -> bool:
    """Our own processes and the service token act for the system; people by their roles."""
    return actor.is_service or actor.is_system or allowed(actor.roles, permission)


def require(actor: Actor, permission: str) -> None:
    if not can(actor, permission):
        raise ApiError.forbidden()


def patient_self(actor: Actor) -> int:
    """The id of the patient signed in on the website who acts; 403 for anyone else (staff, our own
    processes): a patient's own records are reached only through their own session."""
    if not actor.is_patient:
        raise ApiError.forbidden()
    return actor.patient_id


def check_centre(actor: Actor, centre_id: int | None) -> None:
    """Raise 403 unless the actor may act on this centre's data."""
    if not actor.can_access_centre(centre_id):
        raise ApiError.forbidden("This record belongs to a centre you are not assigned to", "CENTRE_FORBIDDEN")


def check_any_centre(actor: Actor, centre_ids) -> None:
    """403 CENTRE_FORBIDDEN unless the actor shares at least one of `centre_ids`."""
    check_centre(actor, next((c for c in centre_ids if actor.can_access_centre(c)), None))

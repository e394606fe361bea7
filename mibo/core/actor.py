"""Who is acting: the one value every rule receives instead of a request.

An Actor says who (a user, or a process of ours), with which roles and centres, from which
surface (the staff API, the patient website, the admin panel's contract, a worker, the
scheduler, the command line) and under which request or message id. Rules decide with it; the
audit writer records it. It carries no behaviour of the permission table (mibo.domain.access).
"""

from __future__ import annotations

from dataclasses import dataclass

ADMIN = "ADMIN"
MANAGER = "MANAGER"
CENTRE_MANAGER = "CENTRE_MANAGER"
CLINICIAN = "CLINICIAN"
CARE_COORDINATOR = "CARE_COORDINATOR"
FRONT_DESK = "FRONT_DESK"
PATIENT = "PATIENT"

# Staff roles, highest first: a user's "role" is the highest they hold.
ROLES = (ADMIN, MANAGER, CENTRE_MANAGER, CARE_COORDINATOR, FRONT_DESK, CLINICIAN)
# Roles that see every centre; every other staff role sees only the centres it is assigned to.
CHAIN_WIDE = frozenset({ADMIN, MANAGER})

# Surfaces: the ways in.
STAFF_API = "STAFF_API"
PATIENT_WEB = "PATIENT_WEB"
ADMIN_PANEL = "ADMIN_PANEL"
WORKER = "WORKER"
SCHEDULER = "SCHEDULER"
CLI = "CLI"
# Surfaces run by our own processes rather than by a person.
SYSTEM_SURFACES = frozenset({WORKER, SCHEDULER, CLI})


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    roles: frozenset[str] = frozenset()
    centre_ids: frozenset[int] = frozenset()
    clinician_id: int | None = None
    patient_id: int | None = None  # set for a patient signed in on the website
    session_id: int | None = None
    surface: str = STAFF_API
    request_id: str | None = None  # the HTTP request id, or the job that acts
    is_service: bool = False  # the service token ("System" routes)

    @classmethod
    def system(cls, surface: str, request_id: str | None = None) -> Actor:
        """One of our own processes (a worker step, a periodic job, a CLI command)."""
        return cls(user_id=None, surface=surface, request_id=request_id)

    def within(self, surface: str, request_id: str | None) -> Actor:
        # Once per request: the constructor costs half of dataclasses.replace, which showed in the
        # profile of the cheapest route. tests/test_actor.py checks that every other field is kept.
        return Actor(self.user_id, self.roles, self.centre_ids, self.clinician_id, self.patient_id,
                     self.session_id, surface, request_id, self.is_service)

    @property
    def is_system(self) -> bool:
        return self.user_id is None and self.surface in SYSTEM_SURFACES

    @property
    def is_patient(self) -> bool:
        return self.patient_id is not None

    @property
    def kind(self) -> str:
        """How the audit trail names this actor: USER, PATIENT, SERVICE or the system surface."""
        if self.is_service:
            return "SERVICE"
        if self.is_system:
            return self.surface
        return PATIENT if self.is_patient else "USER"

    @property
    def chain_wide(self) -> bool:
        return self.is_service or self.is_system or bool(self.roles & CHAIN_WIDE)

    def can_access_centre(self, centre_id: int | None) -> bool:
        return self.chain_wide or (centre_id is not None and centre_id in self.centre_ids)

    def centre_filter(self) -> list[int] | None:
        """Centre ids to restrict a list to, or None when the actor sees every centre."""
        return None if self.chain_wide else sorted(self.centre_ids)


def primary_role(roles) -> str | None:
    held = set(roles)
    return next((role for role in ROLES if role in held), None)

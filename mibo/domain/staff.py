"""Staff accounts: who may create, change and deactivate a login, and what that does.

A login's identity and state (name, phone, e-mail, username, password, active), its role and its
centres change only here, whichever surface asks:

- an ADMIN changes any staff account;
- a CENTRE_MANAGER changes only the logins of their own clinicians (every role CLINICIAN, every
  centre one of theirs): name, contact details, username, active and centres among their own,
  never a role and never a password. A clinician chooses their password after signing in with an
  OTP, or an ADMIN sets it;
- nobody deactivates themselves or changes their own role;
- the last active ADMIN stays: checked here under a lock for a clear answer, and by the database
  when the transaction commits (the trigger keep_an_active_admin), whatever the path.

Create runs the spec's Staff User Creation Flow in one transaction. Deactivation keeps the user
for history (appointments and audit rows point at it) but ends every session it holds, so tokens
already issued stop working on the next request; a clinician with live appointments ahead
cannot be deactivated.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, or_, select

from mibo.core import audit, db, listing, tables
from mibo.core.actor import ADMIN, CHAIN_WIDE, CLINICIAN, ROLES, Actor
from mibo.core.errors import ApiError
from mibo.domain import access
from mibo.domain.access import RANKING, ROLES_AND_CENTRES_OF_USER
from mibo.domain.appointment_states import LIVE_SQL

# --- SQL ------------------------------------------------------------------------

# The StaffUser shape; "role" is the highest role held (same ranking as AuthResponse).
STAFF_USER_FROM = f"""
u.id, u.full_name AS name, u.email, u.phone, u.username, r.roles[1] AS role, r.roles, c.centre_ids,
cp.id AS clinician_id, u.avatar_url AS avatar, sp.designation, sp.department, u.is_active,
u.created_at, u.updated_at
FROM users u
LEFT JOIN staff_profiles sp ON sp.user_id = u.id
LEFT JOIN clinician_profiles cp ON cp.user_id = u.id
{ROLES_AND_CENTRES_OF_USER}"""

STAFF_USER_BY_ID = f"SELECT {STAFF_USER_FROM} WHERE u.id = %(id)s AND u.user_type = 'STAFF'"

STAFF_PAGE = f"SELECT page.total, {STAFF_USER_FROM} JOIN page ON page.id = u.id ORDER BY page.ord"

# What the rules need of an account: its state, roles, and every centre it works at (assigned
# centres and a clinician profile's primary centre), the user row locked for the change. NO KEY
# UPDATE: rows that merely point at the user (an audit row naming the actor) are not held up,
# so two administrators changing each other cannot deadlock.
STAFF_FOR_UPDATE = f"""
SELECT u.id, u.is_active, r.roles, c.centre_ids, cp.primary_centre_id
FROM users u
LEFT JOIN clinician_profiles cp ON cp.user_id = u.id
{ROLES_AND_CENTRES_OF_USER}
WHERE u.id = %(id)s AND u.user_type = 'STAFF'
FOR NO KEY UPDATE OF u
"""

ROLE_ID = "SELECT id FROM roles WHERE name = %s"

ACTIVE_CENTRES_AMONG = "SELECT COALESCE(array_agg(id), '{}') FROM centres WHERE id = ANY(%s) AND is_active"

INSERT_USER = """
INSERT INTO users (full_name, phone, email, username, password_hash, user_type)
VALUES (%(name)s, %(phone)s, %(email)s, %(username)s, %(password_hash)s, 'STAFF')
RETURNING id
"""

INSERT_USER_ROLE = "INSERT INTO user_roles (user_id, role_id) VALUES (%s, %s)"

# Idempotent: an existing staff member becoming a clinician (again).
GRANT_ROLE = """
INSERT INTO user_roles (user_id, role_id) SELECT %s, id FROM roles WHERE name = %s
ON CONFLICT (user_id, role_id, COALESCE(centre_id, 0)) DO UPDATE SET is_active = TRUE
"""

REVOKE_ROLE = """
UPDATE user_roles SET is_active = FALSE
WHERE user_id = %s AND is_active AND role_id = (SELECT id FROM roles WHERE name = %s)
"""

DELETE_USER_ROLES = "DELETE FROM user_roles WHERE user_id = %s"

ASSIGN_CENTRES = """
INSERT INTO centre_staff_assignments (user_id, centre_id) SELECT %s, unnest(%s::bigint[])
ON CONFLICT (user_id, centre_id) DO UPDATE SET is_active = TRUE
"""

UNASSIGN_OTHER_CENTRES = (
    "DELETE FROM centre_staff_assignments WHERE user_id = %s AND centre_id <> ALL(%s::bigint[])"
)

UPSERT_STAFF_PROFILE = """
INSERT INTO staff_profiles (user_id, designation, department)
VALUES (%(user_id)s, %(designation)s, %(department)s)
ON CONFLICT (user_id) DO UPDATE SET designation = EXCLUDED.designation, department = EXCLUDED.department
"""

ROLES_AND_CENTRE_COUNT = """
SELECT COALESCE((SELECT array_agg(r.name) FROM user_roles ur JOIN roles r ON r.id = ur.role_id
                 WHERE ur.user_id = %(id)s AND ur.is_active), '{}') AS roles,
       (SELECT count(*) FROM centre_staff_assignments WHERE user_id = %(id)s AND is_active) AS centres
"""

FUTURE_LIVE_APPOINTMENTS_OF_USER = f"""
SELECT count(*) FROM appointments a JOIN clinician_profiles cp ON cp.id = a.clinician_id
WHERE cp.user_id = %s AND a.status IN {LIVE_SQL} AND a.scheduled_end_at > now()
"""

# Taken before counting administrators, so that two transactions removing two of them queue up
# and the second counts after the first has committed. The database's own guard takes it too.
LOCK_ADMIN_ROLE = "SELECT id FROM roles WHERE name = 'ADMIN' FOR NO KEY UPDATE"

# The database's guard runs at commit; run it now instead, so that a refusal is an ordinary error
# inside the transaction.
CHECK_ADMIN_GUARD_NOW = "SET CONSTRAINTS keep_an_active_admin, keep_an_active_admin_deleted IMMEDIATE"

OTHER_ACTIVE_ADMINS = """
SELECT count(*) FROM user_roles ur JOIN roles r ON r.id = ur.role_id JOIN users u ON u.id = ur.user_id
WHERE r.name = 'ADMIN' AND ur.is_active AND u.is_active AND u.user_type = 'STAFF' AND u.id <> %s
"""

DEACTIVATE_USER = "UPDATE users SET is_active = FALSE WHERE id = %s"
DEACTIVATE_STAFF_PROFILE = "UPDATE staff_profiles SET is_active = FALSE WHERE user_id = %s"
DEACTIVATE_CLINICIAN_PROFILE = "UPDATE clinician_profiles SET is_active = FALSE WHERE user_id = %s"
REACTIVATE_USER = "UPDATE users SET is_active = TRUE WHERE id = %s"
REACTIVATE_STAFF_PROFILE = "UPDATE staff_profiles SET is_active = TRUE WHERE user_id = %s"
# Only while the user is still a clinician: a profile removed from a login with other roles stays removed.
REACTIVATE_CLINICIAN_PROFILE = """
UPDATE clinician_profiles SET is_active = TRUE
WHERE user_id = %(id)s AND EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id
                                   WHERE ur.user_id = %(id)s AND ur.is_active AND r.name = 'CLINICIAN')
"""

REVOKE_USER_SESSIONS = """
UPDATE auth_sessions SET revoked_at = now(), revoked_reason = %s WHERE user_id = %s AND revoked_at IS NULL
"""

# API field -> users column.
USER_COLUMNS = {
    "name": "full_name",
    "phone": "phone",
    "email": "email",
    "username": "username",
    "password_hash": "password_hash",
}

# What a CENTRE_MANAGER may not change on their clinicians' logins: change key -> (API field, why).
ADMIN_ONLY_FIELDS = {
    "role": ("role", "Only an administrator changes a role."),
    "password_hash": ("password", "Only an administrator sets a password; the clinician can sign in with an OTP."),
}

# --- rules ----------------------------------------------------------------------


def is_chain_wide(role: str) -> bool:
    """ADMIN and MANAGER see every centre; every other role works at particular centres."""
    return role in CHAIN_WIDE


def works_at(account: dict[str, Any]) -> set[int]:
    """Every centre of an account of STAFF_FOR_UPDATE: its assignments and its primary centre."""
    centres = set(account["centre_ids"])
    if account["primary_centre_id"] is not None:
        centres.add(account["primary_centre_id"])
    return centres


def may_manage_login(actor: Actor, account: dict[str, Any]) -> bool:
    """ADMIN: any login; a CENTRE_MANAGER: a login that is only a clinician's, at their centres only."""
    if access.can(actor, "users.update"):
        return True
    return (
        access.can(actor, "users.update_clinician_logins")
        and set(account["roles"]) == {CLINICIAN}
        and all(actor.can_access_centre(centre) for centre in works_at(account))
    )


def check_not_self(actor: Actor, user_id: int, changes: dict[str, Any], roles: list[str]) -> None:
    """Nobody deactivates themselves or changes their own role."""
    if user_id != actor.user_id:
        return
    if changes.get("is_active") is False:
        raise ApiError.validation({"isActive": ["You cannot deactivate your own account."]})
    if "role" in changes and [changes["role"]] != list(roles):
        raise ApiError.validation({"role": ["You cannot change your own role."]})


def check_may_change(actor: Actor, account: dict[str, Any], changes: dict[str, Any]) -> None:
    check_not_self(actor, account["id"], changes, account["roles"])
    if not may_manage_login(actor, account):
        raise ApiError.forbidden("Only an administrator can change this account")
    if access.can(actor, "users.update"):
        return
    refused = {field: [why] for key, (field, why) in ADMIN_ONLY_FIELDS.items() if key in changes}
    if refused:
        raise ApiError(403, "FORBIDDEN", "Only an administrator can change these fields", refused)
    for centre_id in changes.get("centre_ids", ()):
        access.check_centre(actor, centre_id)


def removes_admin(account: dict[str, Any], changes: dict[str, Any]) -> bool:
    if ADMIN not in account["roles"] or not account["is_active"]:
        return False
    return changes.get("is_active") is False or changes.get("role", ADMIN) != ADMIN


async def ensure_an_admin_remains(cur, user_id: int) -> None:
    """409 LAST_ADMIN unless another active administrator stays once `user_id` is no longer one."""
    await db.execute(cur, LOCK_ADMIN_ROLE)
    if not await db.fetch_value(cur, OTHER_ACTIVE_ADMINS, (user_id,)):
        raise ApiError.conflict("The last active administrator cannot be deactivated or demoted",
                                code="LAST_ADMIN")


async def role_id_or_400(cur, role: str) -> int:
    role_id = await db.fetch_value(cur, ROLE_ID, (role,))
    if role_id is None:
        raise ApiError.validation({"role": [f"Unknown role. Use one of: {', '.join(ROLES)}."]})
    return role_id


async def check_centres_exist(cur, centre_ids: list[int]) -> None:
    found = set(await db.fetch_value(cur, ACTIVE_CENTRES_AMONG, (centre_ids,)))
    missing = sorted(set(centre_ids) - found)
    if missing:
        raise ApiError.validation({"centreIds": [f"Unknown or inactive centre(s): {missing}."]})


# --- reading --------------------------------------------------------------------


async def staff_user(cur, user_id: int) -> dict[str, Any]:
    user = await db.fetch_one(cur, STAFF_USER_BY_ID, {"id": user_id, "ranking": RANKING})
    if user is None:
        raise ApiError.not_found("user")
    return user


async def lock_account(cur, user_id: int) -> dict[str, Any] | None:
    """A staff account as the rules need it (STAFF_FOR_UPDATE), its user row locked; None if none."""
    return await db.fetch_one(cur, STAFF_FOR_UPDATE, {"id": user_id, "ranking": RANKING})


async def locked_account(cur, user_id: int) -> dict[str, Any]:
    account = await lock_account(cur, user_id)
    if account is None:
        raise ApiError.not_found("user")
    return account


async def list_page(cur, actor: Actor, filters: dict[str, Any], limit: int, offset: int,
                    newest_first: bool = False):
    """Staff users matching `filters` (role, centre, search, active), by name or newest first;
    returns (rows, total)."""
    access.require(actor, "users.view")
    u, ur, ro, csa = tables.users, tables.user_roles, tables.roles, tables.centre_staff_assignments
    where = [u.c.user_type == "STAFF"]
    if "role" in filters:
        where.append(exists(select(ur.c.id).join(ro, ro.c.id == ur.c.role_id).where(
            ur.c.user_id == u.c.id, ur.c.is_active, ro.c.name == filters["role"])))
    if "centre_id" in filters:
        where.append(exists(select(csa.c.id).where(
            csa.c.user_id == u.c.id, csa.c.is_active, csa.c.centre_id == filters["centre_id"])))
    if "search" in filters:
        pattern = listing.like_pattern(filters["search"])
        where.append(or_(*(column.ilike(pattern) for column in (u.c.full_name, u.c.phone, u.c.email, u.c.username))))
    if "is_active" in filters:
        where.append(u.c.is_active == filters["is_active"])
    order = (u.c.id.desc(),) if newest_first else (func.lower(u.c.full_name), u.c.id)
    page = listing.page_of_ids(u.c.id, where, order, limit, offset)
    return await listing.fetch_page(cur, page, STAFF_PAGE, offset, {"ranking": RANKING})


async def visible_staff_user(cur, actor: Actor, user_id: int) -> dict[str, Any]:
    access.require(actor, "users.view")
    return await staff_user(cur, user_id)


# --- writing --------------------------------------------------------------------


async def insert_staff_user(cur, data: dict[str, Any], password_hash: str | None) -> int:
    """Steps 1 and 3-6 of the Staff User Creation Flow (step 2, hashing, happens before the transaction)."""
    role_id = await role_id_or_400(cur, data["role"])
    centre_ids = sorted(set(data.get("centre_ids") or ()))
    if not is_chain_wide(data["role"]) and not centre_ids:
        raise ApiError.validation({"centreIds": [f"A {data['role']} must be assigned to at least one centre."]})
    await check_centres_exist(cur, centre_ids)
    user_id = await db.fetch_value(cur, INSERT_USER, {
        "name": data["name"], "phone": data["phone"], "email": data.get("email"),
        "username": data.get("username"), "password_hash": password_hash,
    })
    await db.execute(cur, INSERT_USER_ROLE, (user_id, role_id))
    if centre_ids:
        await db.execute(cur, ASSIGN_CENTRES, (user_id, centre_ids))
    await db.execute(cur, UPSERT_STAFF_PROFILE, {
        "user_id": user_id, "designation": data.get("designation"), "department": data.get("department"),
    })
    return user_id


async def create(cur, actor: Actor, data: dict[str, Any], password_hash: str | None) -> dict[str, Any]:
    """A new staff user with its role, centres and staff profile; returns the StaffUser row."""
    access.require(actor, "users.create")
    user_id = await insert_staff_user(cur, data, password_hash)
    user = await staff_user(cur, user_id)
    await audit.record(cur, actor, "user.create", "user", user_id, None,
                       {"role": data["role"], "centreIds": user["centre_ids"]})
    return user


async def grant_role(cur, user_id: int, role: str) -> None:
    await db.execute(cur, GRANT_ROLE, (user_id, role))


async def revoke_role(cur, user_id: int, role: str) -> None:
    await db.execute(cur, REVOKE_ROLE, (user_id, role))


async def assign_centres(cur, user_id: int, centre_ids: list[int]) -> None:
    await db.execute(cur, ASSIGN_CENTRES, (user_id, centre_ids))


async def ensure_no_upcoming_appointments(cur, user_id: int) -> None:
    """A clinician with live appointments ahead cannot stop being one: those patients would be
    left booked with nobody to see them."""
    count = await db.fetch_value(cur, FUTURE_LIVE_APPOINTMENTS_OF_USER, (user_id,))
    if count:
        raise ApiError.conflict(
            f"The clinician has {count} upcoming appointment(s); reassign or cancel them first",
            {"futureAppointments": count},
            code="CLINICIAN_HAS_APPOINTMENTS",
        )


async def deactivate_login(cur, user_id: int, reason: str = "USER_DEACTIVATED") -> None:
    """Deactivate a login (and its staff and clinician profiles) and end every session it holds."""
    await ensure_no_upcoming_appointments(cur, user_id)
    await db.execute(cur, DEACTIVATE_USER, (user_id,))
    await db.execute(cur, DEACTIVATE_STAFF_PROFILE, (user_id,))
    await db.execute(cur, DEACTIVATE_CLINICIAN_PROFILE, (user_id,))
    await db.execute(cur, REVOKE_USER_SESSIONS, (reason, user_id))


async def reactivate_login(cur, user_id: int) -> None:
    """Undo all that deactivate_login did, bar the sessions: a clinician is bookable again."""
    await db.execute(cur, REACTIVATE_USER, (user_id,))
    await db.execute(cur, REACTIVATE_STAFF_PROFILE, (user_id,))
    await db.execute(cur, REACTIVATE_CLINICIAN_PROFILE, {"id": user_id})


async def apply_changes(cur, user_id: int, changes: dict[str, Any]) -> None:
    if assignments := db.set_clause(USER_COLUMNS, changes):
        await db.execute(cur, f"UPDATE users SET {assignments} WHERE id = %(id)s", {**changes, "id": user_id})
    if "role" in changes:
        role_id = await role_id_or_400(cur, changes["role"])
        await db.execute(cur, DELETE_USER_ROLES, (user_id,))
        await db.execute(cur, INSERT_USER_ROLE, (user_id, role_id))
    if "centre_ids" in changes:
        centre_ids = sorted(set(changes["centre_ids"]))
        await check_centres_exist(cur, centre_ids)
        await db.execute(cur, UNASSIGN_OTHER_CENTRES, (user_id, centre_ids))
        await db.execute(cur, ASSIGN_CENTRES, (user_id, centre_ids))
    if "designation" in changes or "department" in changes:
        current = await staff_user(cur, user_id)
        await db.execute(cur, UPSERT_STAFF_PROFILE, {
            "user_id": user_id,
            "designation": changes.get("designation", current["designation"]),
            "department": changes.get("department", current["department"]),
        })
    held = await db.fetch_one(cur, ROLES_AND_CENTRE_COUNT, {"id": user_id})
    if held["roles"] and not held["centres"] and not any(map(is_chain_wide, held["roles"])):
        raise ApiError.validation({"centreIds": ["This role must be assigned to at least one centre."]})


async def update(cur, actor: Actor, user_id: int, changes: dict[str, Any],
                 password_hash: str | None = None) -> dict[str, Any]:
    """Change a staff account (see the module's rules); returns the StaffUser row."""
    changes = {**changes, **({"password_hash": password_hash} if password_hash is not None else {})}
    account = await locked_account(cur, user_id)
    check_may_change(actor, account, changes)
    if removes_admin(account, changes):
        await ensure_an_admin_remains(cur, user_id)
    await apply_changes(cur, user_id, changes)
    if changes.get("is_active") is False and account["is_active"]:
        await deactivate_login(cur, user_id)
    elif changes.get("is_active") and not account["is_active"]:
        await reactivate_login(cur, user_id)
    if password_hash is not None:
        # A new password ends the sessions opened with the old one.
        await db.execute(cur, REVOKE_USER_SESSIONS, ("PASSWORD_CHANGED", user_id))
    await db.execute(cur, CHECK_ADMIN_GUARD_NOW)
    user = await staff_user(cur, user_id)
    changed = sorted("password" if key == "password_hash" else key for key in changes)
    await audit.record(cur, actor, "user.update", "user", user_id, None,
                       {"fields": changed, "roles": user["roles"], "centreIds": user["centre_ids"]})
    return user


async def deactivate(cur, actor: Actor, user_id: int) -> dict[str, Any]:
    """Deactivate a staff account and revoke its sessions; returns the StaffUser row."""
    access.require(actor, "users.delete")
    account = await locked_account(cur, user_id)
    if user_id == actor.user_id:
        raise ApiError.validation({"id": ["You cannot deactivate your own account."]})
    if removes_admin(account, {"is_active": False}):
        await ensure_an_admin_remains(cur, user_id)
    await deactivate_login(cur, user_id)
    await db.execute(cur, CHECK_ADMIN_GUARD_NOW)
    user = await staff_user(cur, user_id)
    await audit.record(cur, actor, "user.deactivate", "user", user_id)
    return user

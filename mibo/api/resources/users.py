"""/api/users: staff accounts, their role, their centres and their staff profile (ADMIN only).

Create runs the spec's Staff User Creation Flow in one transaction. Delete deactivates: the
user stays for history (appointments, audit rows point at it) but cannot sign in, and every
session it holds is revoked at once, so tokens already issued stop working on the next request.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import exists, func, or_, select

from mibo.api.access import requires
from mibo.api.apidoc import documented
from mibo.api.http import ok, ok_page, path_id, read_json, read_query
from mibo.api.keys import ACTOR, DB, EXECUTOR, SETTINGS
from mibo.api.principals import changes_principals
from mibo.core import audit, db, listing, passwords, tables
from mibo.core.actor import CHAIN_WIDE, ROLES
from mibo.core.errors import ApiError
from mibo.domain.access import RANKING, ROLES_AND_CENTRES_OF_USER
from schemas.users import CreateStaffSchema, StaffQuerySchema, StaffUserSchema, UpdateStaffSchema

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

LIST_DETAIL = f"SELECT page.total, {STAFF_USER_FROM} JOIN page ON page.id = u.id ORDER BY page.ord"

STAFF_FOR_UPDATE = "SELECT id, is_active FROM users WHERE id = %s AND user_type = 'STAFF' FOR UPDATE"

ROLE_ID = "SELECT id FROM roles WHERE name = %s"

ACTIVE_CENTRES_AMONG = "SELECT COALESCE(array_agg(id), '{}') FROM centres WHERE id = ANY(%s) AND is_active"

INSERT_USER = """
INSERT INTO users (full_name, phone, email, username, password_hash, user_type)
VALUES (%(name)s, %(phone)s, %(email)s, %(username)s, %(password_hash)s, 'STAFF')
RETURNING id
"""

INSERT_USER_ROLE = "INSERT INTO user_roles (user_id, role_id) VALUES (%s, %s)"

# Idempotent: used when an existing staff member becomes a clinician too.
GRANT_ROLE = """
INSERT INTO user_roles (user_id, role_id) SELECT %s, id FROM roles WHERE name = %s
ON CONFLICT (user_id, role_id, COALESCE(centre_id, 0)) DO UPDATE SET is_active = TRUE
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

ROLES_AND_CENTRES = """
SELECT COALESCE((SELECT array_agg(r.name) FROM user_roles ur JOIN roles r ON r.id = ur.role_id
                 WHERE ur.user_id = %(id)s AND ur.is_active), '{}') AS roles,
       (SELECT count(*) FROM centre_staff_assignments WHERE user_id = %(id)s AND is_active) AS centres
"""

FUTURE_LIVE_APPOINTMENTS_OF_USER = """
SELECT count(*) FROM appointments a JOIN clinician_profiles cp ON cp.id = a.clinician_id
WHERE cp.user_id = %s AND a.status IN ('BOOKED', 'CONFIRMED') AND a.scheduled_end_at > now()
"""

DEACTIVATE_USER = "UPDATE users SET is_active = FALSE WHERE id = %s"
DEACTIVATE_STAFF_PROFILE = "UPDATE staff_profiles SET is_active = FALSE WHERE user_id = %s"
DEACTIVATE_CLINICIAN_PROFILE = "UPDATE clinician_profiles SET is_active = FALSE WHERE user_id = %s"
REACTIVATE_USER = "UPDATE users SET is_active = TRUE WHERE id = %s"
REACTIVATE_STAFF_PROFILE = "UPDATE staff_profiles SET is_active = TRUE WHERE user_id = %s"
REACTIVATE_CLINICIAN_PROFILE = "UPDATE clinician_profiles SET is_active = TRUE WHERE user_id = %s"

REVOKE_USER_SESSIONS = """
UPDATE auth_sessions SET revoked_at = now(), revoked_reason = %s WHERE user_id = %s AND revoked_at IS NULL
"""

USER_COLUMNS = {
    "name": "full_name",
    "phone": "phone",
    "email": "email",
    "username": "username",
    "password_hash": "password_hash",
}

_schema = StaffUserSchema()

# --- business rules ----------------------------------------------------------------


def is_chain_wide(role: str) -> bool:
    """ADMIN and MANAGER see every centre; every other role works at particular centres."""
    return role in CHAIN_WIDE


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


async def create_staff_user(cur, data: dict, password_hash: str | None) -> int:
    """Steps 1 and 3-6 of the Staff User Creation Flow (step 2, hashing, happens before the transaction)."""
    role_id = await role_id_or_400(cur, data["role"])
    centre_ids = sorted(set(data.get("centre_ids") or ()))
    if not is_chain_wide(data["role"]) and not centre_ids:
        raise ApiError.validation(
            {"centreIds": [f"A {data['role']} must be assigned to at least one centre."]}
        )
    await check_centres_exist(cur, centre_ids)
    user_id = await db.fetch_value(
        cur,
        INSERT_USER,
        {
            "name": data["name"],
            "phone": data["phone"],
            "email": data.get("email"),
            "username": data.get("username"),
            "password_hash": password_hash,
        },
    )
    await db.execute(cur, INSERT_USER_ROLE, (user_id, role_id))
    if centre_ids:
        await db.execute(cur, ASSIGN_CENTRES, (user_id, centre_ids))
    await db.execute(
        cur,
        UPSERT_STAFF_PROFILE,
        {
            "user_id": user_id,
            "designation": data.get("designation"),
            "department": data.get("department"),
        },
    )
    return user_id


async def deactivate_staff(cur, user_id: int, reason: str = "USER_DEACTIVATED") -> None:
    """Deactivate a staff member (and their clinician profile) and end every session they hold.

    A clinician with live appointments ahead cannot be deactivated: those patients would be
    left booked with nobody to see them.
    """
    count = await db.fetch_value(cur, FUTURE_LIVE_APPOINTMENTS_OF_USER, (user_id,))
    if count:
        raise ApiError.conflict(
            f"The clinician has {count} upcoming appointment(s); reassign or cancel them first",
            {"futureAppointments": count},
            code="CLINICIAN_HAS_APPOINTMENTS",
        )
    await db.execute(cur, DEACTIVATE_USER, (user_id,))
    await db.execute(cur, DEACTIVATE_STAFF_PROFILE, (user_id,))
    await db.execute(cur, DEACTIVATE_CLINICIAN_PROFILE, (user_id,))
    await db.execute(cur, REVOKE_USER_SESSIONS, (reason, user_id))


async def staff_user(cur, user_id: int) -> dict:
    user = await db.fetch_one(cur, STAFF_USER_BY_ID, {"id": user_id, "ranking": RANKING})
    if user is None:
        raise ApiError.not_found("user")
    return user


async def hash_if_given(request: web.Request, password: str | None) -> str | None:
    if password is None:
        return None
    return await passwords.hash_password(request.app[EXECUTOR], password, request.app[SETTINGS].bcrypt_rounds)


# --- handlers -----------------------------------------------------------------


@requires("users.view")
@documented("List staff users", tags=("Users",), query=StaffQuerySchema, response=StaffUserSchema, many=True)
async def list_users(request: web.Request) -> web.Response:
    query = read_query(request, StaffQuerySchema())
    u, ur, ro, csa = tables.users, tables.user_roles, tables.roles, tables.centre_staff_assignments
    where = [u.c.user_type == "STAFF"]
    if "role" in query:
        where.append(
            exists(
                select(ur.c.id)
                .join(ro, ro.c.id == ur.c.role_id)
                .where(ur.c.user_id == u.c.id, ur.c.is_active, ro.c.name == query["role"])
            )
        )
    if "centre_id" in query:
        where.append(
            exists(
                select(csa.c.id).where(
                    csa.c.user_id == u.c.id, csa.c.is_active, csa.c.centre_id == query["centre_id"]
                )
            )
        )
    if "search" in query:
        pattern = listing.like_pattern(query["search"])
        where.append(
            or_(*(column.ilike(pattern) for column in (u.c.full_name, u.c.phone, u.c.email, u.c.username)))
        )
    if "is_active" in query:
        where.append(u.c.is_active == query["is_active"])
    page = listing.page_of_ids(
        u.c.id, where, (func.lower(u.c.full_name), u.c.id), query["limit"], query["offset"]
    )
    async with db.connection(request.app[DB]) as cur:
        rows, total = await listing.fetch_page(cur, page, LIST_DETAIL, query["offset"], {"ranking": RANKING})
    return ok_page(_schema.dump(rows, many=True), total, query["limit"], query["offset"])


@requires("users.view")
@documented("Get a staff user", tags=("Users",), response=StaffUserSchema, errors=(404,))
async def get_user(request: web.Request) -> web.Response:
    user_id = path_id(request)
    async with db.connection(request.app[DB]) as cur:
        return ok(_schema.dump(await staff_user(cur, user_id)))


@requires("users.create")
@documented(
    "Create a staff user",
    tags=("Users",),
    body=CreateStaffSchema,
    response=StaffUserSchema,
    status=201,
    errors=(400, 409),
)
async def create_user(request: web.Request) -> web.Response:
    body = await read_json(request, CreateStaffSchema())
    password_hash = await hash_if_given(request, body.get("password"))
    async with db.transaction(request.app[DB]) as cur:
        user_id = await create_staff_user(cur, body, password_hash)
        user = await staff_user(cur, user_id)
        await audit.record(cur, request[ACTOR],
            "user.create",
            "user",
            user_id,
            None,
            {"role": body["role"], "centreIds": user["centre_ids"]},
        )
    return ok(_schema.dump(user), status=201)


@changes_principals
@requires("users.update")
@documented(
    "Update a staff user",
    tags=("Users",),
    body=UpdateStaffSchema,
    response=StaffUserSchema,
    errors=(400, 404, 409),
)
async def update_user(request: web.Request) -> web.Response:
    user_id = path_id(request)
    body = await read_json(request, UpdateStaffSchema())
    if body.get("is_active") is False and user_id == request[ACTOR].user_id:
        raise ApiError.validation({"isActive": ["You cannot deactivate your own account."]})
    password_hash = await hash_if_given(request, body.pop("password", None))
    if password_hash is not None:
        body["password_hash"] = password_hash
    async with db.transaction(request.app[DB]) as cur:
        current = await db.fetch_one(cur, STAFF_FOR_UPDATE, (user_id,))
        if current is None:
            raise ApiError.not_found("user")
        await apply_staff_changes(cur, user_id, body)
        if body.get("is_active") is False and current["is_active"]:
            await deactivate_staff(cur, user_id)
        elif body.get("is_active") and not current["is_active"]:
            # Undo all that deactivate_staff did, bar the sessions: a clinician is bookable again.
            await db.execute(cur, REACTIVATE_USER, (user_id,))
            await db.execute(cur, REACTIVATE_STAFF_PROFILE, (user_id,))
            await db.execute(cur, REACTIVATE_CLINICIAN_PROFILE, (user_id,))
        if password_hash is not None:
            # A new password ends the sessions opened with the old one.
            await db.execute(cur, REVOKE_USER_SESSIONS, ("PASSWORD_CHANGED", user_id))
        user = await staff_user(cur, user_id)
        changed = sorted("password" if key == "password_hash" else key for key in body)
        await audit.record(cur, request[ACTOR],
            "user.update",
            "user",
            user_id,
            None,
            {"fields": changed, "roles": user["roles"], "centreIds": user["centre_ids"]},
        )
    return ok(_schema.dump(user))


async def apply_staff_changes(cur, user_id: int, body: dict) -> None:
    if assignments := db.set_clause(USER_COLUMNS, body):
        await db.execute(cur, f"UPDATE users SET {assignments} WHERE id = %(id)s", {**body, "id": user_id})
    if "role" in body:
        role_id = await role_id_or_400(cur, body["role"])
        await db.execute(cur, DELETE_USER_ROLES, (user_id,))
        await db.execute(cur, INSERT_USER_ROLE, (user_id, role_id))
    if "centre_ids" in body:
        centre_ids = sorted(set(body["centre_ids"]))
        await check_centres_exist(cur, centre_ids)
        await db.execute(cur, UNASSIGN_OTHER_CENTRES, (user_id, centre_ids))
        await db.execute(cur, ASSIGN_CENTRES, (user_id, centre_ids))
    if "designation" in body or "department" in body:
        current = await staff_user(cur, user_id)
        await db.execute(
            cur,
            UPSERT_STAFF_PROFILE,
            {
                "user_id": user_id,
                "designation": body.get("designation", current["designation"]),
                "department": body.get("department", current["department"]),
            },
        )
    held = await db.fetch_one(cur, ROLES_AND_CENTRES, {"id": user_id})
    if held["roles"] and not held["centres"] and not any(map(is_chain_wide, held["roles"])):
        raise ApiError.validation({"centreIds": ["This role must be assigned to at least one centre."]})


@changes_principals
@requires("users.delete")
@documented(
    "Deactivate a staff user and revoke their sessions",
    tags=("Users",),
    response=StaffUserSchema,
    errors=(400, 404, 409),
)
async def delete_user(request: web.Request) -> web.Response:
    user_id = path_id(request)
    async with db.transaction(request.app[DB]) as cur:
        if await db.fetch_one(cur, STAFF_FOR_UPDATE, (user_id,)) is None:
            raise ApiError.not_found("user")
        if user_id == request[ACTOR].user_id:
            raise ApiError.validation({"id": ["You cannot deactivate your own account."]})
        await deactivate_staff(cur, user_id)
        user = await staff_user(cur, user_id)
        await audit.record(cur, request[ACTOR], "user.deactivate", "user", user_id)
    return ok(_schema.dump(user))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/users", list_users)
    app.router.add_post("/api/users", create_user)
    app.router.add_get(r"/api/users/{id:\d+}", get_user)
    app.router.add_put(r"/api/users/{id:\d+}", update_user)
    app.router.add_delete(r"/api/users/{id:\d+}", delete_user)

"""Clinician profiles: their scheduling settings, weekly availability rules, and removal.

Scope: a clinician works at their primary centre and every centre their user is assigned to
(the view clinician_centres). Centre-scoped roles see the clinicians who work at one of their
centres; changing a clinician (profile, availability, removal) needs access to the clinician's
primary centre, so a CENTRE_MANAGER manages the clinicians based at their own centres.

These rules change the clinician *profile* only. The login behind it (name, phone, e-mail,
username, password, active, roles, centres) is mibo.domain.staff's, and its rules hold here too:

- making an existing staff member a clinician is for someone who may manage that login (an
  ADMIN, or a CENTRE_MANAGER for a login that is only a clinician's at their centres), and never
  for oneself;
- a CENTRE_MANAGER creating a clinician gives them no password;
- moving the primary centre adds it to the login's centres, so it takes the same right;
- removing a profile makes it unbookable; it deactivates the login only when the login is
  nothing but a clinician's (a login holding other roles keeps them and loses CLINICIAN), and
  nobody removes their own.

Availability rules are wall-clock windows in the centre's time zone. Replacing them is one
transaction (delete + insert), validated in Python first so that a bad rule names its index;
the exclusion constraint availability_rules_no_overlap stays as the final guard.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from sqlalchemy import column, func, or_, select, table

from mibo.core import audit, db, listing, tables
from mibo.core.actor import CLINICIAN, Actor
from mibo.core.errors import ApiError
from mibo.domain import access, staff

# --- SQL ------------------------------------------------------------------------

# The view of migration 0011, for composing list filters.
clinician_centres = table("clinician_centres", column("clinician_id"), column("centre_id"))

# The same view in plain SQL: clinicians `cp` working at one of %(centres)s.
WORKS_AT_ANY = "cp.id IN (SELECT clinician_id FROM clinician_centres WHERE centre_id = ANY(%(centres)s::bigint[]))"

CLINICIAN_FROM = """
cp.id, cp.user_id, u.full_name AS name, u.email, u.phone, cp.specialization, cp.registration_number,
cp.years_of_experience, cp.consultation_fee, cp.default_consultation_duration_minutes AS default_duration,
cp.buffer_before_minutes, cp.buffer_after_minutes, cp.min_notice_minutes, cp.booking_horizon_days,
cp.max_daily_appointments, json_build_object('id', c.id, 'name', c.name, 'city', c.city) AS primary_centre,
w.centre_ids, cp.profile_picture_url, cp.bio, cp.qualifications, cp.expertise, cp.languages,
cp.consultation_modes, sp.designation, cp.is_active, cp.created_at, cp.updated_at
FROM clinician_profiles cp
JOIN users u ON u.id = cp.user_id
JOIN centres c ON c.id = cp.primary_centre_id
LEFT JOIN staff_profiles sp ON sp.user_id = cp.user_id
CROSS JOIN LATERAL (
    SELECT array_agg(cc.centre_id ORDER BY cc.centre_id) AS centre_ids
    FROM clinician_centres cc WHERE cc.clinician_id = cp.id
) w
"""

RULES_JSON = """
(SELECT COALESCE(json_agg(json_build_object(
        'id', r.id, 'day_of_week', r.day_of_week, 'start_time', to_char(r.start_time, 'HH24:MI'),
        'end_time', to_char(r.end_time, 'HH24:MI'), 'slot_duration_minutes', r.slot_duration_minutes,
        'centre_id', r.centre_id, 'consultation_mode', r.consultation_mode, 'is_active', r.is_active)
    ORDER BY r.day_of_week, r.start_time), '[]')
 FROM clinician_availability_rules r WHERE r.clinician_id = cp.id AND r.is_active) AS availability_rules
"""

CLINICIAN_DETAIL_BY_ID = f"SELECT {RULES_JSON}, {CLINICIAN_FROM} WHERE cp.id = %(id)s"

CLINICIAN_PAGE = f"SELECT page.total, {CLINICIAN_FROM} JOIN page ON page.id = cp.id ORDER BY page.ord"

USER_OF_CLINICIAN = "SELECT user_id FROM clinician_profiles WHERE id = %s"

CLINICIAN_FOR_UPDATE = """
SELECT id, user_id, primary_centre_id, default_consultation_duration_minutes AS default_duration, is_active
FROM clinician_profiles WHERE id = %s FOR NO KEY UPDATE
"""

PROFILE_OF_USER_FOR_UPDATE = "SELECT id, is_active FROM clinician_profiles WHERE user_id = %s FOR NO KEY UPDATE"

# Where a clinician may hold availability: the active centres they work at.
ACTIVE_CENTRES_OF_CLINICIAN = """
SELECT COALESCE(array_agg(cc.centre_id), '{}')
FROM clinician_centres cc JOIN centres c ON c.id = cc.centre_id
WHERE cc.clinician_id = %s AND c.is_active
"""

ACTIVE_CENTRE = "SELECT id FROM centres WHERE id = %s AND is_active"

DEACTIVATE_PROFILE = "UPDATE clinician_profiles SET is_active = FALSE WHERE id = %s"
REACTIVATE_PROFILE = "UPDATE clinician_profiles SET is_active = TRUE WHERE id = %s"

RULES_OF_CLINICIAN = """
SELECT id, day_of_week, to_char(start_time, 'HH24:MI') AS start_time,
       to_char(end_time, 'HH24:MI') AS end_time,
       slot_duration_minutes, centre_id, consultation_mode, is_active
FROM clinician_availability_rules WHERE clinician_id = %s AND is_active
ORDER BY day_of_week, start_time
"""

DELETE_RULES = "DELETE FROM clinician_availability_rules WHERE clinician_id = %s"

INSERT_RULES = """
INSERT INTO clinician_availability_rules
    (clinician_id, centre_id, day_of_week, start_time, end_time, slot_duration_minutes, consultation_mode)
SELECT %(clinician_id)s, r.centre_id, r.day_of_week, r.start_time::time, r.end_time::time,
       r.slot_duration_minutes, r.consultation_mode
FROM jsonb_to_recordset(%(rules)s::jsonb) AS r(
    centre_id bigint, day_of_week smallint, start_time text, end_time text, slot_duration_minutes integer,
    consultation_mode text)
"""

# API field -> clinician_profiles column.
PROFILE_COLUMNS = {
    "primary_centre_id": "primary_centre_id",
    "specialization": "specialization",
    "registration_number": "registration_number",
    "years_of_experience": "years_of_experience",
    "consultation_fee": "consultation_fee",
    "default_duration": "default_consultation_duration_minutes",
    "buffer_before_minutes": "buffer_before_minutes",
    "buffer_after_minutes": "buffer_after_minutes",
    "min_notice_minutes": "min_notice_minutes",
    "booking_horizon_days": "booking_horizon_days",
    "max_daily_appointments": "max_daily_appointments",
    "profile_picture_url": "profile_picture_url",
    "bio": "bio",
    "qualifications": "qualifications",
    "expertise": "expertise",
    "languages": "languages",
    "consultation_modes": "consultation_modes",
}

# --- rules ----------------------------------------------------------------------


def minutes_of(hh_mm: str) -> int:
    hours, minutes = hh_mm.split(":")
    return int(hours) * 60 + int(minutes)


def rule_errors(rules: list[dict], allowed_centres: set[int]) -> dict[int, dict[str, list[str]]]:
    """Problems of a weekly rule set, keyed by the index of the rule they belong to."""
    errors: dict[int, dict[str, list[str]]] = defaultdict(dict)
    windows_by_day: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for index, rule in enumerate(rules):
        start, end = minutes_of(rule["start_time"]), minutes_of(rule["end_time"])
        if rule["centre_id"] not in allowed_centres:
            errors[index]["centreId"] = ["The clinician does not work at this centre (or it is inactive)."]
        if start >= end:
            errors[index]["endTime"] = ["Must be after startTime."]
            continue
        if rule["slot_duration_minutes"] > end - start:
            errors[index]["slotDurationMinutes"] = ["Longer than the window: not one slot fits."]
        windows_by_day[rule["day_of_week"]].append((start, end, index))
    for windows in windows_by_day.values():
        windows.sort()
        latest_end, latest_index = -1, -1
        for start, end, index in windows:
            if start < latest_end:
                errors[index]["startTime"] = [f"Overlaps rule {latest_index} on the same day."]
            if end > latest_end:
                latest_end, latest_index = end, index
    return dict(errors)


async def check_active_centre(cur, centre_id: int, field: str = "primaryCentreId") -> None:
    if await db.fetch_value(cur, ACTIVE_CENTRE, (centre_id,)) is None:
        raise ApiError.validation({field: ["Unknown or inactive centre."]})


def check_may_manage_login(actor: Actor, account: dict[str, Any], field: str, message: str) -> None:
    if not staff.may_manage_login(actor, account):
        raise ApiError(403, "FORBIDDEN", message, {field: [message]})


# --- reading --------------------------------------------------------------------


async def detail(cur, clinician_id: int) -> dict[str, Any]:
    row = await db.fetch_one(cur, CLINICIAN_DETAIL_BY_ID, {"id": clinician_id})
    if row is None:
        raise ApiError.not_found("clinician")
    return row


async def visible_detail(cur, actor: Actor, clinician_id: int) -> dict[str, Any]:
    """A clinician with their rules, for someone who shares at least one of their centres."""
    clinician = await detail(cur, clinician_id)
    access.check_any_centre(actor, clinician["centre_ids"])
    return clinician


async def list_page(cur, actor: Actor, filters: dict[str, Any], limit: int, offset: int,
                    newest_first: bool = False):
    """The clinicians the actor sees that match `filters`, by name or newest first; returns (rows, total)."""
    cp, u, cc = tables.clinician_profiles, tables.users, clinician_centres

    def working_at(centre_ids: list[int]):
        return cp.c.id.in_(select(cc.c.clinician_id).where(cc.c.centre_id.in_(centre_ids)))

    where = []
    scope = actor.centre_filter()
    if scope is not None:
        where.append(working_at(scope))
    if "centre_id" in filters:
        where.append(working_at([filters["centre_id"]]))
    if "specialization" in filters:
        where.append(cp.c.specialization.ilike(listing.like_pattern(filters["specialization"])))
    if "search" in filters:
        pattern = listing.like_pattern(filters["search"])
        where.append(or_(u.c.full_name.ilike(pattern), u.c.phone.ilike(pattern), u.c.email.ilike(pattern),
                         cp.c.specialization.ilike(pattern)))
    if "is_active" in filters:
        where.append(cp.c.is_active == filters["is_active"])
    order = (cp.c.id.desc(),) if newest_first else (func.lower(u.c.full_name), cp.c.id)
    page = listing.page_of_ids(cp.c.id, where, order, limit, offset,
                               from_=cp.join(u, u.c.id == cp.c.user_id))
    return await listing.fetch_page(cur, page, CLINICIAN_PAGE, offset)


# --- writing --------------------------------------------------------------------


async def locked(cur, clinician_id: int) -> dict[str, Any]:
    row = await db.fetch_one(cur, CLINICIAN_FOR_UPDATE, (clinician_id,))
    if row is None:
        raise ApiError.not_found("clinician")
    return row


async def locked_with_login(cur, clinician_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The profile and its login, both locked, the login first (the order mibo.domain.staff uses)."""
    user_id = await db.fetch_value(cur, USER_OF_CLINICIAN, (clinician_id,))
    if user_id is None:
        raise ApiError.not_found("clinician")
    account = await staff.locked_account(cur, user_id)
    return await locked(cur, clinician_id), account


async def existing_login_for_profile(cur, actor: Actor, user_id: int, primary_centre_id: int) -> None:
    """Give an existing staff member the CLINICIAN role at the profile's primary centre."""
    if user_id == actor.user_id:
        raise ApiError.validation({"userId": ["You cannot make yourself a clinician."]})
    account = await staff.lock_account(cur, user_id)
    if account is None or not account["is_active"]:
        raise ApiError.validation({"userId": ["No active staff user with this id."]})
    # Only someone already on the caller's staff: a centre manager cannot take (and re-assign)
    # another centre's people.
    access.check_any_centre(actor, staff.works_at(account))
    check_may_manage_login(actor, account, "userId",
                           "Only an administrator can make a staff member with other roles a clinician.")
    await staff.grant_role(cur, user_id, CLINICIAN)
    await staff.assign_centres(cur, user_id, [primary_centre_id])


async def create(cur, actor: Actor, data: dict[str, Any], password_hash: str | None) -> dict[str, Any]:
    """A clinician profile for a new staff user, or for an existing one (`user_id`); returns the detail.

    An inactive profile of that user is brought back with the given settings.
    """
    access.require(actor, "clinicians.create")
    primary = data["primary_centre_id"]
    access.check_centre(actor, primary)
    await check_active_centre(cur, primary)
    profile = {name: data[name] for name in PROFILE_COLUMNS if name in data}
    existing = None
    if "user_id" in data:
        user_id = data["user_id"]
        await existing_login_for_profile(cur, actor, user_id, primary)
        existing = await db.fetch_one(cur, PROFILE_OF_USER_FOR_UPDATE, (user_id,))
    else:
        if password_hash is not None and not access.can(actor, "users.update"):
            message = "Only an administrator sets a password; the clinician can sign in with an OTP."
            raise ApiError(403, "FORBIDDEN", message, {"password": [message]})
        user_id = await staff.insert_staff_user(
            cur, {**data, "role": CLINICIAN, "centre_ids": [primary]}, password_hash)
    if existing is None:
        columns = list(profile)
        clinician_id = await db.fetch_value(
            cur,
            f"INSERT INTO clinician_profiles (user_id, {', '.join(PROFILE_COLUMNS[n] for n in columns)})"
            f" VALUES (%(user_id)s, {', '.join(f'%({n})s' for n in columns)}) RETURNING id",
            {**profile, "user_id": user_id},
        )
    elif existing["is_active"]:
        raise ApiError.conflict("This user already has a clinician profile", {"userId": ["already exists"]},
                                code="DUPLICATE")
    else:
        clinician_id = existing["id"]
        assignments = ", ".join(filter(None, (db.set_clause(PROFILE_COLUMNS, profile), "is_active = TRUE")))
        await db.execute(cur, f"UPDATE clinician_profiles SET {assignments} WHERE id = %(id)s",
                         {**profile, "id": clinician_id})
    clinician = await detail(cur, clinician_id)
    await audit.record(cur, actor, "clinician.create", "clinician", clinician_id, primary, {"userId": user_id})
    return clinician


async def update(cur, actor: Actor, clinician_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Change a clinician's profile and scheduling settings (nothing of the login); returns the detail."""
    access.require(actor, "clinicians.update")
    current, account = await locked_with_login(cur, clinician_id)
    access.check_centre(actor, current["primary_centre_id"])
    new_primary = changes.get("primary_centre_id", current["primary_centre_id"])
    if new_primary != current["primary_centre_id"]:
        access.check_centre(actor, new_primary)
        await check_active_centre(cur, new_primary)
        check_may_manage_login(actor, account, "primaryCentreId",
                               "Moving this clinician adds a centre to a login only an administrator manages.")
        await staff.assign_centres(cur, current["user_id"], [new_primary])
    if assignments := db.set_clause(PROFILE_COLUMNS, changes):
        await db.execute(cur, f"UPDATE clinician_profiles SET {assignments} WHERE id = %(id)s",
                         {**changes, "id": clinician_id})
    clinician = await detail(cur, clinician_id)
    await audit.record(cur, actor, "clinician.update", "clinician", clinician_id, clinician["primary_centre"]["id"],
                       {"fields": sorted(changes)})
    return clinician


async def remove(cur, actor: Actor, clinician_id: int) -> dict[str, Any]:
    """Make a clinician unbookable (refused while they have upcoming appointments); returns the detail.

    A login that is only a clinician's is deactivated with its profile (and its sessions end);
    a login holding other roles keeps them and only loses the CLINICIAN role.
    """
    access.require(actor, "clinicians.delete")
    current, account = await locked_with_login(cur, clinician_id)
    access.check_centre(actor, current["primary_centre_id"])
    if current["user_id"] == actor.user_id:
        raise ApiError.validation({"id": ["You cannot remove your own clinician profile."]})
    login_too = set(account["roles"]) <= {CLINICIAN}
    if login_too:
        check_may_manage_login(actor, account, "id",
                               "The clinician also works at centres you do not manage; ask an administrator.")
        await staff.deactivate_login(cur, current["user_id"])
    else:
        await staff.ensure_no_upcoming_appointments(cur, current["user_id"])
        await db.execute(cur, DEACTIVATE_PROFILE, (clinician_id,))
        await staff.revoke_role(cur, current["user_id"], CLINICIAN)
    clinician = await detail(cur, clinician_id)
    await audit.record(cur, actor, "clinician.deactivate", "clinician", clinician_id, current["primary_centre_id"],
                       {"userId": current["user_id"], "loginDeactivated": login_too})
    return clinician


async def reactivate(cur, actor: Actor, clinician_id: int) -> dict[str, Any]:
    """Make a removed clinician bookable again; returns the detail (unchanged if already active).

    Undoes `remove`: a login deactivated with its profile is reactivated with it; a login that
    kept other roles gets CLINICIAN back, which only an administrator grants.
    """
    access.require(actor, "clinicians.create")
    current, account = await locked_with_login(cur, clinician_id)
    access.check_centre(actor, current["primary_centre_id"])
    if current["is_active"]:
        return await detail(cur, clinician_id)
    if current["user_id"] == actor.user_id:
        raise ApiError.validation({"id": ["You cannot bring back your own clinician profile."]})
    check_may_manage_login(actor, account, "id",
                           "Only an administrator can make a staff member with other roles a clinician again.")
    await check_active_centre(cur, current["primary_centre_id"])
    if account["is_active"]:
        await staff.grant_role(cur, current["user_id"], CLINICIAN)
        await db.execute(cur, REACTIVATE_PROFILE, (clinician_id,))
    else:
        await staff.reactivate_login(cur, current["user_id"])
    clinician = await detail(cur, clinician_id)
    await audit.record(cur, actor, "clinician.reactivate", "clinician", clinician_id, current["primary_centre_id"],
                       {"userId": current["user_id"], "loginReactivated": not account["is_active"]})
    return clinician


async def replace_availability(cur, actor: Actor, clinician_id: int, rules: list[dict]) -> list[dict[str, Any]]:
    """Replace a clinician's weekly rules at once (each defaults to the primary centre and the
    default duration); returns the rules saved."""
    access.require(actor, "clinicians.update")
    current = await locked(cur, clinician_id)
    access.check_centre(actor, current["primary_centre_id"])
    rules = [{"centre_id": current["primary_centre_id"], "slot_duration_minutes": current["default_duration"],
              **rule} for rule in rules]
    allowed = set(await db.fetch_value(cur, ACTIVE_CENTRES_OF_CLINICIAN, (clinician_id,)))
    if errors := rule_errors(rules, allowed):
        raise ApiError.validation({"rules": errors}, "Some availability rules are invalid")
    await db.execute(cur, DELETE_RULES, (clinician_id,))
    await db.execute(cur, INSERT_RULES, {"clinician_id": clinician_id, "rules": json.dumps(rules)})
    saved = await db.fetch_all(cur, RULES_OF_CLINICIAN, (clinician_id,))
    await audit.record(cur, actor, "clinician.availability.replace", "clinician", clinician_id,
                       current["primary_centre_id"], {"rules": len(saved)})
    return saved

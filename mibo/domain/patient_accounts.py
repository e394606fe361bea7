"""A patient's website account: the first verified OTP of a new phone signs them up.

One person has one record. Phones arrive in the one canonical form (+91 and ten digits: the
schemas read 98…, +9198…, 9198… and 098… alike), so a patient a front desk registered as a walk-in
who then signs up on the website with the same number signs in to that same record; a walk-in
without a patient profile gets one. A new phone gets the PATIENT user and its patient profile in
the caller's transaction, together, or neither.

The users table keeps one full name; the website's first and last names are its first word and
the rest.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mibo.core import audit, db
from mibo.core.actor import Actor
from mibo.core.errors import ApiError

USER_OF_PHONE = "SELECT id FROM users WHERE phone = %s"

ACCOUNT_BY_PHONE_FOR_UPDATE = """
SELECT u.id, u.user_type, u.is_active, pp.id AS patient_id
FROM users u LEFT JOIN patient_profiles pp ON pp.user_id = u.id
WHERE u.phone = %s
FOR UPDATE OF u
"""

INSERT_USER = """
INSERT INTO users (full_name, phone, email, user_type) VALUES (%(full_name)s, %(phone)s, %(email)s, 'PATIENT')
RETURNING id
"""

INSERT_PROFILE = """
INSERT INTO patient_profiles (user_id, gender, age) VALUES (%(user_id)s, %(gender)s, %(age)s) RETURNING id
"""

# What the website shows of its signed-in patient.
ACCOUNT = """
SELECT u.id, u.phone, u.email, u.full_name, u.user_type, u.is_active,
       split_part(u.full_name, ' ', 1) AS first_name,
       NULLIF(btrim(substr(u.full_name, length(split_part(u.full_name, ' ', 1)) + 1)), '') AS last_name,
       pp.id AS patient_id, pp.date_of_birth, pp.age, pp.gender, pp.blood_group
FROM users u LEFT JOIN patient_profiles pp ON pp.user_id = u.id
WHERE u.id = %s
"""

# Fields a website patient is asked for before booking.
PROFILE_FIELDS = ("email", "gender")


def full_name(first_name: str, last_name: str | None) -> str:
    return " ".join(part for part in (first_name, last_name) if part)


async def account(cur, user_id: int) -> dict[str, Any]:
    """The user and patient record of a website account (ACCOUNT's columns)."""
    row = await db.fetch_one(cur, ACCOUNT, (user_id,))
    if row is None:
        raise ApiError.not_found("user")
    return row


def needs_profile(row: dict[str, Any]) -> bool:
    """Whether the site should ask the patient to complete their profile."""
    return any(row[name] is None for name in PROFILE_FIELDS) or (row["age"] is None and row["date_of_birth"] is None)


def _require_names(details: dict[str, Any]) -> None:
    if not details.get("first_name"):
        raise ApiError.validation({"first_name": ["Required to sign up a new phone number."]})


async def check_sign_up(cur, phone: str, sign_up: dict[str, Any] | None) -> None:
    """400 naming first_name when the phone is new and no name came with it."""
    if await db.fetch_value(cur, USER_OF_PHONE, (phone,)) is None:
        _require_names(sign_up or {})


@dataclasses.dataclass(frozen=True)
class SignIn:
    user: dict[str, Any]  # id, user_type, is_active: for mibo.domain.sessions.open_session
    created: bool  # this verification signed a new phone up


async def sign_in(cur, actor: Actor, phone: str, sign_up: dict[str, Any] | None) -> SignIn:
    """The account of a phone whose OTP was just verified, made now for a new phone.

    `sign_up` holds first_name (required for a new phone), last_name, email, age and gender; an
    existing account keeps what it has. A staff member's phone is returned as it is: opening a
    patient session for it is refused by mibo.domain.sessions.
    """
    existing = await db.fetch_one(cur, ACCOUNT_BY_PHONE_FOR_UPDATE, (phone,))
    if existing is not None and existing["user_type"] != "PATIENT":
        return SignIn(existing, False)
    details = sign_up or {}
    created = existing is None
    if created:
        _require_names(details)
        user_id = await db.fetch_value(cur, INSERT_USER, {
            "full_name": full_name(details["first_name"], details.get("last_name")), "phone": phone,
            "email": details.get("email")})
        user = {"id": user_id, "user_type": "PATIENT", "is_active": True}
    else:
        user = existing
    patient_id = existing["patient_id"] if existing else None
    if patient_id is None:
        patient_id = await db.fetch_value(cur, INSERT_PROFILE, {
            "user_id": user["id"], "gender": details.get("gender"), "age": details.get("age")})
    if created:
        signed_up = dataclasses.replace(actor, user_id=user["id"], patient_id=patient_id)
        await audit.record(cur, signed_up, "patient.sign_up", "patient", patient_id)
    return SignIn(user, created)

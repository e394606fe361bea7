"""Small factories for rows, written with the same SQL shapes the API uses.

Tokens are minted for a real auth_sessions row, so authenticated tests exercise the real
middleware without paying for a bcrypt login each time.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field

from mibo.core import tokens
from mibo.core.config import Settings
from mibo.core.passwords import hash_password_sync

PASSWORD = "Correct-Horse-9"
_counter = itertools.count(1)


@functools.cache
def password_hash(rounds: int) -> str:
    return hash_password_sync(PASSWORD, rounds)


def unique_phone() -> str:
    return f"+9197{next(_counter):08d}"


@dataclass
class StaffUser:
    id: int
    phone: str
    username: str
    roles: list[str]
    centre_ids: list[int]
    token: str = ""
    clinician_id: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Factory:
    def __init__(self, pool, settings: Settings):
        self.pool = pool
        self.settings = settings

    async def fetchone(self, sql: str, params=None):
        async with self.pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(sql, params)
            return await cur.fetchone()

    async def centre(self, name: str | None = None, city: str = "bangalore", timezone: str = "Asia/Kolkata") -> int:
        row = await self.fetchone(
            "INSERT INTO centres (name, city, address_line1, pincode, contact_phone, timezone)"
            " VALUES (%s, %s, '1 Test Road', '560001', '+918000000000', %s) RETURNING id",
            (name or f"Centre {next(_counter)}", city, timezone),
        )
        return row[0]

    async def user(self, *, user_type: str = "STAFF", full_name: str | None = None, phone: str | None = None,
                   username: str | None = None, active: bool = True, with_password: bool = True) -> dict:
        n = next(_counter)
        phone = phone or unique_phone()
        username = username if username is not None else (f"user{n}" if user_type == "STAFF" else None)
        row = await self.fetchone(
            "INSERT INTO users (phone, email, username, password_hash, full_name, user_type, is_active)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (phone, f"user{n}@example.test", username,
             password_hash(self.settings.bcrypt_rounds) if with_password else None,
             full_name or f"Test User {n}", user_type, active),
        )
        return {"id": row[0], "phone": phone, "username": username}

    async def staff(self, role: str, centre_ids: list[int] | tuple = (), *, active: bool = True,
                    login: bool = True, **kwargs) -> StaffUser:
        user = await self.user(active=active, **kwargs)
        await self.fetchone(
            "INSERT INTO user_roles (user_id, role_id) SELECT %s, id FROM roles WHERE name = %s RETURNING id",
            (user["id"], role),
        )
        for centre_id in centre_ids:
            await self.fetchone(
                "INSERT INTO centre_staff_assignments (centre_id, user_id) VALUES (%s, %s) RETURNING id",
                (centre_id, user["id"]),
            )
        staff = StaffUser(user["id"], user["phone"], user["username"], [role], list(centre_ids))
        if role == "CLINICIAN" and centre_ids:
            staff.clinician_id = await self.clinician_profile(user["id"], centre_ids[0])
        if login:
            staff.token = await self.token_for(user["id"])
        return staff

    async def clinician_profile(self, user_id: int, centre_id: int, **settings) -> int:
        columns = {"specialization": "Psychiatry", "consultation_fee": 1000, **settings}
        names = ", ".join(columns)
        placeholders = ", ".join(["%s"] * len(columns))
        row = await self.fetchone(
            f"INSERT INTO clinician_profiles (user_id, primary_centre_id, {names})"
            f" VALUES (%s, %s, {placeholders}) RETURNING id",
            (user_id, centre_id, *columns.values()),
        )
        return row[0]

    async def patient(self, full_name: str | None = None, phone: str | None = None,
                      centre_id: int | None = None) -> dict:
        """A patient, registered at `centre_id` if given (which makes them that centre's patient)."""
        user = await self.user(user_type="PATIENT", full_name=full_name, phone=phone, with_password=False)
        row = await self.fetchone(
            "INSERT INTO patient_profiles (user_id, registered_centre_id) VALUES (%s, %s) RETURNING id",
            (user["id"], centre_id),
        )
        return {"id": row[0], "user_id": user["id"], "phone": user["phone"]}

    async def patient_token(self, patient: dict) -> str:
        """A website (PATIENT-audience) access token for a patient of `patient()`."""
        row = await self.fetchone(
            "INSERT INTO auth_sessions (user_id, audience, refresh_token_hash, expires_at)"
            " VALUES (%s, 'PATIENT', 'factory', now() + interval '1 day') RETURNING id",
            (patient["user_id"],),
        )
        return tokens.access_token(self.settings, patient["user_id"], row[0], tokens.PATIENT)

    async def token_for(self, user_id: int) -> str:
        row = await self.fetchone(
            "INSERT INTO auth_sessions (user_id, refresh_token_hash, expires_at)"
            " VALUES (%s, 'factory', now() + interval '1 day') RETURNING id",
            (user_id,),
        )
        return tokens.access_token(self.settings, user_id, row[0])

    async def patient_token_for(self, patient: dict) -> str:
        """A website (PATIENT-audience) access token for a patient of `patient()`, through a real session."""
        row = await self.fetchone(
            "INSERT INTO auth_sessions (user_id, audience, refresh_token_hash, expires_at)"
            " VALUES (%s, 'PATIENT', 'factory', now() + interval '1 day') RETURNING id",
            (patient["user_id"],),
        )
        return tokens.access_token(self.settings, patient["user_id"], row[0], tokens.PATIENT)

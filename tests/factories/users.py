"""Users: a login of any kind, and staff with their role and centres (signed in unless asked not to be)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from mibo.core.passwords import hash_password_sync
from tests.factories.base import BaseFactory, next_number

PASSWORD = "Correct-Horse-9"


@functools.cache
def password_hash(rounds: int) -> str:
    return hash_password_sync(PASSWORD, rounds)


def unique_phone() -> str:
    return f"+9197{next_number():08d}"


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


class UserFactory(BaseFactory):
    async def user(self, *, user_type: str = "STAFF", full_name: str | None = None, phone: str | None = None,
                   username: str | None = None, active: bool = True, with_password: bool = True) -> dict:
        n = next_number()
        phone = phone or unique_phone()
        username = username if username is not None else (f"user{n}" if user_type == "STAFF" else None)
        user_id = await self.insert(
            "users", phone=phone, email=f"user{n}@example.test", username=username,
            password_hash=password_hash(self.settings.bcrypt_rounds) if with_password else None,
            full_name=full_name or f"Test User {n}", user_type=user_type, is_active=active)
        return {"id": user_id, "phone": phone, "username": username}

    async def staff(self, role: str, centre_ids: list[int] | tuple = (), *, active: bool = True,
                    login: bool = True, **kwargs) -> StaffUser:
        user = await self.user(active=active, **kwargs)
        await self.fetchone(
            "INSERT INTO user_roles (user_id, role_id) SELECT %s, id FROM roles WHERE name = %s RETURNING id",
            (user["id"], role),
        )
        for centre_id in centre_ids:
            await self.assign(user["id"], centre_id)
        staff = StaffUser(user["id"], user["phone"], user["username"], [role], list(centre_ids))
        if role == "CLINICIAN" and centre_ids:
            staff.clinician_id = await self.clinician_profile(user["id"], centre_ids[0])
        if login:
            staff.token = await self.token_for(user["id"])
        return staff

    async def assign(self, user_id: int, centre_id: int) -> int:
        """Make the user one of the centre's staff."""
        return await self.insert("centre_staff_assignments", centre_id=centre_id, user_id=user_id)

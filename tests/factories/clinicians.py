"""Clinician profiles, their weekly availability rules and their blocked time."""

from __future__ import annotations

from tests.factories.base import BaseFactory


class ClinicianFactory(BaseFactory):
    async def clinician_profile(self, user_id: int, centre_id: int, **settings) -> int:
        columns = {"specialization": "Psychiatry", "consultation_fee": 1000, **settings}
        return await self.insert("clinician_profiles", user_id=user_id, primary_centre_id=centre_id, **columns)

    async def set_clinician(self, clinician_id: int, **columns) -> None:
        """Change a clinician's scheduling settings (column names are the caller's constants)."""
        assignments = ", ".join(f"{name} = %s" for name in columns)
        await self.fetchone(f"UPDATE clinician_profiles SET {assignments} WHERE id = %s RETURNING id",
                            (*columns.values(), clinician_id))

    async def availability_rule(self, clinician_id: int, centre_id: int, day_of_week: int, start: str = "09:00",
                                end: str = "17:00", slot: int = 30) -> int:
        return await self.insert(
            "clinician_availability_rules", clinician_id=clinician_id, centre_id=centre_id, day_of_week=day_of_week,
            start_time=start, end_time=end, slot_duration_minutes=slot)

    async def block(self, clinician_id: int, starts_at, ends_at, reason: str = "Leave", **columns) -> int:
        return await self.insert("clinician_blocks", clinician_id=clinician_id, starts_at=starts_at,
                                 ends_at=ends_at, reason=reason, **columns)

"""Patients: a PATIENT login with its profile."""

from __future__ import annotations

from tests.factories.base import BaseFactory


class PatientFactory(BaseFactory):
    async def patient(self, full_name: str | None = None, phone: str | None = None,
                      centre_id: int | None = None) -> dict:
        """A patient, registered at `centre_id` if given (which makes them that centre's patient)."""
        user = await self.user(user_type="PATIENT", full_name=full_name, phone=phone, with_password=False)
        patient_id = await self.insert("patient_profiles", user_id=user["id"], registered_centre_id=centre_id)
        return {"id": patient_id, "user_id": user["id"], "phone": user["phone"]}

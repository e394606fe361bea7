"""Sessions: a real auth_sessions row and an access token for it, so that authenticated tests go
through the real middleware without paying for a bcrypt login each time."""

from __future__ import annotations

from mibo.core import tokens
from tests.factories.base import BaseFactory


class SessionFactory(BaseFactory):
    async def session(self, user_id: int, audience: str = tokens.STAFF) -> int:
        """A live session of a day."""
        row = await self.fetchone(
            "INSERT INTO auth_sessions (user_id, audience, refresh_token_hash, expires_at)"
            " VALUES (%s, %s, 'factory', now() + interval '1 day') RETURNING id",
            (user_id, audience),
        )
        return row[0]

    async def token_for(self, user_id: int) -> str:
        return tokens.access_token(self.settings, user_id, await self.session(user_id))

    async def patient_token(self, patient: dict) -> str:
        """A website (PATIENT-audience) access token for a patient of `patient()`."""
        user_id = patient["user_id"]
        return tokens.access_token(self.settings, user_id, await self.session(user_id, tokens.PATIENT), tokens.PATIENT)

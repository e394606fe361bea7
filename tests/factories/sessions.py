"""Sessions: a real auth_sessions row and an access token for it, so that authenticated tests go
through the real middleware without paying for a bcrypt login each time."""

from __future__ import annotations

from mibo.core import tokens
from tests.factories.base import BaseFactory


class SessionFactory(BaseFactory):
    async def session(self, user_id: int) -> int:
        """A live session of a day."""
        row = await self.fetchone(
            "INSERT INTO auth_sessions (user_id, refresh_token_hash, expires_at)"
            " VALUES (%s, 'factory', now() + interval '1 day') RETURNING id",
            (user_id,),
        )
        return row[0]

    async def token_for(self, user_id: int) -> str:
        return tokens.access_token(self.settings, user_id, await self.session(user_id))

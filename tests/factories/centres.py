"""Centres."""

from __future__ import annotations

from tests.factories.base import BaseFactory, next_number


class CentreFactory(BaseFactory):
    async def centre(self, name: str | None = None, city: str = "bangalore", timezone: str = "Asia/Kolkata") -> int:
        return await self.insert(
            "centres", name=name or f"Centre {next_number()}", city=city, address_line1="1 Test Road",
            pincode="560001", contact_phone="+918000000000", timezone=timezone)

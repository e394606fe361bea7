"""Names the panel shows beside ids (a centre's name on a staff row or an appointment), read through
the rules that decide what the caller sees."""

from __future__ import annotations

from mibo.core.actor import Actor
from mibo.domain import centres
from schemas.legacy.base import LIST_CAP


async def centre_names(cur, actor: Actor) -> dict[int, str]:
    rows, _ = await centres.list_page(cur, actor, {}, LIST_CAP, 0)
    return {row["id"]: row["name"] for row in rows}

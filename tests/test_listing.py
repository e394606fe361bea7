"""Lists count their total up to a cap, so that a list's cost follows the page, not the history."""

from __future__ import annotations

from mibo.core import listing


async def test_a_total_beyond_the_cap_is_given_as_a_lower_bound(client, factory, monkeypatch):
    admin = await factory.staff("ADMIN")
    for _ in range(5):
        await factory.centre()
    monkeypatch.setattr(listing, "COUNT_CAP", 3)
    resp = await client.get("/api/centres?limit=2", headers=admin.headers)
    body = await resp.json()
    assert resp.status == 200 and len(body["data"]) == 2
    assert body["meta"] == {"total": 3, "limit": 2, "offset": 0, "totalIsLowerBound": True}
    # A page past the cap is still served; its total is still given as the cap.
    resp = await client.get("/api/centres?limit=2&offset=4", headers=admin.headers)
    body = await resp.json()
    assert len(body["data"]) == 1 and body["meta"]["total"] == 3 and body["meta"]["totalIsLowerBound"]
    monkeypatch.setattr(listing, "COUNT_CAP", 10)
    resp = await client.get("/api/centres?limit=2", headers=admin.headers)
    assert (await resp.json())["meta"] == {"total": 5, "limit": 2, "offset": 0}

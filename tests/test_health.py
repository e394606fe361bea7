"""GET /api/health: the API up, with its database and Redis reachable."""


async def test_health_reports_database_and_redis(client):
    resp = await client.get("/api/health")
    assert resp.status == 200
    body = await resp.json()
    assert body["success"] is True
    assert body["data"]["database"] == "connected"
    assert body["data"]["redis"] == "connected"

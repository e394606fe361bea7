"""The audit trail: append-only by trigger, and GET /api/audit for administrators with filters."""

import datetime as dt

import psycopg2
import pytest

from tests.ops_helpers import error_of


async def test_update_and_delete_on_audit_log_are_refused(settings, factory):
    await factory.fetchone(
        "INSERT INTO audit_log (action, entity_type, entity_id) VALUES ('x.test', 'thing', 1) RETURNING id"
    )
    conn = psycopg2.connect(settings.database_url)
    try:
        for statement in ("UPDATE audit_log SET action = 'rewritten'", "DELETE FROM audit_log"):
            with (
                pytest.raises(psycopg2.errors.InsufficientPrivilege, match="append-only"),
                conn.cursor() as cur,
            ):
                cur.execute(statement)
            conn.rollback()
        with conn.cursor() as cur:
            cur.execute("SELECT action FROM audit_log")
            assert cur.fetchall() == [("x.test",)]
    finally:
        conn.close()


async def test_patient_read_is_audited_with_actor_and_request_id(client, factory):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    patient = await factory.patient(centre_id=centre)
    resp = await client.get(
        f"/api/patients/{patient['id']}", headers={**desk.headers, "X-Request-ID": "req-42"}
    )
    assert resp.status == 200
    row = await factory.fetchone(
        "SELECT actor_user_id, actor_kind, entity_type, entity_id, request_id FROM audit_log"
        " WHERE action = 'patient.read'"
    )
    assert row == (desk.id, "USER", "patient", patient["id"], "req-42")


async def test_audit_list_filters(client, factory):
    admin = await factory.staff("ADMIN")
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    patient = await factory.patient(centre_id=centre)
    other = await factory.patient()
    await client.get(f"/api/patients/{patient['id']}", headers=desk.headers)
    await client.get(f"/api/patients/{other['id']}", headers=admin.headers)
    await client.put(f"/api/centres/{centre}", json={"name": "Renamed"}, headers=admin.headers)

    async def entries(query):
        resp = await client.get(f"/api/audit?{query}", headers=admin.headers)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    body = await entries("")
    assert body["meta"]["total"] == 3
    assert [e["action"] for e in body["data"]] == [
        "centre.update",
        "patient.read",
        "patient.read",
    ]  # newest first
    body = await entries(f"actorUserId={desk.id}")
    assert [(e["action"], e["entityId"], e["actorName"]) for e in body["data"]] == [
        ("patient.read", patient["id"], await name_of(factory, desk.id))
    ]
    assert [e["entityId"] for e in (await entries(f"entityType=patient&entityId={other['id']}"))["data"]] == [
        other["id"]
    ]
    body = await entries(f"centreId={centre}&action=centre.update")
    assert len(body["data"]) == 1 and body["data"][0]["details"] == {"fields": ["name"]}
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat().replace("+", "%2B")
    assert (await entries(f"from={future}"))["meta"]["total"] == 0
    assert (await entries(f"to={future}&limit=1"))["meta"] == {"total": 3, "limit": 1, "offset": 0}


async def name_of(factory, user_id):
    return (await factory.fetchone("SELECT full_name FROM users WHERE id = %s", (user_id,)))[0]


async def test_audit_validation_and_permission(client, factory):
    admin = await factory.staff("ADMIN")
    for query, field in (
        ("from=2026-01-01T00:00:00", "from"),
        ("entityId=x", "entityId"),
        ("from=2026-02-01T00:00:00%2B05:30&to=2026-01-01T00:00:00Z", "to"),
    ):
        resp = await client.get(f"/api/audit?{query}", headers=admin.headers)
        assert resp.status == 400, query
        assert field in error_of(await resp.json())[1]
    manager = await factory.staff("MANAGER")
    resp = await client.get("/api/audit", headers=manager.headers)
    assert resp.status == 403 and error_of(await resp.json())[0] == "FORBIDDEN"

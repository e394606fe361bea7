"""/api/centres: CRUD, time zones, centre scoping, soft delete guarded by upcoming appointments."""

from tests.ops_helpers import audit_rows, error_of, insert_appointment

NEW_CENTRE = {
    "name": "Mibo Indiranagar",
    "city": "bangalore",
    "addressLine1": "12 100ft Road",
    "pincode": "560038",
    "contactPhone": "098450 12345",
}


async def test_admin_creates_centre_with_default_timezone_and_canonical_phone(client, factory):
    admin = await factory.staff("ADMIN")
    resp = await client.post("/api/centres", json=NEW_CENTRE, headers=admin.headers)
    assert resp.status == 201
    data = (await resp.json())["data"]
    assert data["timezone"] == "Asia/Kolkata"
    assert data["contactPhone"] == "+919845012345"
    assert data["addressLine2"] is None and data["isActive"] is True
    assert isinstance(data["id"], int) and data["createdAt"].endswith("+00:00")
    rows = await audit_rows(factory, "centre.create", data["id"])
    assert len(rows) == 1 and rows[0][0] == admin.id


async def test_a_centres_number_may_be_a_landline(client, factory):
    admin = await factory.staff("ADMIN")
    for written in ("+91 22 4000 0003", "022 40000003", "2240000003"):
        resp = await client.post("/api/centres", json={**NEW_CENTRE, "contactPhone": written}, headers=admin.headers)
        assert resp.status == 201, written
        assert (await resp.json())["data"]["contactPhone"] == "+912240000003"
    for wrong in ("0123456789", "+91 22 4000 000", "22-4000-00031"):
        resp = await client.post("/api/centres", json={**NEW_CENTRE, "contactPhone": wrong}, headers=admin.headers)
        assert resp.status == 400 and "contactPhone" in error_of(await resp.json())[1], wrong


async def test_create_accepts_another_iana_zone(client, factory):
    admin = await factory.staff("ADMIN")
    resp = await client.post(
        "/api/centres", json={**NEW_CENTRE, "timezone": "Europe/London"}, headers=admin.headers
    )
    assert resp.status == 201
    assert (await resp.json())["data"]["timezone"] == "Europe/London"


async def test_create_validation_errors_name_each_field(client, factory):
    admin = await factory.staff("ADMIN")
    cases = [
        ({**NEW_CENTRE, "city": "delhi"}, "city"),
        ({**NEW_CENTRE, "timezone": "Mars/Olympus"}, "timezone"),
        ({**NEW_CENTRE, "contactPhone": "12345"}, "contactPhone"),
        ({**NEW_CENTRE, "pincode": "56003"}, "pincode"),
        ({**NEW_CENTRE, "name": "   "}, "name"),
        ({key: value for key, value in NEW_CENTRE.items() if key != "addressLine1"}, "addressLine1"),
        ({**NEW_CENTRE, "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        resp = await client.post("/api/centres", json=body, headers=admin.headers)
        assert resp.status == 400, field
        code, details = error_of(await resp.json())
        assert code == "VALIDATION_ERROR" and field in details, (field, details)


async def test_only_admin_creates_centres(client, factory):
    centre = await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    resp = await client.post("/api/centres", json=NEW_CENTRE, headers=manager.headers)
    assert resp.status == 403
    assert error_of(await resp.json())[0] == "FORBIDDEN"


async def test_list_filters_paginates_and_scopes(client, factory):
    a = await factory.centre("A Centre", "bangalore")
    b = await factory.centre("B Centre", "kochi")
    c = await factory.centre("C Centre", "kochi")
    admin = await factory.staff("ADMIN")
    resp = await client.get("/api/centres?city=kochi&limit=1", headers=admin.headers)
    body = await resp.json()
    assert resp.status == 200
    assert [item["id"] for item in body["data"]] == [b]
    assert body["meta"] == {"total": 2, "limit": 1, "offset": 0}
    resp = await client.get("/api/centres?city=kochi&limit=1&offset=1", headers=admin.headers)
    assert [item["id"] for item in (await resp.json())["data"]] == [c]
    resp = await client.get("/api/centres?offset=10", headers=admin.headers)
    assert (await resp.json())["meta"]["total"] == 3
    # A front desk at A sees A only.
    desk = await factory.staff("FRONT_DESK", [a])
    resp = await client.get("/api/centres", headers=desk.headers)
    assert [item["id"] for item in (await resp.json())["data"]] == [a]


async def test_list_rejects_bad_filters(client, factory):
    admin = await factory.staff("ADMIN")
    for query, field in (("city=delhi", "city"), ("isActive=maybe", "isActive"), ("limit=101", "limit")):
        resp = await client.get(f"/api/centres?{query}", headers=admin.headers)
        assert resp.status == 400
        assert field in error_of(await resp.json())[1]


async def test_get_centre_and_cross_centre_denial(client, factory):
    a = await factory.centre()
    b = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [a])
    assert (await client.get(f"/api/centres/{a}", headers=desk.headers)).status == 200
    resp = await client.get(f"/api/centres/{b}", headers=desk.headers)
    assert resp.status == 403
    assert error_of(await resp.json())[0] == "CENTRE_FORBIDDEN"
    assert (await client.get("/api/centres/999999", headers=desk.headers)).status == 404


async def test_centre_manager_updates_only_own_centre(client, factory):
    own = await factory.centre()
    other = await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [own])
    resp = await client.put(
        f"/api/centres/{own}", json={"name": "Renamed", "timezone": "Asia/Kolkata"}, headers=manager.headers
    )
    assert resp.status == 200
    assert (await resp.json())["data"]["name"] == "Renamed"
    resp = await client.put(f"/api/centres/{other}", json={"name": "Mine now"}, headers=manager.headers)
    assert resp.status == 403
    assert error_of(await resp.json())[0] == "CENTRE_FORBIDDEN"
    row = await factory.fetchone("SELECT name FROM centres WHERE id = %s", (other,))
    assert row[0] != "Mine now"
    # Deactivation is an administrator's decision.
    resp = await client.put(f"/api/centres/{own}", json={"isActive": False}, headers=manager.headers)
    assert resp.status == 403
    assert len(await audit_rows(factory, "centre.update", own)) == 1


async def test_update_validation_and_missing_centre(client, factory):
    admin = await factory.staff("ADMIN")
    centre = await factory.centre()
    resp = await client.put(
        f"/api/centres/{centre}", json={"timezone": "Asia/Bangalore"}, headers=admin.headers
    )
    assert resp.status == 400
    assert "timezone" in error_of(await resp.json())[1]
    assert (await client.put("/api/centres/999999", json={"name": "x"}, headers=admin.headers)).status == 404
    desk = await factory.staff("FRONT_DESK", [centre])
    resp = await client.put(f"/api/centres/{centre}", json={"name": "x"}, headers=desk.headers)
    assert resp.status == 403 and error_of(await resp.json())[0] == "FORBIDDEN"


async def test_delete_is_soft_and_refused_with_upcoming_appointments(client, factory):
    admin = await factory.staff("ADMIN")
    centre = await factory.centre()
    clinician = await factory.staff("CLINICIAN", [centre], login=False)
    patient = await factory.patient()
    await insert_appointment(
        factory,
        patient_id=patient["id"],
        clinician_id=clinician.clinician_id,
        centre_id=centre,
        hours_from_now=48,
    )
    await insert_appointment(
        factory,
        patient_id=patient["id"],
        clinician_id=clinician.clinician_id,
        centre_id=centre,
        hours_from_now=72,
        status="CONFIRMED",
    )
    # Past and cancelled appointments do not hold a centre open.
    await insert_appointment(
        factory,
        patient_id=patient["id"],
        clinician_id=clinician.clinician_id,
        centre_id=centre,
        hours_from_now=-48,
    )
    await insert_appointment(
        factory,
        patient_id=patient["id"],
        clinician_id=clinician.clinician_id,
        centre_id=centre,
        hours_from_now=96,
        status="CANCELLED",
    )
    resp = await client.delete(f"/api/centres/{centre}", headers=admin.headers)
    assert resp.status == 409
    code, details = error_of(await resp.json())
    assert code == "CENTRE_HAS_APPOINTMENTS" and details == {"futureAppointments": 2}
    await factory.fetchone(
        "UPDATE appointments SET status = 'CANCELLED' WHERE centre_id = %s RETURNING id", (centre,)
    )
    resp = await client.delete(f"/api/centres/{centre}", headers=admin.headers)
    assert resp.status == 200
    assert (await resp.json())["data"]["isActive"] is False
    row = await factory.fetchone("SELECT is_active FROM centres WHERE id = %s", (centre,))
    assert row == (False,)
    assert len(await audit_rows(factory, "centre.delete", centre)) == 1


async def test_delete_denied_to_centre_manager_and_404(client, factory):
    centre = await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    assert (await client.delete(f"/api/centres/{centre}", headers=manager.headers)).status == 403
    admin = await factory.staff("ADMIN")
    assert (await client.delete("/api/centres/999999", headers=admin.headers)).status == 404

"""/api/users: the Staff User Creation Flow, duplicates, updates, deactivation ending sessions."""

import bcrypt

from tests.factories import PASSWORD
from tests.ops_helpers import audit_rows, error_of, insert_appointment


def new_staff(centre_ids, **overrides):
    return {
        "name": "Asha Rao",
        "phone": "+91 98450 11111",
        "email": "asha@mibo.test",
        "username": "asha.rao",
        "password": "S3cure-pass",
        "role": "FRONT_DESK",
        "centreIds": centre_ids,
        "designation": "Receptionist",
        "department": "Front office",
        **overrides,
    }


async def test_create_runs_the_whole_flow_in_one_go(client, factory):
    admin = await factory.staff("ADMIN")
    a, b = await factory.centre(), await factory.centre()
    resp = await client.post("/api/users", json=new_staff([b, a]), headers=admin.headers)
    assert resp.status == 201
    data = (await resp.json())["data"]
    assert data["name"] == "Asha Rao" and data["phone"] == "+919845011111"
    assert data["role"] == "FRONT_DESK" and data["roles"] == ["FRONT_DESK"]
    assert data["centreIds"] == sorted([a, b]) and data["designation"] == "Receptionist"
    assert data["clinicianId"] is None and data["isActive"] is True
    assert not any("password" in key.lower() for key in data)
    row = await factory.fetchone("SELECT user_type, password_hash FROM users WHERE id = %s", (data["id"],))
    assert row[0] == "STAFF"
    assert row[1].startswith("$2b$10$") and bcrypt.checkpw(b"S3cure-pass", row[1].encode())
    assert await factory.fetchone(
        "SELECT count(*) FROM staff_profiles WHERE user_id = %s", (data["id"],)
    ) == (1,)
    # The new account can sign in with what was set.
    resp = await client.post(
        "/api/auth/login/username-password", json={"username": "asha.rao", "password": "S3cure-pass"}
    )
    assert resp.status == 200
    rows = await audit_rows(factory, "user.create", data["id"])
    assert len(rows) == 1 and rows[0][0] == admin.id


async def test_chain_wide_role_needs_no_centre_others_do(client, factory):
    admin = await factory.staff("ADMIN")
    resp = await client.post("/api/users", json=new_staff([], role="MANAGER"), headers=admin.headers)
    assert resp.status == 201 and (await resp.json())["data"]["centreIds"] == []
    resp = await client.post(
        "/api/users", json=new_staff([], phone="9845011112", email=None, username=None), headers=admin.headers
    )
    assert resp.status == 400
    assert "centreIds" in error_of(await resp.json())[1]


async def test_create_validation_errors(client, factory):
    admin = await factory.staff("ADMIN")
    centre = await factory.centre()
    cases = [
        (new_staff([centre], role="SUPERUSER"), "role"),
        (new_staff([999999]), "centreIds"),
        (new_staff([centre], phone="12345"), "phone"),
        (new_staff([centre], email="not-an-email"), "email"),
        (new_staff([centre], username="a b"), "username"),
        (new_staff([centre], password="x" * 73), "password"),
        ({k: v for k, v in new_staff([centre]).items() if k != "name"}, "name"),
    ]
    for body, field in cases:
        resp = await client.post("/api/users", json=body, headers=admin.headers)
        assert resp.status == 400, field
        code, details = error_of(await resp.json())
        assert code == "VALIDATION_ERROR" and field in details, (field, details)
    assert await factory.fetchone("SELECT count(*) FROM users WHERE full_name = 'Asha Rao'") == (0,)


async def test_duplicates_are_409_naming_the_field(client, factory):
    admin = await factory.staff("ADMIN")
    centre = await factory.centre()
    assert (await client.post("/api/users", json=new_staff([centre]), headers=admin.headers)).status == 201
    cases = [
        (new_staff([centre], email="other@mibo.test", username="other"), "phone"),
        (new_staff([centre], phone="9845022222", email="ASHA@mibo.test", username="other"), "email"),
        (new_staff([centre], phone="9845033333", email="other@mibo.test", username="Asha.Rao"), "username"),
    ]
    for body, field in cases:
        resp = await client.post("/api/users", json=body, headers=admin.headers)
        assert resp.status == 409, field
        code, details = error_of(await resp.json())
        assert code == "DUPLICATE" and list(details) == [field]
    # Nothing half-written by the refused attempts.
    assert await factory.fetchone("SELECT count(*) FROM users WHERE full_name = 'Asha Rao'") == (1,)


async def test_users_endpoints_are_admin_only(client, factory):
    centre = await factory.centre()
    manager = await factory.staff("MANAGER")
    centre_manager = await factory.staff("CENTRE_MANAGER", [centre])
    for staff in (manager, centre_manager):
        for method, path in (
            ("GET", "/api/users"),
            ("GET", f"/api/users/{staff.id}"),
            ("POST", "/api/users"),
            ("PUT", f"/api/users/{staff.id}"),
            ("DELETE", f"/api/users/{staff.id}"),
        ):
            resp = await client.request(method, path, json={}, headers=staff.headers)
            assert resp.status == 403, (method, path)
            assert error_of(await resp.json())[0] == "FORBIDDEN"


async def test_list_filters_and_search(client, factory):
    admin = await factory.staff("ADMIN", full_name="Zed Admin")
    a, b = await factory.centre(), await factory.centre()
    desk = await factory.staff("FRONT_DESK", [a], full_name="Meera Desk")
    coordinator = await factory.staff("CARE_COORDINATOR", [b], full_name="Kiran Coord")
    inactive = await factory.staff("FRONT_DESK", [b], full_name="Old Desk", active=False, login=False)
    await factory.patient(full_name="Meera Patient")  # patients are not staff users

    async def ids(query):
        resp = await client.get(f"/api/users?{query}", headers=admin.headers)
        assert resp.status == 200
        return [item["id"] for item in (await resp.json())["data"]]

    assert await ids("role=FRONT_DESK") == [desk.id, inactive.id]
    assert await ids(f"centreId={b}") == [coordinator.id, inactive.id]
    assert await ids("search=meera") == [desk.id]
    assert await ids(f"search={desk.phone[-6:]}") == [desk.id]
    assert await ids(f"search={desk.username}") == [desk.id]
    assert await ids("isActive=false") == [inactive.id]
    assert await ids("search=100%25") == []  # a literal %, not a wildcard
    resp = await client.get("/api/users?limit=2&offset=1", headers=admin.headers)
    body = await resp.json()
    assert body["meta"] == {"total": 4, "limit": 2, "offset": 1}
    assert [item["name"] for item in body["data"]] == ["Meera Desk", "Old Desk"]
    resp = await client.get("/api/users?centreId=abc", headers=admin.headers)
    assert resp.status == 400 and "centreId" in error_of(await resp.json())[1]


async def test_get_user_and_404_for_patients(client, factory):
    admin = await factory.staff("ADMIN")
    centre = await factory.centre()
    clinician = await factory.staff("CLINICIAN", [centre], login=False)
    resp = await client.get(f"/api/users/{clinician.id}", headers=admin.headers)
    data = (await resp.json())["data"]
    assert data["clinicianId"] == clinician.clinician_id and data["centreIds"] == [centre]
    patient = await factory.patient()
    assert (await client.get(f"/api/users/{patient['user_id']}", headers=admin.headers)).status == 404


async def test_update_role_centres_and_fields(client, factory):
    admin = await factory.staff("ADMIN")
    a, b = await factory.centre(), await factory.centre()
    desk = await factory.staff("FRONT_DESK", [a])
    resp = await client.put(
        f"/api/users/{desk.id}",
        headers=admin.headers,
        json={
            "name": "Promoted",
            "role": "CARE_COORDINATOR",
            "centreIds": [b],
            "email": "p@mibo.test",
            "designation": "Coordinator",
        },
    )
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert (data["name"], data["roles"], data["centreIds"], data["email"], data["designation"]) == (
        "Promoted",
        ["CARE_COORDINATOR"],
        [b],
        "p@mibo.test",
        "Coordinator",
    )
    # The new role and centre are what the API enforces from the next request on.
    resp = await client.get(f"/api/centres/{a}", headers=desk.headers)
    assert resp.status == 403 and error_of(await resp.json())[0] == "CENTRE_FORBIDDEN"
    assert (await client.get(f"/api/centres/{b}", headers=desk.headers)).status == 200
    audit = await audit_rows(factory, "user.update", desk.id)
    assert audit[0][4]["roles"] == ["CARE_COORDINATOR"]


async def test_update_validation(client, factory):
    admin = await factory.staff("ADMIN")
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    other = await factory.staff("FRONT_DESK", [centre])
    cases = [
        ({"centreIds": []}, 400, "centreIds"),
        ({"role": "NOPE"}, 400, "role"),
        ({"centreIds": [999999]}, 400, "centreIds"),
        ({"phone": other.phone}, 409, "phone"),
        ({"username": other.username.upper()}, 409, "username"),
    ]
    for body, status, field in cases:
        resp = await client.put(f"/api/users/{desk.id}", json=body, headers=admin.headers)
        assert resp.status == status, field
        assert field in error_of(await resp.json())[1]
    resp = await client.put(f"/api/users/{admin.id}", json={"isActive": False}, headers=admin.headers)
    assert resp.status == 400 and "isActive" in error_of(await resp.json())[1]
    assert (await client.put("/api/users/999999", json={"name": "x"}, headers=admin.headers)).status == 404
    # Nothing was changed by the refused updates.
    resp = await client.get(f"/api/users/{desk.id}", headers=admin.headers)
    assert (await resp.json())["data"]["centreIds"] == [centre]


async def test_password_change_revokes_sessions_and_new_password_works(client, factory):
    admin = await factory.staff("ADMIN")
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    resp = await client.put(f"/api/users/{desk.id}", json={"password": "Brand-new-9"}, headers=admin.headers)
    assert resp.status == 200
    assert (await client.get("/api/auth/me", headers=desk.headers)).status == 401
    resp = await client.post(
        "/api/auth/login/username-password", json={"username": desk.username, "password": PASSWORD}
    )
    assert resp.status == 401
    resp = await client.post(
        "/api/auth/login/username-password", json={"username": desk.username, "password": "Brand-new-9"}
    )
    assert resp.status == 200


async def test_delete_deactivates_and_revokes_sessions(client, factory):
    admin = await factory.staff("ADMIN")
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    assert (await client.get("/api/auth/me", headers=desk.headers)).status == 200
    resp = await client.delete(f"/api/users/{desk.id}", headers=admin.headers)
    assert resp.status == 200
    assert (await resp.json())["data"]["isActive"] is False
    resp = await client.get("/api/auth/me", headers=desk.headers)
    assert resp.status == 401
    assert error_of(await resp.json())[0] == "SESSION_REVOKED"
    row = await factory.fetchone(
        "SELECT count(*), bool_and(revoked_reason = 'USER_DEACTIVATED')"
        " FROM auth_sessions WHERE user_id = %s",
        (desk.id,),
    )
    assert row == (1, True)
    assert len(await audit_rows(factory, "user.deactivate", desk.id)) == 1
    # Reactivation brings the account back (new logins only; old sessions stay revoked).
    resp = await client.put(f"/api/users/{desk.id}", json={"isActive": True}, headers=admin.headers)
    assert (await resp.json())["data"]["isActive"] is True
    assert (await client.get("/api/auth/me", headers=desk.headers)).status == 401


async def test_delete_refuses_self_unknown_and_busy_clinician(client, factory):
    admin = await factory.staff("ADMIN")
    resp = await client.delete(f"/api/users/{admin.id}", headers=admin.headers)
    assert resp.status == 400
    assert (await client.delete("/api/users/999999", headers=admin.headers)).status == 404
    centre = await factory.centre()
    clinician = await factory.staff("CLINICIAN", [centre], login=False)
    patient = await factory.patient()
    await insert_appointment(
        factory, patient_id=patient["id"], clinician_id=clinician.clinician_id, centre_id=centre
    )
    resp = await client.delete(f"/api/users/{clinician.id}", headers=admin.headers)
    assert resp.status == 409
    assert error_of(await resp.json()) == ("CLINICIAN_HAS_APPOINTMENTS", {"futureAppointments": 1})
    row = await factory.fetchone("SELECT is_active FROM users WHERE id = %s", (clinician.id,))
    assert row == (True,)

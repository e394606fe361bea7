"""The admin panel's calls for sign-in, the dashboard, centres and staff (the numbers are the rows of
the panel's contract): the body it sends is accepted, and every field it reads is there, with the
right type and meaning."""

from __future__ import annotations

import datetime as dt

from tests.factories import PASSWORD
from tests.legacy_support import BASE, data_of, refusal_of
from tests.ops_helpers import insert_appointment


async def audit_surface(factory, action: str) -> list[tuple]:
    async with factory.pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute("SELECT surface, actor_user_id FROM audit_log WHERE action = %s ORDER BY id", (action,))
        return await cur.fetchall()


# --- 1-7 sign-in ------------------------------------------------------------------


async def test_1_2_otp_login(client, factory, otp_sender):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre], login=False)
    resp = await client.post(f"{BASE}/auth/send-otp", json={"phone": desk.phone[3:]})
    assert resp.status == 200
    body = await resp.json()
    assert isinstance(body["message"], str) and body["data"]["expiresInMinutes"] == 10
    code = otp_sender.last_for(desk.phone)
    resp = await client.post(f"{BASE}/auth/login/phone-otp", json={"phone": desk.phone[3:], "otp": code})
    assert resp.status == 200
    data = data_of(await resp.json())
    assert data["user"]["id"] == str(desk.id) and data["user"]["role"] == "FRONT_DESK"
    assert data["accessToken"] and data["refreshToken"]


async def test_3_4_password_logins_and_a_wrong_password(client, factory):
    centre = await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [centre], login=False, full_name="Meera Manager")
    resp = await client.post(f"{BASE}/auth/login/phone-password", json={"phone": manager.phone, "password": PASSWORD})
    assert resp.status == 200
    user = data_of(await resp.json())["user"]
    assert user["full_name"] == "Meera Manager" and user["assignedCentreId"] == str(centre)
    resp = await client.post(f"{BASE}/auth/login/username-password",
                             json={"username": manager.username, "password": "wrong-one"})
    assert resp.status == 401
    code, message, _ = refusal_of(await resp.json())
    assert code == "INVALID_CREDENTIALS" and message == "Invalid credentials"


async def test_6_7_me_and_logout_with_no_body(client, factory):
    admin = await factory.staff("ADMIN")
    resp = await client.get(f"{BASE}/auth/me", headers=admin.headers)
    me = data_of(await resp.json())
    assert me["role"] == "ADMIN" and me["assignedCentreId"] is None and me["isActive"] is True
    resp = await client.post(f"{BASE}/auth/logout", headers=admin.headers)
    assert resp.status == 200
    assert (await client.get(f"{BASE}/auth/me", headers=admin.headers)).status == 401


# --- 8-11 dashboard ---------------------------------------------------------------


async def test_8_dashboard_cards_are_numbers_never_null(client, factory):
    admin = await factory.staff("ADMIN")
    resp = await client.get(f"{BASE}/analytics/dashboard", headers=admin.headers)
    assert resp.status == 200
    cards = data_of(await resp.json())
    for name in ("totalPatients", "activeDoctors", "followUpsBooked", "totalRevenue"):
        assert isinstance(cards[name], int | float), name
        assert isinstance(cards[name + "Change"], int | float), name  # 0 when there is nothing to compare


async def test_9_10_11_charts_read_the_originals_names(client, factory):
    centre = await factory.centre()
    admin = await factory.staff("ADMIN")
    clinician = await factory.staff("CLINICIAN", [centre], full_name="Dr Rao")
    patient = await factory.patient(centre_id=centre)
    for hours in (-30, -20):
        await insert_appointment(factory, patient_id=patient["id"], clinician_id=clinician.clinician_id,
                                 centre_id=centre, hours_from_now=hours, status="COMPLETED")
    resp = await client.get(f"{BASE}/analytics/top-doctors", headers=admin.headers)
    doctors = data_of(await resp.json())
    assert doctors == [{"id": str(clinician.clinician_id), "name": "Dr Rao", "specialty": "Psychiatry",
                        "avatar": None, "patientCount": 2}]
    resp = await client.get(f"{BASE}/analytics/revenue", params={"period": "month"}, headers=admin.headers)
    points = data_of(await resp.json())
    assert points and all(set(p) == {"date", "value"} and isinstance(p["value"], int | float) for p in points)
    dt.date.fromisoformat(points[0]["date"])
    resp = await client.get(f"{BASE}/analytics/leads-by-source", headers=admin.headers)
    leads = {lead["source"]: lead for lead in data_of(await resp.json())}
    assert leads["ADMIN_FRONT_DESK"]["value"] == 2 and leads["ADMIN_FRONT_DESK"]["label"] == "Front desk"
    assert all(lead["color"].startswith("#") and isinstance(lead["label"], str) for lead in leads.values())


# --- 12-15 centres ----------------------------------------------------------------

NEW_CENTRE = {"name": "Mibo Whitefield", "city": "bangalore", "addressLine1": "5 ITPL Road",
              "addressLine2": "Near the metro", "pincode": "560066", "contactPhone": "9845012345"}


async def test_12_13_14_centres_list_create_update_as_the_form_sends_them(client, factory):
    admin = await factory.staff("ADMIN")
    resp = await client.post(f"{BASE}/centres", json=NEW_CENTRE, headers=admin.headers)
    assert resp.status == 201
    created = data_of(await resp.json())
    assert created["address"] == "5 ITPL Road, Near the metro" and created["phone"] == "+919845012345"
    rows = data_of(await (await client.get(f"{BASE}/centres", headers=admin.headers)).json())
    row = next(r for r in rows if r["id"] == created["id"])
    assert {"id", "name", "city", "address", "phone", "pincode", "isActive"} <= set(row)
    # The edit form splits `address` on the comma and sends both halves back (the second with its space).
    line1, line2 = row["address"].split(",")
    edit = {"name": row["name"], "city": row["city"], "addressLine1": line1, "addressLine2": line2,
            "pincode": row["pincode"], "contactPhone": row["phone"]}
    resp = await client.put(f"{BASE}/centres/{created['id']}", json={**edit, "name": "Mibo ITPL"},
                            headers=admin.headers)
    assert resp.status == 200
    assert data_of(await resp.json())["address"] == "5 ITPL Road, Near the metro"
    assert await audit_surface(factory, "centre.update") == [("ADMIN_PANEL", admin.id)]


async def test_a_blank_second_address_line_is_accepted(client, factory):
    admin = await factory.staff("ADMIN")
    resp = await client.post(f"{BASE}/centres", json={**NEW_CENTRE, "addressLine2": ""}, headers=admin.headers)
    assert resp.status == 201
    assert data_of(await resp.json())["address"] == "5 ITPL Road"


async def test_15_toggle_active_closes_and_reopens_a_centre_only_for_an_admin(client, factory):
    centre = await factory.centre()
    admin = await factory.staff("ADMIN")
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    resp = await client.patch(f"{BASE}/centres/{centre}/toggle-active", json={"isActive": False},
                              headers=manager.headers)
    assert resp.status == 403
    resp = await client.patch(f"{BASE}/centres/{centre}/toggle-active", json={"isActive": False},
                              headers=admin.headers)
    assert resp.status == 200 and data_of(await resp.json())["isActive"] is False
    resp = await client.patch(f"{BASE}/centres/{centre}/toggle-active", json={"isActive": True},
                              headers=admin.headers)
    assert data_of(await resp.json())["isActive"] is True


async def test_15_closing_a_centre_with_appointments_ahead_says_why_at_the_top(client, factory):
    centre = await factory.centre()
    admin = await factory.staff("ADMIN")
    clinician = await factory.staff("CLINICIAN", [centre])
    patient = await factory.patient(centre_id=centre)
    await insert_appointment(factory, patient_id=patient["id"], clinician_id=clinician.clinician_id,
                             centre_id=centre)
    resp = await client.patch(f"{BASE}/centres/{centre}/toggle-active", json={"isActive": False},
                              headers=admin.headers)
    assert resp.status == 409
    code, message, _ = refusal_of(await resp.json())
    assert code == "CENTRE_HAS_APPOINTMENTS" and "upcoming appointment" in message


# --- 30-37 staff ------------------------------------------------------------------

ROLE_PAGES = [("managers", "MANAGER", 2), ("centre-managers", "CENTRE_MANAGER", 3),
              ("care-coordinators", "CARE_COORDINATOR", 5), ("front-desk", "FRONT_DESK", 6)]


async def test_34_37_each_role_path_creates_and_30_lists_it_by_role_id(client, factory):
    centre = await factory.centre(name="Mibo Kochi")
    admin = await factory.staff("ADMIN")
    for n, (path, role, role_id) in enumerate(ROLE_PAGES):
        body = {"full_name": f"Person {role}", "phone": f"98470000{n:02d}", "email": "",
                "username": f"person.{n}", "password": "Pass-word-1"}
        if role != "MANAGER":
            body["centreId"] = centre
        resp = await client.post(f"{BASE}/users/{path}", json=body, headers=admin.headers)
        assert resp.status == 201, await resp.text()
        created = data_of(await resp.json())
        assert created["full_name"] == f"Person {role}" and created["role"] == role and created["email"] is None
        resp = await client.get(f"{BASE}/users", params={"roleId": str(role_id)}, headers=admin.headers)
        rows = data_of(await resp.json())
        assert [r["id"] for r in rows] == [created["id"]]
        by_path = data_of(await (await client.get(f"{BASE}/users/{path}", headers=admin.headers)).json())
        assert by_path == rows
        row = rows[0]
        assert row["isActive"] is True and row["username"] == f"person.{n}"
        assert dt.datetime.fromisoformat(row["createdAt"]) == dt.datetime.fromisoformat(row["created_at"])
        if role != "MANAGER":
            assert row["centreId"] == str(centre) and row["centreName"] == "Mibo Kochi"
        else:
            assert row["centreId"] is None and row["centreName"] is None
    resp = await client.post(f"{BASE}/auth/login/username-password",
                             json={"username": "person.3", "password": "Pass-word-1"})
    assert resp.status == 200


async def test_a_desk_without_a_centre_is_refused_naming_the_field(client, factory):
    admin = await factory.staff("ADMIN")
    body = {"full_name": "No Centre", "phone": "9847000099", "username": "no.centre", "password": "Pass-word-1"}
    resp = await client.post(f"{BASE}/users/front-desk", json=body, headers=admin.headers)
    assert resp.status == 400
    assert "centreIds" in refusal_of(await resp.json())[2]


async def test_the_staff_list_is_newest_first_and_searches_on_the_server(client, factory):
    centre = await factory.centre()
    admin = await factory.staff("ADMIN")
    older = await factory.staff("FRONT_DESK", [centre], full_name="Zara Older")
    newer = await factory.staff("FRONT_DESK", [centre], full_name="Anu Newer")
    rows = data_of(await (await client.get(f"{BASE}/users", params={"roleId": "6"}, headers=admin.headers)).json())
    assert [r["id"] for r in rows] == [str(newer.id), str(older.id)]
    rows = data_of(await (await client.get(f"{BASE}/users", params={"roleId": "6", "search": "zara"},
                                           headers=admin.headers)).json())
    assert [r["id"] for r in rows] == [str(older.id)]
    resp = await client.get(f"{BASE}/users", params={"roleId": "9"}, headers=admin.headers)
    assert resp.status == 400 and "roleId" in refusal_of(await resp.json())[2]


async def test_31_32_edit_form_reads_a_user_and_sends_it_back(client, factory):
    first, second = await factory.centre(name="First"), await factory.centre(name="Second")
    admin = await factory.staff("ADMIN")
    desk = await factory.staff("FRONT_DESK", [first], login=False)
    details = data_of(await (await client.get(f"{BASE}/users/{desk.id}", headers=admin.headers)).json())
    assert details["centreId"] == str(first) and details["full_name"]
    body = {"full_name": "Renamed Desk", "phone": details["phone"], "email": details["email"],
            "username": details["username"], "centre_ids": [str(second)], "password": "New-pass-22"}
    resp = await client.put(f"{BASE}/users/{desk.id}", json=body, headers=admin.headers)
    assert resp.status == 200
    updated = data_of(await resp.json())
    assert updated["full_name"] == "Renamed Desk" and updated["centreId"] == str(second)
    assert updated["centreName"] == "Second"
    resp = await client.post(f"{BASE}/auth/login/username-password",
                             json={"username": desk.username, "password": "New-pass-22"})
    assert resp.status == 200


async def test_33_toggle_active_deactivates_and_reactivates_a_login(client, factory):
    centre = await factory.centre()
    admin = await factory.staff("ADMIN")
    desk = await factory.staff("FRONT_DESK", [centre])
    resp = await client.patch(f"{BASE}/users/{desk.id}/toggle-active", json={"isActive": False},
                              headers=admin.headers)
    assert resp.status == 200 and data_of(await resp.json())["isActive"] is False
    assert (await client.get(f"{BASE}/auth/me", headers=desk.headers)).status == 401
    resp = await client.patch(f"{BASE}/users/{desk.id}/toggle-active", json={"isActive": True},
                              headers=admin.headers)
    assert data_of(await resp.json())["isActive"] is True
    resp = await client.patch(f"{BASE}/users/{admin.id}/toggle-active", json={"isActive": False},
                              headers=admin.headers)
    assert resp.status == 400 and "isActive" in refusal_of(await resp.json())[2]


async def test_a_centre_manager_toggles_only_their_own_clinicians_logins(client, factory):
    centre, other = await factory.centre(), await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    own = await factory.staff("CLINICIAN", [centre])
    foreign = await factory.staff("CLINICIAN", [other])
    desk = await factory.staff("FRONT_DESK", [centre])
    resp = await client.patch(f"{BASE}/users/{own.id}/toggle-active", json={"isActive": False},
                              headers=manager.headers)
    assert resp.status == 200
    for user in (foreign, desk):
        resp = await client.patch(f"{BASE}/users/{user.id}/toggle-active", json={"isActive": False},
                                  headers=manager.headers)
        assert resp.status == 403


async def test_the_services_other_calls_read_and_deactivate(client, factory):
    """GET /centres/{id}, DELETE /users/{id}, DELETE /users/clinicians/{id}: defined in the panel's services."""
    centre = await factory.centre(name="Mibo Mumbai")
    admin = await factory.staff("ADMIN")
    desk = await factory.staff("FRONT_DESK", [centre])
    clinician = await factory.staff("CLINICIAN", [centre])
    got = data_of(await (await client.get(f"{BASE}/centres/{centre}", headers=admin.headers)).json())
    assert got["name"] == "Mibo Mumbai" and got["phone"] == "+918000000000"
    resp = await client.delete(f"{BASE}/users/{desk.id}", headers=admin.headers)
    assert resp.status == 200 and data_of(await resp.json())["isActive"] is False
    resp = await client.delete(f"{BASE}/users/clinicians/{clinician.clinician_id}", headers=admin.headers)
    assert resp.status == 200 and data_of(await resp.json())["isActive"] is False
    for user in (desk, clinician):
        assert (await client.get(f"{BASE}/auth/me", headers=user.headers)).status == 401

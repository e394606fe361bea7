"""The admin panel's clinician calls (rows 16-22 and 24 of its contract): the create and edit forms'
bodies are accepted as they send them, and the list, detail and availability answers hold every
field the Clinicians page reads."""

from __future__ import annotations

from tests.factories import PASSWORD
from tests.legacy_support import BASE, data_of, refusal_of
from tests.ops_helpers import insert_appointment


def create_body(centre: int, **changes) -> dict:
    """What the create form sends (CliniciansPage: createData)."""
    body = {
        "full_name": "Dr Kavya Nair", "phone": "9847011111", "email": "kavya@example.test", "username": "dr.kavya",
        "password": "Clinic-pass-1", "role_ids": [4], "centre_ids": [centre], "designation": "Psychiatrist",
        "primary_centre_id": centre, "specialization": ["Psychiatry", "Addiction"],
        "registration_number": "KMC-12345", "years_of_experience": 8, "consultation_fee": 1500,
        "bio": "Adult psychiatry.", "consultation_modes": ["IN_PERSON", "ONLINE"],
        "default_consultation_duration_minutes": 45, "qualification": ["MBBS", "MD"],
        "expertise": ["Anxiety"], "languages": ["English", "Malayalam"],
        "availability_slots": [
            {"id": "2026-12-07-09:00", "dayOfWeek": 1, "startTime": "09:00", "endTime": "09:45",
             "consultationMode": "IN_PERSON"},
            {"id": "2026-12-07-10:00", "dayOfWeek": 1, "startTime": "10:00", "endTime": "10:45",
             "consultationMode": "IN_PERSON"},
        ],
    }
    return {**body, **changes}


def assert_reads_like_the_page(clinician: dict, centre: int, centre_name: str) -> None:
    assert clinician["fullName"] == "Dr Kavya Nair" and clinician["phone"] == "+919847011111"
    assert clinician["specialization"] == ["Psychiatry", "Addiction"]
    assert clinician["qualification"] == ["MBBS", "MD"] and clinician["languages"] == ["English", "Malayalam"]
    assert clinician["expertise"] == ["Anxiety"] and clinician["bio"] == "Adult psychiatry."
    assert clinician["consultationModes"] == ["IN_PERSON", "ONLINE"]
    assert clinician["defaultDurationMinutes"] == 45 and clinician["consultationFee"] == 1500
    assert clinician["yearsOfExperience"] == 8 and clinician["registrationNumber"] == "KMC-12345"
    assert clinician["primaryCentreId"] == str(centre) and clinician["primaryCentreName"] == centre_name
    assert clinician["isActive"] is True and clinician["profilePictureUrl"] is None
    assert clinician["designation"] == "Psychiatrist" and clinician["id"].isdigit()


async def test_18_16_17_create_as_the_form_sends_then_list_and_detail(client, factory):
    centre = await factory.centre(name="Mibo Kochi")
    admin = await factory.staff("ADMIN")
    resp = await client.post(f"{BASE}/users/clinicians", json=create_body(centre), headers=admin.headers)
    assert resp.status == 201, await resp.text()
    created = data_of(await resp.json())
    assert_reads_like_the_page(created, centre, "Mibo Kochi")
    rows = data_of(await (await client.get(f"{BASE}/users/clinicians", headers=admin.headers)).json())
    assert [row["id"] for row in rows] == [created["id"]]
    assert_reads_like_the_page(rows[0], centre, "Mibo Kochi")
    detail = data_of(await (await client.get(f"{BASE}/users/clinicians/{created['id']}",
                                             headers=admin.headers)).json())
    assert_reads_like_the_page(detail, centre, "Mibo Kochi")
    # The slots picked on a Monday (getDay() 1) are Monday rules, one 45-minute session each.
    assert [(r["day_of_week"], r["start_time"], r["end_time"], r["slot_duration_minutes"])
            for r in detail["availabilityRules"]] == [(1, "09:00", "09:45", 45), (1, "10:00", "10:45", 45)]
    rule = await factory.fetchone("SELECT day_of_week FROM clinician_availability_rules WHERE clinician_id = %s"
                                  " LIMIT 1", (created["id"],))
    assert rule == (0,)  # stored as the spec numbers days: 0 = Monday
    resp = await client.post(f"{BASE}/auth/login/username-password",
                             json={"username": "dr.kavya", "password": "Clinic-pass-1"})
    assert resp.status == 200


async def test_the_list_filters_as_the_panel_asks_and_newest_first(client, factory):
    first, second = await factory.centre(), await factory.centre()
    admin = await factory.staff("ADMIN")
    older = await factory.staff("CLINICIAN", [first], full_name="Older Doc")
    newer = await factory.staff("CLINICIAN", [second], full_name="Newer Doc")
    rows = data_of(await (await client.get(f"{BASE}/users/clinicians", headers=admin.headers)).json())
    assert [row["id"] for row in rows] == [str(newer.clinician_id), str(older.clinician_id)]
    rows = data_of(await (await client.get(f"{BASE}/users/clinicians", params={"centreId": str(first)},
                                           headers=admin.headers)).json())
    assert [row["id"] for row in rows] == [str(older.clinician_id)]
    rows = data_of(await (await client.get(f"{BASE}/users/clinicians", params={"search": "newer"},
                                           headers=admin.headers)).json())
    assert [row["id"] for row in rows] == [str(newer.clinician_id)]


async def test_a_centre_manager_creates_no_password_and_sees_only_their_centre(client, factory):
    centre, other = await factory.centre(), await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    resp = await client.post(f"{BASE}/users/clinicians", json=create_body(centre), headers=manager.headers)
    assert resp.status == 403 and "password" in refusal_of(await resp.json())[2]
    body = create_body(centre)
    del body["password"]
    resp = await client.post(f"{BASE}/users/clinicians", json=body, headers=manager.headers)
    assert resp.status == 201
    elsewhere = create_body(other, phone="9847022222", username="dr.other", registration_number="KMC-2")
    del elsewhere["password"]
    resp = await client.post(f"{BASE}/users/clinicians", json=elsewhere, headers=manager.headers)
    assert resp.status == 403 and refusal_of(await resp.json())[0] == "CENTRE_FORBIDDEN"
    rows = data_of(await (await client.get(f"{BASE}/users/clinicians", headers=manager.headers)).json())
    assert [row["primaryCentreId"] for row in rows] == [str(centre)]


async def test_19_the_edit_form_changes_the_profile_and_a_changed_phone_changes_the_login(client, factory):
    centre = await factory.centre(name="Mibo Kochi")
    admin = await factory.staff("ADMIN")
    created = data_of(await (await client.post(f"{BASE}/users/clinicians", json=create_body(centre),
                                               headers=admin.headers)).json())
    edit = {"phone": "9847033333", "email": created["email"], "primaryCentreId": centre,
            "specialization": ["Psychiatry"], "registrationNumber": "KMC-12345", "yearsOfExperience": 9,
            "consultationFee": 1800, "bio": "Now with teens.", "consultationModes": ["ONLINE"],
            "defaultDurationMinutes": 30, "profilePictureUrl": "https://cdn.example.test/kavya.jpg",
            "qualification": ["MBBS", "MD", "DPM"], "expertise": ["Anxiety", "Teens"], "languages": ["English"]}
    resp = await client.put(f"{BASE}/users/clinicians/{created['id']}", json=edit, headers=admin.headers)
    assert resp.status == 200, await resp.text()
    updated = data_of(await resp.json())
    assert updated["phone"] == "+919847033333" and updated["yearsOfExperience"] == 9
    assert updated["qualification"] == ["MBBS", "MD", "DPM"] and updated["consultationModes"] == ["ONLINE"]
    assert updated["profilePictureUrl"] == "https://cdn.example.test/kavya.jpg"
    assert updated["specialization"] == ["Psychiatry"] and updated["defaultDurationMinutes"] == 30
    # The spec's API shows the same picture.
    spec = (await (await client.get(f"/api/clinicians/{created['id']}", headers=admin.headers)).json())["data"]
    assert spec["profilePictureUrl"] == "https://cdn.example.test/kavya.jpg" and spec["phone"] == "+919847033333"


async def test_19_an_unchanged_phone_is_no_login_change_for_a_centre_manager(client, factory):
    centre = await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    # A clinician whose login also holds another role: only an ADMIN manages it.
    both = await factory.staff("CARE_COORDINATOR", [centre])
    await factory.fetchone("INSERT INTO user_roles (user_id, role_id) SELECT %s, id FROM roles"
                           " WHERE name = 'CLINICIAN' RETURNING id", (both.id,))
    clinician_id = await factory.clinician_profile(both.id, centre)
    edit = {"phone": both.phone, "bio": "Edited by the centre manager"}
    resp = await client.put(f"{BASE}/users/clinicians/{clinician_id}", json=edit, headers=manager.headers)
    assert resp.status == 200 and data_of(await resp.json())["bio"] == "Edited by the centre manager"
    resp = await client.put(f"{BASE}/users/clinicians/{clinician_id}", json={"phone": "9847044444"},
                            headers=manager.headers)
    assert resp.status == 403


async def test_20_toggle_removes_and_brings_back_a_clinician(client, factory):
    centre = await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    clinician = await factory.staff("CLINICIAN", [centre])
    resp = await client.patch(f"{BASE}/clinicians/{clinician.clinician_id}/toggle-active", json={"isActive": False},
                              headers=manager.headers)
    assert resp.status == 200 and data_of(await resp.json())["isActive"] is False
    assert (await client.get(f"{BASE}/auth/me", headers=clinician.headers)).status == 401
    resp = await client.patch(f"{BASE}/clinicians/{clinician.clinician_id}/toggle-active", json={"isActive": True},
                              headers=manager.headers)
    assert resp.status == 200 and data_of(await resp.json())["isActive"] is True
    resp = await client.post(f"{BASE}/auth/login/username-password",
                             json={"username": clinician.username, "password": PASSWORD})
    assert resp.status == 200


async def test_20_a_clinician_with_appointments_ahead_stays(client, factory):
    centre = await factory.centre()
    admin = await factory.staff("ADMIN")
    clinician = await factory.staff("CLINICIAN", [centre])
    patient = await factory.patient(centre_id=centre)
    await insert_appointment(factory, patient_id=patient["id"], clinician_id=clinician.clinician_id,
                             centre_id=centre)
    resp = await client.patch(f"{BASE}/clinicians/{clinician.clinician_id}/toggle-active", json={"isActive": False},
                              headers=admin.headers)
    assert resp.status == 409
    assert refusal_of(await resp.json())[0] == "CLINICIAN_HAS_APPOINTMENTS"


async def test_bringing_back_a_clinician_whose_login_has_other_roles_is_for_an_admin(client, factory):
    centre = await factory.centre()
    admin = await factory.staff("ADMIN")
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    both = await factory.staff("CARE_COORDINATOR", [centre])
    await factory.fetchone("INSERT INTO user_roles (user_id, role_id) SELECT %s, id FROM roles"
                           " WHERE name = 'CLINICIAN' RETURNING id", (both.id,))
    clinician_id = await factory.clinician_profile(both.id, centre)
    off = await client.patch(f"{BASE}/clinicians/{clinician_id}/toggle-active", json={"isActive": False},
                             headers=admin.headers)
    assert off.status == 200
    for headers, status in ((manager.headers, 403), (admin.headers, 200)):
        resp = await client.patch(f"{BASE}/clinicians/{clinician_id}/toggle-active", json={"isActive": True},
                                  headers=headers)
        assert resp.status == status
    roles = await factory.fetchone("SELECT array_agg(r.name ORDER BY r.name) FROM user_roles ur JOIN roles r"
                                   " ON r.id = ur.role_id WHERE ur.user_id = %s AND ur.is_active", (both.id,))
    assert roles == (["CARE_COORDINATOR", "CLINICIAN"],)


async def test_21_22_availability_read_and_sent_back_merged_as_the_page_does(client, factory):
    centre = await factory.centre()
    admin = await factory.staff("ADMIN")
    clinician = await factory.staff("CLINICIAN", [centre])
    path = f"{BASE}/users/clinicians/{clinician.clinician_id}/availability"
    sunday_rule = {"centreId": str(centre), "centre_id": str(centre), "dayOfWeek": 0, "startTime": "10:00",
                   "endTime": "12:00", "slotDurationMinutes": 30, "mode": "ONLINE", "consultationMode": "ONLINE"}
    resp = await client.put(path, json={"availability_rules": [sunday_rule]}, headers=admin.headers)
    assert resp.status == 200, await resp.text()
    existing = data_of(await (await client.get(path, headers=admin.headers)).json())
    assert [(r["day_of_week"], r["start_time"], r["end_time"], r["mode"], r["centre_id"]) for r in existing] == [
        (0, "10:00", "12:00", "ONLINE", str(centre))]
    stored = await factory.fetchone("SELECT day_of_week FROM clinician_availability_rules WHERE clinician_id = %s",
                                    (clinician.clinician_id,))
    assert stored == (6,)  # Sunday, as the spec numbers days
    # The page merges what it read with new slots and sends them all back.
    back = [{"centreId": str(r["centre_id"]), "centre_id": str(r["centre_id"]), "dayOfWeek": r["day_of_week"],
             "startTime": r["start_time"][:5], "endTime": r["end_time"][:5],
             "slotDurationMinutes": r["slot_duration_minutes"], "mode": r["mode"],
             "consultationMode": r["consultation_mode"]} for r in existing]
    monday = {**sunday_rule, "dayOfWeek": 1, "mode": "IN_PERSON", "consultationMode": "IN_PERSON"}
    resp = await client.put(path, json={"availability_rules": back + [monday]}, headers=admin.headers)
    saved = data_of(await resp.json())
    assert sorted((r["day_of_week"], r["mode"]) for r in saved) == [(0, "ONLINE"), (1, "IN_PERSON")]


async def test_22_an_overlapping_rule_is_refused_naming_its_index(client, factory):
    centre = await factory.centre()
    admin = await factory.staff("ADMIN")
    clinician = await factory.staff("CLINICIAN", [centre])
    rule = {"centreId": centre, "dayOfWeek": 2, "startTime": "09:00", "endTime": "11:00", "mode": "IN_PERSON"}
    resp = await client.put(f"{BASE}/users/clinicians/{clinician.clinician_id}/availability",
                            json={"availability_rules": [rule, {**rule, "startTime": "10:00", "endTime": "12:00"}]},
                            headers=admin.headers)
    assert resp.status == 400
    code, message, details = refusal_of(await resp.json())
    assert code == "VALIDATION_ERROR" and "1" in str(details["rules"])


async def test_24_credentials_change_the_login_a_password_only_by_an_admin(client, factory):
    centre = await factory.centre()
    admin = await factory.staff("ADMIN")
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    clinician = await factory.staff("CLINICIAN", [centre])
    path = f"{BASE}/users/clinicians/{clinician.clinician_id}/credentials"
    resp = await client.patch(path, json={"password": "Another-pass-3"}, headers=manager.headers)
    assert resp.status == 403 and "password" in refusal_of(await resp.json())[2]
    resp = await client.patch(path, json={"username": "dr.renamed"}, headers=manager.headers)
    assert resp.status == 200 and data_of(await resp.json())["username"] == "dr.renamed"
    resp = await client.patch(path, json={"username": "dr.renamed", "password": "Another-pass-3"},
                              headers=admin.headers)
    assert resp.status == 200
    resp = await client.post(f"{BASE}/auth/login/username-password",
                             json={"username": "dr.renamed", "password": "Another-pass-3"})
    assert resp.status == 200
    assert (await client.patch(path, json={}, headers=admin.headers)).status == 400


async def test_25_26_rules_by_day_and_deleting_one_day(client, factory):
    centre, other = await factory.centre(), await factory.centre()
    admin = await factory.staff("ADMIN")
    clinician = await factory.staff("CLINICIAN", [centre])
    await factory.fetchone("INSERT INTO centre_staff_assignments (centre_id, user_id) VALUES (%s, %s) RETURNING id",
                           (other, clinician.id))
    path = f"{BASE}/users/clinicians/{clinician.clinician_id}/availability"

    def rule(day, start, end, at):
        return {"centreId": at, "dayOfWeek": day, "startTime": start, "endTime": end, "mode": "IN_PERSON"}

    rules = [rule(1, "09:00", "10:00", centre), rule(1, "10:00", "11:00", other), rule(3, "09:00", "10:00", centre)]
    assert (await client.put(path, json={"availability_rules": rules}, headers=admin.headers)).status == 200
    resp = await client.get(f"{path}/by-day", params={"centreId": centre}, headers=admin.headers)
    by_day = data_of(await resp.json())
    assert sorted(by_day) == ["1", "3"] and [r["start_time"] for r in by_day["1"]] == ["09:00"]
    resp = await client.post(f"{path}/delete-by-day", json={"dayOfWeek": 1, "centreId": centre},
                             headers=admin.headers)
    assert resp.status == 200
    body = await resp.json()
    assert data_of(body) == {"deletedCount": 1} and "1" in body["message"]
    left = data_of(await (await client.get(path, headers=admin.headers)).json())
    assert sorted((r["day_of_week"], r["centre_id"]) for r in left) == [(1, str(other)), (3, str(centre))]
    resp = await client.post(f"{path}/delete-by-day", json={"centreId": centre}, headers=admin.headers)
    assert resp.status == 400 and "dayOfWeek" in refusal_of(await resp.json())[2]

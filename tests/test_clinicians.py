"""/api/clinicians: profiles, scheduling settings, atomic availability replacement, deactivation."""

import psycopg2

from mibo.core.errors import from_db_error
from tests.factories import rows
from tests.ops_helpers import audit_rows, error_of, insert_appointment


def new_clinician(centre_id, **overrides):
    return {
        "name": "Dr. Nisha Menon",
        "phone": "09845044444",
        "email": "nisha@mibo.test",
        "primaryCentreId": centre_id,
        "specialization": "Clinical Psychology",
        "registrationNumber": "KMC-1234",
        "yearsOfExperience": 9,
        "consultationFee": 1500.5,
        "defaultDuration": 45,
        "bufferBeforeMinutes": 5,
        "bufferAfterMinutes": 10,
        "minNoticeMinutes": 120,
        "bookingHorizonDays": 60,
        "maxDailyAppointments": 8,
        **overrides,
    }


def rule(day=0, start="09:00", end="13:00", **overrides):
    return {"dayOfWeek": day, "startTime": start, "endTime": end, "slotDurationMinutes": 30, **overrides}


async def rules_in_db(factory, clinician_id):
    return await rows(
        factory,
        "SELECT day_of_week, to_char(start_time, 'HH24:MI'), to_char(end_time, 'HH24:MI')"
        " FROM clinician_availability_rules WHERE clinician_id = %s ORDER BY 1, 2",
        (clinician_id,),
    )


async def test_admin_creates_clinician_with_new_user(client, factory):
    admin = await factory.staff("ADMIN")
    centre = await factory.centre("Mibo Kochi", "kochi")
    resp = await client.post("/api/clinicians", json=new_clinician(centre), headers=admin.headers)
    assert resp.status == 201
    data = (await resp.json())["data"]
    assert data["name"] == "Dr. Nisha Menon" and data["phone"] == "+919845044444"
    assert data["primaryCentre"] == {"id": centre, "name": "Mibo Kochi", "city": "kochi"}
    assert data["consultationFee"] == 1500.5 and data["defaultDuration"] == 45
    assert (
        data["bufferBeforeMinutes"],
        data["bufferAfterMinutes"],
        data["minNoticeMinutes"],
        data["bookingHorizonDays"],
        data["maxDailyAppointments"],
    ) == (5, 10, 120, 60, 8)
    assert data["availabilityRules"] == [] and data["centreIds"] == [centre]
    row = await factory.fetchone(
        "SELECT u.user_type, array_agg(r.name) FROM users u JOIN user_roles ur ON ur.user_id = u.id"
        " JOIN roles r ON r.id = ur.role_id WHERE u.id = %s GROUP BY u.user_type",
        (data["userId"],),
    )
    assert row == ("STAFF", ["CLINICIAN"])
    assert len(await audit_rows(factory, "clinician.create", data["id"])) == 1


async def test_create_from_existing_staff_user(client, factory):
    centre = await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    admin = await factory.staff("ADMIN")
    coordinator = await factory.staff("CARE_COORDINATOR", [centre], login=False)
    body = {"userId": coordinator.id, "primaryCentreId": centre, "specialization": "Psychiatry"}
    # A login with other roles becomes a clinician only by an administrator.
    resp = await client.post("/api/clinicians", headers=manager.headers, json=body)
    assert resp.status == 403 and "userId" in error_of(await resp.json())[1]
    resp = await client.post("/api/clinicians", headers=admin.headers, json=body)
    assert resp.status == 201
    data = (await resp.json())["data"]
    assert data["userId"] == coordinator.id and data["defaultDuration"] == 30
    roles = await factory.fetchone(
        "SELECT array_agg(r.name ORDER BY r.name) FROM user_roles ur"
        " JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = %s",
        (coordinator.id,),
    )
    assert roles == (["CARE_COORDINATOR", "CLINICIAN"],)
    # A second profile for the same user is a duplicate.
    resp = await client.post("/api/clinicians", headers=admin.headers, json=body)
    assert resp.status == 409 and list(error_of(await resp.json())[1]) == ["userId"]


async def test_create_validation_errors(client, factory):
    admin = await factory.staff("ADMIN")
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre], login=False)
    cases = [
        ({k: v for k, v in new_clinician(centre).items() if k != "specialization"}, "specialization"),
        ({k: v for k, v in new_clinician(centre).items() if k != "phone"}, "phone"),
        (new_clinician(centre, userId=desk.id), "userId"),
        (new_clinician(999999), "primaryCentreId"),
        (new_clinician(centre, defaultDuration=2), "defaultDuration"),
        (new_clinician(centre, consultationFee=-1), "consultationFee"),
        (new_clinician(centre, bufferBeforeMinutes=500), "bufferBeforeMinutes"),
        (new_clinician(centre, bookingHorizonDays=0), "bookingHorizonDays"),
        (new_clinician(centre, maxDailyAppointments=0), "maxDailyAppointments"),
        ({"userId": 999999, "primaryCentreId": centre, "specialization": "x"}, "userId"),
    ]
    for body, field in cases:
        resp = await client.post("/api/clinicians", json=body, headers=admin.headers)
        assert resp.status == 400, field
        code, details = error_of(await resp.json())
        assert code == "VALIDATION_ERROR" and field in details, (field, details)
    resp = await client.post(
        "/api/clinicians", json=new_clinician(centre, phone=desk.phone), headers=admin.headers
    )
    assert resp.status == 409 and list(error_of(await resp.json())[1]) == ["phone"]
    assert await factory.fetchone("SELECT count(*) FROM clinician_profiles") == (0,)


async def test_create_permissions_and_centre_scope(client, factory):
    own, other = await factory.centre(), await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [own])
    resp = await client.post("/api/clinicians", json=new_clinician(other), headers=manager.headers)
    assert resp.status == 403 and error_of(await resp.json())[0] == "CENTRE_FORBIDDEN"
    coordinator = await factory.staff("CARE_COORDINATOR", [own])
    resp = await client.post("/api/clinicians", json=new_clinician(own), headers=coordinator.headers)
    assert resp.status == 403 and error_of(await resp.json())[0] == "FORBIDDEN"


async def test_list_is_scoped_and_filtered(client, factory):
    a, b = await factory.centre(), await factory.centre()
    doc_a = await factory.staff("CLINICIAN", [a], login=False, full_name="Anil A")
    doc_b = await factory.staff("CLINICIAN", [b], login=False, full_name="Bina B")
    await factory.fetchone(
        "UPDATE clinician_profiles SET specialization = 'Child Psychiatry' WHERE id = %s RETURNING id",
        (doc_b.clinician_id,),
    )
    # Anil also works at B (assigned there), so B's desk sees him.
    await factory.assign(doc_a.id, b)
    admin = await factory.staff("ADMIN")
    desk_a = await factory.staff("FRONT_DESK", [a])
    desk_b = await factory.staff("FRONT_DESK", [b])

    async def ids(staff, query=""):
        resp = await client.get(f"/api/clinicians?{query}", headers=staff.headers)
        assert resp.status == 200
        return [item["id"] for item in (await resp.json())["data"]]

    assert await ids(admin) == [doc_a.clinician_id, doc_b.clinician_id]
    assert await ids(desk_a) == [doc_a.clinician_id]
    assert await ids(desk_b) == [doc_a.clinician_id, doc_b.clinician_id]
    assert await ids(admin, f"centreId={a}") == [doc_a.clinician_id]
    assert await ids(admin, "specialization=child") == [doc_b.clinician_id]
    assert await ids(admin, "search=bina") == [doc_b.clinician_id]
    assert await ids(desk_a, "search=bina") == []
    resp = await client.get("/api/clinicians?limit=0", headers=admin.headers)
    assert resp.status == 400 and "limit" in error_of(await resp.json())[1]


async def test_get_detail_and_cross_centre_denial(client, factory):
    a, b = await factory.centre(), await factory.centre()
    doc = await factory.staff("CLINICIAN", [a], login=False)
    desk_a = await factory.staff("FRONT_DESK", [a])
    desk_b = await factory.staff("FRONT_DESK", [b])
    resp = await client.get(f"/api/clinicians/{doc.clinician_id}", headers=desk_a.headers)
    assert resp.status == 200
    assert (await resp.json())["data"]["primaryCentre"]["id"] == a
    resp = await client.get(f"/api/clinicians/{doc.clinician_id}", headers=desk_b.headers)
    assert resp.status == 403 and error_of(await resp.json())[0] == "CENTRE_FORBIDDEN"
    assert (await client.get("/api/clinicians/999999", headers=desk_a.headers)).status == 404


async def test_update_profile_and_scheduling_settings(client, factory):
    own, other = await factory.centre(), await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [own])
    doc = await factory.staff("CLINICIAN", [own], login=False)
    resp = await client.put(
        f"/api/clinicians/{doc.clinician_id}",
        headers=manager.headers,
        json={
            "specialization": "Addiction Psychiatry",
            "bufferAfterMinutes": 15,
            "minNoticeMinutes": 60,
            "bookingHorizonDays": 30,
            "maxDailyAppointments": None,
            "defaultDuration": 50,
        },
    )
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert (
        data["specialization"],
        data["bufferAfterMinutes"],
        data["minNoticeMinutes"],
        data["bookingHorizonDays"],
        data["maxDailyAppointments"],
        data["defaultDuration"],
    ) == ("Addiction Psychiatry", 15, 60, 30, None, 50)
    # The login's identity is not the profile's: it changes through /api/users.
    for field, value in (("name", "Dr. Renamed"), ("phone", "9845077777"), ("email", "x@mibo.test")):
        resp = await client.put(f"/api/clinicians/{doc.clinician_id}", json={field: value}, headers=manager.headers)
        assert resp.status == 400 and field in error_of(await resp.json())[1], field
    resp = await client.put(
        f"/api/clinicians/{doc.clinician_id}", json={"primaryCentreId": other}, headers=manager.headers
    )
    assert resp.status == 403 and error_of(await resp.json())[0] == "CENTRE_FORBIDDEN"
    resp = await client.put(
        f"/api/clinicians/{doc.clinician_id}", json={"minNoticeMinutes": -5}, headers=manager.headers
    )
    assert resp.status == 400 and "minNoticeMinutes" in error_of(await resp.json())[1]
    assert (await client.put("/api/clinicians/999999", json={}, headers=manager.headers)).status == 404
    other_manager = await factory.staff("CENTRE_MANAGER", [other])
    resp = await client.put(
        f"/api/clinicians/{doc.clinician_id}", json={"bufferAfterMinutes": 0}, headers=other_manager.headers
    )
    assert resp.status == 403 and error_of(await resp.json())[0] == "CENTRE_FORBIDDEN"
    desk = await factory.staff("FRONT_DESK", [own])
    resp = await client.put(f"/api/clinicians/{doc.clinician_id}", json={}, headers=desk.headers)
    assert resp.status == 403 and error_of(await resp.json())[0] == "FORBIDDEN"
    assert len(await audit_rows(factory, "clinician.update", doc.clinician_id)) == 1


async def test_availability_replaces_all_rules(client, factory):
    a, b = await factory.centre(), await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [a])
    doc = await factory.staff("CLINICIAN", [a, b], login=False)
    path = f"/api/clinicians/{doc.clinician_id}/availability"
    resp = await client.put(
        path,
        headers=manager.headers,
        json={
            "rules": [
                rule(0, "09:00", "13:00"),
                rule(0, "14:00", "18:00", centreId=b, consultationMode="ONLINE"),
                rule(2, "10:00", "12:00", slotDurationMinutes=60),
                {"dayOfWeek": 4, "startTime": "13:00", "endTime": "13:30"},
            ]
        },
    )
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert [
        (
            r["dayOfWeek"],
            r["startTime"],
            r["endTime"],
            r["centreId"],
            r["consultationMode"],
            r["slotDurationMinutes"],
        )
        for r in data
    ] == [
        (0, "09:00", "13:00", a, "ANY", 30),
        (0, "14:00", "18:00", b, "ONLINE", 30),
        (2, "10:00", "12:00", a, "ANY", 60),
        (4, "13:00", "13:30", a, "ANY", 30),
    ]
    resp = await client.put(path, headers=manager.headers, json={"rules": [rule(6, "08:00", "09:00")]})
    assert resp.status == 200
    assert await rules_in_db(factory, doc.clinician_id) == [(6, "08:00", "09:00")]
    resp = await client.get(f"/api/clinicians/{doc.clinician_id}", headers=manager.headers)
    assert [r["dayOfWeek"] for r in (await resp.json())["data"]["availabilityRules"]] == [6]
    assert len(await audit_rows(factory, "clinician.availability.replace", doc.clinician_id)) == 2


async def test_overlapping_windows_are_400_and_leave_old_rules(client, factory):
    centre = await factory.centre()
    admin = await factory.staff("ADMIN")
    doc = await factory.staff("CLINICIAN", [centre], login=False)
    path = f"/api/clinicians/{doc.clinician_id}/availability"
    assert (await client.put(path, json={"rules": [rule(1)]}, headers=admin.headers)).status == 200
    resp = await client.put(
        path,
        headers=admin.headers,
        json={"rules": [rule(0, "09:00", "12:00"), rule(3, "09:00", "12:00"), rule(0, "11:30", "14:00")]},
    )
    assert resp.status == 400
    code, details = error_of(await resp.json())
    assert code == "VALIDATION_ERROR"
    assert details == {"rules": {"2": {"startTime": ["Overlaps rule 0 on the same day."]}}}
    assert await rules_in_db(factory, doc.clinician_id) == [(1, "09:00", "13:00")]
    # Touching windows are fine.
    resp = await client.put(
        path, headers=admin.headers, json={"rules": [rule(0, "09:00", "12:00"), rule(0, "12:00", "14:00")]}
    )
    assert resp.status == 200


async def test_a_bad_rule_anywhere_leaves_the_old_rules_intact(client, factory):
    a, elsewhere = await factory.centre(), await factory.centre()
    admin = await factory.staff("ADMIN")
    doc = await factory.staff("CLINICIAN", [a], login=False)
    path = f"/api/clinicians/{doc.clinician_id}/availability"
    assert (await client.put(path, json={"rules": [rule(1), rule(2)]}, headers=admin.headers)).status == 200
    cases = [
        (rule(0, "12:00", "09:00"), "endTime"),
        (rule(0, "09:00", "09:20", slotDurationMinutes=30), "slotDurationMinutes"),
        (rule(0, centreId=elsewhere), "centreId"),
        (rule(7), "dayOfWeek"),
        (rule(0, "9:00"), "startTime"),
        (rule(0, end="24:00"), "endTime"),
        (rule(0, consultationMode="PHONE"), "consultationMode"),
        (rule(0, slotDurationMinutes=1), "slotDurationMinutes"),
    ]
    for bad, field in cases:
        resp = await client.put(path, json={"rules": [rule(5), bad]}, headers=admin.headers)
        assert resp.status == 400, field
        details = error_of(await resp.json())[1]
        assert field in details["rules"]["1"], (field, details)
        assert await rules_in_db(factory, doc.clinician_id) == [(1, "09:00", "13:00"), (2, "09:00", "13:00")]
    resp = await client.put(path, json={}, headers=admin.headers)
    assert resp.status == 400 and "rules" in error_of(await resp.json())[1]


async def test_availability_permissions_and_scope(client, factory):
    own, other = await factory.centre(), await factory.centre()
    doc = await factory.staff("CLINICIAN", [own])
    path = f"/api/clinicians/{doc.clinician_id}/availability"
    resp = await client.put(path, json={"rules": []}, headers=doc.headers)
    assert resp.status == 403 and error_of(await resp.json())[0] == "FORBIDDEN"
    other_manager = await factory.staff("CENTRE_MANAGER", [other])
    resp = await client.put(path, json={"rules": []}, headers=other_manager.headers)
    assert resp.status == 403 and error_of(await resp.json())[0] == "CENTRE_FORBIDDEN"
    resp = await client.put(
        "/api/clinicians/999999/availability", json={"rules": []}, headers=other_manager.headers
    )
    assert resp.status == 404


async def test_the_exclusion_constraint_is_the_final_guard(factory):
    centre = await factory.centre()
    doc = await factory.staff("CLINICIAN", [centre], login=False)
    insert = (
        "INSERT INTO clinician_availability_rules"
        " (clinician_id, centre_id, day_of_week, start_time, end_time)"
        " VALUES (%s, %s, 0, %s, %s) RETURNING id"
    )
    await factory.fetchone(insert, (doc.clinician_id, centre, "09:00", "12:00"))
    try:
        await factory.fetchone(insert, (doc.clinician_id, centre, "11:00", "13:00"))
    except psycopg2.Error as exc:
        error = from_db_error(exc)
    assert error.status == 409 and error.details == {"rules": [error.message]}


async def test_deactivation_refused_with_upcoming_appointments(client, factory):
    centre = await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    doc = await factory.staff("CLINICIAN", [centre])
    patient = await factory.patient()
    for hours in (2, 30, 200):
        await insert_appointment(
            factory,
            patient_id=patient["id"],
            clinician_id=doc.clinician_id,
            centre_id=centre,
            hours_from_now=hours,
        )
    await insert_appointment(
        factory,
        patient_id=patient["id"],
        clinician_id=doc.clinician_id,
        centre_id=centre,
        hours_from_now=-30,
        status="COMPLETED",
    )
    resp = await client.delete(f"/api/clinicians/{doc.clinician_id}", headers=manager.headers)
    assert resp.status == 409
    code, details = error_of(await resp.json())
    assert code == "CLINICIAN_HAS_APPOINTMENTS" and details == {"futureAppointments": 3}
    assert "3 upcoming" in (await resp.json())["error"]["message"]
    await factory.fetchone(
        "UPDATE appointments SET status = 'CANCELLED' WHERE status = 'BOOKED' RETURNING id"
    )
    resp = await client.delete(f"/api/clinicians/{doc.clinician_id}", headers=manager.headers)
    assert resp.status == 200 and (await resp.json())["data"]["isActive"] is False
    row = await factory.fetchone(
        "SELECT u.is_active, cp.is_active FROM clinician_profiles cp"
        " JOIN users u ON u.id = cp.user_id WHERE cp.id = %s",
        (doc.clinician_id,),
    )
    assert row == (False, False)
    assert (await client.get("/api/auth/me", headers=doc.headers)).status == 401
    assert len(await audit_rows(factory, "clinician.deactivate", doc.clinician_id)) == 1
    # Reactivating the user brings the clinician back as well.
    admin = await factory.staff("ADMIN")
    resp = await client.put(f"/api/users/{doc.id}", json={"isActive": True}, headers=admin.headers)
    assert resp.status == 200
    resp = await client.get(f"/api/clinicians/{doc.clinician_id}", headers=manager.headers)
    assert resp.status == 200 and (await resp.json())["data"]["isActive"] is True


async def test_deactivation_permissions_and_scope(client, factory):
    own, other = await factory.centre(), await factory.centre()
    doc = await factory.staff("CLINICIAN", [own], login=False)
    other_manager = await factory.staff("CENTRE_MANAGER", [other])
    resp = await client.delete(f"/api/clinicians/{doc.clinician_id}", headers=other_manager.headers)
    assert resp.status == 403 and error_of(await resp.json())[0] == "CENTRE_FORBIDDEN"
    desk = await factory.staff("FRONT_DESK", [own])
    resp = await client.delete(f"/api/clinicians/{doc.clinician_id}", headers=desk.headers)
    assert resp.status == 403 and error_of(await resp.json())[0] == "FORBIDDEN"
    assert (await client.delete("/api/clinicians/999999", headers=other_manager.headers)).status == 404

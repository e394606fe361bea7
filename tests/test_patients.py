"""/api/patients: walk-ins, search, PatientDetail scoping, medical notes, audit of every read."""

from tests.ops_helpers import audit_rows, error_of, insert_appointment


async def setting(factory):
    """Two centres, a clinician at each, one patient seen at both."""
    a, b = await factory.centre(), await factory.centre()
    doc_a = await factory.staff("CLINICIAN", [a])
    doc_b = await factory.staff("CLINICIAN", [b])
    patient = await factory.patient(full_name="Ravi Kumar")
    appt_a = await insert_appointment(
        factory,
        patient_id=patient["id"],
        clinician_id=doc_a.clinician_id,
        centre_id=a,
        hours_from_now=-48,
        status="COMPLETED",
    )
    appt_b = await insert_appointment(
        factory, patient_id=patient["id"], clinician_id=doc_b.clinician_id, centre_id=b, hours_from_now=48
    )
    pay_a = await factory.payment(patient_id=patient["id"], appointment_id=appt_a, provider="CASH", status="SUCCESS")
    pay_b = await factory.payment(patient_id=patient["id"], appointment_id=appt_b, amount=1200)
    note = await factory.fetchone(
        "INSERT INTO medical_notes (patient_id, appointment_id, centre_id, author_user_id,"
        " note) VALUES (%s, %s, %s, %s, 'Low mood, sleeping poorly') RETURNING id",
        (patient["id"], appt_a, a, doc_a.id),
    )
    return {
        "a": a,
        "b": b,
        "doc_a": doc_a,
        "doc_b": doc_b,
        "patient": patient,
        "appt_a": appt_a,
        "appt_b": appt_b,
        "pay_a": pay_a,
        "pay_b": pay_b,
        "note": note[0],
    }


async def test_walk_in_phone_formats_are_stored_canonically(client, factory):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    for n, phone in enumerate(("+91 98765 43210", "09876543211", "9876543212", "91-9876543213")):
        resp = await client.post(
            "/api/patients", json={"fullName": f"Walk In {n}", "phone": phone}, headers=desk.headers
        )
        assert resp.status == 201, phone
        assert (await resp.json())["data"]["phone"] == f"+9198765432{10 + n}"
    rows = await factory.fetchone(
        "SELECT array_agg(phone ORDER BY phone), bool_and(password_hash IS NULL),"
        " bool_and(user_type = 'PATIENT') FROM users WHERE full_name LIKE 'Walk In%%'"
    )
    assert rows == (["+919876543210", "+919876543211", "+919876543212", "+919876543213"], True, True)


async def test_create_with_full_profile_and_audit(client, factory):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    resp = await client.post(
        "/api/patients",
        headers=desk.headers,
        json={
            "fullName": " Leela Nair ",
            "phone": "9876500000",
            "email": "leela@example.test",
            "dateOfBirth": "1990-05-17",
            "gender": "FEMALE",
            "bloodGroup": "O+",
            "emergencyContact": {"name": "Arun Nair", "phone": "0 98765 00001"},
        },
    )
    assert resp.status == 201
    data = (await resp.json())["data"]
    assert (data["fullName"], data["dateOfBirth"], data["gender"], data["bloodGroup"]) == (
        "Leela Nair",
        "1990-05-17",
        "FEMALE",
        "O+",
    )
    assert data["emergencyContact"] == {"name": "Arun Nair", "phone": "+919876500001"}
    rows = await audit_rows(factory, "patient.create", data["id"])
    assert len(rows) == 1 and rows[0][0] == desk.id


async def test_existing_phone_is_409_with_the_existing_patient(client, factory):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    existing = await factory.patient(phone="+919876511111")
    resp = await client.post(
        "/api/patients", json={"fullName": "Again", "phone": "09876511111"}, headers=desk.headers
    )
    assert resp.status == 409
    assert error_of(await resp.json()) == ("PATIENT_EXISTS", {"existingPatientId": existing["id"]})
    resp = await client.post(
        "/api/patients", json={"fullName": "Staff", "phone": desk.phone}, headers=desk.headers
    )
    assert resp.status == 409 and "phone" in error_of(await resp.json())[1]


async def test_create_validation_errors(client, factory):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    base = {"fullName": "New Patient", "phone": "9876522222"}
    cases = [
        ({"fullName": "No phone"}, "phone"),
        ({"phone": "9876522222"}, "fullName"),
        ({**base, "phone": "5876522222"}, "phone"),
        ({**base, "dateOfBirth": "2999-01-01"}, "dateOfBirth"),
        ({**base, "dateOfBirth": "17/05/1990"}, "dateOfBirth"),
        ({**base, "bloodGroup": "C+"}, "bloodGroup"),
        ({**base, "email": "nope"}, "email"),
        ({**base, "emergencyContact": {"phone": "123"}}, "emergencyContact"),
    ]
    for body, field in cases:
        resp = await client.post("/api/patients", json=body, headers=desk.headers)
        assert resp.status == 400, field
        code, details = error_of(await resp.json())
        assert code == "VALIDATION_ERROR" and field in details, (field, details)


async def test_create_and_update_permissions(client, factory):
    centre = await factory.centre()
    doc = await factory.staff("CLINICIAN", [centre])
    resp = await client.post(
        "/api/patients", json={"fullName": "X", "phone": "9876533333"}, headers=doc.headers
    )
    assert resp.status == 403 and error_of(await resp.json())[0] == "FORBIDDEN"
    patient = await factory.patient()
    resp = await client.put(f"/api/patients/{patient['id']}", json={"fullName": "Y"}, headers=doc.headers)
    assert resp.status == 403 and error_of(await resp.json())[0] == "FORBIDDEN"


async def test_search_by_name_and_phone_in_any_format(client, factory):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    ravi = await factory.patient(full_name="Ravi Kumar", phone="+919812345678", centre_id=centre)
    priya = await factory.patient(full_name="Priya Raman", phone="+919898989898", centre_id=centre)
    await factory.staff("FRONT_DESK", [centre], full_name="Ravi Staff")  # staff are not patients

    async def ids(query):
        resp = await client.get(f"/api/patients?{query}", headers=desk.headers)
        assert resp.status == 200
        return [item["id"] for item in (await resp.json())["data"]]

    assert await ids("search=ravi") == [ravi["id"]]
    assert await ids("search=RAMAN") == [priya["id"]]
    assert await ids("search=%2B919812345678") == [ravi["id"]]
    assert await ids("search=09812345678") == [ravi["id"]]
    assert await ids("search=9812345678") == [ravi["id"]]
    assert await ids("search=98989") == [priya["id"]]
    assert await ids("phone=098123%2045678") == [ravi["id"]]
    assert await ids("search=ra") == [priya["id"], ravi["id"]]
    resp = await client.get("/api/patients?limit=1&offset=1&search=ra", headers=desk.headers)
    body = await resp.json()
    assert body["meta"]["total"] == 2 and [p["id"] for p in body["data"]] == [ravi["id"]]
    resp = await client.get("/api/patients?phone=123", headers=desk.headers)
    assert resp.status == 400 and "phone" in error_of(await resp.json())[1]


async def test_detail_for_admin_has_everything_and_is_audited(client, factory):
    s = await setting(factory)
    admin = await factory.staff("ADMIN")
    resp = await client.get(f"/api/patients/{s['patient']['id']}", headers=admin.headers)
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert data["fullName"] == "Ravi Kumar" and data["emergencyContact"] == {"name": None, "phone": None}
    assert [a["id"] for a in data["appointments"]] == [s["appt_b"], s["appt_a"]]
    assert data["appointments"][0]["centreId"] == s["b"] and data["appointments"][0]["clinicianName"]
    assert sorted(p["id"] for p in data["payments"]) == sorted([s["pay_a"], s["pay_b"]])
    assert [n["id"] for n in data["medicalNotes"]] == [s["note"]]
    assert data["medicalNotes"][0]["note"] == "Low mood, sleeping poorly"
    rows = await audit_rows(factory, "patient.read", s["patient"]["id"])
    assert len(rows) == 1 and rows[0][0] == admin.id and rows[0][4] == {"medicalNotes": True}


async def test_detail_for_front_desk_hides_notes_and_other_centres(client, factory):
    s = await setting(factory)
    desk_a = await factory.staff("FRONT_DESK", [s["a"]])
    resp = await client.get(f"/api/patients/{s['patient']['id']}", headers=desk_a.headers)
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert data["medicalNotes"] is None
    assert [a["id"] for a in data["appointments"]] == [s["appt_a"]]
    assert [p["id"] for p in data["payments"]] == [s["pay_a"]]
    rows = await audit_rows(factory, "patient.read", s["patient"]["id"])
    assert len(rows) == 1 and rows[0][0] == desk_a.id and rows[0][4] == {"medicalNotes": False}


async def test_detail_for_clinicians_shows_own_appointments_and_notes_only_in_care(client, factory):
    s = await setting(factory)
    resp = await client.get(f"/api/patients/{s['patient']['id']}", headers=s["doc_b"].headers)
    data = (await resp.json())["data"]
    assert [a["id"] for a in data["appointments"]] == [s["appt_b"]]
    assert [p["id"] for p in data["payments"]] == [s["pay_b"]]
    assert [n["id"] for n in data["medicalNotes"]] == [s["note"]]  # continuity of care
    stranger = await factory.staff("CLINICIAN", [s["a"]])
    for path in (f"/api/patients/{s['patient']['id']}", f"/api/patients/{s['patient']['id']}/appointments"):
        resp = await client.get(path, headers=stranger.headers)
        assert resp.status == 404  # a patient outside one's care does not exist for one
        assert (await resp.json())["error"]["code"] == "PATIENT_NOT_FOUND"
    assert (await client.get("/api/patients/999999", headers=stranger.headers)).status == 404


async def test_clinicians_find_only_patients_in_their_care(client, factory):
    s = await setting(factory)
    stranger = await factory.staff("CLINICIAN", [s["a"]])
    mine = await client.get("/api/patients", headers=s["doc_b"].headers)
    assert [p["id"] for p in (await mine.json())["data"]] == [s["patient"]["id"]]
    theirs = await client.get("/api/patients", headers=stranger.headers)
    assert (await theirs.json())["data"] == [] and (await theirs.json())["meta"]["total"] == 0


async def test_update_patient(client, factory):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    patient = await factory.patient(centre_id=centre)
    other = await factory.patient()
    resp = await client.put(
        f"/api/patients/{patient['id']}",
        headers=desk.headers,
        json={
            "fullName": "Updated Name",
            "phone": "0 98700 12345",
            "gender": "MALE",
            "emergencyContact": {"name": "Kin"},
        },
    )
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert (data["fullName"], data["phone"], data["gender"], data["emergencyContact"]) == (
        "Updated Name",
        "+919870012345",
        "MALE",
        {"name": "Kin", "phone": None},
    )
    resp = await client.put(
        f"/api/patients/{patient['id']}", json={"phone": other["phone"]}, headers=desk.headers
    )
    assert resp.status == 409 and list(error_of(await resp.json())[1]) == ["phone"]
    resp = await client.put(f"/api/patients/{patient['id']}", json={"gender": "?"}, headers=desk.headers)
    assert resp.status == 400 and "gender" in error_of(await resp.json())[1]
    assert (await client.put("/api/patients/999999", json={}, headers=desk.headers)).status == 404
    assert len(await audit_rows(factory, "patient.update", patient["id"])) == 1


async def test_patient_appointments_are_scoped(client, factory):
    s = await setting(factory)
    pid = s["patient"]["id"]
    desk_b = await factory.staff("FRONT_DESK", [s["b"]])
    manager = await factory.staff("MANAGER")
    resp = await client.get(f"/api/patients/{pid}/appointments", headers=desk_b.headers)
    body = await resp.json()
    assert [a["id"] for a in body["data"]] == [s["appt_b"]] and body["meta"]["total"] == 1
    resp = await client.get(f"/api/patients/{pid}/appointments?limit=1", headers=manager.headers)
    body = await resp.json()
    assert [a["id"] for a in body["data"]] == [s["appt_b"]] and body["meta"]["total"] == 2
    resp = await client.get(f"/api/patients/{pid}/appointments", headers=s["doc_a"].headers)
    assert [a["id"] for a in (await resp.json())["data"]] == [s["appt_a"]]
    resp = await client.get(f"/api/patients/{pid}/appointments?limit=500", headers=manager.headers)
    assert resp.status == 400 and "limit" in error_of(await resp.json())[1]
    assert (await client.get("/api/patients/999999/appointments", headers=manager.headers)).status == 404


async def test_notes_hidden_from_front_desk(client, factory):
    s = await setting(factory)
    desk = await factory.staff("FRONT_DESK", [s["a"]])
    resp = await client.get(f"/api/patients/{s['patient']['id']}/notes", headers=desk.headers)
    assert resp.status == 403 and error_of(await resp.json())[0] == "FORBIDDEN"
    resp = await client.post(
        f"/api/patients/{s['patient']['id']}/notes", json={"note": "x"}, headers=desk.headers
    )
    assert resp.status == 403 and error_of(await resp.json())[0] == "FORBIDDEN"
    assert await audit_rows(factory, "patient.notes.read") == []


async def test_notes_read_by_clinicians_in_care_and_audited(client, factory):
    s = await setting(factory)
    pid = s["patient"]["id"]
    resp = await client.get(f"/api/patients/{pid}/notes", headers=s["doc_a"].headers)
    assert resp.status == 200
    notes = (await resp.json())["data"]
    assert [n["id"] for n in notes] == [s["note"]] and notes[0]["authorUserId"] == s["doc_a"].id
    rows = await audit_rows(factory, "patient.notes.read", pid)
    assert len(rows) == 1 and rows[0][0] == s["doc_a"].id
    stranger = await factory.staff("CLINICIAN", [s["a"]])
    resp = await client.get(f"/api/patients/{pid}/notes", headers=stranger.headers)
    assert resp.status == 404 and error_of(await resp.json())[0] == "PATIENT_NOT_FOUND"
    assert (await client.get("/api/patients/999999/notes", headers=stranger.headers)).status == 404


async def test_add_notes(client, factory):
    s = await setting(factory)
    pid = s["patient"]["id"]
    resp = await client.post(
        f"/api/patients/{pid}/notes",
        headers=s["doc_b"].headers,
        json={"note": "Started CBT plan", "appointmentId": s["appt_b"]},
    )
    assert resp.status == 201
    note = (await resp.json())["data"]
    assert (note["appointmentId"], note["centreId"], note["authorUserId"], note["note"]) == (
        s["appt_b"],
        s["b"],
        s["doc_b"].id,
        "Started CBT plan",
    )
    rows = await audit_rows(factory, "patient.note.create", note["id"])
    assert len(rows) == 1 and rows[0][3] == s["b"] and rows[0][4] == {"patientId": pid}
    # Without an appointment: a clinician in care may still write one.
    resp = await client.post(
        f"/api/patients/{pid}/notes", json={"note": "Phone check-in"}, headers=s["doc_a"].headers
    )
    assert resp.status == 201 and (await resp.json())["data"]["centreId"] is None
    # Another clinician's appointment, or a patient not in their care, is refused.
    resp = await client.post(
        f"/api/patients/{pid}/notes",
        headers=s["doc_a"].headers,
        json={"note": "x", "appointmentId": s["appt_b"]},
    )
    assert resp.status == 403 and error_of(await resp.json())[0] == "NO_CARE_RELATIONSHIP"
    stranger = await factory.staff("CLINICIAN", [s["a"]])
    resp = await client.post(f"/api/patients/{pid}/notes", json={"note": "x"}, headers=stranger.headers)
    assert resp.status == 404 and error_of(await resp.json())[0] == "PATIENT_NOT_FOUND"
    admin = await factory.staff("ADMIN")
    resp = await client.post(
        f"/api/patients/{pid}/notes", json={"note": "Admin addendum"}, headers=admin.headers
    )
    assert resp.status == 201
    count = await factory.fetchone("SELECT count(*) FROM medical_notes WHERE patient_id = %s", (pid,))
    assert count == (4,)


async def test_add_note_validation(client, factory):
    s = await setting(factory)
    pid = s["patient"]["id"]
    other = await factory.patient()
    other_appt = await insert_appointment(
        factory,
        patient_id=other["id"],
        clinician_id=s["doc_a"].clinician_id,
        centre_id=s["a"],
        hours_from_now=100,
    )
    admin = await factory.staff("ADMIN")
    cases = [
        ({"note": "   "}, "note"),
        ({}, "note"),
        ({"note": "x", "appointmentId": other_appt}, "appointmentId"),
        ({"note": "x", "appointmentId": "abc"}, "appointmentId"),
    ]
    for body, field in cases:
        resp = await client.post(f"/api/patients/{pid}/notes", json=body, headers=admin.headers)
        assert resp.status == 400, field
        assert field in error_of(await resp.json())[1]
    assert (
        await client.post("/api/patients/999999/notes", json={"note": "x"}, headers=admin.headers)
    ).status == 404

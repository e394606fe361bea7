"""Patients belong to the centres that care for them: registered there or seen there. Anyone else
gets 404 for the record, its updates and its payments; an exact phone look-up finds the person
anywhere in the chain (id and name only) so that a desk books them instead of registering them
twice; a clinician's care means a held appointment with them."""

from __future__ import annotations

from tests.ops_helpers import audit_rows, error_of, insert_appointment
from tests.scheduling_support import at, booking, future_day, make_clinic


async def related_centres(factory, patient_id) -> list[int]:
    row = await factory.fetchone(
        "SELECT COALESCE(array_agg(centre_id ORDER BY centre_id), '{}') FROM patient_centres WHERE patient_id = %s",
        (patient_id,))
    return row[0]


async def seen_only_at(factory, centre, **patient):
    """A patient registered nowhere, with one past appointment at `centre`."""
    doctor = await factory.staff("CLINICIAN", [centre], login=False)
    person = await factory.patient(**patient)
    await insert_appointment(factory, patient_id=person["id"], clinician_id=doctor.clinician_id, centre_id=centre,
                             hours_from_now=-72, status="COMPLETED")
    return person


async def test_another_centres_patient_is_not_found_by_a_centre_manager(client, factory):
    a, b = await factory.centre(), await factory.centre()
    manager_a = await factory.staff("CENTRE_MANAGER", [a])
    desk_b = await factory.staff("FRONT_DESK", [b])
    person = await seen_only_at(factory, b, full_name="Only Kochi", phone="+919811100001")
    pid = person["id"]
    for method, path, body in (
        ("GET", f"/api/patients/{pid}", None),
        ("PUT", f"/api/patients/{pid}", {"fullName": "Renamed by A"}),
        ("GET", f"/api/patients/{pid}/appointments", None),
        ("GET", f"/api/payments/patient/{pid}", None),
    ):
        resp = await client.request(method, path, json=body, headers=manager_a.headers)
        assert (resp.status, error_of(await resp.json())[0]) == (404, "PATIENT_NOT_FOUND"), (method, path)
    for query in ("phone=9811100001", "search=Only", "search=9811100001", "search=11100001"):
        resp = await client.get(f"/api/patients?{query}", headers=manager_a.headers)
        assert (await resp.json())["meta"]["total"] == 0, query
    assert await factory.fetchone("SELECT full_name FROM users WHERE id = %s", (person["user_id"],)) == ("Only Kochi",)
    assert await audit_rows(factory, "patient.read") == []
    # The centre that saw them, and chain-wide roles, see them.
    for user in (desk_b, await factory.staff("MANAGER"), await factory.staff("ADMIN")):
        assert (await client.get(f"/api/patients/{pid}", headers=user.headers)).status == 200
        resp = await client.get("/api/patients?phone=9811100001", headers=user.headers)
        assert [p["id"] for p in (await resp.json())["data"]] == [pid]


async def test_an_exact_phone_finds_the_person_anywhere_and_booking_makes_them_this_centres(client, factory):
    clinic = await make_clinic(factory)
    elsewhere = await factory.centre()
    person = await factory.patient(full_name="Returning Person", phone="+919811100002", centre_id=elsewhere)
    desk = clinic.desk
    resp = await client.get("/api/patients/lookup?phone=098111%2000002", headers=desk.headers)
    assert resp.status == 200
    assert (await resp.json())["data"] == {"id": person["id"], "fullName": "Returning Person"}
    assert len(await audit_rows(factory, "patient.lookup", person["id"])) == 1
    # Only an exact, whole number; clinicians book nobody and look nobody up.
    for query, status in (("phone=98111", 400), ("phone=9811100003", 404), ("", 400)):
        resp = await client.get(f"/api/patients/lookup?{query}", headers=desk.headers)
        assert resp.status == status, query
    resp = await client.get("/api/patients/lookup?phone=9811100002", headers=clinic.clinician.headers)
    assert resp.status == 403
    assert (await client.get(f"/api/patients/{person['id']}", headers=desk.headers)).status == 404
    # Registering them again is refused with the existing record's id, as before.
    resp = await client.post("/api/patients", json={"fullName": "Twice", "phone": "9811100002"}, headers=desk.headers)
    assert error_of(await resp.json()) == ("PATIENT_EXISTS", {"existingPatientId": person["id"]})
    # Booked here, they are this centre's patient too, with only this centre's appointments shown.
    start = at(future_day(clinic.zone), "10:00", clinic.zone)
    resp = await client.post("/api/appointments", headers=desk.headers,
                             json=booking(clinic, start, patientId=person["id"]))
    assert resp.status == 201, await resp.json()
    resp = await client.get(f"/api/patients/{person['id']}", headers=desk.headers)
    assert resp.status == 200
    assert [a["centreId"] for a in (await resp.json())["data"]["appointments"]] == [clinic.centre_id]
    assert await related_centres(factory, person["id"]) == sorted([clinic.centre_id, elsewhere])


async def test_a_walk_in_registers_at_the_callers_centre(client, factory):
    a, b = await factory.centre(), await factory.centre()
    desk_a = await factory.staff("FRONT_DESK", [a])
    desk_b = await factory.staff("FRONT_DESK", [b])
    resp = await client.post("/api/patients", json={"fullName": "Walk In", "phone": "9811100004"},
                             headers=desk_a.headers)
    assert resp.status == 201
    created = (await resp.json())["data"]
    assert created["registeredCentreId"] == a
    assert (await audit_rows(factory, "patient.create", created["id"]))[0][3] == a
    assert (await client.get(f"/api/patients/{created['id']}", headers=desk_a.headers)).status == 200
    assert (await client.get(f"/api/patients/{created['id']}", headers=desk_b.headers)).status == 404
    # Someone at several centres says which; never a centre that is not theirs.
    coordinator = await factory.staff("CARE_COORDINATOR", [a, b])
    body = {"fullName": "Two Centres", "phone": "9811100005"}
    resp = await client.post("/api/patients", json=body, headers=coordinator.headers)
    assert resp.status == 400 and "centreId" in error_of(await resp.json())[1]
    resp = await client.post("/api/patients", json={**body, "centreId": b}, headers=desk_a.headers)
    assert (resp.status, error_of(await resp.json())[0]) == (403, "CENTRE_FORBIDDEN")
    resp = await client.post("/api/patients", json={**body, "centreId": b}, headers=coordinator.headers)
    assert resp.status == 201 and (await resp.json())["data"]["registeredCentreId"] == b
    # A chain-wide role may register someone at no centre in particular.
    admin = await factory.staff("ADMIN")
    resp = await client.post("/api/patients", json={"fullName": "Anywhere", "phone": "9811100006"},
                             headers=admin.headers)
    assert resp.status == 201 and (await resp.json())["data"]["registeredCentreId"] is None
    assert await factory.fetchone("SELECT count(*) FROM users WHERE full_name = 'Two Centres'") == (1,)


async def test_in_care_means_a_held_appointment_and_a_moved_one_counts_through_its_child(client, factory):
    centre = await factory.centre()
    doctor = await factory.staff("CLINICIAN", [centre])
    colleague = await factory.staff("CLINICIAN", [centre])
    patient = await factory.patient()
    pid = patient["id"]
    await factory.fetchone(
        "INSERT INTO medical_notes (patient_id, author_user_id, note) VALUES (%s, %s, 'Private') RETURNING id",
        (pid, colleague.id))

    async def doctor_sees():
        statuses = []
        for path in (f"/api/patients/{pid}", f"/api/patients/{pid}/notes"):
            statuses.append((await client.get(path, headers=doctor.headers)).status)
        resp = await client.get("/api/patients", headers=doctor.headers)
        return statuses, (await resp.json())["meta"]["total"]

    # Booked with the doctor, then moved to the colleague: the original no longer puts the
    # patient in the doctor's care, the child puts them in the colleague's.
    original = await insert_appointment(factory, patient_id=pid, clinician_id=doctor.clinician_id, centre_id=centre,
                                        hours_from_now=48, status="RESCHEDULED")
    child = await insert_appointment(factory, patient_id=pid, clinician_id=colleague.clinician_id,
                                     centre_id=centre, hours_from_now=72)
    await factory.fetchone("UPDATE appointments SET parent_appointment_id = %s WHERE id = %s RETURNING id",
                           (original, child))
    await insert_appointment(factory, patient_id=pid, clinician_id=doctor.clinician_id, centre_id=centre,
                             hours_from_now=-48, status="CANCELLED")
    assert await doctor_sees() == ([404, 404], 0)
    resp = await client.get(f"/api/patients/{pid}/notes", headers=colleague.headers)
    assert resp.status == 200 and len((await resp.json())["data"]) == 1
    for status in ("NO_SHOW", "COMPLETED", "CONFIRMED", "BOOKED"):
        held = await insert_appointment(factory, patient_id=pid, clinician_id=doctor.clinician_id,
                                        centre_id=centre, hours_from_now=-200, status=status)
        assert await doctor_sees() == ([200, 200], 1), status
        await factory.fetchone("DELETE FROM appointments WHERE id = %s RETURNING id", (held,))


async def test_the_database_relates_patients_to_centres_whatever_writes_the_rows(factory):
    a, b, c = await factory.centre(), await factory.centre(), await factory.centre()
    doctor = await factory.staff("CLINICIAN", [a], login=False)
    first, second = await factory.patient(), await factory.patient(centre_id=c)
    assert await related_centres(factory, second["id"]) == [c]
    # Several appointments in one statement (an import), earliest first or not.
    await factory.fetchone(
        "INSERT INTO appointments (patient_id, clinician_id, centre_id, appointment_type, scheduled_start_at,"
        " scheduled_end_at, duration_minutes, status, source, created_at)"
        " SELECT %(p)s, %(c)s, %(centre)s, 'IN_PERSON', now() + make_interval(days => d),"
        " now() + make_interval(days => d, mins => 30), 30, 'COMPLETED', 'ADMIN_FRONT_DESK',"
        " timestamptz '2026-01-01' + make_interval(days => 10 - d) FROM generate_series(1, 3) d RETURNING 1",
        {"p": first["id"], "c": doctor.clinician_id, "centre": a})
    since = await factory.fetchone("SELECT since FROM patient_centres WHERE patient_id = %s", (first["id"],))
    assert since[0].isoformat().startswith("2026-01-08")  # the earliest of the three
    # An appointment moved to another centre relates the patient to it as well.
    await factory.fetchone("UPDATE appointments SET centre_id = %s WHERE patient_id = %s RETURNING 1",
                           (b, first["id"]))
    assert await related_centres(factory, first["id"]) == [a, b]


TALLIES_AGREE = """
SELECT (SELECT COALESCE(jsonb_object_agg(centre_id, patients), '{}') FROM patient_tallies WHERE patients <> 0)
     = (SELECT jsonb_object_agg(centre_id, n) FROM (
            SELECT 0 AS centre_id, count(*) AS n FROM patient_profiles HAVING count(*) > 0
            UNION ALL SELECT centre_id, count(*) FROM patient_centres GROUP BY centre_id) counted)
"""


async def test_the_patient_tallies_follow_every_insert_and_delete(factory):
    a, b = await factory.centre(), await factory.centre()
    doctor = await factory.staff("CLINICIAN", [a], login=False)
    people = [await factory.patient(centre_id=b if n % 2 else None) for n in range(4)]
    for person in people[:3]:
        await insert_appointment(factory, patient_id=person["id"], clinician_id=doctor.clinician_id, centre_id=a,
                                 hours_from_now=-24 * (1 + people.index(person)), status="COMPLETED")
    assert await factory.fetchone(TALLIES_AGREE) == (True,)
    assert await factory.fetchone("SELECT patients FROM patient_tallies WHERE centre_id = %s", (a,)) == (3,)
    await factory.fetchone("DELETE FROM patient_profiles WHERE id = %s RETURNING id", (people[3]["id"],))
    assert await factory.fetchone(TALLIES_AGREE) == (True,)
    assert await factory.fetchone("SELECT patients FROM patient_tallies WHERE centre_id = 0") == (3,)

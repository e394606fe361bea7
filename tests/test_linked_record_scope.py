"""Ids reached through a body or a sub-resource obey the same scope as the record they belong to:
another centre's staff, another clinician's meet link or payments."""

from tests.ops_helpers import error_of, insert_appointment


async def test_a_centre_manager_cannot_make_another_centres_staff_member_a_clinician(client, factory):
    a, b = await factory.centre(), await factory.centre()
    manager = await factory.staff("CENTRE_MANAGER", [a])
    desk_b = await factory.staff("FRONT_DESK", [b], login=False)
    resp = await client.post(
        "/api/clinicians",
        headers=manager.headers,
        json={"userId": desk_b.id, "primaryCentreId": a, "specialization": "Psychiatry"},
    )
    assert resp.status == 403 and error_of(await resp.json())[0] == "CENTRE_FORBIDDEN"
    row = await factory.fetchone(
        "SELECT (SELECT count(*) FROM clinician_profiles WHERE user_id = %(u)s),"
        " (SELECT array_agg(centre_id) FROM centre_staff_assignments WHERE user_id = %(u)s AND is_active)",
        {"u": desk_b.id},
    )
    assert row == (0, [b])  # neither a clinician nor moved into centre A
    admin = await factory.staff("ADMIN")
    resp = await client.post(
        "/api/clinicians",
        headers=admin.headers,
        json={"userId": desk_b.id, "primaryCentreId": a, "specialization": "Psychiatry"},
    )
    assert resp.status == 201


async def two_clinicians_one_patient(factory):
    centre = await factory.centre()
    mine = await factory.staff("CLINICIAN", [centre])
    other = await factory.staff("CLINICIAN", [centre])
    patient = await factory.patient()
    appointments = {}
    for doc in (mine, other):
        appointments[doc.id] = await insert_appointment(
            factory, patient_id=patient["id"], clinician_id=doc.clinician_id, centre_id=centre,
            hours_from_now=24 if doc is mine else 48,
        )
    await factory.fetchone(
        "UPDATE appointments SET appointment_type = 'ONLINE', meet_link = 'https://meet.google.com/abc-defg-hij'"
        " RETURNING id"
    )
    return centre, mine, other, patient, appointments


async def test_a_clinician_reads_only_their_own_appointments_meet_link(client, factory):
    centre, mine, other, _, appointments = await two_clinicians_one_patient(factory)
    own = await client.get(f"/api/video/appointment/{appointments[mine.id]}/meet-link", headers=mine.headers)
    assert own.status == 200 and (await own.json())["data"]["meetLink"].startswith("https://meet.google.com/")
    theirs = await client.get(f"/api/video/appointment/{appointments[other.id]}/meet-link", headers=mine.headers)
    assert theirs.status == 403 and error_of(await theirs.json())[0] == "NOT_OWN_APPOINTMENT"
    desk = await factory.staff("FRONT_DESK", [centre])
    resp = await client.get(f"/api/video/appointment/{appointments[other.id]}/meet-link", headers=desk.headers)
    assert resp.status == 200


async def test_a_clinician_sees_only_the_payments_of_their_own_appointments(client, factory):
    centre, mine, other, patient, appointments = await two_clinicians_one_patient(factory)
    paid = {}
    for doc_id, appointment_id in appointments.items():
        paid[doc_id] = await factory.payment(patient_id=patient["id"], appointment_id=appointment_id,
                                             provider="CASH", status="SUCCESS")
    resp = await client.get(f"/api/payments/patient/{patient['id']}", headers=mine.headers)
    assert resp.status == 200
    body = await resp.json()
    assert [p["id"] for p in body["data"]] == [paid[mine.id]] and body["meta"]["total"] == 1
    desk = await factory.staff("FRONT_DESK", [centre])
    resp = await client.get(f"/api/payments/patient/{patient['id']}", headers=desk.headers)
    assert sorted(p["id"] for p in (await resp.json())["data"]) == sorted(paid.values())

"""The admin panel's patients page (rows 38-40 of its contract): the list it filters in the browser,
the create form's body with its blank fields and lower-case gender, and updates by user id."""

from __future__ import annotations

import datetime as dt

from tests.legacy_support import BASE, data_of, refusal_of
from tests.ops_helpers import insert_appointment

FORM = {"fullName": "Lakshmi Menon", "phone": "9846012345", "email": "", "dateOfBirth": "1990-04-02",
        "gender": "female", "bloodGroup": "", "emergencyContactName": "Ravi Menon",
        "emergencyContactPhone": "9846054321", "notes": "Prefers mornings", "mrn": "KOC-0001"}


async def test_39_38_the_create_form_as_sent_and_the_row_the_list_shows(client, factory):
    centre = await factory.centre(name="Mibo Kochi")
    desk = await factory.staff("FRONT_DESK", [centre])
    resp = await client.post(f"{BASE}/patients", json=FORM, headers=desk.headers)
    assert resp.status == 201, await resp.text()
    created = data_of(await resp.json())
    assert created["gender"] == "female" and created["email"] is None and created["bloodGroup"] is None
    assert created["registeredCentreId"] == str(centre)
    rows = data_of(await (await client.get(f"{BASE}/patients", headers=desk.headers)).json())
    assert [row["id"] for row in rows] == [created["id"]]
    row = rows[0]
    assert row["fullName"] == "Lakshmi Menon" and row["phone"] == "+919846012345" and row["mrn"] == "KOC-0001"
    assert row["emergencyContactName"] == "Ravi Menon" and row["emergencyContactPhone"] == "+919846054321"
    assert row["notes"] == "Prefers mornings" and row["dateOfBirth"] == "1990-04-02" and row["username"] is None
    assert row["upcomingAppointmentsCount"] == 0 and row["pastAppointmentsCount"] == 0
    assert row["upcomingAppointments"] == [] and row["userId"].isdigit() and row["createdAt"]


async def test_the_list_counts_visits_the_caller_sees_and_shows_the_next(client, factory):
    centre, other = await factory.centre(name="Here"), await factory.centre(name="There")
    desk = await factory.staff("FRONT_DESK", [centre])
    clinician = await factory.staff("CLINICIAN", [centre])
    elsewhere = await factory.staff("CLINICIAN", [other])
    patient = await factory.patient(centre_id=centre)
    soon = await insert_appointment(factory, patient_id=patient["id"], clinician_id=clinician.clinician_id,
                                    centre_id=centre, hours_from_now=24)
    await insert_appointment(factory, patient_id=patient["id"], clinician_id=clinician.clinician_id,
                             centre_id=centre, hours_from_now=72)
    await insert_appointment(factory, patient_id=patient["id"], clinician_id=clinician.clinician_id,
                             centre_id=centre, hours_from_now=-48, status="COMPLETED")
    await insert_appointment(factory, patient_id=patient["id"], clinician_id=elsewhere.clinician_id,
                             centre_id=other, hours_from_now=5)
    row = data_of(await (await client.get(f"{BASE}/patients", headers=desk.headers)).json())[0]
    assert row["upcomingAppointmentsCount"] == 2 and row["pastAppointmentsCount"] == 1
    [upcoming] = row["upcomingAppointments"]
    assert upcoming["id"] == str(soon) and upcoming["centreName"] == "Here" and upcoming["status"] == "BOOKED"
    assert dt.datetime.fromisoformat(upcoming["scheduledStartAt"]).utcoffset() is not None


async def test_40_update_is_addressed_by_user_id_with_the_form_sent_back(client, factory):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    created = data_of(await (await client.post(f"{BASE}/patients", json=FORM, headers=desk.headers)).json())
    edit = {**FORM, "fullName": "Lakshmi R Menon", "gender": "other", "mrn": "", "bloodGroup": "O+"}
    resp = await client.put(f"{BASE}/patients/{created['userId']}", json=edit, headers=desk.headers)
    assert resp.status == 200, await resp.text()
    updated = data_of(await resp.json())
    assert updated["id"] == created["id"] and updated["fullName"] == "Lakshmi R Menon"
    assert updated["gender"] == "other" and updated["bloodGroup"] == "O+" and updated["mrn"] is None
    # The patient profile id is not a user id: addressing by it finds nobody.
    resp = await client.put(f"{BASE}/patients/{int(created['id']) + 100000}", json=edit, headers=desk.headers)
    assert resp.status == 404


async def test_another_centres_patient_is_not_there_and_a_duplicate_phone_is_refused(client, factory):
    centre, other = await factory.centre(), await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    stranger = await factory.patient(centre_id=other)
    resp = await client.put(f"{BASE}/patients/{stranger['user_id']}", json={"notes": "x"}, headers=desk.headers)
    assert resp.status == 404
    assert data_of(await (await client.get(f"{BASE}/patients", headers=desk.headers)).json()) == []
    await client.post(f"{BASE}/patients", json=FORM, headers=desk.headers)
    resp = await client.post(f"{BASE}/patients", json={**FORM, "mrn": "KOC-0002"}, headers=desk.headers)
    assert resp.status == 409 and refusal_of(await resp.json())[0] == "PATIENT_EXISTS"
    resp = await client.post(f"{BASE}/patients", json={**FORM, "phone": "9846099999"}, headers=desk.headers)
    assert resp.status == 409  # the MRN is one patient's


async def test_search_on_the_server_by_name_or_phone(client, factory):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    await factory.patient(full_name="Anil Kumar", phone="+919846011111", centre_id=centre)
    await factory.patient(full_name="Beena Das", phone="+919846022222", centre_id=centre)
    cases = (("anil", ["Anil Kumar"]), ("9846022222", ["Beena Das"]), ("8460", ["Beena Das", "Anil Kumar"]))
    for search, names in cases:
        rows = data_of(await (await client.get(f"{BASE}/patients", params={"search": search},
                                               headers=desk.headers)).json())
        assert [row["fullName"] for row in rows] == names, search

"""The admin panel's appointment calls: the bodies it sends are accepted, and every field its pages
read is there with the right type and meaning (string ids, names, statuses, instants in the
centre's zone)."""

from __future__ import annotations

import datetime as dt

from tests.legacy_support import BASE, data_of, refusal_of
from tests.scheduling_support import at, future_day, insert_appointment, make_clinic, rows

ROW_STRINGS = ("id", "patient_id", "clinician_id", "centre_id", "patient_name", "clinician_name", "centre_name",
               "appointment_type", "status", "source", "scheduled_start_at", "scheduled_end_at", "created_at")


def check_row(row: dict, clinic, start: dt.datetime) -> None:
    """The fields AllAppointments, CentreAppointments and the clinician's pages read."""
    for name in ROW_STRINGS:
        assert isinstance(row[name], str), name
    assert row["centre_id"] == str(clinic.centre_id) and row["clinician_id"] == str(clinic.clinician_id)
    assert row["clinician_name"] == "Dr Asha Rao" and row["patient_name"] == "Ravi Kumar"
    assert row["patient_phone"] == clinic.patient["phone"] and "patient_mrn" in row
    # The instant, written as the centre's wall clock.
    assert dt.datetime.fromisoformat(row["scheduled_start_at"]) == start
    assert row["scheduled_start_at"].endswith("+05:30") and row["timezone"] == "Asia/Kolkata"
    assert row["local_start_time"] == start.astimezone(clinic.zone).strftime("%H:%M")
    assert isinstance(row["duration_minutes"], int)
    # The dashboard card reads the same facts camelCase.
    assert (row["patientName"], row["clinicianName"], row["scheduledStartAt"]) == (
        row["patient_name"], row["clinician_name"], row["scheduled_start_at"])
    for name in ("notes", "patient_notes", "payment_notes", "payment_method", "blocked_slot_id", "bookedByUserName",
                 "session_started_at", "session_ended_at"):
        assert name in row, name


async def test_the_centres_day_lists_rows_the_panel_reads(client, factory):
    clinic = await make_clinic(factory)
    day = future_day(clinic.zone)
    start = at(day, "10:00", clinic.zone)
    await insert_appointment(factory, clinic, start)
    await insert_appointment(factory, clinic, at(day + dt.timedelta(days=1), "10:00", clinic.zone))
    resp = await client.get(f"{BASE}/appointments", headers=clinic.desk.headers,
                            params={"centreId": str(clinic.centre_id), "date": day.isoformat()})
    assert resp.status == 200
    listed = data_of(await resp.json())
    assert len(listed) == 1
    check_row(listed[0], clinic, start)
    assert listed[0]["status"] == "BOOKED" and listed[0]["local_date"] == day.isoformat()


async def test_without_parameters_the_newest_booking_comes_first(client, factory):
    clinic = await make_clinic(factory)
    later = await insert_appointment(factory, clinic, at(future_day(clinic.zone, 20), "10:00", clinic.zone))
    newest = await insert_appointment(factory, clinic, at(future_day(clinic.zone, 2), "10:00", clinic.zone))
    resp = await client.get(f"{BASE}/appointments", headers=clinic.desk.headers)
    assert [row["id"] for row in data_of(await resp.json())] == [str(newest), str(later)]


async def test_the_clinicians_list_reads_an_online_visits_meet_link_as_google_meet_link(client, factory):
    clinic = await make_clinic(factory)
    online = await insert_appointment(factory, clinic, at(future_day(clinic.zone), "10:00", clinic.zone))
    await factory.fetchone("UPDATE appointments SET appointment_type = 'ONLINE', meet_link = %s WHERE id = %s"
                           " RETURNING id", ("https://meet.google.com/abc-defg-hij", online))
    resp = await client.get(f"{BASE}/appointments", headers=clinic.clinician.headers)
    assert resp.status == 200
    [row] = data_of(await resp.json())
    assert (row["appointment_type"], row["meet_link"], row["google_meet_link"]) == (
        "ONLINE", "https://meet.google.com/abc-defg-hij", "https://meet.google.com/abc-defg-hij")


async def test_booking_by_the_patients_user_id_with_patient_notes(client, factory):
    clinic = await make_clinic(factory)
    # The panel picks patients from its list: those of the desk's centres.
    clinic.patient = await factory.patient(full_name="Ravi Kumar", centre_id=clinic.centre_id)
    start = at(future_day(clinic.zone), "11:00", clinic.zone)
    resp = await client.post(f"{BASE}/appointments", headers=clinic.desk.headers, json={
        "patient_id": clinic.patient["user_id"], "clinician_id": clinic.clinician_id, "centre_id": clinic.centre_id,
        "appointment_type": "IN_PERSON", "scheduled_start_at": start.astimezone(dt.UTC).isoformat().replace(
            "+00:00", "Z"), "duration_minutes": 30, "patient_notes": "Anxious about the visit"})
    assert resp.status == 201, await resp.text()
    row = data_of(await resp.json())
    check_row(row, clinic, start)
    assert row["patient_id"] == str(clinic.patient["id"]) and row["patient_notes"] == "Anxious about the visit"
    assert row["bookedByUserName"] and row["source"] == "ADMIN_FRONT_DESK"
    # A user id that is no patient of the desk's centres books nobody.
    stranger = await factory.patient()
    resp = await client.post(f"{BASE}/appointments", headers=clinic.desk.headers, json={
        "patient_id": stranger["user_id"], "clinician_id": clinic.clinician_id, "centre_id": clinic.centre_id,
        "appointment_type": "IN_PERSON", "scheduled_start_at": start.isoformat(), "duration_minutes": 30})
    assert resp.status == 404
    assert refusal_of(await resp.json())[0] == "PATIENT_NOT_FOUND"


async def test_detail_reschedule_notes_and_cancel(client, factory):
    clinic = await make_clinic(factory)
    manager = await factory.staff("CENTRE_MANAGER", [clinic.centre_id])
    day = future_day(clinic.zone)
    appointment_id = await insert_appointment(factory, clinic, at(day, "10:00", clinic.zone))
    resp = await client.get(f"{BASE}/appointments/{appointment_id}", headers=clinic.desk.headers)
    check_row(data_of(await resp.json()), clinic, at(day, "10:00", clinic.zone))
    resp = await client.patch(f"{BASE}/appointments/{appointment_id}/notes", headers=manager.headers,
                              json={"notes": "Bring reports"})
    assert resp.status == 200 and data_of(await resp.json())["notes"] == "Bring reports"
    moved = at(day, "12:00", clinic.zone)
    # The reschedule form sends the centre's wall clock without an offset.
    resp = await client.put(f"{BASE}/appointments/{appointment_id}", headers=manager.headers,
                            json={"scheduledStartAt": f"{day.isoformat()}T12:00:00"})
    assert resp.status == 200
    child = data_of(await resp.json())
    assert child["id"] != str(appointment_id) and child["parent_appointment_id"] == str(appointment_id)
    assert dt.datetime.fromisoformat(child["scheduled_start_at"]) == moved and child["notes"] == "Bring reports"
    resp = await client.delete(f"{BASE}/appointments/{child['id']}", headers=clinic.desk.headers,
                               json={"reason": "Cancelled by staff"})
    assert resp.status == 200 and data_of(await resp.json())["status"] == "CANCELLED"
    assert await rows(factory, "SELECT status FROM appointments ORDER BY id") == [("RESCHEDULED",), ("CANCELLED",)]
    resp = await client.delete(f"{BASE}/appointments/{child['id']}", headers=clinic.desk.headers)
    assert resp.status == 400 and refusal_of(await resp.json())[2] == {"reason": ["Missing data for required field."]}


async def test_another_centres_appointment_is_refused(client, factory):
    clinic = await make_clinic(factory)
    other = await make_clinic(factory)
    appointment_id = await insert_appointment(factory, other, at(future_day(other.zone), "10:00", other.zone))
    resp = await client.get(f"{BASE}/appointments/{appointment_id}", headers=clinic.desk.headers)
    assert resp.status == 403 and refusal_of(await resp.json())[0] == "CENTRE_FORBIDDEN"
    resp = await client.get(f"{BASE}/appointments", headers=clinic.desk.headers,
                            params={"centreId": str(other.centre_id)})
    assert resp.status == 403


async def test_front_desk_booking_finds_the_patient_by_a_phone_in_another_format(client, factory):
    clinic = await make_clinic(factory)
    day = future_day(clinic.zone)
    local = clinic.patient["phone"][3:]  # +9197xxxxxxxx typed as 97xxxxxxxx
    resp = await client.post(f"{BASE}/booking/front-desk", headers=clinic.desk.headers, json={
        "clinicianId": clinic.clinician_id, "centreId": clinic.centre_id, "patientPhone": f"0{local}",
        "patientName": "Someone Else", "patientEmail": "", "appointmentType": "IN_PERSON",
        "appointmentDate": day.isoformat(), "appointmentTime": "10:30", "notes": "Walk-in"})
    assert resp.status == 201, await resp.text()
    booked = data_of(await resp.json())
    assert booked["patient"] == {"id": str(clinic.patient["id"]), "name": "Ravi Kumar",
                                 "phone": clinic.patient["phone"], "email": booked["patient"]["email"],
                                 "registered": False}
    appointment = booked["appointment"]
    assert int(appointment["id"]) > 0 and appointment["status"] == "BOOKED"
    assert appointment["scheduledStartAt"] == at(day, "10:30", clinic.zone).isoformat()
    assert booked["clinician"]["name"] == "Dr Asha Rao" and booked["clinician"]["consultationFee"] == 1000.0
    assert booked["centre"]["id"] == str(clinic.centre_id) and booked["centre"]["address"] == "1 Test Road"
    assert booked["paymentRequired"] is True and booked["amount"] == 1000.0
    assert await rows(factory, "SELECT count(*) FROM patient_profiles") == [(1,)]
    assert await rows(factory, "SELECT patient_id, scheduled_start_at FROM appointments") == [
        (clinic.patient["id"], at(day, "10:30", clinic.zone))]


async def test_front_desk_booking_registers_a_new_phone_at_the_centre(client, factory):
    clinic = await make_clinic(factory)
    resp = await client.post(f"{BASE}/booking/front-desk", headers=clinic.desk.headers, json={
        "clinicianId": clinic.clinician_id, "centreId": clinic.centre_id, "patientPhone": "+91 98111-22334",
        "patientName": "Meera Nair", "appointmentType": "IN_PERSON",
        "appointmentDate": future_day(clinic.zone).isoformat(), "appointmentTime": "09:00"})
    assert resp.status == 201
    patient = data_of(await resp.json())["patient"]
    assert patient["registered"] is True and patient["phone"] == "+919811122334" and patient["name"] == "Meera Nair"
    assert await rows(factory, "SELECT u.full_name, pp.registered_centre_id FROM patient_profiles pp"
                               " JOIN users u ON u.id = pp.user_id WHERE u.phone = '+919811122334'") == [
        ("Meera Nair", clinic.centre_id)]
    # A slot outside the clinician's hours is refused, and nothing of the walk-in is kept.
    resp = await client.post(f"{BASE}/booking/front-desk", headers=clinic.desk.headers, json={
        "clinicianId": clinic.clinician_id, "centreId": clinic.centre_id, "patientPhone": "9822233344",
        "patientName": "Late Comer", "appointmentType": "IN_PERSON",
        "appointmentDate": future_day(clinic.zone).isoformat(), "appointmentTime": "22:00"})
    assert resp.status == 422 and refusal_of(await resp.json())[1]
    assert await rows(factory, "SELECT count(*) FROM users WHERE phone = '+919822233344'") == [(0,)]


async def test_payment_link_and_desk_payment_at_the_panels_paths(client, factory):
    clinic = await make_clinic(factory)
    day = future_day(clinic.zone)
    first = await insert_appointment(factory, clinic, at(day, "10:00", clinic.zone))
    resp = await client.post(f"{BASE}/appointments/{first}/send-payment-link", headers=clinic.desk.headers)
    assert resp.status == 200
    link = data_of(await resp.json())
    assert link["amount"] == 1000.0 and link["whatsappSent"] is False and link["requestedNow"] is True
    assert "paymentLink" in link and "expiresAt" in link
    resp = await client.post(f"{BASE}/payment/send-link", headers=clinic.desk.headers,
                             json={"appointmentId": first, "patientPhone": "9800000000", "patientName": "X"})
    assert data_of(await resp.json())["paymentId"] == link["paymentId"]  # one open link, not two
    second = await insert_appointment(factory, clinic, at(day, "11:00", clinic.zone))
    resp = await client.post(f"{BASE}/appointments/{second}/confirm-direct-payment", headers=clinic.desk.headers,
                             json={"paymentMethod": "UPI", "paymentNotes": "Paid by GPay"})
    assert resp.status == 200
    done = data_of(await resp.json())
    assert done["appointment"] == {"id": str(second), "status": "CONFIRMED"}
    assert done["payment"]["method"] == "UPI" and done["payment"]["status"] == "SUCCESS"
    assert done["payment"]["amount"] == 1000.0
    resp = await client.get(f"{BASE}/appointments/{second}", headers=clinic.desk.headers)
    row = data_of(await resp.json())
    assert (row["payment_method"], row["payment_notes"]) == ("UPI", "Paid by GPay")
    resp = await client.post(f"{BASE}/appointments/{second}/confirm-direct-payment", headers=clinic.desk.headers,
                             json={"paymentMethod": "CHEQUE"})
    assert resp.status == 400 and "paymentMethod" in refusal_of(await resp.json())[2]


async def test_filters_the_panel_sends_and_a_status_change(client, factory):
    clinic = await make_clinic(factory)
    colleague = await factory.staff("CLINICIAN", [clinic.centre_id])
    manager = await factory.staff("CENTRE_MANAGER", [clinic.centre_id])
    day = future_day(clinic.zone)
    mine = await insert_appointment(factory, clinic, at(day, "10:00", clinic.zone))
    confirmed = await insert_appointment(factory, clinic, at(day, "11:00", clinic.zone), status="CONFIRMED")
    await factory.fetchone("INSERT INTO appointments (patient_id, clinician_id, centre_id, appointment_type,"
                           " scheduled_start_at, scheduled_end_at, duration_minutes, status, source)"
                           " VALUES (%s, %s, %s, 'IN_PERSON', %s, %s, 30, 'BOOKED', 'ADMIN_FRONT_DESK') RETURNING id",
                           (clinic.patient["id"], colleague.clinician_id, clinic.centre_id,
                            at(day, "12:00", clinic.zone), at(day, "12:30", clinic.zone)))
    resp = await client.get(f"{BASE}/appointments", headers=clinic.desk.headers,
                            params={"clinicianId": str(clinic.clinician_id), "status": "CONFIRMED"})
    assert [row["id"] for row in data_of(await resp.json())] == [str(confirmed)]
    resp = await client.get(f"{BASE}/appointments", headers=clinic.desk.headers,
                            params={"patientId": str(clinic.patient["id"]), "date": day.isoformat()})
    assert len(data_of(await resp.json())) == 3
    resp = await client.get(f"{BASE}/appointments", headers=clinic.desk.headers, params={"status": "LATE"})
    assert resp.status == 400 and "status" in refusal_of(await resp.json())[2]
    resp = await client.put(f"{BASE}/appointments/{mine}", headers=manager.headers, json={"status": "CONFIRMED"})
    assert resp.status == 200 and data_of(await resp.json())["status"] == "CONFIRMED"
    resp = await client.put(f"{BASE}/appointments/{mine}", headers=manager.headers, json={"status": "BOOKED"})
    assert resp.status == 422 and refusal_of(await resp.json())[0] == "INVALID_TRANSITION"
    # The spec's permissions: a front desk does not change a status.
    resp = await client.put(f"{BASE}/appointments/{mine}", headers=clinic.desk.headers, json={"status": "NO_SHOW"})
    assert resp.status == 403
    assert await rows(factory, "SELECT status FROM appointments WHERE id = %s", (mine,)) == [("CONFIRMED",)]

"""The patient website's booking routes over HTTP: book, list, read, cancel."""

import asyncio
import datetime as dt

from tests.scheduling_support import at, future_day, insert_appointment, make_clinic, rows


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def booking_body(clinic, day, time="10:00", **overrides):
    start = at(day, time, clinic.zone)
    body = {"clinicianId": clinic.clinician_id, "centreId": clinic.centre_id, "appointmentDate": day.isoformat(),
            "appointmentTime": time, "appointmentType": "ONLINE",
            "appointmentDateUTC": start.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")}
    return body | overrides


async def signed_in_patient(factory, **kwargs):
    patient = await factory.patient(**kwargs)
    return patient, bearer(await factory.patient_token(patient))


async def test_the_site_books_a_wall_clock_slot_in_the_centres_zone(client, factory):
    clinic = await make_clinic(factory)
    patient, headers = await signed_in_patient(factory)
    day = future_day(clinic.zone, 5)
    resp = await client.post("/api/booking/create", headers=headers,
                             json=booking_body(clinic, day, patientNotes="First visit"))
    assert resp.status == 201, await resp.text()
    appointment = (await resp.json())["data"]["appointment"]
    assert appointment["patientId"] == patient["id"] and appointment["status"] == "BOOKED"
    assert appointment["source"] == "WEB_PATIENT" and appointment["notes"] == "First visit"
    assert dt.datetime.fromisoformat(appointment["scheduledStartAt"]) == at(day, "10:00", clinic.zone)
    assert (await rows(factory, "SELECT booked_by_user_id FROM appointments"))[0][0] == patient["user_id"]
    # A hold until it is paid: no "booked" message (the payment's confirmation tells the patient).
    assert await rows(factory, "SELECT actor_name FROM outbox WHERE actor_name = 'appointment_booked'") == []
    audit = await rows(factory, "SELECT actor_kind, surface FROM audit_log WHERE action = 'appointment.create'")
    assert audit == [("PATIENT", "PATIENT_WEB")]


async def test_a_utc_instant_that_disagrees_is_refused_naming_it(client, factory):
    clinic = await make_clinic(factory)
    _, headers = await signed_in_patient(factory)
    day = future_day(clinic.zone, 5)
    # What a browser in another zone computes for "10:00".
    wrong = dt.datetime.combine(day, dt.time(10), dt.UTC).isoformat()
    resp = await client.post("/api/booking/create", headers=headers,
                             json=booking_body(clinic, day, appointmentDateUTC=wrong))
    assert resp.status == 422
    body = await resp.json()
    assert "appointmentDateUTC" in body["error"]["details"] and body["message"] == body["error"]["message"]
    assert await rows(factory, "SELECT id FROM appointments") == []
    without = booking_body(clinic, day)
    del without["appointmentDateUTC"]
    assert (await client.post("/api/booking/create", headers=headers, json=without)).status == 201


async def test_the_staff_rules_hold_for_website_bookings(client, factory):
    clinic = await make_clinic(factory, start="09:00", end="12:00")
    _, headers = await signed_in_patient(factory)
    day = future_day(clinic.zone, 5)
    await insert_appointment(factory, clinic, at(day, "10:00", clinic.zone))
    taken = await client.post("/api/booking/create", headers=headers, json=booking_body(clinic, day))
    assert taken.status == 409
    outside = await client.post("/api/booking/create", headers=headers, json=booking_body(clinic, day, "18:00"))
    assert outside.status == 422
    assert (await outside.json())["error"]["code"] == "OUTSIDE_AVAILABILITY"
    phone = await client.post("/api/booking/create", headers=headers,
                              json=booking_body(clinic, day, "11:00", appointmentType="PHONE"))
    assert phone.status == 400 and "appointmentType" in (await phone.json())["error"]["details"]


async def test_two_patients_racing_for_one_slot_one_wins(client, factory):
    clinic = await make_clinic(factory)
    day = future_day(clinic.zone, 5)
    racers = [(await signed_in_patient(factory))[1] for _ in range(4)]
    answers = await asyncio.gather(*(client.post("/api/booking/create", headers=headers,
                                                 json=booking_body(clinic, day)) for headers in racers))
    assert sorted(resp.status for resp in answers) == [201, 409, 409, 409]


async def test_a_patient_sees_and_cancels_only_their_own(client, factory):
    clinic = await make_clinic(factory)
    me, mine = await signed_in_patient(factory)
    _, theirs = await signed_in_patient(factory)
    day = future_day(clinic.zone, 5)
    own = (await (await client.post("/api/booking/create", headers=mine, json=booking_body(clinic, day)))
           .json())["data"]["appointment"]
    other = (await (await client.post("/api/booking/create", headers=theirs,
                                      json=booking_body(clinic, day, "11:00"))).json())["data"]["appointment"]
    listed = await client.get("/api/booking/my-appointments", headers=mine)
    body = await listed.json()
    assert [a["id"] for a in body["data"]] == [own["id"]] and body["meta"]["total"] == 1
    assert (await client.get(f"/api/booking/{own['id']}", headers=mine)).status == 200
    for path in (f"/api/booking/{other['id']}",):
        assert (await client.get(path, headers=mine)).status == 404
    for path in (f"/api/booking/{other['id']}/cancel", f"/api/patient/appointments/{other['id']}/cancel"):
        resp = await client.post(path, headers=mine, json={"reason": "x"})
        assert resp.status == 404
    cancelled = await client.post(f"/api/patient/appointments/{own['id']}/cancel", headers=mine,
                                  json={"reason": "Feeling better"})
    assert cancelled.status == 200
    data = (await cancelled.json())["data"]
    assert data["status"] == "CANCELLED" and data["cancellationReason"] == "Feeling better"
    assert me["id"] == data["patientId"]
    again = await client.post(f"/api/booking/{own['id']}/cancel", headers=mine)
    assert again.status == 422
    statuses = await rows(factory, "SELECT id, status FROM appointments ORDER BY id")
    assert statuses == [(own["id"], "CANCELLED"), (other["id"], "BOOKED")]


async def test_cancelling_after_the_cut_off_is_refused_naming_it(client, factory, aiohttp_client, settings, pool,
                                                                redis):
    clinic = await make_clinic(factory)
    patient, headers = await signed_in_patient(factory)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(hours=20)
    appointment_id = await insert_appointment(factory, clinic, soon, patient_id=patient["id"])
    resp = await client.post(f"/api/booking/{appointment_id}/cancel", headers=headers, json={})
    assert resp.status == 422
    error = (await resp.json())["error"]
    assert error["code"] == "CANCELLATION_CUTOFF_PASSED" and error["details"]["cutoffHours"] == 24
    assert "24 hours" in error["message"]
    from mibo.api.app import init_app
    shorter = await aiohttp_client(init_app(settings.replace(patient_cancel_cutoff_hours=12), pool=pool,
                                            redis=redis))
    assert (await shorter.post(f"/api/booking/{appointment_id}/cancel", headers=headers, json={})).status == 200

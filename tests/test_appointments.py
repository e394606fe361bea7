"""Booking, reading, listing, rescheduling and cancelling appointments over HTTP (real database)."""

from __future__ import annotations

import asyncio
import datetime as dt

import psycopg2
import pytest

from tests.scheduling_support import (
    add_rule,
    at,
    booking,
    future_day,
    insert_appointment,
    make_clinic,
    rows,
    set_clinician,
)

UTC = dt.UTC


async def post(client, user, body):
    resp = await client.post("/api/appointments", json=body, headers=user.headers)
    return resp.status, await resp.json()


# --- create ---------------------------------------------------------------------------


async def test_front_desk_books_an_appointment(client, factory):
    clinic = await make_clinic(factory)
    start = at(future_day(clinic.zone), "10:00", clinic.zone)
    status, body = await post(client, clinic.desk, booking(clinic, start, notes="First visit"))
    assert status == 201, body
    data = body["data"]
    assert data["status"] == "BOOKED"
    assert data["patientId"] == clinic.patient["id"] and data["patientName"] == "Ravi Kumar"
    assert data["clinicianId"] == clinic.clinician_id and data["clinicianName"] == "Dr Asha Rao"
    assert data["centreId"] == clinic.centre_id and data["timezone"] == "Asia/Kolkata"
    assert data["scheduledStartAt"] == start.astimezone(UTC).isoformat()
    assert data["scheduledEndAt"] == (start + dt.timedelta(minutes=30)).astimezone(UTC).isoformat()
    assert data["source"] == "ADMIN_FRONT_DESK" and data["bookedByUserId"] == clinic.desk.id
    assert data["notes"] == "First visit" and data["parentAppointmentId"] is None
    appointment_id = data["id"]
    history = await rows(
        factory,
        "SELECT from_status, to_status, changed_by_user_id FROM appointment_status_history"
        " WHERE appointment_id = %s",
        (appointment_id,),
    )
    assert history == [(None, "BOOKED", clinic.desk.id)]
    outbox = await rows(factory, "SELECT actor_name, args FROM outbox")
    assert outbox == [("appointment_booked", [appointment_id])]
    audit = await rows(factory, "SELECT action, entity_id, centre_id, actor_user_id FROM audit_log")
    assert audit == [("appointment.create", appointment_id, clinic.centre_id, clinic.desk.id)]


@pytest.mark.parametrize(
    "role, source",
    [
        ("CARE_COORDINATOR", "ADMIN_CARE_COORDINATOR"),
        ("CENTRE_MANAGER", "ADMIN_MANAGER"),
        ("MANAGER", "ADMIN_MANAGER"),
        ("ADMIN", "ADMIN_MANAGER"),
    ],
)
async def test_source_follows_the_callers_role(client, factory, role, source):
    clinic = await make_clinic(factory)
    user = await factory.staff(role, [clinic.centre_id])
    status, body = await post(
        client, user, booking(clinic, at(future_day(clinic.zone), "11:00", clinic.zone))
    )
    assert status == 201, body
    assert body["data"]["source"] == source


async def test_default_duration_is_the_clinicians(client, factory):
    clinic = await make_clinic(factory)
    await set_clinician(factory, clinic.clinician_id, default_consultation_duration_minutes=45)
    body = booking(clinic, at(future_day(clinic.zone), "10:00", clinic.zone))
    del body["durationMinutes"]
    status, response = await post(client, clinic.desk, body)
    assert status == 201
    assert response["data"]["durationMinutes"] == 45


async def test_kolkata_nine_am_is_accepted(client, factory):
    clinic = await make_clinic(factory, "Asia/Kolkata")
    day = future_day(clinic.zone)
    status, body = await post(client, clinic.desk, booking(clinic, at(day, "09:00", clinic.zone)))
    assert status == 201, body
    assert body["data"]["scheduledStartAt"].endswith("T03:30:00+00:00")
    # The same instant written in UTC is accepted as well (the next week's Monday, no clash).
    next_week = at(day + dt.timedelta(days=7), "09:00", clinic.zone).astimezone(UTC)
    status, body = await post(client, clinic.desk, booking(clinic, next_week))
    assert status == 201, body


async def test_clinician_cannot_book(client, factory):
    clinic = await make_clinic(factory)
    status, body = await post(
        client, clinic.clinician, booking(clinic, at(future_day(clinic.zone), "10:00", clinic.zone))
    )
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")


async def test_cross_centre_booking_denied(client, factory):
    clinic = await make_clinic(factory)
    other_desk = await factory.staff("FRONT_DESK", [await factory.centre()])
    status, body = await post(
        client, other_desk, booking(clinic, at(future_day(clinic.zone), "10:00", clinic.zone))
    )
    assert (status, body["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    assert await rows(factory, "SELECT id FROM appointments") == []


@pytest.mark.parametrize(
    "change, field",
    [
        ({"scheduledStartAt": "2027-01-04T10:00:00"}, "scheduledStartAt"),  # no offset
        ({"scheduledStartAt": "tomorrow"}, "scheduledStartAt"),
        ({"patientId": None}, "patientId"),
        ({"patientId": "x"}, "patientId"),
        ({"clinicianId": 0}, "clinicianId"),
        ({"appointmentType": "HOUSE_CALL"}, "appointmentType"),
        ({"durationMinutes": 4}, "durationMinutes"),
        ({"durationMinutes": 481}, "durationMinutes"),
        ({"centre": 1}, "centre"),
    ],
)
async def test_create_validation(client, factory, change, field):
    clinic = await make_clinic(factory)
    body = booking(clinic, at(future_day(clinic.zone), "10:00", clinic.zone), **change)
    status, response = await post(client, clinic.desk, body)
    assert status == 400, response
    assert response["error"]["code"] == "VALIDATION_ERROR"
    assert field in response["error"]["details"]


async def test_create_requires_fields(client, factory):
    clinic = await make_clinic(factory)
    status, body = await post(client, clinic.desk, {})
    assert status == 400
    assert set(body["error"]["details"]) == {
        "patientId",
        "clinicianId",
        "centreId",
        "appointmentType",
        "scheduledStartAt",
    }


async def test_missing_patient_clinician_or_centre(client, factory):
    clinic = await make_clinic(factory)
    start = at(future_day(clinic.zone), "10:00", clinic.zone)
    admin = await factory.staff("ADMIN")
    for change, code in (
        ({"patientId": 999999}, "PATIENT_NOT_FOUND"),
        ({"clinicianId": 999999}, "CLINICIAN_NOT_FOUND"),
        ({"centreId": 999999}, "CENTRE_NOT_FOUND"),
    ):
        status, body = await post(client, admin, booking(clinic, start, **change))
        assert (status, body["error"]["code"]) == (404, code)
    await set_clinician(factory, clinic.clinician_id, is_active=False)
    status, body = await post(client, admin, booking(clinic, start))
    assert (status, body["error"]["code"]) == (422, "CLINICIAN_INACTIVE")


async def test_slot_must_be_inside_availability(client, factory):
    clinic = await make_clinic(factory, days=[0])  # Mondays only, 09:00-17:00
    day = future_day(clinic.zone)
    monday = day + dt.timedelta(days=(7 - day.weekday()) % 7)
    for start in (
        at(monday, "08:30", clinic.zone),
        at(monday, "16:45", clinic.zone),
        at(monday + dt.timedelta(days=1), "10:00", clinic.zone),
    ):
        status, body = await post(client, clinic.desk, booking(clinic, start))
        assert (status, body["error"]["code"]) == (422, "OUTSIDE_AVAILABILITY"), start
    # Rules belong to a centre: the same hours at another centre are outside availability.
    other_centre = await factory.centre()
    admin = await factory.staff("ADMIN")
    status, body = await post(
        client, admin, booking(clinic, at(monday, "10:00", clinic.zone), centreId=other_centre)
    )
    assert (status, body["error"]["code"]) == (422, "OUTSIDE_AVAILABILITY")


async def test_notice_horizon_and_past(client, factory):
    clinic = await make_clinic(factory, start="00:00", end="23:30")
    await set_clinician(factory, clinic.clinician_id, min_notice_minutes=24 * 60, booking_horizon_days=10)
    now = dt.datetime.now(UTC)
    past = (now - dt.timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    soon = (now + dt.timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    far = at(future_day(clinic.zone, 20), "10:00", clinic.zone)
    for start, code in ((past, "SLOT_IN_PAST"), (soon, "MIN_NOTICE"), (far, "BEYOND_HORIZON")):
        if start.astimezone(clinic.zone).time() >= dt.time(23):
            continue  # outside the rule window on that local day
        status, body = await post(client, clinic.desk, booking(clinic, start))
        assert (status, body["error"]["code"]) == (422, code), body


async def test_blocked_buffered_and_capped_slots_are_refused(client, factory):
    clinic = await make_clinic(factory)
    await set_clinician(factory, clinic.clinician_id, buffer_after_minutes=15, max_daily_appointments=2)
    day = future_day(clinic.zone)
    await insert_appointment(factory, clinic, at(day, "10:00", clinic.zone))
    await factory.block(clinic.clinician_id, at(day, "14:00", clinic.zone), at(day, "15:00", clinic.zone),
                        "Ward round")
    cases = (
        ("14:30", 409, "SLOT_BLOCKED"),
        ("10:30", 409, "SLOT_UNAVAILABLE"),
        ("10:15", 409, "SLOT_UNAVAILABLE"),
    )
    for wall, status_code, code in cases:
        status, body = await post(client, clinic.desk, booking(clinic, at(day, wall, clinic.zone)))
        assert (status, body["error"]["code"]) == (status_code, code), wall
    assert (await post(client, clinic.desk, booking(clinic, at(day, "11:00", clinic.zone))))[0] == 201
    other = await factory.patient()
    status, body = await post(
        client, clinic.desk, booking(clinic, at(day, "12:00", clinic.zone), patientId=other["id"])
    )
    assert (status, body["error"]["code"]) == (409, "DAILY_CAP_REACHED")


async def test_partial_overlaps_are_refused(client, factory):
    clinic = await make_clinic(factory)
    day = future_day(clinic.zone)
    assert (
        await post(client, clinic.desk, booking(clinic, at(day, "10:00", clinic.zone), durationMinutes=60))
    )[0] == 201
    for wall, minutes in (("09:45", 30), ("10:30", 60), ("10:15", 15), ("09:00", 120)):
        patient = await factory.patient()
        status, body = await post(
            client,
            clinic.desk,
            booking(clinic, at(day, wall, clinic.zone), durationMinutes=minutes, patientId=patient["id"]),
        )
        assert (status, body["error"]["code"]) == (409, "SLOT_UNAVAILABLE"), wall
    # Touching is not overlapping.
    patient = await factory.patient()
    status, _ = await post(
        client, clinic.desk, booking(clinic, at(day, "11:00", clinic.zone), patientId=patient["id"])
    )
    assert status == 201


async def test_patient_cannot_be_in_two_places(client, factory):
    clinic = await make_clinic(factory)
    second = await factory.staff("CLINICIAN", [clinic.centre_id])
    for weekday in range(7):
        await add_rule(factory, second.clinician_id, clinic.centre_id, weekday)
    day = future_day(clinic.zone)
    assert (await post(client, clinic.desk, booking(clinic, at(day, "10:00", clinic.zone))))[0] == 201
    status, body = await post(
        client, clinic.desk, booking(clinic, at(day, "10:15", clinic.zone), clinicianId=second.clinician_id)
    )
    assert (status, body["error"]["code"]) == (409, "PATIENT_BUSY")
    assert body["error"]["details"] == {"scheduledStartAt": ["The patient already has an appointment then"]}


async def test_fifty_simultaneous_bookings_of_one_slot(client, factory):
    clinic = await make_clinic(factory)
    start = at(future_day(clinic.zone), "10:00", clinic.zone)
    patients = [await factory.patient() for _ in range(50)]
    results = await asyncio.gather(
        *(post(client, clinic.desk, booking(clinic, start, patientId=patient["id"])) for patient in patients)
    )
    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 1
    assert statuses.count(409) == 49
    assert {body["error"]["code"] for status, body in results if status == 409} == {"SLOT_UNAVAILABLE"}
    assert await rows(factory, "SELECT count(*) FROM appointments") == [(1,)]
    assert await rows(factory, "SELECT count(*) FROM outbox") == [(1,)]


async def book_all(client, clinic, factory, starts) -> list[tuple[int, str | None]]:
    patients = [await factory.patient() for _ in starts]

    async def one(patient, start):
        resp = await client.post("/api/appointments", headers=clinic.desk.headers,
                                 json=booking(clinic, start, patientId=patient["id"]))
        body = await resp.json()
        return resp.status, None if resp.status == 201 else body["error"]["code"]

    return await asyncio.gather(*(one(p, s) for p, s in zip(patients, starts, strict=True)))


async def test_eight_concurrent_bookings_against_a_daily_cap_of_one_give_one_201(client, factory):
    clinic = await make_clinic(factory)
    await set_clinician(factory, clinic.clinician_id, max_daily_appointments=1)
    day = future_day(clinic.zone)
    starts = [at(day, f"{9 + i:02d}:00", clinic.zone) for i in range(8)]  # eight different, free slots
    answers = await book_all(client, clinic, factory, starts)
    assert sorted(answers, key=str) == sorted([(201, None)] + [(409, "DAILY_CAP_REACHED")] * 7, key=str), answers
    assert len(await rows(factory, "SELECT id FROM appointments")) == 1


async def test_concurrent_bookings_never_break_a_buffer(client, factory):
    clinic = await make_clinic(factory)
    await set_clinician(factory, clinic.clinician_id, buffer_after_minutes=30)
    day = future_day(clinic.zone)
    # 10:00 and 10:30 never overlap (the exclusion constraint allows both); the buffer allows one.
    starts = [at(day, "10:00", clinic.zone), at(day, "10:30", clinic.zone)] * 4
    answers = await book_all(client, clinic, factory, starts)
    assert [status for status, _ in answers].count(201) == 1, answers
    assert {code for status, code in answers if status != 201} == {"SLOT_UNAVAILABLE"}
    assert len(await rows(factory, "SELECT id FROM appointments")) == 1


async def test_the_database_refuses_overlaps_on_its_own(factory):
    clinic = await make_clinic(factory)
    start = at(future_day(clinic.zone), "10:00", clinic.zone)
    await insert_appointment(factory, clinic, start)
    other = await factory.patient()
    with pytest.raises(psycopg2.errors.ExclusionViolation, match="appointments_no_clinician_overlap"):
        await insert_appointment(factory, clinic, start + dt.timedelta(minutes=10), patient_id=other["id"])
    # A cancelled appointment frees the time.
    await factory.fetchone("UPDATE appointments SET status = 'CANCELLED' RETURNING id")
    await insert_appointment(factory, clinic, start + dt.timedelta(minutes=10), patient_id=other["id"])


# --- read and list --------------------------------------------------------------------


async def test_get_appointment_scoping(client, factory):
    clinic = await make_clinic(factory)
    appointment_id = await insert_appointment(
        factory, clinic, at(future_day(clinic.zone), "10:00", clinic.zone)
    )
    url = f"/api/appointments/{appointment_id}"
    resp = await client.get(url, headers=clinic.desk.headers)
    body = await resp.json()
    assert resp.status == 200
    assert body["data"]["id"] == appointment_id and body["data"]["patientName"] == "Ravi Kumar"
    assert (await client.get(url, headers=clinic.clinician.headers)).status == 200
    other_clinician = await factory.staff("CLINICIAN", [clinic.centre_id])
    resp = await client.get(url, headers=other_clinician.headers)
    assert (resp.status, (await resp.json())["error"]["code"]) == (403, "NOT_OWN_APPOINTMENT")
    other_desk = await factory.staff("FRONT_DESK", [await factory.centre()])
    resp = await client.get(url, headers=other_desk.headers)
    assert (resp.status, (await resp.json())["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    manager = await factory.staff("MANAGER")
    assert (await client.get(url, headers=manager.headers)).status == 200
    resp = await client.get("/api/appointments/999999", headers=clinic.desk.headers)
    assert resp.status == 404


async def list_ids(client, user, **params):
    resp = await client.get(
        "/api/appointments", params={k: str(v) for k, v in params.items()}, headers=user.headers
    )
    body = await resp.json()
    assert resp.status == 200, body
    return [item["id"] for item in body["data"]], body["meta"]


async def test_list_scoping_filters_and_pages(client, factory):
    clinic = await make_clinic(factory)
    day = future_day(clinic.zone)
    first = await insert_appointment(factory, clinic, at(day, "10:00", clinic.zone))
    second = await insert_appointment(factory, clinic, at(day, "11:00", clinic.zone), status="CONFIRMED")
    next_day = await insert_appointment(factory, clinic, at(day + dt.timedelta(days=1), "10:00", clinic.zone))
    elsewhere = await make_clinic(factory)
    foreign = await insert_appointment(factory, elsewhere, at(day, "10:00", elsewhere.zone))
    admin = await factory.staff("ADMIN")

    assert (await list_ids(client, admin))[0] == [first, foreign, second, next_day]
    assert (await list_ids(client, clinic.desk))[0] == [first, second, next_day]
    assert (await list_ids(client, clinic.clinician))[0] == [first, second, next_day]
    assert (await list_ids(client, elsewhere.clinician))[0] == [foreign]
    assert (await list_ids(client, admin, centreId=elsewhere.centre_id))[0] == [foreign]
    assert (await list_ids(client, admin, clinicianId=clinic.clinician_id, status="CONFIRMED"))[0] == [second]
    assert (await list_ids(client, admin, patientId=elsewhere.patient["id"]))[0] == [foreign]
    assert (await list_ids(client, clinic.desk, date=day))[0] == [first, second]
    assert (
        await list_ids(
            client, clinic.desk, **{"from": day + dt.timedelta(days=1), "to": day + dt.timedelta(days=5)}
        )
    )[0] == [next_day]
    ids, meta = await list_ids(client, admin, limit=2, offset=1)
    assert ids == [foreign, second] and meta == {"total": 4, "limit": 2, "offset": 1}
    ids, meta = await list_ids(client, admin, offset=10)
    assert ids == [] and meta["total"] == 4

    resp = await client.get(
        "/api/appointments", params={"centreId": str(elsewhere.centre_id)}, headers=clinic.desk.headers
    )
    assert (resp.status, (await resp.json())["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    resp = await client.get("/api/appointments", headers=admin.headers)
    item = (await resp.json())["data"][0]
    assert item["patientName"] == "Ravi Kumar" and item["clinicianName"] == "Dr Asha Rao"


async def test_list_dates_are_local_to_the_centre(client, factory):
    clinic = await make_clinic(factory, "Asia/Kolkata", start="00:00", end="23:30")
    day = future_day(clinic.zone)
    # 00:30 IST is 19:00Z the evening before: it belongs to `day` in Kolkata.
    early = await insert_appointment(factory, clinic, at(day, "00:30", clinic.zone))
    late = await insert_appointment(factory, clinic, at(day, "23:00", clinic.zone))
    assert (await list_ids(client, clinic.desk, date=day))[0] == [early, late]
    assert (await list_ids(client, clinic.desk, date=day - dt.timedelta(days=1)))[0] == []


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": "101"}, "limit"),
        ({"status": "LOST"}, "status"),
        ({"date": "2027-02-30"}, "date"),
        ({"from": "2027-02-10", "to": "2027-02-01"}, "to"),
        ({"centreId": "-1"}, "centreId"),
    ],
)
async def test_list_validation(client, factory, params, field):
    clinic = await make_clinic(factory)
    resp = await client.get("/api/appointments", params=params, headers=clinic.desk.headers)
    body = await resp.json()
    assert resp.status == 400
    assert field in body["error"]["details"]


# --- reschedule, notes, cancel --------------------------------------------------------


async def put(client, user, appointment_id, body):
    resp = await client.put(f"/api/appointments/{appointment_id}", json=body, headers=user.headers)
    return resp.status, await resp.json()


async def test_reschedule_creates_a_linked_appointment_and_moves_the_payment(client, factory):
    clinic = await make_clinic(factory)
    coordinator = await factory.staff("CARE_COORDINATOR", [clinic.centre_id])
    day = future_day(clinic.zone)
    original = await insert_appointment(factory, clinic, at(day, "10:00", clinic.zone), status="CONFIRMED")
    await factory.payment(patient_id=clinic.patient["id"], appointment_id=original, status="SUCCESS")
    new_start = at(day, "10:15", clinic.zone)  # overlaps the original's own slot: that is fine
    status, body = await put(
        client, coordinator, original, {"scheduledStartAt": new_start.isoformat(), "reason": "Patient asked"}
    )
    assert status == 200, body
    data = body["data"]
    new_id = data["id"]
    assert new_id != original and data["parentAppointmentId"] == original
    assert data["status"] == "CONFIRMED" and data["scheduledStartAt"] == new_start.astimezone(UTC).isoformat()
    assert await rows(factory, "SELECT status FROM appointments WHERE id = %s", (original,)) == [
        ("RESCHEDULED",)
    ]
    assert await rows(factory, "SELECT appointment_id FROM payments") == [(new_id,)]
    assert await rows(factory, "SELECT actor_name, args FROM outbox") == [
        ("appointment_rescheduled", [original, new_id])
    ]
    history = await rows(
        factory,
        "SELECT appointment_id, from_status, to_status, reason FROM appointment_status_history ORDER BY id",
    )
    assert history == [
        (original, "CONFIRMED", "RESCHEDULED", "Patient asked"),
        (new_id, None, "CONFIRMED", f"Rescheduled from appointment {original}"),
    ]


async def test_reschedule_to_a_taken_slot_changes_nothing(client, factory):
    clinic = await make_clinic(factory)
    manager = await factory.staff("CENTRE_MANAGER", [clinic.centre_id])
    day = future_day(clinic.zone)
    original = await insert_appointment(factory, clinic, at(day, "10:00", clinic.zone))
    other = await factory.patient()
    await insert_appointment(factory, clinic, at(day, "12:00", clinic.zone), patient_id=other["id"])
    status, body = await put(
        client, manager, original, {"scheduledStartAt": at(day, "12:00", clinic.zone).isoformat()}
    )
    assert (status, body["error"]["code"]) == (409, "SLOT_UNAVAILABLE")
    assert await rows(factory, "SELECT status FROM appointments WHERE id = %s", (original,)) == [("BOOKED",)]
    assert await rows(factory, "SELECT count(*) FROM appointments") == [(2,)]
    assert await rows(factory, "SELECT count(*) FROM outbox") == [(0,)]


async def test_a_reschedule_by_another_centres_coordinator_is_403_and_changes_nothing(client, factory):
    clinic = await make_clinic(factory)
    other_coordinator = await factory.staff("CARE_COORDINATOR", [await factory.centre()])
    day = future_day(clinic.zone)
    created = await client.post("/api/appointments", json=booking(clinic, at(day, "10:00", clinic.zone)),
                                headers=clinic.desk.headers)
    appointment_id = (await created.json())["data"]["id"]
    before = await rows(factory, "SELECT id, status, scheduled_start_at FROM appointments ORDER BY id")
    history = await rows(factory, "SELECT id FROM appointment_status_history")
    outbox = await rows(factory, "SELECT id FROM outbox")
    resp = await client.put(f"/api/appointments/{appointment_id}", headers=other_coordinator.headers,
                            json={"scheduledStartAt": at(day, "11:00", clinic.zone).isoformat(), "reason": "x"})
    assert (resp.status, (await resp.json())["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    assert await rows(factory, "SELECT id, status, scheduled_start_at FROM appointments ORDER BY id") == before
    assert await rows(factory, "SELECT id FROM appointment_status_history") == history
    assert await rows(factory, "SELECT id FROM outbox") == outbox


async def test_reschedule_to_another_clinician(client, factory):
    clinic = await make_clinic(factory)
    second = await factory.staff("CLINICIAN", [clinic.centre_id], full_name="Dr Meera Nair")
    for weekday in range(7):
        await add_rule(factory, second.clinician_id, clinic.centre_id, weekday)
    manager = await factory.staff("MANAGER")
    day = future_day(clinic.zone)
    original = await insert_appointment(factory, clinic, at(day, "10:00", clinic.zone))
    # The first clinician has left: their patients are moved to a colleague, not to them.
    await set_clinician(factory, clinic.clinician_id, is_active=False)
    move = {"scheduledStartAt": at(day, "10:00", clinic.zone).isoformat()}
    status, body = await put(client, manager, original, move)
    assert (status, body["error"]["code"]) == (422, "CLINICIAN_INACTIVE")
    move.update(clinicianId=second.clinician_id, durationMinutes=60)
    status, body = await put(client, manager, original, move)
    assert status == 200, body
    assert body["data"]["clinicianName"] == "Dr Meera Nair" and body["data"]["durationMinutes"] == 60
    status, body = await put(client, manager, original, {**move, "clinicianId": 999999})
    assert (status, body["error"]["code"]) == (404, "CLINICIAN_NOT_FOUND")


@pytest.mark.parametrize(
    "update, field",
    [
        ({}, "status"),
        ({"durationMinutes": 30}, "durationMinutes"),
        ({"clinicianId": 5}, "clinicianId"),
        ({"status": "RESCHEDULED"}, "scheduledStartAt"),
        ({"status": "CONFIRMED", "scheduledStartAt": "2027-01-04T10:00:00+05:30"}, "status"),
        ({"status": "CANCELLED"}, "reason"),
        ({"status": "LOST"}, "status"),
        ({"scheduledStartAt": "2027-01-04T10:00:00"}, "scheduledStartAt"),
    ],
)
async def test_update_validation(client, factory, update, field):
    clinic = await make_clinic(factory)
    admin = await factory.staff("ADMIN")
    appointment_id = await insert_appointment(
        factory, clinic, at(future_day(clinic.zone), "10:00", clinic.zone)
    )
    status, body = await put(client, admin, appointment_id, update)
    assert status == 400, body
    assert field in body["error"]["details"]


async def test_update_notes_and_permissions(client, factory):
    clinic = await make_clinic(factory)
    manager = await factory.staff("CENTRE_MANAGER", [clinic.centre_id])
    appointment_id = await insert_appointment(
        factory, clinic, at(future_day(clinic.zone), "10:00", clinic.zone)
    )
    status, body = await put(client, manager, appointment_id, {"notes": "Bring old prescriptions"})
    assert status == 200 and body["data"]["notes"] == "Bring old prescriptions"
    assert await rows(factory, "SELECT action FROM audit_log") == [("appointment.notes",)]
    status, body = await put(client, clinic.desk, appointment_id, {"notes": "x"})
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")
    other_manager = await factory.staff("CENTRE_MANAGER", [await factory.centre()])
    status, body = await put(client, other_manager, appointment_id, {"notes": "x"})
    assert (status, body["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    status, body = await put(client, manager, 999999, {"notes": "x"})
    assert status == 404


async def delete(client, user, appointment_id, body=None):
    kwargs = {"json": body} if body is not None else {}
    resp = await client.delete(f"/api/appointments/{appointment_id}", headers=user.headers, **kwargs)
    return resp.status, await resp.json()


async def test_cancel_requires_a_reason_and_queues_the_notice(client, factory):
    clinic = await make_clinic(factory)
    appointment_id = await insert_appointment(
        factory, clinic, at(future_day(clinic.zone), "10:00", clinic.zone)
    )
    for body in (None, {}, {"reason": "   "}):
        status, response = await delete(client, clinic.desk, appointment_id, body)
        assert status == 400, response
        assert "reason" in response["error"]["details"]
    status, response = await delete(client, clinic.desk, appointment_id, {"reason": "Patient unwell"})
    assert status == 200
    assert response["data"]["status"] == "CANCELLED"
    assert response["data"]["cancellationReason"] == "Patient unwell"
    assert await rows(
        factory, "SELECT from_status, to_status, reason, changed_by_user_id FROM appointment_status_history"
    ) == [("BOOKED", "CANCELLED", "Patient unwell", clinic.desk.id)]
    assert await rows(factory, "SELECT actor_name, args FROM outbox") == [
        ("appointment_cancelled", [appointment_id])
    ]
    assert await rows(factory, "SELECT action FROM audit_log") == [("appointment.status",)]
    status, response = await delete(client, clinic.desk, appointment_id, {"reason": "again"})
    assert (status, response["error"]["code"]) == (422, "INVALID_TRANSITION")
    assert response["error"]["details"]["allowed"] == []


async def test_cancel_permissions(client, factory):
    clinic = await make_clinic(factory)
    appointment_id = await insert_appointment(
        factory, clinic, at(future_day(clinic.zone), "10:00", clinic.zone)
    )
    status, body = await delete(client, clinic.clinician, appointment_id, {"reason": "x"})
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")
    other_desk = await factory.staff("FRONT_DESK", [await factory.centre()])
    status, body = await delete(client, other_desk, appointment_id, {"reason": "x"})
    assert (status, body["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    status, body = await delete(client, clinic.desk, 999999, {"reason": "x"})
    assert status == 404
    assert await rows(factory, "SELECT status FROM appointments") == [("BOOKED",)]

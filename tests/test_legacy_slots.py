"""The panel's slot blocking: wall-clock slots at the centre onto the one block mechanism, per-slot
results, the preview of affected patients (exactly what the block then cancels), the blocked list,
unblocking, the clinician's slot exceptions."""

from __future__ import annotations

import datetime as dt

from tests.legacy_support import BASE, data_of, refusal_of
from tests.scheduling_support import at, future_day, insert_appointment, local_today, make_clinic, rows


def slot(clinic, day: dt.date, start: str, end: str, **extra) -> dict:
    return {"clinician_id": clinic.clinician_id, "centre_id": clinic.centre_id, "date": day.isoformat(),
            "start_time": start, "end_time": end, **extra}


async def coordinator_of(factory, clinic):
    return await factory.staff("CARE_COORDINATOR", [clinic.centre_id])


async def test_blocking_a_slot_reads_its_times_at_the_centre_and_cancels_what_it_covers(client, factory):
    clinic = await make_clinic(factory, timezone="Asia/Kolkata")
    staff = await coordinator_of(factory, clinic)
    day = future_day(clinic.zone)
    inside = await insert_appointment(factory, clinic, at(day, "10:00", clinic.zone), status="CONFIRMED")
    outside = await insert_appointment(factory, clinic, at(day, "11:00", clinic.zone))
    resp = await client.post(f"{BASE}/admin/slots/block", headers=staff.headers,
                             json=slot(clinic, day, "10:00", "10:30"))
    assert resp.status == 200, await resp.text()
    answer = data_of(await resp.json())
    block = answer["blocked_slot"]
    assert (block["blocked_date"], block["start_time"], block["end_time"]) == (day.isoformat(), "10:00", "10:30")
    assert dt.datetime.fromisoformat(block["starts_at"]) == at(day, "10:00", clinic.zone)
    assert block["is_blocked"] is True and block["reason"] == "Clinician unavailable"
    [affected] = answer["affected_patients"]
    assert affected["appointment_id"] == str(inside) and affected["patient_name"] == "Ravi Kumar"
    assert affected["patient_phone"] == clinic.patient["phone"] and affected["clinician_name"] == "Dr Asha Rao"
    assert affected["refund_eligible"] is False and affected["payment_status"] is None
    assert await rows(factory, "SELECT id, status FROM appointments ORDER BY id") == [
        (inside, "CANCELLED"), (outside, "BOOKED")]
    # The desk sees the block over the cancelled appointment, and unblocking frees the time.
    resp = await client.get(f"{BASE}/appointments/{inside}", headers=clinic.desk.headers)
    assert data_of(await resp.json())["blocked_slot_id"] == block["id"]
    resp = await client.post(f"{BASE}/admin/slots/unblock/{block['id']}", headers=staff.headers, json={})
    assert resp.status == 200 and (await resp.json())["message"] == "Slot unblocked successfully"
    resp = await client.get(f"{BASE}/appointments/{inside}", headers=clinic.desk.headers)
    assert data_of(await resp.json())["blocked_slot_id"] is None
    resp = await client.post(f"{BASE}/admin/slots/unblock/{block['id']}", headers=staff.headers, json={})
    assert (resp.status, refusal_of(await resp.json())[0]) == (404, "BLOCK_NOT_FOUND")
    resp = await client.get(f"{BASE}/admin/slots/blocked", headers=staff.headers)
    assert data_of(await resp.json()) == {"blocked_slots": [], "total": 0}
    resp = await client.get(f"{BASE}/admin/slots/blocked", headers=staff.headers, params={"is_blocked": "false"})
    [removed] = data_of(await resp.json())["blocked_slots"]
    assert (removed["id"], removed["is_blocked"]) == (block["id"], False) and removed["unblocked_at"]


async def test_the_preview_lists_exactly_what_the_block_then_cancels(client, factory):
    clinic = await make_clinic(factory)
    staff = await coordinator_of(factory, clinic)
    day = future_day(clinic.zone)
    booked = [await insert_appointment(factory, clinic, at(day, wall, clinic.zone), status=status)
              for wall, status in (("09:00", "BOOKED"), ("09:30", "BOOKED"), ("10:00", "CANCELLED"),
                                   ("12:00", "BOOKED"))]
    resp = await client.post(f"{BASE}/appointments/{booked[1]}/confirm-direct-payment", headers=clinic.desk.headers,
                             json={"paymentMethod": "CASH"})
    assert resp.status == 200
    other_day = await insert_appointment(factory, clinic, at(day + dt.timedelta(days=1), "09:00", clinic.zone))
    # The last slot lies inside the first: its appointment is listed once, and blocking it fails.
    slots = [slot(clinic, day, "09:00", "10:30"), slot(clinic, day, "11:30", "12:30"),
             slot(clinic, day, "09:30", "10:00")]
    resp = await client.post(f"{BASE}/admin/slots/affected-patients", headers=staff.headers, json={"slots": slots})
    assert resp.status == 200
    preview = data_of(await resp.json())
    previewed = sorted(int(p["appointment_id"]) for p in preview["affected_patients"])
    assert previewed == [booked[0], booked[1], booked[3]] and preview["total_count"] == 3
    paid = {int(p["appointment_id"]): (p["payment_status"], p["refund_eligible"])
            for p in preview["affected_patients"]}
    assert paid == {booked[0]: (None, False), booked[1]: ("SUCCESS", True), booked[3]: (None, False)}
    assert await rows(factory, "SELECT count(*) FROM clinician_blocks") == [(0,)]  # a preview changes nothing
    resp = await client.post(f"{BASE}/admin/slots/block-multiple", headers=staff.headers, json={"slots": slots})
    result = data_of(await resp.json())
    assert sorted(int(p["appointment_id"]) for p in result["affected_patients"]) == previewed
    assert [failed["code"] for failed in result["failed_slots"]] == ["BLOCK_OVERLAP"]
    cancelled = await rows(factory, "SELECT id FROM appointments WHERE status = 'CANCELLED' ORDER BY id")
    assert [row[0] for row in cancelled] == sorted([*previewed, booked[2]])
    assert await rows(factory, "SELECT status FROM appointments WHERE id = %s", (other_day,)) == [("BOOKED",)]


async def test_block_multiple_answers_per_slot_and_keeps_what_succeeded(client, factory):
    clinic = await make_clinic(factory)
    staff = await coordinator_of(factory, clinic)
    other = await make_clinic(factory)
    day = future_day(clinic.zone)
    slots = [
        slot(clinic, day, "09:00", "09:30"),
        slot(clinic, day, "09:15", "09:45"),  # overlaps the first, once it is blocked
        slot(clinic, local_today(clinic.zone) - dt.timedelta(days=1), "09:00", "09:30"),  # the past
        slot(other, day, "09:00", "09:30"),  # another centre's clinician
        slot(clinic, day, "10:00", "10:30", reason="Own reason"),
    ]
    resp = await client.post(f"{BASE}/admin/slots/block-multiple", headers=staff.headers,
                             json={"slots": slots, "reason": "Conference"})
    assert resp.status == 200
    result = data_of(await resp.json())
    assert (result["success"], result["blocked_count"], result["failed_count"]) == (False, 2, 3)
    assert [failed["code"] for failed in result["failed_slots"]] == ["BLOCK_OVERLAP", "VALIDATION_ERROR",
                                                                     "CENTRE_FORBIDDEN"]
    assert result["failed_slots"][0]["slot"]["start_time"] == "09:15" and result["failed_slots"][0]["error"]
    assert await rows(factory, "SELECT id, reason FROM clinician_blocks ORDER BY id") == [
        (int(result["blocked_slot_ids"][0]), "Conference"), (int(result["blocked_slot_ids"][1]), "Conference")]
    resp = await client.post(f"{BASE}/admin/slots/block-multiple", headers=staff.headers,
                             json={"slots": [{**slots[0], "start_time": "9am"}]})
    assert resp.status == 400 and "slots" in refusal_of(await resp.json())[2]


async def test_blocking_a_day_covers_the_centres_local_day(client, factory):
    clinic = await make_clinic(factory, start="09:00", end="11:00")
    staff = await coordinator_of(factory, clinic)
    day = future_day(clinic.zone)
    booked = await insert_appointment(factory, clinic, at(day, "09:30", clinic.zone))
    next_day = await insert_appointment(factory, clinic, at(day + dt.timedelta(days=1), "09:30", clinic.zone))
    resp = await client.post(f"{BASE}/admin/slots/block-day", headers=staff.headers, json={
        "clinician_id": clinic.clinician_id, "centre_id": clinic.centre_id, "date": day.isoformat(), "reason": ""})
    assert resp.status == 200
    result = data_of(await resp.json())
    assert result["blocked_count"] == 4 and len(result["blocked_slot_ids"]) == 1
    assert [p["appointment_id"] for p in result["affected_patients"]] == [str(booked)]
    assert await rows(factory, "SELECT starts_at, ends_at FROM clinician_blocks") == [
        (at(day, "00:00", clinic.zone), at(day + dt.timedelta(days=1), "00:00", clinic.zone))]
    assert await rows(factory, "SELECT status FROM appointments WHERE id = %s", (next_day,)) == [("BOOKED",)]
    resp = await client.get(f"{BASE}/admin/slots/blocked", headers=staff.headers,
                            params={"clinician_id": str(clinic.clinician_id), "date_from": day.isoformat()})
    listed = data_of(await resp.json())
    assert listed["total"] == 1
    [block] = listed["blocked_slots"]
    assert (block["blocked_date"], block["start_time"], block["end_date"], block["end_time"]) == (
        day.isoformat(), "00:00", (day + dt.timedelta(days=1)).isoformat(), "00:00")
    assert block["clinician_name"] == "Dr Asha Rao" and block["centre_name"] and block["blocked_by_admin_name"]
    resp = await client.get(f"{BASE}/admin/slots/blocked", headers=staff.headers,
                            params={"date_to": (day - dt.timedelta(days=1)).isoformat()})
    assert data_of(await resp.json())["total"] == 0


async def test_blocking_a_day_with_a_blocked_slot_blocks_the_rest_of_it(client, factory):
    clinic = await make_clinic(factory, start="09:00", end="11:00")
    staff = await coordinator_of(factory, clinic)
    day = future_day(clinic.zone)
    booked = await insert_appointment(factory, clinic, at(day, "09:30", clinic.zone))
    resp = await client.post(f"{BASE}/admin/slots/block", headers=staff.headers,
                             json=slot(clinic, day, "10:00", "10:30"))
    assert resp.status == 200
    first = int(data_of(await resp.json())["blocked_slot"]["id"])
    day_body = {"clinician_id": clinic.clinician_id, "centre_id": clinic.centre_id, "date": day.isoformat()}
    resp = await client.post(f"{BASE}/admin/slots/block-day", headers=staff.headers, json=day_body)
    assert resp.status == 200, await resp.text()
    result = data_of(await resp.json())
    assert (result["blocked_count"], len(result["blocked_slot_ids"])) == (4, 2)
    assert [p["appointment_id"] for p in result["affected_patients"]] == [str(booked)]
    midnight = at(day + dt.timedelta(days=1), "00:00", clinic.zone)
    assert await rows(factory, "SELECT id, starts_at, ends_at FROM clinician_blocks WHERE removed_at IS NULL"
                               " ORDER BY starts_at") == [
        (int(result["blocked_slot_ids"][0]), at(day, "00:00", clinic.zone), at(day, "10:00", clinic.zone)),
        (first, at(day, "10:00", clinic.zone), at(day, "10:30", clinic.zone)),
        (int(result["blocked_slot_ids"][1]), at(day, "10:30", clinic.zone), midnight)]
    # All of the day is blocked now: blocking it again blocks nothing more and is no error.
    resp = await client.post(f"{BASE}/admin/slots/block-day", headers=staff.headers, json=day_body)
    assert resp.status == 200
    again = data_of(await resp.json())
    assert (again["blocked_count"], again["blocked_slot_ids"], again["affected_patients"]) == (4, [], [])
    assert await rows(factory, "SELECT count(*) FROM clinician_blocks") == [(3,)]


async def test_the_blocked_list_keeps_to_the_callers_centres(client, factory):
    clinic = await make_clinic(factory)
    other = await make_clinic(factory)
    day = future_day(clinic.zone)
    admin = await factory.staff("ADMIN")
    for place in (clinic, other):
        resp = await client.post(f"{BASE}/admin/slots/block", headers=admin.headers,
                                 json=slot(place, day, "09:00", "09:30"))
        assert resp.status == 200
    staff = await coordinator_of(factory, clinic)
    resp = await client.get(f"{BASE}/admin/slots/blocked", headers=staff.headers)
    assert [b["clinician_id"] for b in data_of(await resp.json())["blocked_slots"]] == [str(clinic.clinician_id)]
    resp = await client.get(f"{BASE}/admin/slots/blocked", headers=admin.headers)
    assert data_of(await resp.json())["total"] == 2
    resp = await client.get(f"{BASE}/admin/slots/blocked", headers=staff.headers,
                            params={"centre_id": str(other.centre_id)})
    assert resp.status == 403
    resp = await client.post(f"{BASE}/admin/slots/block", headers=clinic.desk.headers,
                             json=slot(clinic, day, "11:00", "11:30"))
    assert (resp.status, refusal_of(await resp.json())[0]) == (403, "FORBIDDEN")  # the spec's permissions


async def test_a_slot_exception_blocks_a_free_slot_and_refuses_a_booked_one(client, factory):
    clinic = await make_clinic(factory)
    manager = await factory.staff("CENTRE_MANAGER", [clinic.centre_id])
    day = future_day(clinic.zone)
    booked = await insert_appointment(factory, clinic, at(day, "10:00", clinic.zone))
    body = {"centreId": clinic.centre_id, "exceptionDate": day.isoformat(), "startTime": "09:00",
            "endTime": "09:30", "mode": "IN_PERSON", "reason": "Blocked by admin"}
    path = f"{BASE}/users/clinicians/{clinic.clinician_id}/slot-exceptions"
    resp = await client.post(path, headers=manager.headers, json=body)
    assert resp.status == 201, await resp.text()
    made = data_of(await resp.json())
    assert (made["exceptionDate"], made["startTime"], made["endTime"]) == (day.isoformat(), "09:00", "09:30")
    resp = await client.post(path, headers=manager.headers, json={**body, "startTime": "10:00", "endTime": "10:30"})
    assert resp.status == 409
    code, message, _ = refusal_of(await resp.json())
    assert code == "BLOCK_CONFLICT" and message
    assert await rows(factory, "SELECT status FROM appointments WHERE id = %s", (booked,)) == [("BOOKED",)]
    slots = await client.get("/api/appointments/availability", headers=manager.headers, params={
        "clinicianId": str(clinic.clinician_id), "centreId": str(clinic.centre_id), "date": day.isoformat()})
    first = (await slots.json())["data"]["slots"][0]
    assert (first["localStart"], first["status"], first["reason"]) == ("09:00", "blocked", "BLOCK")

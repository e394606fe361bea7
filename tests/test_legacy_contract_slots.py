"""The panel's slot grids (rows 23 and 28 of its contract): wall-clock starts and ends at the centre,
the status the spec's availability gives, the rule's mode, and the id of the block closing a slot."""

from __future__ import annotations

import datetime as dt

from tests.legacy_support import BASE, data_of, refusal_of
from tests.scheduling_support import at, future_day, insert_appointment, make_clinic


async def test_23_a_days_slots_with_their_local_times_status_mode_and_block(client, factory):
    clinic = await make_clinic(factory, "Asia/Kolkata", start="09:00", end="11:00", slot=30)
    coordinator = await factory.staff("CARE_COORDINATOR", [clinic.centre_id])
    await factory.fetchone("UPDATE clinician_availability_rules SET consultation_mode = 'ONLINE'"
                           " WHERE clinician_id = %s RETURNING id", (clinic.clinician_id,))
    day = future_day(clinic.zone)
    await insert_appointment(factory, clinic, at(day, "09:30", clinic.zone))
    block = await client.post(f"/api/clinicians/{clinic.clinician_id}/blocks", headers=coordinator.headers,
                              json={"startAt": at(day, "10:00", clinic.zone).isoformat(),
                                    "endAt": at(day, "10:30", clinic.zone).isoformat(), "reason": "Meeting"})
    assert block.status == 201, await block.text()
    block_id = (await block.json())["data"]["id"]
    resp = await client.get(f"{BASE}/users/clinicians/{clinic.clinician_id}/slots",
                            params={"date": day.isoformat()}, headers=coordinator.headers)
    assert resp.status == 200, await resp.text()
    slots = data_of(await resp.json())
    assert [(s["startTime"], s["endTime"], s["status"], s["blockedSlotId"]) for s in slots] == [
        ("09:00", "09:30", "available", None), ("09:30", "10:00", "booked", None),
        ("10:00", "10:30", "blocked", str(block_id)), ("10:30", "11:00", "available", None)]
    first = slots[0]
    assert first["date"] == day.isoformat() and first["centreId"] == str(clinic.centre_id) and first["mode"] == "ONLINE"
    assert first["available"] is True and first["id"] == f"{day.isoformat()}-09:00-{clinic.centre_id}"
    assert dt.datetime.fromisoformat(first["startAt"]) == at(day, "09:00", clinic.zone)
    # The desk sees the same grid; block ids are for those who manage blocks.
    desk_view = data_of(await (await client.get(f"{BASE}/users/clinicians/{clinic.clinician_id}/slots",
                                                params={"date": day.isoformat()},
                                                headers=clinic.desk.headers)).json())
    assert [s["status"] for s in desk_view] == [s["status"] for s in slots]
    assert all(s["blockedSlotId"] is None for s in desk_view)


async def test_28_a_range_of_sixty_days_for_the_booking_calendar(client, factory):
    clinic = await make_clinic(factory, "Asia/Kolkata", start="09:00", end="10:00", slot=30)
    today = dt.datetime.now(clinic.zone).date()
    end = today + dt.timedelta(days=60)
    resp = await client.get(f"{BASE}/booking/clinician-slots", headers=clinic.desk.headers,
                            params={"clinicianId": str(clinic.clinician_id), "startDate": today.isoformat(),
                                    "endDate": end.isoformat(), "centreId": str(clinic.centre_id)})
    assert resp.status == 200, await resp.text()
    slots = data_of(await resp.json())
    days = {s["date"] for s in slots}
    assert len(days) == 61 and min(days) == today.isoformat() and max(days) == end.isoformat()
    assert {s["startTime"] for s in slots} == {"09:00", "09:30"}
    resp = await client.get(f"{BASE}/booking/clinician-slots", headers=clinic.desk.headers,
                            params={"clinicianId": str(clinic.clinician_id), "startDate": today.isoformat(),
                                    "endDate": (today + dt.timedelta(days=90)).isoformat()})
    assert resp.status == 400 and "endDate" in refusal_of(await resp.json())[2]


async def test_a_desk_of_another_centre_is_refused_the_clinicians_grid(client, factory):
    clinic = await make_clinic(factory)
    other = await factory.centre()
    stranger = await factory.staff("FRONT_DESK", [other])
    resp = await client.get(f"{BASE}/users/clinicians/{clinic.clinician_id}/slots",
                            params={"date": future_day(clinic.zone).isoformat()}, headers=stranger.headers)
    assert resp.status == 403

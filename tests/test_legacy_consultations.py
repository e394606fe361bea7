"""The panel's clinician dashboard: the clinician's day and groups, the session with its instants,
its clinical notes (the treating clinician and ADMIN only) and the follow-up."""

from __future__ import annotations

import datetime as dt

from tests.legacy_support import BASE, data_of, refusal_of
from tests.scheduling_support import at, future_day, insert_appointment, local_today, make_clinic, rows

UTC = dt.UTC


def soon() -> dt.datetime:
    return (dt.datetime.now(UTC) + dt.timedelta(minutes=30)).replace(second=0, microsecond=0)


async def admin_of(factory):
    return await factory.staff("ADMIN")


async def test_a_session_from_start_to_follow_up_as_the_panel_runs_it(client, factory):
    clinic = await make_clinic(factory, start="00:00", end="23:30")
    headers = clinic.clinician.headers
    appointment_id = await insert_appointment(factory, clinic, soon(), status="CONFIRMED")
    resp = await client.post(f"{BASE}/appointments/{appointment_id}/start-session", headers=headers)
    assert resp.status == 200
    row = data_of(await resp.json())
    assert row["status"] == "IN_PROGRESS" and row["session_started_at"].endswith("+05:30")
    resp = await client.post(f"{BASE}/appointments/{appointment_id}/clinician-notes", headers=headers,
                             json={"session_notes": "Sleep improving; continue CBT"})
    assert resp.status == 200
    note = data_of(await resp.json())
    assert note["session_notes"] == "Sleep improving; continue CBT" and note["appointment_id"] == str(appointment_id)
    day = future_day(clinic.zone, 14)
    resp = await client.post(f"{BASE}/appointments/{appointment_id}/schedule-followup", headers=headers,
                             json={"follow_up_date": day.isoformat(), "follow_up_notes": "Review sleep"})
    assert resp.status == 200
    follow_up = data_of(await resp.json())
    assert follow_up["appointment_type"] == "FOLLOW_UP" and follow_up["local_date"] == day.isoformat()
    assert follow_up["local_start_time"] == "00:00" and follow_up["status"] == "BOOKED"
    resp = await client.post(f"{BASE}/appointments/{appointment_id}/end-session", headers=headers)
    ended = data_of(await resp.json())
    assert ended["status"] == "COMPLETED"
    assert dt.datetime.fromisoformat(ended["session_ended_at"]) >= dt.datetime.fromisoformat(
        ended["session_started_at"])
    assert await rows(factory, "SELECT to_status FROM appointment_status_history WHERE appointment_id = %s"
                               " ORDER BY id", (appointment_id,)) == [("IN_PROGRESS",), ("COMPLETED",)]
    # Clinical content stays out of the appointment's own notes, which every desk reads.
    assert await rows(factory, "SELECT notes FROM appointments WHERE id = %s", (appointment_id,)) == [(None,)]


async def test_previous_notes_are_the_treating_clinicians_and_admins_only(client, factory):
    clinic = await make_clinic(factory, start="00:00", end="23:30")
    earlier = await insert_appointment(factory, clinic, soon() - dt.timedelta(days=7), status="COMPLETED")
    today = await insert_appointment(factory, clinic, soon(), status="CONFIRMED")
    resp = await client.post(f"{BASE}/appointments/{earlier}/clinician-notes", headers=clinic.clinician.headers,
                             json={"session_notes": "First visit"})
    assert resp.status == 200
    resp = await client.post(f"{BASE}/appointments/{today}/clinician-notes", headers=clinic.clinician.headers,
                             json={"session_notes": "This visit"})
    assert resp.status == 200
    params = {"patientId": str(clinic.patient["id"])}
    resp = await client.get(f"{BASE}/appointments/{today}/previous-notes", headers=clinic.clinician.headers,
                            params=params)
    assert resp.status == 200
    [note] = data_of(await resp.json())
    assert note["session_notes"] == "First visit" and note["status"] == "COMPLETED"
    assert dt.datetime.fromisoformat(note["scheduled_start_at"]) == soon() - dt.timedelta(days=7)
    admin = await admin_of(factory)
    resp = await client.get(f"{BASE}/appointments/{today}/previous-notes", headers=admin.headers, params=params)
    assert [n["session_notes"] for n in data_of(await resp.json())] == ["First visit"]
    # Another clinician of the same centre, the desk and the centre's manager do not read them.
    colleague = await factory.staff("CLINICIAN", [clinic.centre_id])
    manager = await factory.staff("CENTRE_MANAGER", [clinic.centre_id])
    for headers, code in ((colleague.headers, "NOT_OWN_APPOINTMENT"), (clinic.desk.headers, "FORBIDDEN"),
                          (manager.headers, "FORBIDDEN")):
        resp = await client.get(f"{BASE}/appointments/{today}/previous-notes", headers=headers, params=params)
        assert (resp.status, refusal_of(await resp.json())[0]) == (403, code)
        resp = await client.post(f"{BASE}/appointments/{today}/clinician-notes", headers=headers,
                                 json={"session_notes": "Not mine"})
        assert resp.status == 403
    assert await rows(factory, "SELECT note FROM medical_notes ORDER BY id") == [("First visit",), ("This visit",)]
    resp = await client.get(f"{BASE}/appointments/{today}/previous-notes", headers=clinic.clinician.headers,
                            params={"patientId": "12345"})
    assert resp.status == 400 and "patientId" in refusal_of(await resp.json())[2]


async def test_only_the_treating_clinician_runs_the_session(client, factory):
    clinic = await make_clinic(factory, start="00:00", end="23:30")
    appointment_id = await insert_appointment(factory, clinic, soon(), status="BOOKED")
    colleague = await factory.staff("CLINICIAN", [clinic.centre_id])
    resp = await client.post(f"{BASE}/appointments/{appointment_id}/start-session", headers=colleague.headers)
    assert (resp.status, refusal_of(await resp.json())[0]) == (403, "NOT_OWN_APPOINTMENT")
    admin = await admin_of(factory)
    resp = await client.post(f"{BASE}/appointments/{appointment_id}/start-session", headers=admin.headers)
    assert (resp.status, refusal_of(await resp.json())[0]) == (403, "FORBIDDEN")
    assert await rows(factory, "SELECT status FROM appointments") == [("BOOKED",)]


async def test_my_appointments_and_the_dashboard_of_a_day(client, factory):
    clinic = await make_clinic(factory, start="00:00", end="23:30")
    headers = clinic.clinician.headers
    ongoing = await insert_appointment(factory, clinic, soon(), status="IN_PROGRESS")
    upcoming = await insert_appointment(factory, clinic, soon() + dt.timedelta(days=3), status="CONFIRMED")
    past = await insert_appointment(factory, clinic, soon() - dt.timedelta(days=3), status="COMPLETED")
    resp = await client.get(f"{BASE}/appointments/my-appointments", headers=headers)
    grouped = data_of(await resp.json())
    assert [[row["id"] for row in grouped[name]] for name in ("current", "upcoming", "past")] == [
        [str(ongoing)], [str(upcoming)], [str(past)]]
    assert grouped["summary"] == {"currentCount": 1, "upcomingCount": 1, "pastCount": 1}
    assert grouped["current"][0]["patient_name"] == "Ravi Kumar"
    day = soon().astimezone(clinic.zone).date()
    await insert_appointment(factory, clinic, soon() + dt.timedelta(hours=1), status="BOOKED")
    await insert_appointment(factory, clinic, soon() + dt.timedelta(hours=2), status="CANCELLED")
    params = {"startDate": day.isoformat(), "endDate": day.isoformat()}
    resp = await client.get(f"{BASE}/appointments/dashboard/stats", headers=headers, params=params)
    stats = data_of(await resp.json())
    if day == local_today(clinic.zone):  # the hours after soon() may cross midnight at the centre
        assert stats["ongoing"] == 1 and stats["total"] >= 2
    assert set(stats) == {"total", "waiting", "confirmed", "ongoing", "completed", "cancelled"}
    assert all(isinstance(value, int) for value in stats.values())
    resp = await client.get(f"{BASE}/appointments/dashboard/appointments", headers=headers,
                            params={**params, "status": "IN_PROGRESS"})
    assert [row["id"] for row in data_of(await resp.json())] == [str(ongoing)]
    resp = await client.get(f"{BASE}/appointments/dashboard/stats", headers=clinic.desk.headers, params=params)
    assert resp.status == 403
    resp = await client.get(f"{BASE}/appointments/dashboard/stats", headers=headers,
                            params={"startDate": day.isoformat(), "endDate": "2020-01-01"})
    assert resp.status == 400 and "endDate" in refusal_of(await resp.json())[2]


async def test_a_follow_up_on_a_full_day_is_refused(client, factory):
    clinic = await make_clinic(factory, start="09:00", end="09:30")
    parent = await insert_appointment(factory, clinic, soon(), status="CONFIRMED")
    day = future_day(clinic.zone, 10)
    await insert_appointment(factory, clinic, at(day, "09:00", clinic.zone))
    resp = await client.post(f"{BASE}/appointments/{parent}/schedule-followup", headers=clinic.clinician.headers,
                             json={"follow_up_date": day.isoformat()})
    assert (resp.status, refusal_of(await resp.json())[0]) == (409, "NO_FREE_SLOT")

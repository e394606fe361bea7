"""Blocking a clinician's time (slot, range, day, date range), conflicts with appointments, unblocking."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from mibo.core.errors import ApiError
from mibo.domain.blocks import block_span
from tests.scheduling_support import at, booking, future_day, insert_appointment, local_today, make_clinic, rows

UTC = dt.UTC


async def blocks_fixture(factory, timezone="Asia/Kolkata"):
    clinic = await make_clinic(factory, timezone)
    coordinator = await factory.staff("CARE_COORDINATOR", [clinic.centre_id])
    return clinic, coordinator


async def create(client, user, clinician_id, body):
    resp = await client.post(f"/api/clinicians/{clinician_id}/blocks", json=body, headers=user.headers)
    return resp.status, await resp.json()


async def slot_statuses(client, clinic, day):
    resp = await client.get(
        "/api/appointments/availability",
        headers=clinic.desk.headers,
        params={"clinicianId": str(clinic.clinician_id), "date": day.isoformat()},
    )
    body = await resp.json()
    assert resp.status == 200, body
    return {s["localStart"]: s["status"] for s in body["data"]["slots"]}


async def test_block_a_slot_then_unblock_it(client, factory):
    clinic, coordinator = await blocks_fixture(factory)
    day = future_day(clinic.zone)
    start, end = at(day, "10:00", clinic.zone), at(day, "10:30", clinic.zone)
    status, body = await create(
        client,
        coordinator,
        clinic.clinician_id,
        {"startAt": start.isoformat(), "endAt": end.isoformat(), "reason": "Case conference"},
    )
    assert status == 201, body
    block = body["data"]
    assert (
        block["startsAt"] == start.astimezone(UTC).isoformat()
        and block["endsAt"] == end.astimezone(UTC).isoformat()
    )
    assert block["reason"] == "Case conference" and block["createdByUserId"] == coordinator.id
    assert block["centreId"] is None and block["cancelledAppointmentIds"] == []
    statuses = await slot_statuses(client, clinic, day)
    assert (statuses["09:30"], statuses["10:00"], statuses["10:30"]) == ("available", "blocked", "available")
    resp = await client.post("/api/appointments", json=booking(clinic, start), headers=clinic.desk.headers)
    assert (resp.status, (await resp.json())["error"]["code"]) == (409, "SLOT_BLOCKED")

    resp = await client.delete(
        f"/api/clinicians/{clinic.clinician_id}/blocks/{block['id']}", headers=coordinator.headers
    )
    removed = (await resp.json())["data"]
    assert (
        resp.status == 200
        and removed["removedAt"] is not None
        and removed["removedByUserId"] == coordinator.id
    )
    assert (await slot_statuses(client, clinic, day))["10:00"] == "available"
    resp = await client.post("/api/appointments", json=booking(clinic, start), headers=clinic.desk.headers)
    assert resp.status == 201
    assert await rows(factory, "SELECT action FROM audit_log ORDER BY id") == [
        ("clinician_block.create",),
        ("clinician_block.remove",),
        ("appointment.create",),
    ]
    # Removing it again: it is no longer an active block.
    resp = await client.delete(
        f"/api/clinicians/{clinic.clinician_id}/blocks/{block['id']}", headers=coordinator.headers
    )
    assert (resp.status, (await resp.json())["error"]["code"]) == (404, "BLOCK_NOT_FOUND")


async def test_whole_days_are_the_centres_local_days(client, factory):
    clinic, coordinator = await blocks_fixture(factory, "Europe/London")
    # A date range spanning the October change: from local midnight to local midnight.
    first = dt.date(2027, 10, 30)
    status, body = await create(
        client,
        coordinator,
        clinic.clinician_id,
        {"fromDate": first.isoformat(), "toDate": "2027-10-31", "reason": "Annual leave"},
    )
    assert status == 201, body
    assert body["data"]["startsAt"] == "2027-10-29T23:00:00+00:00"  # midnight BST
    assert body["data"]["endsAt"] == "2027-11-01T00:00:00+00:00"  # midnight GMT
    status, body = await create(
        client, coordinator, clinic.clinician_id, {"date": "2027-11-02", "reason": "Training"}
    )
    assert status == 201
    assert (body["data"]["startsAt"], body["data"]["endsAt"]) == (
        "2027-11-02T00:00:00+00:00",
        "2027-11-03T00:00:00+00:00",
    )
    resp = await client.get(
        f"/api/clinicians/{clinic.clinician_id}/blocks",
        headers=coordinator.headers,
        params={"from": "2027-10-01", "to": "2027-10-31"},
    )
    listed = await resp.json()
    assert resp.status == 200
    assert [b["reason"] for b in listed["data"]] == ["Annual leave"] and listed["meta"]["total"] == 1
    resp = await client.get(f"/api/clinicians/{clinic.clinician_id}/blocks", headers=coordinator.headers)
    assert [b["reason"] for b in (await resp.json())["data"]] == ["Annual leave", "Training"]


def test_block_span_today_starts_now_and_the_past_is_refused():
    zone = ZoneInfo("Asia/Kolkata")
    now = dt.datetime(2027, 1, 4, 6, 0, tzinfo=UTC)  # 11:30 IST
    start, end = block_span({"date": dt.date(2027, 1, 4)}, zone, now)
    assert start == now and end == dt.datetime(2027, 1, 4, 18, 30, tzinfo=UTC)
    with pytest.raises(ApiError) as caught:
        block_span({"date": dt.date(2027, 1, 3)}, zone, now)
    assert caught.value.status == 400 and "date" in caught.value.details
    with pytest.raises(ApiError) as caught:
        block_span(
            {"start_at": now - dt.timedelta(minutes=1), "end_at": now + dt.timedelta(hours=1)}, zone, now
        )
    assert "startAt" in caught.value.details


def test_block_span_reads_wall_clock_times_on_a_date_in_the_zone():
    zone = ZoneInfo("Europe/London")
    now = dt.datetime(2027, 3, 1, tzinfo=UTC)
    summer = {"date": dt.date(2027, 6, 1), "start_time": dt.time(9, 0), "end_time": dt.time(9, 30)}
    assert block_span(summer, zone, now) == (dt.datetime(2027, 6, 1, 8, 0, tzinfo=UTC),
                                             dt.datetime(2027, 6, 1, 8, 30, tzinfo=UTC))
    skipped = {"date": dt.date(2027, 3, 28), "start_time": dt.time(1, 30), "end_time": dt.time(2, 30)}
    with pytest.raises(ApiError) as caught:  # 01:00-02:00 does not exist that night
        block_span(skipped, zone, now)
    assert (caught.value.status, caught.value.code, list(caught.value.details)) == (422, "NO_SUCH_TIME", ["startTime"])
    with pytest.raises(ApiError) as caught:
        block_span({**summer, "date": dt.date(2027, 2, 1)}, zone, now)
    assert caught.value.status == 400


async def test_blocks_cannot_start_in_the_past(client, factory):
    clinic, coordinator = await blocks_fixture(factory)
    yesterday = local_today(clinic.zone) - dt.timedelta(days=1)
    status, body = await create(
        client, coordinator, clinic.clinician_id, {"date": yesterday.isoformat(), "reason": "Sick"}
    )
    assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR") and "date" in body["error"]["details"]
    past = dt.datetime.now(UTC) - dt.timedelta(hours=1)
    status, body = await create(
        client,
        coordinator,
        clinic.clinician_id,
        {"startAt": past.isoformat(), "endAt": (past + dt.timedelta(hours=3)).isoformat(), "reason": "Sick"},
    )
    assert status == 400 and "startAt" in body["error"]["details"]
    status, body = await create(
        client,
        coordinator,
        clinic.clinician_id,
        {"date": local_today(clinic.zone).isoformat(), "reason": "Sick"},
    )  # today: from now on
    assert status == 201, body
    assert await rows(factory, "SELECT count(*) FROM clinician_blocks") == [(1,)]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"reason": "x"}, "startAt"),
        ({"date": "2027-01-04", "fromDate": "2027-01-04", "toDate": "2027-01-05", "reason": "x"}, "startAt"),
        ({"startAt": "2027-01-04T10:00:00+05:30", "reason": "x"}, "endAt"),
        (
            {"startAt": "2027-01-04T10:00:00+05:30", "endAt": "2027-01-04T09:00:00+05:30", "reason": "x"},
            "endAt",
        ),
        ({"startAt": "2027-01-04T10:00:00", "endAt": "2027-01-04T11:00:00", "reason": "x"}, "startAt"),
        ({"fromDate": "2027-01-05", "toDate": "2027-01-04", "reason": "x"}, "toDate"),
        ({"fromDate": "2027-01-05", "reason": "x"}, "toDate"),
        ({"fromDate": "2027-01-01", "toDate": "2028-01-02", "reason": "x"}, "toDate"),
        ({"date": "2027-01-04"}, "reason"),
        ({"date": "2027-01-04", "reason": "  "}, "reason"),
        ({"date": "2027-01-04", "reason": "x", "cancelAppointments": "maybe"}, "cancelAppointments"),
    ],
)
async def test_block_validation(client, factory, body, field):
    clinic, coordinator = await blocks_fixture(factory)
    status, response = await create(client, coordinator, clinic.clinician_id, body)
    assert status == 400, response
    assert field in response["error"]["details"]


async def test_block_over_appointments_conflicts_unless_cancelling(client, factory):
    clinic, coordinator = await blocks_fixture(factory)
    day = future_day(clinic.zone)
    booked = await insert_appointment(factory, clinic, at(day, "10:00", clinic.zone))
    other = await factory.patient()
    paid = await insert_appointment(
        factory, clinic, at(day, "15:00", clinic.zone), status="CONFIRMED", patient_id=other["id"]
    )
    await factory.payment(patient_id=other["id"], appointment_id=paid, amount=800, status="SUCCESS")
    # A payment link sent for the unpaid one: cancelling the appointment closes it too.
    link = await factory.payment(patient_id=clinic.patient["id"], appointment_id=booked, amount=800,
                                 channel="PAYMENT_LINK", status="CREATED")
    request = {"date": day.isoformat(), "reason": "Conference"}
    status, body = await create(client, coordinator, clinic.clinician_id, request)
    assert (status, body["error"]["code"]) == (409, "BLOCK_CONFLICT")
    listed = body["error"]["details"]["appointments"]
    assert [a["id"] for a in listed] == [booked, paid]
    assert listed[0]["patientName"] == "Ravi Kumar" and listed[1]["status"] == "CONFIRMED"
    assert await rows(factory, "SELECT count(*) FROM clinician_blocks") == [(0,)]

    status, body = await create(
        client, coordinator, clinic.clinician_id, {**request, "cancelAppointments": True}
    )
    assert status == 201, body
    assert body["data"]["cancelledAppointmentIds"] == [booked, paid]
    assert await rows(factory, "SELECT id, status, cancellation_reason FROM appointments ORDER BY id") == [
        (booked, "CANCELLED", "Clinician unavailable: Conference"),
        (paid, "CANCELLED", "Clinician unavailable: Conference"),
    ]
    assert await rows(
        factory,
        "SELECT appointment_id, from_status, to_status, changed_by_user_id"
        " FROM appointment_status_history ORDER BY appointment_id",
    ) == [(booked, "BOOKED", "CANCELLED", coordinator.id), (paid, "CONFIRMED", "CANCELLED", coordinator.id)]
    assert await rows(factory, "SELECT actor_name, args FROM outbox ORDER BY id") == [
        ("cancel_payment_link", [link]),
        ("appointment_cancelled", [booked]),
        ("appointment_cancelled", [paid]),
    ]
    assert await rows(factory, "SELECT refund_requested_at IS NOT NULL FROM payments ORDER BY id") == [
        (True,),
        (False,),
    ]


async def test_blocks_do_not_overlap_and_one_unblock_frees_the_time(client, factory):
    clinic, coordinator = await blocks_fixture(factory)
    day = future_day(clinic.zone)
    status, body = await create(
        client, coordinator, clinic.clinician_id, {"date": day.isoformat(), "reason": "Leave"}
    )
    assert status == 201
    day_block = body["data"]["id"]
    status, body = await create(
        client,
        coordinator,
        clinic.clinician_id,
        {
            "startAt": at(day, "10:00", clinic.zone).isoformat(),
            "endAt": at(day, "11:00", clinic.zone).isoformat(),
            "reason": "Meeting",
        },
    )
    assert (status, body["error"]["code"]) == (409, "BLOCK_OVERLAP")
    assert [b["id"] for b in body["error"]["details"]["blocks"]] == [day_block]
    resp = await client.delete(
        f"/api/clinicians/{clinic.clinician_id}/blocks/{day_block}", headers=coordinator.headers
    )
    assert resp.status == 200
    assert set((await slot_statuses(client, clinic, day)).values()) == {"available"}


async def test_a_centre_block_only_blocks_that_centre(client, factory):
    clinic, coordinator = await blocks_fixture(factory)
    day = future_day(clinic.zone)
    other_centre = await factory.centre()
    status, body = await create(
        client,
        coordinator,
        clinic.clinician_id,
        {"date": day.isoformat(), "reason": "Centre closed", "centreId": clinic.centre_id},
    )
    assert status == 201 and body["data"]["centreId"] == clinic.centre_id
    assert set((await slot_statuses(client, clinic, day)).values()) == {"blocked"}
    status, body = await create(
        client,
        coordinator,
        clinic.clinician_id,
        {"date": (day + dt.timedelta(days=1)).isoformat(), "reason": "x", "centreId": other_centre},
    )
    assert (status, body["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    status, body = await create(
        client, coordinator, clinic.clinician_id, {"date": day.isoformat(), "reason": "x", "centreId": 999999}
    )
    assert (status, body["error"]["code"]) == (404, "CENTRE_NOT_FOUND")


async def test_a_block_must_name_a_centre_where_the_clinician_works(client, factory):
    kochi = await make_clinic(factory)
    bangalore = await factory.centre()
    coordinator = await factory.staff("CARE_COORDINATOR", [bangalore])
    until_2999 = {"fromDate": future_day(kochi.zone).isoformat(),
                  "toDate": (future_day(kochi.zone) + dt.timedelta(days=300)).isoformat(),
                  "reason": "Leave", "centreId": bangalore}
    url = f"/api/clinicians/{kochi.clinician_id}/blocks"
    resp = await client.post(url, json=until_2999, headers=coordinator.headers)
    body = await resp.json()
    assert (resp.status, body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert body["error"]["details"] == {"centreId": ["The clinician does not work at this centre."]}
    resp = await client.post(url, json={**until_2999, "centreId": kochi.centre_id}, headers=coordinator.headers)
    assert (resp.status, (await resp.json())["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    assert await rows(factory, "SELECT id FROM clinician_blocks") == []
    # Once the clinician also works at Bangalore, a Bangalore coordinator may block them there.
    await factory.assign(kochi.clinician.id, bangalore)
    resp = await client.post(url, json=until_2999, headers=coordinator.headers)
    assert resp.status == 201, await resp.text()


async def test_block_permissions_and_scope(client, factory):
    clinic, coordinator = await blocks_fixture(factory)
    request = {"date": future_day(clinic.zone).isoformat(), "reason": "Leave"}
    for user in (clinic.desk, clinic.clinician):
        status, body = await create(client, user, clinic.clinician_id, request)
        assert (status, body["error"]["code"]) == (403, "FORBIDDEN")
        resp = await client.get(f"/api/clinicians/{clinic.clinician_id}/blocks", headers=user.headers)
        assert resp.status == 403
    other_manager = await factory.staff("CENTRE_MANAGER", [await factory.centre()])
    status, body = await create(client, other_manager, clinic.clinician_id, request)
    assert (status, body["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    resp = await client.get(f"/api/clinicians/{clinic.clinician_id}/blocks", headers=other_manager.headers)
    assert (resp.status, (await resp.json())["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    status, body = await create(client, coordinator, 999999, request)
    assert (status, body["error"]["code"]) == (404, "CLINICIAN_NOT_FOUND")
    status, body = await create(client, coordinator, clinic.clinician_id, request)
    assert status == 201
    resp = await client.delete(
        f"/api/clinicians/{clinic.clinician_id}/blocks/{body['data']['id']}", headers=other_manager.headers
    )
    assert (resp.status, (await resp.json())["error"]["code"]) == (403, "CENTRE_FORBIDDEN")
    resp = await client.delete(
        f"/api/clinicians/{clinic.clinician_id}/blocks/999999", headers=coordinator.headers
    )
    assert resp.status == 404
    manager = await factory.staff("MANAGER")
    resp = await client.get(
        f"/api/clinicians/{clinic.clinician_id}/blocks",
        headers=manager.headers,
        params={"from": "2027-02-10", "to": "2027-02-01"},
    )
    assert resp.status == 400 and "to" in (await resp.json())["error"]["details"]

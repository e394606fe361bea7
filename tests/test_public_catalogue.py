"""The patient website's public reads: the clinician catalogue and free slots, with no token."""

import datetime as dt

from mibo.api.app import init_app
from tests.scheduling_support import at, future_day, insert_appointment, make_clinic, set_clinician

WEBSITE = "http://localhost:5173"
PRIVATE_KEYS = {"phone", "email", "registrationNumber"}


async def test_the_catalogue_lists_bookable_clinicians_with_public_fields_only(client, factory):
    clinic = await make_clinic(factory)
    await factory.fetchone("UPDATE clinician_profiles SET registration_number = 'KMC-1' WHERE id = %s"
                           " RETURNING id", (clinic.clinician_id,))
    gone = await factory.staff("CLINICIAN", [clinic.centre_id], full_name="Dr Gone")
    await factory.fetchone("UPDATE clinician_profiles SET is_active = FALSE WHERE id = %s RETURNING id",
                           (gone.clinician_id,))
    resp = await client.get("/api/users/clinicians?isActive=true", headers={"Origin": WEBSITE})
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == WEBSITE
    assert resp.headers["Cache-Control"] == "public, max-age=300" and resp.headers["ETag"]
    data = (await resp.json())["data"]
    assert [c["id"] for c in data] == [clinic.clinician_id]
    item = data[0]
    assert PRIVATE_KEYS.isdisjoint(item) and "KMC-1" not in await resp.text()
    assert clinic.clinician.phone not in await resp.text()
    assert item["fullName"] == item["name"] == "Dr Asha Rao"
    assert isinstance(item["primaryCentreName"], str) and item["primaryCentreId"] == clinic.centre_id
    assert item["consultationModes"] == ["IN_PERSON", "ONLINE"]
    assert item["consultationFee"] == 1000.0 and item["defaultDurationMinutes"] == 30
    assert item["expertise"] == [] and item["languages"] == [] and item["qualification"] is None
    assert item["isActive"] is True
    detail = await client.get(f"/api/users/clinicians/{clinic.clinician_id}")
    assert detail.status == 200 and (await detail.json())["data"] == item
    assert (await client.get(f"/api/users/clinicians/{gone.clinician_id}")).status == 404
    assert (await client.get("/api/users/clinicians?isActive=false")).status == 200


async def test_an_etag_answers_304_until_the_catalogue_changes(client, factory, aiohttp_client, settings, pool,
                                                                redis):
    clinic = await make_clinic(factory)
    first = await client.get("/api/users/clinicians")
    etag = first.headers["ETag"]
    same = await client.get("/api/users/clinicians", headers={"If-None-Match": etag, "Origin": WEBSITE})
    assert same.status == 304 and await same.read() == b""
    assert same.headers["ETag"] == etag and same.headers["Access-Control-Allow-Origin"] == WEBSITE
    await set_clinician(factory, clinic.clinician_id, consultation_fee=1500)
    # Each process keeps the catalogue PUBLIC_CACHE_SECONDS (10): the change shows after that.
    kept = await client.get("/api/users/clinicians", headers={"If-None-Match": etag})
    assert kept.status == 304
    uncached = await aiohttp_client(init_app(settings.replace(public_cache_seconds=0), pool=pool, redis=redis))
    changed = await uncached.get("/api/users/clinicians", headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert (await changed.json())["data"][0]["consultationFee"] == 1500.0


async def test_staff_user_routes_are_untouched_by_the_public_paths(client, factory):
    admin = await factory.staff("ADMIN")
    assert (await client.get(f"/api/users/{admin.id}", headers=admin.headers)).status == 200
    assert (await client.get(f"/api/users/{admin.id}")).status == 401
    assert (await client.get("/api/users/clinicians/abc")).status == 404


async def test_a_preflight_from_the_website_is_answered(client):
    resp = await client.options("/api/booking/available-slots", headers={
        "Origin": WEBSITE, "Access-Control-Request-Method": "GET"})
    assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == WEBSITE


async def test_public_slots_are_the_staff_slots(client, factory):
    clinic = await make_clinic(factory, start="09:00", end="11:00")
    day = future_day(clinic.zone, 3)
    await insert_appointment(factory, clinic, at(day, "09:30", clinic.zone))
    await factory.fetchone(
        "INSERT INTO clinician_blocks (clinician_id, centre_id, starts_at, ends_at, reason, created_by_user_id)"
        " VALUES (%s, %s, %s, %s, 'x', %s) RETURNING id",
        (clinic.clinician_id, clinic.centre_id, at(day, "10:30", clinic.zone), at(day, "11:00", clinic.zone),
         clinic.desk.id))
    query = f"clinicianId={clinic.clinician_id}&centreId={clinic.centre_id}&date={day.isoformat()}"
    resp = await client.get(f"/api/booking/available-slots?{query}")
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-cache"
    data = (await resp.json())["data"]
    assert data == {"date": day.isoformat(), "slots": [
        {"startTime": "09:00", "endTime": "09:30", "available": True},
        {"startTime": "09:30", "endTime": "10:00", "available": False},
        {"startTime": "10:00", "endTime": "10:30", "available": True},
        {"startTime": "10:30", "endTime": "11:00", "available": False},
    ]}
    staff = await client.get(f"/api/appointments/availability?clinicianId={clinic.clinician_id}"
                             f"&centreId={clinic.centre_id}&date={day.isoformat()}", headers=clinic.desk.headers)
    staff_slots = (await staff.json())["data"]["slots"]
    assert [(s["localStart"], s["status"] == "available") for s in staff_slots] == [
        (s["startTime"], s["available"]) for s in data["slots"]]


async def test_dates_with_slots_counts_free_slots_over_sixty_days(client, factory):
    clinic = await make_clinic(factory, start="09:00", end="10:00")
    await set_clinician(factory, clinic.clinician_id, booking_horizon_days=365)
    first = future_day(clinic.zone, 1)
    last = first + dt.timedelta(days=60)
    await insert_appointment(factory, clinic, at(first, "09:00", clinic.zone))
    query = f"clinicianId={clinic.clinician_id}&centreId={clinic.centre_id}"
    resp = await client.get(f"/api/booking/dates-with-slots?{query}&startDate={first}&endDate={last}")
    assert resp.status == 200, await resp.text()
    data = (await resp.json())["data"]
    assert len(data) == 61 and data[0] == {"date": first.isoformat(), "slotCount": 1}
    assert all(item["slotCount"] == 2 for item in data[1:])
    etag = resp.headers["ETag"]
    again = await client.get(f"/api/booking/dates-with-slots?{query}&startDate={first}&endDate={last}",
                             headers={"If-None-Match": etag})
    assert again.status == 304
    too_long = await client.get(f"/api/booking/dates-with-slots?{query}&startDate={first}"
                                f"&endDate={last + dt.timedelta(days=1)}")
    assert too_long.status == 400
    assert "endDate" in (await too_long.json())["error"]["details"]
    unknown = await client.get(f"/api/booking/dates-with-slots?clinicianId=999999&centreId={clinic.centre_id}"
                               f"&startDate={first}&endDate={last}")
    assert unknown.status == 404
    junk = await client.get(f"/api/booking/available-slots?{query}&date={first}&extra=1")
    assert junk.status == 400 and "extra" in (await junk.json())["error"]["details"]

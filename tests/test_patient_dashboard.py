"""The patient website's dashboard calls, against the fields its pages read: GET /api/patient/dashboard,
/appointments, /payments and GET|PUT /profile (the body its profile form sends); a patient's own
records only, staff tokens refused (403), no token 401."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tests.scheduling_support import at, future_day, insert_appointment, local_today, make_clinic

KOLKATA = ZoneInfo("Asia/Kolkata")
IST = dt.timedelta(hours=5, minutes=30)

PATIENT_ROUTES = [
    ("GET", "/api/patient/dashboard"),
    ("GET", "/api/patient/appointments"),
    ("GET", "/api/patient/payments"),
    ("GET", "/api/patient/profile"),
    ("PUT", "/api/patient/profile"),
    ("GET", "/api/patient/notifications"),
    ("GET", "/api/patient/notifications/unread-count"),
    ("PUT", "/api/patient/notifications/1/read"),
]

# What ProfileCompletionModal sends.
SITE_PROFILE_BODY = {"firstName": "Meera", "lastName": "Nair Pillai", "email": "meera@example.test",
                     "dateOfBirth": "1990-04-15", "gender": "NON_BINARY"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def rows(factory, sql, params=()):
    async with factory.pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


async def world(factory):
    """A clinic and its patient with one of each kind of appointment, and two payments."""
    clinic = await make_clinic(factory)
    await factory.fetchone("UPDATE users SET full_name = 'Meera Nair' WHERE id = %s RETURNING id",
                           (clinic.patient["user_id"],))
    patient = clinic.patient
    soon = at(future_day(clinic.zone, 2), "10:00", clinic.zone)
    later = at(future_day(clinic.zone, 9), "15:30", clinic.zone)
    past = at(local_today(clinic.zone) - dt.timedelta(days=20), "11:00", clinic.zone)
    ids = {
        "later": await insert_appointment(factory, clinic, later),
        "soon": await insert_appointment(factory, clinic, soon, status="CONFIRMED"),
        "completed": await insert_appointment(factory, clinic, past, status="COMPLETED"),
        "cancelled": await insert_appointment(factory, clinic, past + dt.timedelta(days=5), status="CANCELLED"),
        # Replaced by `later`: the patient follows the new one only.
        "replaced": await insert_appointment(factory, clinic, later - dt.timedelta(days=1), status="RESCHEDULED"),
    }
    await factory.fetchone("UPDATE appointments SET appointment_type = 'ONLINE', meet_link = 'https://meet.google.com/abc'"
                           " WHERE id = %s RETURNING id", (ids["soon"],))
    await factory.fetchone("UPDATE appointments SET parent_appointment_id = %s WHERE id = %s RETURNING id",
                           (ids["replaced"], ids["later"]))
    paid = await factory.fetchone(
        "INSERT INTO payments (patient_id, appointment_id, amount, status, payment_id, order_id, paid_at)"
        " VALUES (%s, %s, 1100, 'SUCCESS', 'pay_1', 'order_1', now()) RETURNING id", (patient["id"], ids["completed"]))
    failed = await factory.fetchone("INSERT INTO payments (patient_id, appointment_id, amount, status)"
                                    " VALUES (%s, %s, 1000, 'FAILED') RETURNING id", (patient["id"], ids["soon"]))
    return clinic, ids, {"paid": paid[0], "failed": failed[0]}, {"soon": soon, "later": later, "past": past}


def local(value: str) -> dt.datetime:
    """A time the API sent: it must carry the centre's offset (+05:30)."""
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.utcoffset() == IST, value
    return parsed


def check_appointment_item(item: dict) -> None:
    """Every field the dashboard and appointments pages read, with its type."""
    assert isinstance(item["id"], int)
    for name in ("clinician_name", "centre_name", "appointment_type", "status"):
        assert isinstance(item[name], str) and item[name], name
    local(item["scheduled_start_at"])
    local(item["scheduled_end_at"])
    local(item["created_at"])
    assert isinstance(item["duration_minutes"], int)
    assert isinstance(item["consultation_fee"], float | int)
    assert item["meet_link"] is None or item["meet_link"].startswith("https://")


async def test_dashboard_has_every_field_the_site_reads(client, factory):
    clinic, ids, _, when = await world(factory)
    token = await factory.patient_token(clinic.patient)
    resp = await client.get("/api/patient/dashboard", headers=bearer(token))
    body = await resp.json()
    assert resp.status == 200, body
    data = body["data"]
    patient = data["patient"]
    assert patient["id"] == clinic.patient["id"] and patient["name"] == "Meera Nair"
    # The site shows "+" + phone when it starts with 91.
    assert patient["phone"] == clinic.patient["phone"].removeprefix("+") and patient["phone"].startswith("91")
    assert patient["email"].endswith("@example.test")
    assert data["statistics"] == {"totalAppointments": 4, "completedAppointments": 1, "upcomingAppointments": 2,
                                  "totalSpent": 1100.0}
    upcoming, recent = data["upcomingAppointments"], data["recentAppointments"]
    assert [a["id"] for a in upcoming] == [ids["soon"], ids["later"]]  # soonest first
    assert [a["id"] for a in recent] == [ids["cancelled"], ids["completed"]]  # newest first
    for item in upcoming + recent:
        check_appointment_item(item)
    soon = upcoming[0]
    # The centre's local time, the same instant.
    assert soon["scheduled_start_at"] == when["soon"].isoformat()
    assert local(soon["scheduled_start_at"]).strftime("%H:%M") == "10:00"
    assert (soon["clinician_name"], soon["status"], soon["appointment_type"]) == ("Dr Asha Rao", "CONFIRMED", "ONLINE")
    assert soon["meet_link"] == "https://meet.google.com/abc" and soon["consultation_fee"] == 1000.0
    assert soon["duration_minutes"] == 30


async def test_appointments_lists_the_patients_own_newest_first(client, factory):
    clinic, ids, _, _ = await world(factory)
    other = await factory.patient()
    theirs = await insert_appointment(factory, clinic, at(future_day(clinic.zone, 4), "12:00", clinic.zone),
                                      patient_id=other["id"])
    token = await factory.patient_token(clinic.patient)
    resp = await client.get("/api/patient/appointments", headers=bearer(token))
    body = await resp.json()
    assert resp.status == 200, body
    listed = body["data"]["appointments"]
    assert [a["id"] for a in listed] == [ids["later"], ids["soon"], ids["cancelled"], ids["completed"]]
    assert body["data"]["total"] == 4 and theirs not in [a["id"] for a in listed]
    for item in listed:
        check_appointment_item(item)
    resp = await client.get("/api/patient/appointments", params={"limit": "1", "offset": "1"}, headers=bearer(token))
    page = (await resp.json())["data"]
    assert [a["id"] for a in page["appointments"]] == [ids["soon"]] and page["total"] == 4
    other_token = await factory.patient_token(other)
    resp = await client.get("/api/patient/appointments", headers=bearer(other_token))
    assert [a["id"] for a in (await resp.json())["data"]["appointments"]] == [theirs]


async def test_payments_lists_the_patients_own(client, factory):
    clinic, ids, paid, _ = await world(factory)
    other = await factory.patient()
    await factory.fetchone("INSERT INTO payments (patient_id, amount, status) VALUES (%s, 500, 'SUCCESS') RETURNING id",
                           (other["id"],))
    token = await factory.patient_token(clinic.patient)
    resp = await client.get("/api/patient/payments", headers=bearer(token))
    body = await resp.json()
    assert resp.status == 200, body
    listed = body["data"]["payments"]
    assert sorted(p["id"] for p in listed) == sorted(paid.values()) and body["data"]["total"] == 2
    success = next(p for p in listed if p["id"] == paid["paid"])
    assert success | {"paid_at": None, "created_at": None} == {
        "id": paid["paid"], "appointment_id": ids["completed"], "amount": 1100.0, "currency": "INR",
        "status": "SUCCESS", "channel": "CHECKOUT", "razorpay_order_id": "order_1", "razorpay_payment_id": "pay_1",
        "paid_at": None, "created_at": None}
    assert dt.datetime.fromisoformat(success["paid_at"]).tzinfo is not None


async def test_profile_has_what_the_booking_page_reads(client, factory):
    clinic, _, _, _ = await world(factory)
    await factory.fetchone("UPDATE patient_profiles SET date_of_birth = %s, gender = 'UNDISCLOSED' WHERE id = %s"
                           " RETURNING id", (dt.date(1990, 1, 1), clinic.patient["id"]))
    token = await factory.patient_token(clinic.patient)
    resp = await client.get("/api/patient/profile", headers=bearer(token))
    body = await resp.json()
    assert resp.status == 200, body
    user, profile = body["data"]["user"], body["data"]["profile"]
    assert (user["full_name"], user["first_name"], user["last_name"]) == ("Meera Nair", "Meera", "Nair")
    assert user["phone"] == clinic.patient["phone"].removeprefix("+") and user["email"].endswith("@example.test")
    today = local_today(KOLKATA)
    assert profile["age"] == today.year - 1990 - ((today.month, today.day) < (1, 1))
    assert profile["gender"] == "PREFER_NOT_TO_SAY" and profile["date_of_birth"] == "1990-01-01"
    assert profile["id"] == clinic.patient["id"] and user["id"] == clinic.patient["user_id"]


async def test_profile_update_takes_the_sites_body(client, factory):
    patient = await factory.patient(full_name="Meera")
    token = await factory.patient_token(patient)
    born = dt.date(1990, 4, 15)
    today = local_today(KOLKATA)
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    resp = await client.put("/api/patient/profile", json={**SITE_PROFILE_BODY, "age": age}, headers=bearer(token))
    body = await resp.json()
    assert resp.status == 200, body
    assert body["data"]["user"]["full_name"] == "Meera Nair Pillai"
    assert (body["data"]["user"]["first_name"], body["data"]["user"]["last_name"]) == ("Meera", "Nair Pillai")
    assert body["data"]["profile"] | {"id": None} == {
        "id": None, "date_of_birth": "1990-04-15", "age": age, "gender": "NON_BINARY", "blood_group": None,
        "emergency_contact_name": None, "emergency_contact_phone": None}
    assert await rows(factory, "SELECT u.full_name, u.email, pp.date_of_birth, pp.gender FROM users u"
                               " JOIN patient_profiles pp ON pp.user_id = u.id WHERE pp.id = %s", (patient["id"],)) == [
        ("Meera Nair Pillai", "meera@example.test", born, "OTHER")]
    # A last name alone keeps the first; the change is audited as the patient's own.
    resp = await client.put("/api/patient/profile", json={"lastName": "Menon"}, headers=bearer(token))
    assert resp.status == 200 and (await resp.json())["data"]["user"]["full_name"] == "Meera Menon"
    assert await rows(factory, "SELECT action, actor_kind, surface FROM audit_log WHERE action = 'patient.update'"
                               " ORDER BY id") == [("patient.update", "PATIENT", "PATIENT_WEB")] * 2


def unchanged_row(factory, patient):
    return rows(factory, "SELECT u.full_name, u.email, u.phone, pp.date_of_birth, pp.gender, pp.blood_group"
                         " FROM users u JOIN patient_profiles pp ON pp.user_id = u.id WHERE pp.id = %s",
                (patient["id"],))


@pytest.mark.parametrize(("body", "field"), [
    ({**SITE_PROFILE_BODY, "phone": "9876500000"}, "phone"),
    ({**SITE_PROFILE_BODY, "bloodGroup": "O+"}, "bloodGroup"),
    ({"first_name": "Meera"}, "first_name"),
    ({**SITE_PROFILE_BODY, "isActive": False}, "isActive"),
    ({**SITE_PROFILE_BODY, "gender": "OTHER"}, "gender"),
    ({**SITE_PROFILE_BODY, "age": 3}, "age"),
    ({"age": 30}, "age"),  # no date of birth, stored or sent, to check it against
    ({**SITE_PROFILE_BODY, "dateOfBirth": "2999-01-01"}, "dateOfBirth"),
    ({**SITE_PROFILE_BODY, "email": "not-an-email"}, "email"),
    ({**SITE_PROFILE_BODY, "firstName": ""}, "firstName"),
])
async def test_profile_update_refuses_other_fields_and_writes_nothing(client, factory, body, field):
    patient = await factory.patient(full_name="Meera Nair")
    token = await factory.patient_token(patient)
    before = await unchanged_row(factory, patient)
    resp = await client.put("/api/patient/profile", json=body, headers=bearer(token))
    answer = await resp.json()
    assert resp.status == 400, answer
    assert field in answer["error"]["details"], answer
    assert await unchanged_row(factory, patient) == before
    assert await rows(factory, "SELECT count(*) FROM audit_log WHERE action = 'patient.update'") == [(0,)]


async def test_staff_tokens_are_refused_and_no_token_is_401(client, factory):
    centre = await factory.centre()
    admin = await factory.staff("ADMIN", [centre])
    for method, path in PATIENT_ROUTES:
        kwargs = {"json": {}} if method == "PUT" else {}
        resp = await client.request(method, path, headers=admin.headers, **kwargs)
        assert (resp.status, (await resp.json())["error"]["code"]) == (403, "PATIENT_ONLY"), (method, path)
        resp = await client.request(method, path, **kwargs)
        assert resp.status == 401, (method, path)
        resp = await client.request(method, path, headers=bearer("null"), **kwargs)  # what the site's bug sends
        assert resp.status == 401, (method, path)


async def test_a_patient_without_appointments_gets_an_empty_dashboard(client, factory):
    patient = await factory.patient(full_name="Asha")
    token = await factory.patient_token(patient)
    resp = await client.get("/api/patient/dashboard", headers=bearer(token))
    data = (await resp.json())["data"]
    assert data["statistics"] == {"totalAppointments": 0, "completedAppointments": 0, "upcomingAppointments": 0,
                                  "totalSpent": 0.0}
    assert (data["upcomingAppointments"], data["recentAppointments"]) == ([], [])
    resp = await client.get("/api/patient/profile", headers=bearer(token))
    user = (await resp.json())["data"]["user"]
    assert (user["first_name"], user["last_name"]) == ("Asha", "")

"""Patient notifications: one row per event told to a patient, written with the WhatsApp message's
rows (run twice: still one), a block's cancellation told as such, payment links and refunds; and
the website's calls that list them, count the unread and mark them read, for their patient only."""

from __future__ import annotations

import datetime as dt
import inspect
from decimal import Decimal

import pytest

import jobs.context
from jobs.actors import appointments as appointment_actors
from jobs.actors import notifications as notification_actors
from jobs.actors import payments as payment_actors
from mibo.core import db
from mibo.core.errors import ApiError
from mibo.domain import messages, patient_notifications
from tests.scheduling_support import at, future_day, insert_appointment, make_clinic

NOTIFICATIONS = """
SELECT patient_id, kind, title, message, appointment_id, metadata, event_key, read_at
FROM patient_notifications ORDER BY id
"""


@pytest.fixture
def worker_context(pool, settings, monkeypatch):
    """The actors' pool and settings are the test's (the test plays the worker)."""
    monkeypatch.setattr(jobs.context, "_settings", settings)
    monkeypatch.setattr(jobs.context, "_pool", pool)


async def rows(factory, sql, params=()):
    async with factory.pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


async def notify(appointment_id: int, kind: str) -> None:
    """The notify_appointment actor's step, as the worker runs it."""
    await inspect.unwrap(notification_actors.notify_appointment.fn)(appointment_id, kind)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def clinic_with_appointment(factory, status="CONFIRMED", wall="10:00"):
    clinic = await make_clinic(factory)
    start = at(future_day(clinic.zone), wall, clinic.zone)
    appointment_id = await insert_appointment(factory, clinic, start, status=status)
    return clinic, start, appointment_id


# --- written with the messages, once -----------------------------------------------------------


async def test_each_appointment_message_stores_one_patient_notification_however_often_run(
        factory, worker_context):
    clinic, start, appt = await clinic_with_appointment(factory)
    for _ in range(2):  # the actor run twice (a retry, a repair sweep)
        await notify(appt, messages.CONFIRMED)
    (row,) = await rows(factory, NOTIFICATIONS)
    patient_id, kind, title, message, appointment_id, metadata, event_key, read_at = row
    assert (patient_id, kind, title, appointment_id, read_at) == (
        clinic.patient["id"], "APPOINTMENT_CONFIRMED", "Appointment confirmed", appt, None)
    # The same event as the WhatsApp message to the patient, and the time in the centre's zone.
    (whatsapp_key,) = await rows(factory, "SELECT idempotency_key FROM notification_logs")
    assert event_key == whatsapp_key[0] == f"appointment:{appt}:APPOINTMENT_CONFIRMED:patient"
    assert messages.local_when(start, "Asia/Kolkata") in message and "Dr Asha Rao" in message
    assert start.strftime("%H:%M") == "10:00" and "10:00 am" in message
    assert metadata == {}


async def test_reminders_reschedules_and_cancellations_each_make_their_own(factory, worker_context):
    clinic, start, appt = await clinic_with_appointment(factory)
    for kind in (messages.BOOKED, messages.REMINDER, messages.REMINDER):
        await notify(appt, kind)
    await factory.fetchone("UPDATE appointments SET status = 'CANCELLED', cancellation_reason = 'Travelling'"
                           " WHERE id = %s RETURNING id", (appt,))
    await notify(appt, messages.CANCELLED)
    await notify(appt, messages.CANCELLED)
    # A reminder for the appointment now cancelled no longer applies: no notification for it.
    await notify(appt, messages.CONFIRMED)
    found = await rows(factory, "SELECT kind, message, metadata FROM patient_notifications ORDER BY id")
    assert [kind for kind, _, _ in found] == ["APPOINTMENT_BOOKED", "APPOINTMENT_REMINDER", "APPOINTMENT_CANCELLED"]
    assert "Reason: Travelling." in found[2][1]
    assert found[2][2] == {"refund_eligible": False}


async def test_a_patient_without_a_phone_still_gets_the_notification(factory, worker_context):
    clinic, _, appt = await clinic_with_appointment(factory)
    await factory.fetchone("UPDATE users SET phone = NULL WHERE id = %s RETURNING id", (clinic.patient["user_id"],))
    await notify(appt, messages.CONFIRMED)
    assert await rows(factory, "SELECT count(*) FROM notification_logs") == [(0,)]
    assert await rows(factory, "SELECT kind FROM patient_notifications") == [("APPOINTMENT_CONFIRMED",)]


async def test_a_cancellation_by_a_clinician_block_is_told_as_such(client, factory, worker_context):
    clinic, start, appt = await clinic_with_appointment(factory)
    await factory.fetchone("INSERT INTO payments (patient_id, appointment_id, amount, status)"
                           " VALUES (%s, %s, 1000, 'SUCCESS') RETURNING id", (clinic.patient["id"], appt))
    coordinator = await factory.staff("CARE_COORDINATOR", [clinic.centre_id])
    resp = await client.post(f"/api/clinicians/{clinic.clinician_id}/blocks", headers=coordinator.headers,
                             json={"date": start.date().isoformat(), "reason": "Conference",
                                   "cancelAppointments": True})
    body = await resp.json()
    assert resp.status == 201, body
    block_id = body["data"]["id"]
    assert await rows(factory, "SELECT status, cancelled_by_block_id FROM appointments") == [("CANCELLED", block_id)]
    # The chain as the worker runs it: the cancellation's step queues the message step, run here twice.
    await inspect.unwrap(appointment_actors.appointment_cancelled.fn)(appt)
    (step,) = await rows(factory, "SELECT args FROM outbox WHERE actor_name = 'notify_appointment'")
    assert step == ([appt, messages.CANCELLED],)
    for _ in range(2):
        await notify(*step[0])
    ((kind, title, message, metadata, event_key),) = await rows(
        factory, "SELECT kind, title, message, metadata, event_key FROM patient_notifications")
    assert (kind, title) == ("APPOINTMENT_BLOCKED", "Appointment cancelled: clinician unavailable")
    assert metadata == {"refund_eligible": True, "block_id": block_id}
    assert "Dr Asha Rao is not available on" in message and "will be refunded" in message
    assert event_key == f"appointment:{appt}:APPOINTMENT_CANCELLED:patient"
    # The WhatsApp message is the same cancellation: one of each.
    assert await rows(factory, "SELECT kind FROM notification_logs") == [("APPOINTMENT_CANCELLED",)]


async def test_a_payment_link_stores_one_notification(factory, pool, settings, worker_context):
    clinic, start, appt = await clinic_with_appointment(factory, status="BOOKED")
    payment = await factory.fetchone(
        "INSERT INTO payments (patient_id, appointment_id, channel, amount, status)"
        " VALUES (%s, %s, 'PAYMENT_LINK', 1000, 'CREATED') RETURNING id", (clinic.patient["id"], appt))
    row = await db.query_one(pool, payment_actors.LINK_PAYMENT_WITH_CONTEXT, (payment[0],))
    link = {"id": "plink_test1", "short_url": "https://rzp.io/i/abc"}
    expires = start - dt.timedelta(hours=2)
    outcomes = [await payment_actors.store_payment_link(pool, row, link, expires) for _ in range(2)]
    assert outcomes == ["SENT", "DONE"]
    ((kind, message, metadata, appointment_id),) = await rows(
        factory, "SELECT kind, message, metadata, appointment_id FROM patient_notifications")
    assert (kind, metadata, appointment_id) == ("PAYMENT_LINK", {"payment_id": payment[0]}, appt)
    assert "₹1,000.00" in message and "https://rzp.io/i/abc" in message
    assert messages.local_when(expires, "Asia/Kolkata") in message


async def test_refund_initiated_is_stored_once_per_refund(factory, pool):
    clinic, start, appt = await clinic_with_appointment(factory)
    payment = await factory.fetchone("INSERT INTO payments (patient_id, appointment_id, amount, status)"
                                     " VALUES (%s, %s, 1100, 'SUCCESS') RETURNING id", (clinic.patient["id"], appt))
    async with db.transaction(pool) as cur:
        first = await patient_notifications.refund_initiated(cur, 7, payment[0], Decimal("1100.00"))
        again = await patient_notifications.refund_initiated(cur, 7, payment[0], Decimal("1100.00"))
        other = await patient_notifications.refund_initiated(cur, 8, payment[0], Decimal("50"))
    assert first is not None and again is None and other is not None
    found = await rows(factory, "SELECT patient_id, kind, message, metadata, appointment_id, event_key"
                                " FROM patient_notifications ORDER BY id")
    assert [(r[0], r[1], r[4], r[5]) for r in found] == [
        (clinic.patient["id"], "REFUND_INITIATED", appt, "refund:7:patient"),
        (clinic.patient["id"], "REFUND_INITIATED", appt, "refund:8:patient")]
    assert "₹1,100.00" in found[0][2] and messages.local_when(start, "Asia/Kolkata") in found[0][2]
    assert found[0][3] == {"refund_id": 7, "payment_id": payment[0], "amount": 1100.0, "currency": "INR"}
    async with db.transaction(pool) as cur:
        with pytest.raises(ApiError) as missing:
            await patient_notifications.refund_initiated(cur, 9, 999_999, Decimal("1"))
    assert missing.value.status == 404


def test_every_message_kind_reads_in_the_centres_zone():
    start = dt.datetime(2026, 6, 5, 4, 30, tzinfo=dt.UTC)
    appt = {"id": 42, "patient_id": 3, "appointment_type": "ONLINE", "meet_link": "https://meet.google.com/x",
            "cancellation_reason": None, "cancelled_by_block_id": None, "refund_due": False,
            "centre_name": "Mibo Kochi", "timezone": "Asia/Kolkata", "clinician_name": "Dr Menon"}
    for kind in messages.KINDS:
        made = patient_notifications.about_appointment(appt, kind, start)
        assert "5 June 2026, 10:00 am" in made["message"] and "04:30" not in made["message"], kind
        assert made["title"] == patient_notifications.TITLES[made["kind"]]
    confirmed = patient_notifications.about_appointment(appt, messages.CONFIRMED, start)
    assert confirmed["message"].endswith("Join online: https://meet.google.com/x")
    cancelled = patient_notifications.about_appointment(appt, messages.CANCELLED, start)
    assert "meet.google.com" not in cancelled["message"] and "Reason: Not stated." in cancelled["message"]
    with pytest.raises(ValueError):
        patient_notifications.about_appointment(appt, "PAYMENT_LINK", start)


# --- the website's calls ---------------------------------------------------------------------------


async def add(pool, patient_id: int, key: str, appointment_id: int | None = None, kind="APPOINTMENT_CONFIRMED"):
    async with db.transaction(pool) as cur:
        return await patient_notifications.add(cur, patient_id=patient_id, kind=kind, title="Title",
                                               message=f"Message {key}", event_key=key,
                                               appointment_id=appointment_id)


async def test_list_unread_count_and_mark_read_as_the_website_calls_them(client, factory, pool):
    clinic, start, appt = await clinic_with_appointment(factory)
    patient = clinic.patient
    token = await factory.patient_token(patient)
    first = await add(pool, patient["id"], "k1", appt)
    second = await add(pool, patient["id"], "k2", kind="REFUND_INITIATED")
    resp = await client.get("/api/patient/notifications", params={"limit": "20", "offset": "0",
                                                                   "unread_only": "false"}, headers=bearer(token))
    body = await resp.json()
    assert resp.status == 200, body
    data = body["data"]
    assert data["unread_count"] == 2
    newest, oldest = data["notifications"]
    assert (newest["id"], oldest["id"]) == (second, first)
    assert oldest == {
        "id": first, "patient_id": patient["id"], "notification_type": "APPOINTMENT_CONFIRMED", "title": "Title",
        "message": "Message k1", "appointment_id": appt, "metadata": {}, "is_read": False, "read_at": None,
        "created_at": oldest["created_at"]}
    assert newest["appointment_id"] is None and newest["notification_type"] == "REFUND_INITIATED"
    for item in (newest, oldest):  # the centre's zone (the chain's when there is no appointment)
        assert dt.datetime.fromisoformat(item["created_at"]).utcoffset() == dt.timedelta(hours=5, minutes=30)

    resp = await client.get("/api/patient/notifications/unread-count", headers=bearer(token))
    assert (resp.status, (await resp.json())["data"]) == (200, {"unread_count": 2})

    # The website sends an empty object.
    resp = await client.put(f"/api/patient/notifications/{first}/read", json={}, headers=bearer(token))
    body = await resp.json()
    assert resp.status == 200, body
    assert body["data"]["is_read"] is True and body["data"]["id"] == first
    read_at = body["data"]["read_at"]
    assert dt.datetime.fromisoformat(read_at).utcoffset() == dt.timedelta(hours=5, minutes=30)
    again = await client.put(f"/api/patient/notifications/{first}/read", headers=bearer(token))
    assert again.status == 200 and (await again.json())["data"]["read_at"] == read_at  # the first time stays
    assert (await rows(factory, "SELECT id FROM patient_notifications WHERE read_at IS NOT NULL")) == [(first,)]

    resp = await client.get("/api/patient/notifications/unread-count", headers=bearer(token))
    assert (await resp.json())["data"] == {"unread_count": 1}
    resp = await client.get("/api/patient/notifications", params={"unread_only": "true"}, headers=bearer(token))
    data = (await resp.json())["data"]
    assert [n["id"] for n in data["notifications"]] == [second] and data["unread_count"] == 1
    resp = await client.get("/api/patient/notifications", params={"limit": "1", "offset": "1"}, headers=bearer(token))
    assert [n["id"] for n in (await resp.json())["data"]["notifications"]] == [first]


async def test_days_filter_in_the_chains_zone(client, factory, pool):
    patient = await factory.patient()
    token = await factory.patient_token(patient)
    early = await add(pool, patient["id"], "early")
    late = await add(pool, patient["id"], "late")
    # 00:10 and 23:50 on 1 March in Kolkata: both that local day, though UTC puts the first on 28 February.
    for key, local in ((early, "2026-03-01T00:10:00+05:30"), (late, "2026-03-01T23:50:00+05:30")):
        await factory.fetchone("UPDATE patient_notifications SET created_at = %s WHERE id = %s RETURNING id",
                               (local, key))
    resp = await client.get("/api/patient/notifications", params={"date_from": "2026-03-01", "date_to": "2026-03-01"},
                            headers=bearer(token))
    assert sorted(n["id"] for n in (await resp.json())["data"]["notifications"]) == sorted([early, late])
    resp = await client.get("/api/patient/notifications", params={"date_from": "2026-03-02"}, headers=bearer(token))
    assert (await resp.json())["data"]["notifications"] == []
    resp = await client.get("/api/patient/notifications", params={"date_from": "2026-03-02", "date_to": "2026-03-01"},
                            headers=bearer(token))
    assert resp.status == 400 and "date_to" in (await resp.json())["error"]["details"]


async def test_another_patients_notification_is_404_and_unchanged(client, factory, pool):
    alice, bob = await factory.patient(), await factory.patient()
    bobs = await add(pool, bob["id"], "bob-1")
    alice_token = await factory.patient_token(alice)
    resp = await client.put(f"/api/patient/notifications/{bobs}/read", json={}, headers=bearer(alice_token))
    assert (resp.status, (await resp.json())["error"]["code"]) == (404, "NOTIFICATION_NOT_FOUND")
    assert await rows(factory, "SELECT read_at FROM patient_notifications") == [(None,)]
    resp = await client.get("/api/patient/notifications", headers=bearer(alice_token))
    assert (await resp.json())["data"] == {"notifications": [], "unread_count": 0}
    resp = await client.get("/api/patient/notifications/unread-count", headers=bearer(alice_token))
    assert (await resp.json())["data"] == {"unread_count": 0}
    resp = await client.put("/api/patient/notifications/999999/read", json={}, headers=bearer(alice_token))
    assert resp.status == 404


async def test_mark_read_refuses_a_body_with_fields(client, factory, pool):
    patient = await factory.patient()
    mine = await add(pool, patient["id"], "mine")
    token = await factory.patient_token(patient)
    resp = await client.put(f"/api/patient/notifications/{mine}/read", json={"isRead": False}, headers=bearer(token))
    assert resp.status == 400 and "isRead" in (await resp.json())["error"]["details"]
    assert await rows(factory, "SELECT read_at FROM patient_notifications") == [(None,)]

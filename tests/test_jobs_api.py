"""/api/notifications/* and /api/video/*: they only write outbox rows (never call a provider),
accept the service token where the spec says "System", and scope by centre."""

from __future__ import annotations

from datetime import datetime

from mibo.core import outbox
from tests.factories import rows
from tests.jobs_support import future_slot, insert_appointment, people


async def appointment(factory, pool, kind="ONLINE", status="BOOKED", who=None, slot=0):
    who = who or await people(factory)
    async with pool.acquire() as conn, conn.cursor() as cur:
        appointment_id = await insert_appointment(cur, who, future_slot(slot), kind, status)
    return who, appointment_id


def service(settings) -> dict:
    return {"Authorization": f"Bearer {settings.service_token}"}


async def test_confirmation_is_queued_through_the_outbox(client, factory, pool, settings):
    _, appt = await appointment(factory, pool)
    resp = await client.post("/api/notifications/appointment-confirmation", headers=service(settings),
                             json={"appointmentId": appt})
    assert resp.status == 202
    assert (await resp.json())["data"] == {"appointmentId": appt, "queued": True}
    assert await rows(pool, "SELECT actor_name, args FROM outbox") == [(outbox.APPOINTMENT_CONFIRMED,
                                                                         [appt])]


async def test_reminder_shares_the_schedulers_key_so_it_is_queued_once(client, factory, pool, settings):
    _, appt = await appointment(factory, pool, kind="IN_PERSON")
    admin = await factory.staff("ADMIN")
    answers = []
    for headers in (service(settings), admin.headers):
        resp = await client.post("/api/notifications/appointment-reminder", headers=headers,
                                 json={"appointmentId": appt})
        assert resp.status == 202
        answers.append((await resp.json())["data"]["queued"])
    assert answers == [True, False]
    ((actor, args, key),) = await rows(pool, "SELECT actor_name, args, dedupe_key FROM outbox")
    start = datetime.fromisoformat(args[1])
    assert (actor, args[0], key) == (outbox.APPOINTMENT_REMINDER, appt,
                                      outbox.reminder_dedupe_key(appt, int(start.timestamp())))
    assert start == future_slot()


async def test_notification_requests_are_checked(client, factory, pool, settings):
    _, cancelled = await appointment(factory, pool, status="CANCELLED")
    cases = [({"appointmentId": 999999}, 404), ({"appointmentId": cancelled}, 422), ({}, 400),
             ({"appointmentId": "x"}, 400), ({"appointmentId": 1, "extra": 1}, 400)]
    for body, status in cases:
        resp = await client.post("/api/notifications/appointment-confirmation", headers=service(settings),
                                 json=body)
        assert resp.status == status, (body, await resp.text())
    desk = await factory.staff("FRONT_DESK", [await factory.centre()])
    resp = await client.post("/api/notifications/appointment-reminder", headers=desk.headers,
                             json={"appointmentId": cancelled})
    assert resp.status == 403
    assert await rows(pool, "SELECT count(*) FROM outbox") == [(0,)]


async def test_history_filters_pages_and_masks_phones(client, factory, pool):
    who, appt = await appointment(factory, pool)
    await rows(pool, """
        INSERT INTO notification_logs (idempotency_key, appointment_id, kind, template_name, recipient_phone,
                                       status, attempts, created_at)
        VALUES ('a', %(a)s, 'APPOINTMENT_BOOKED', 't', %(p)s, 'SENT', 1, '2026-06-04 18:29:00+00'),
               ('b', %(a)s, 'APPOINTMENT_REMINDER', 't', %(p)s, 'SUPERSEDED', 0, '2026-06-04 18:31:00+00'),
               ('c', NULL, 'OTP', 'login_otp', %(p)s, 'FAILED', 2, '2026-06-05 10:00:00+00')""",
                {"a": appt, "p": who.patient_phone})
    admin = await factory.staff("ADMIN")

    async def listing(**query):
        resp = await client.get("/api/notifications/history", headers=admin.headers, params=query)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    everything = await listing()
    assert [n["kind"] for n in everything["data"]] == ["OTP", "APPOINTMENT_REMINDER", "APPOINTMENT_BOOKED"]
    assert everything["meta"] == {"total": 3, "limit": 50, "offset": 0}
    assert {n["recipientPhone"] for n in everything["data"]} == {"******" + who.patient_phone[-4:]}
    assert [n["status"] for n in (await listing(appointmentId=appt))["data"]] == ["SUPERSEDED", "SENT"]
    assert [n["kind"] for n in (await listing(status="FAILED"))["data"]] == ["OTP"]
    assert [n["kind"] for n in (await listing(kind="APPOINTMENT_BOOKED"))["data"]] == ["APPOINTMENT_BOOKED"]
    # Days are Kolkata days: 18:31 UTC on 4 June is already 5 June there.
    assert [n["kind"] for n in (await listing(**{"from": "2026-06-05"}))["data"]] == ["OTP",
                                                                                      "APPOINTMENT_REMINDER"]
    assert [n["kind"] for n in (await listing(to="2026-06-04"))["data"]] == ["APPOINTMENT_BOOKED"]
    page = await listing(limit=1, offset=1)
    assert [n["kind"] for n in page["data"]] == ["APPOINTMENT_REMINDER"] and page["meta"]["total"] == 3
    past_end = await listing(offset=10)
    assert past_end["data"] == [] and past_end["meta"]["total"] == 3
    for bad in ({"status": "LOST"}, {"from": "2026-06-06", "to": "2026-06-05"}, {"limit": 101}):
        resp = await client.get("/api/notifications/history", headers=admin.headers, params=bad)
        assert resp.status == 400, bad
    manager = await factory.staff("MANAGER")
    resp = await client.get("/api/notifications/history", headers=manager.headers)
    assert resp.status == 403


async def test_generate_meet_link_queues_once_per_request_and_returns_an_existing_link(client, factory,
                                                                                       pool, settings):
    who, appt = await appointment(factory, pool)
    resp = await client.post("/api/video/generate-meet-link", headers=service(settings),
                             json={"appointmentId": appt})
    assert resp.status == 202
    assert (await resp.json())["data"]["status"] == "PENDING"
    assert await rows(pool, "SELECT actor_name, args FROM outbox") == [(outbox.CREATE_MEET_LINK, [appt, ""])]
    await rows(pool, "UPDATE appointments SET meet_link = 'https://meet.google.com/aaa-bbbb-ccc',"
                      " calendar_event_id = 'e1' WHERE id = %s", (appt,))
    resp = await client.post("/api/video/generate-meet-link", headers=service(settings),
                             json={"appointmentId": appt})
    assert resp.status == 200
    assert (await resp.json())["data"]["meetLink"] == "https://meet.google.com/aaa-bbbb-ccc"
    _, in_person = await appointment(factory, pool, kind="IN_PERSON", who=who, slot=1)
    resp = await client.post("/api/video/generate-meet-link", headers=service(settings),
                             json={"appointmentId": in_person})
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "NOT_ONLINE"
    assert await rows(pool, "SELECT count(*) FROM outbox") == [(1,)]


async def test_meet_link_is_visible_only_within_the_centre(client, factory, pool):
    who, appt = await appointment(factory, pool)
    same_centre = await factory.staff("CARE_COORDINATOR", [who.centre_id])
    other_centre = await factory.staff("FRONT_DESK", [await factory.centre()])
    resp = await client.get(f"/api/video/appointment/{appt}/meet-link", headers=same_centre.headers)
    assert resp.status == 200
    assert (await resp.json())["data"] == {"appointmentId": appt, "appointmentType": "ONLINE",
                                           "meetLink": None,
                                           "calendarEventId": None, "status": "PENDING"}
    resp = await client.get(f"/api/video/appointment/{appt}/meet-link", headers=other_centre.headers)
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "CENTRE_FORBIDDEN"
    resp = await client.get("/api/video/appointment/999999/meet-link", headers=same_centre.headers)
    assert resp.status == 404


async def test_otp_over_whatsapp_is_queued_sealed(aiohttp_client, settings, pool, redis, factory):
    """With OTP_CHANNEL=whatsapp the API publishes a sealed token, never the code, for the send_otp actor."""
    import json as _json

    import redis as redis_sync

    from mibo.api.app import init_app
    from mibo.domain import otp_delivery as otp_sender

    staff = await factory.staff("FRONT_DESK", [await factory.centre()])
    app = init_app(settings.replace(otp_channel="whatsapp"), pool=pool, redis=redis)
    client = await aiohttp_client(app)
    resp = await client.post("/api/auth/send-otp", json={"phone": staff.phone})
    assert resp.status == 200
    reader = redis_sync.Redis.from_url(settings.redis_url)
    try:
        (message_id,) = reader.lrange("dramatiq:default", 0, -1)
        message = _json.loads(reader.hget("dramatiq:default.msgs", message_id))
    finally:
        reader.close()
    assert message["actor_name"] == "send_otp" and message["options"]["max_age"] == 120_000
    sealed = otp_sender.unseal(settings, message["args"][0])
    assert sealed["phone"] == staff.phone and len(sealed["otp"]) == 6
    assert sealed["otp"] not in _json.dumps(message)
    ((otp_hash,),) = await rows(pool, "SELECT otp_hash FROM otp_requests")
    assert sealed["otp"] not in otp_hash

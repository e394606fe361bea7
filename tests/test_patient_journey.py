"""The patient website's whole journey over HTTP, with a real Redis broker, a real Dramatiq worker
and the provider sandbox: catalogue → OTP sign-up → book ONLINE → order → sandbox payment and its
signed webhook → CONFIRMED with one Meet link and one WhatsApp confirmation → cancel before the
cut-off → the cancellation message."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from mibo.api.app import init_app
from tests.jobs_support import Worker, wait_for, worker_env
from tests.payments_support import value
from tests.scheduling_support import add_rule, future_day

WEBSITE = {"Origin": "http://localhost:5173"}
KOLKATA = ZoneInfo("Asia/Kolkata")


@pytest.fixture
async def api(aiohttp_client, e2e_settings, pool, otp_sender):
    return await aiohttp_client(init_app(e2e_settings, pool=pool, otp_sender=otp_sender))


@pytest.fixture
def worker(e2e_settings, tmp_path):
    process = Worker(worker_env(e2e_settings), tmp_path / "worker.log")
    process.start()
    yield process
    process.stop()


async def data_of(resp, status=200):
    body = await resp.json()
    assert resp.status == status, body
    return body["data"]


async def test_sign_up_book_pay_confirm_and_cancel_from_the_website(api, factory, sandbox, worker, otp_sender):
    centre = await factory.centre()
    doctor = await factory.staff("CLINICIAN", [centre], full_name="Dr Meera Nair", login=False)
    for day in range(7):
        await add_rule(factory, doctor.clinician_id, centre, day, "09:00", "17:00")

    catalogue = await data_of(await api.get("/api/users/clinicians?isActive=true", headers=WEBSITE))
    clinician = next(c for c in catalogue if c["fullName"] == "Dr Meera Nair")
    assert "ONLINE" in clinician["consultationModes"]
    first_day = future_day(KOLKATA, 3)
    dates = await data_of(await api.get(
        f"/api/booking/dates-with-slots?clinicianId={clinician['id']}&centreId={centre}"
        f"&startDate={first_day}&endDate={first_day + dt.timedelta(days=60)}", headers=WEBSITE))
    day = dt.date.fromisoformat(dates[0]["date"])
    slots = await data_of(await api.get(
        f"/api/booking/available-slots?clinicianId={clinician['id']}&centreId={centre}&date={day}", headers=WEBSITE))
    slot = next(s for s in slots["slots"] if s["available"])

    assert (await data_of(await api.post("/api/patient-auth/send-otp", json={"phone": "919812300001"})))[
        "isNewUser"] is True
    signed = await data_of(await api.post("/api/patient-auth/verify-otp", json={
        "phone": "919812300001", "otp": otp_sender.last_for("+919812300001"), "first_name": "Kavya",
        "last_name": "Menon", "email": "kavya@example.test", "age": 29, "gender": "FEMALE"}))
    headers = {**WEBSITE, "Authorization": f"Bearer {signed['accessToken']}"}

    start = dt.datetime.combine(day, dt.time.fromisoformat(slot["startTime"]), KOLKATA)
    booked = await data_of(await api.post("/api/booking/create", headers=headers, json={
        "clinicianId": clinician["id"], "centreId": centre, "appointmentDate": day.isoformat(),
        "appointmentTime": slot["startTime"], "appointmentType": "ONLINE",
        "appointmentDateUTC": start.astimezone(dt.UTC).isoformat()}), 201)
    appointment_id = booked["appointment"]["id"]
    order = await data_of(await api.post("/api/payments/create-order", headers=headers,
                                         json={"appointmentId": appointment_id}))
    status, paid = await sandbox.post("/_sandbox/razorpay/pay", {
        "orderId": order["orderId"], "outcome": "captured", "webhookUrl": str(api.make_url("/api/payments/webhook"))})
    assert status == 200 and paid["delivery"]["status"] == 200, paid
    checkout = paid["checkout"]
    verified = await data_of(await api.post("/api/payments/verify", headers=headers, json={
        "appointmentId": appointment_id, "razorpayOrderId": checkout["razorpay_order_id"],
        "razorpayPaymentId": checkout["razorpay_payment_id"], "razorpaySignature": checkout["razorpay_signature"]}))
    assert verified["status"] in ("PENDING", "SUCCESS")

    def templates():
        return Counter(m["templateName"] for m in sandbox.state.messages if m["phone"] == "919812300001")

    async def confirmed_and_told():
        status = await value(factory, "SELECT status FROM appointments WHERE id = %s", (appointment_id,))
        return status == "CONFIRMED" and templates()["appointment_confirmed_online"] == 1

    try:
        await wait_for(confirmed_and_told, timeout=40, what="the confirmation")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; worker log:\n{worker.log()}") from None
    meet_link = await value(factory, "SELECT meet_link FROM appointments WHERE id = %s", (appointment_id,))
    # One Calendar event: its id derives from the appointment, so a second insert finds the first.
    inserts = [r for r in await sandbox.requests("google") if r["method"] == "POST" and "/events" in r["path"]]
    assert meet_link and len({r["body"]["id"] for r in inserts}) == 1 and len(sandbox.state.events) == 1
    assert await value(factory, "SELECT sum(amount) FROM payments WHERE status = 'SUCCESS'") == (
        clinician["consultationFee"] + 100)
    mine = await data_of(await api.get(f"/api/booking/{appointment_id}", headers=headers))
    assert mine["status"] == "CONFIRMED" and mine["meetLink"] == meet_link

    cancelled = await data_of(await api.post(f"/api/patient/appointments/{appointment_id}/cancel", headers=headers,
                                             json={"reason": "Travelling"}))
    paid = clinician["consultationFee"] + 100
    assert cancelled["status"] == "CANCELLED"
    assert (cancelled["refund"]["policy"], cancelled["refund"]["amount"]) == ("FULL", paid)
    try:
        await wait_for(lambda: templates()["appointment_cancelled"] == 1, timeout=40, what="the cancellation")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; worker log:\n{worker.log()}") from None
    assert templates()["appointment_confirmed_online"] == 1
    assert await value(factory, "SELECT refund_requested_at IS NOT NULL FROM payments WHERE status = 'SUCCESS'")
    # The refund is issued at Razorpay once, for all of it, and the patient is told of it once.
    await wait_for(lambda: templates()["refund_initiated"] == 1, timeout=40, what="the refund message")
    assert [r["amount"] for r in sandbox.state.refunds.values()] == [paid * 100]
    assert await value(factory, "SELECT count(*) FROM patient_notifications WHERE kind = 'REFUND_INITIATED'") == 1

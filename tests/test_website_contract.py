"""The patient website's contract, call by call (the calls of its pages that this API serves: sign-in,
catalogue, slots, booking, payments, cancellation): the body the site sends is accepted, and every
field it reads is there with the type it expects."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import PASSWORD
from tests.payments_support import pay, payments_api
from tests.scheduling_support import at, future_day, make_clinic

WEBSITE = {"Origin": "http://localhost:5173"}
PHONE = "919876512345"  # "91" and ten digits, as the site sends it


def typed(data: dict, expected: dict) -> None:
    """Every key of `expected` is in `data` with a value of its type (a tuple: any of them)."""
    for key, kind in expected.items():
        assert key in data, key
        assert isinstance(data[key], kind) and not (kind is int and isinstance(data[key], bool)), (key, data[key])


@pytest.fixture
def pay_settings(sandbox):
    return sandbox.settings


@pytest.fixture
async def api(aiohttp_client, pay_settings, pool, redis, otp_sender):
    return await payments_api(aiohttp_client, pay_settings, pool, redis, otp_sender)


async def ok(resp, status=200):
    body = await resp.json()
    assert resp.status == status, body
    assert body["success"] is True
    return body["data"]


async def signed_up(api, otp_sender) -> dict:
    await api.post("/api/patient-auth/send-otp", json={"phone": PHONE})
    return await ok(await api.post("/api/patient-auth/verify-otp", json={
        "phone": PHONE, "otp": otp_sender.sent[-1][1], "first_name": "Asha", "last_name": "Rao",
        "email": "asha@example.test", "age": 30, "gender": "PREFER_NOT_TO_SAY"}))


def bearer(session: dict) -> dict:
    return {**WEBSITE, "Authorization": f"Bearer {session['accessToken']}"}


SESSION_USER = {"id": int, "phone": str, "email": str, "fullName": str, "firstName": str, "lastName": str,
                "userType": str}
SESSION_PATIENT = {"id": int, "dateOfBirth": type(None), "age": int, "gender": str, "bloodGroup": type(None)}


async def test_w1_send_otp(api):
    data = await ok(await api.post("/api/patient-auth/send-otp", json={"phone": PHONE}, headers=WEBSITE))
    typed(data, {"phone": str, "expiresIn": int, "isNewUser": bool})


async def test_w2_verify_otp(api, otp_sender):
    data = await signed_up(api, otp_sender)
    typed(data, {"accessToken": str, "refreshToken": str, "isNewUser": bool, "requiresProfileCompletion": bool,
                 "user": dict, "patient": dict})
    typed(data["user"], SESSION_USER)
    typed(data["patient"], SESSION_PATIENT)
    assert data["user"]["userType"] == "PATIENT" and data["patient"]["gender"] == "PREFER_NOT_TO_SAY"


async def test_w3_login_with_password(api, factory):
    patient = await factory.patient()
    staff = await factory.staff("ADMIN", login=False)
    await factory.fetchone("UPDATE users SET username = 'asha.site', password_hash = (SELECT password_hash FROM users"
                           " WHERE id = %s) WHERE id = %s RETURNING id", (staff.id, patient["user_id"]))
    data = await ok(await api.post("/api/patient-auth/login-with-password",
                                   json={"username": "asha.site", "password": PASSWORD}))
    typed(data, {"accessToken": str, "refreshToken": str, "user": dict, "patient": dict})
    typed(data["user"], {"id": int, "fullName": str, "phone": str, "userType": str})
    typed(data["patient"], {"id": int})


async def test_w4_refresh_token(api, otp_sender):
    session = await signed_up(api, otp_sender)
    for _ in range(2):  # the site keeps the refresh token it got at sign-in
        resp = await api.post("/api/patient-auth/refresh-token", json={"refreshToken": session["refreshToken"]})
        data = await ok(resp)
        typed(data, {"accessToken": str})


async def test_w5_w6_clinicians(api, factory):
    clinic = await make_clinic(factory)
    listed = await ok(await api.get("/api/users/clinicians?isActive=true", headers=WEBSITE))
    shape = {"id": int, "userId": int, "fullName": str, "name": str, "primaryCentreId": int,
             "primaryCentreName": str, "specialization": str, "qualification": type(None),
             "designation": (str, type(None)), "yearsOfExperience": int, "consultationFee": float,
             "consultationModes": list, "defaultDurationMinutes": int, "bio": type(None),
             "profilePictureUrl": (str, type(None)), "expertise": list, "languages": list, "isActive": bool}
    typed(listed[0], shape)
    one = await ok(await api.get(f"/api/users/clinicians/{clinic.clinician_id}", headers=WEBSITE))
    typed(one, shape)


async def test_w8_dates_with_slots(api, factory):
    clinic = await make_clinic(factory)
    today = dt.datetime.now(dt.UTC).astimezone(clinic.zone).date()
    data = await ok(await api.get(
        f"/api/booking/dates-with-slots?clinicianId={clinic.clinician_id}&centreId={clinic.centre_id}"
        f"&startDate={today}&endDate={today + dt.timedelta(days=60)}", headers=WEBSITE))
    assert data
    typed(data[0], {"date": str, "slotCount": int})


async def test_w9_available_slots(api, factory):
    clinic = await make_clinic(factory)
    day = future_day(clinic.zone, 2)
    data = await ok(await api.get(f"/api/booking/available-slots?clinicianId={clinic.clinician_id}"
                                  f"&centreId={clinic.centre_id}&date={day}", headers=WEBSITE))
    typed(data, {"date": str, "slots": list})
    typed(data["slots"][0], {"startTime": str, "endTime": str, "available": bool})


async def test_w12_registration_fee_status(api, otp_sender):
    session = await signed_up(api, otp_sender)
    data = await ok(await api.get("/api/payments/registration-fee-status", headers=bearer(session)))
    typed(data, {"hasPaidRegistrationFee": bool, "registrationFee": (int, float)})


async def booked(api, factory, otp_sender):
    clinic = await make_clinic(factory)
    session = await signed_up(api, otp_sender)
    day = future_day(clinic.zone, 4)
    # The site's own payload: the instant from the browser's clock (here in India), notes left out.
    body = {"clinicianId": clinic.clinician_id, "centreId": clinic.centre_id, "appointmentDate": day.isoformat(),
            "appointmentTime": "10:00", "appointmentType": "ONLINE",
            "appointmentDateUTC": at(day, "10:00", clinic.zone).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    data = await ok(await api.post("/api/booking/create", headers=bearer(session), json=body), 201)
    return session, data


async def test_w13_booking_create(api, factory, otp_sender):
    _, data = await booked(api, factory, otp_sender)
    typed(data, {"appointment": dict})
    typed(data["appointment"], {"id": int})


async def test_w14_w15_w16_create_order_verify_and_failure(api, factory, otp_sender, sandbox):
    session, data = await booked(api, factory, otp_sender)
    appointment_id = data["appointment"]["id"]
    order = await ok(await api.post("/api/payments/create-order", headers=bearer(session),
                                    json={"appointmentId": appointment_id}))
    typed(order, {"orderId": str, "amount": int, "razorpayKeyId": str})
    paid = await pay(sandbox, orderId=order["orderId"], outcome="captured")
    checkout = paid["checkout"]
    verified = await api.post("/api/payments/verify", headers=bearer(session), json={
        "appointmentId": appointment_id, "razorpayOrderId": checkout["razorpay_order_id"],
        "razorpayPaymentId": checkout["razorpay_payment_id"], "razorpaySignature": checkout["razorpay_signature"]})
    assert verified.status == 200
    # The site reports a closed checkout modal too: fire-and-forget, and harmless once paid.
    failure = await api.post("/api/payments/failure", headers=bearer(session), json={
        "appointmentId": appointment_id, "razorpayOrderId": order["orderId"], "errorCode": "PAYMENT_CANCELLED",
        "errorDescription": "Payment cancelled by user"})
    assert failure.status == 200
    assert (await factory.fetchone("SELECT status FROM appointments WHERE id = %s", (appointment_id,)))[0] == "BOOKED"


async def test_w19_cancel_and_error_messages(api, factory, otp_sender):
    session, data = await booked(api, factory, otp_sender)
    appointment_id = data["appointment"]["id"]
    resp = await api.post(f"/api/patient/appointments/{appointment_id}/cancel", headers=bearer(session),
                          json={"reason": "Not needed"})
    assert (await resp.json())["success"] is True
    again = await api.post(f"/api/patient/appointments/{appointment_id}/cancel", headers=bearer(session),
                           json={"reason": "Not needed"})
    body = await again.json()
    assert again.status == 422
    typed(body, {"success": bool, "message": str, "error": dict})
    typed(body["error"], {"message": str})


async def test_w7_centre_without_a_token(api, factory):
    centre = await factory.centre(name="Mibo Test Centre")
    data = await ok(await api.get(f"/api/centres/{centre}", headers=WEBSITE))
    assert data == {"id": centre, "name": "Mibo Test Centre", "city": "bangalore", "address_line_1": "1 Test Road",
                    "address_line_2": None, "pincode": "560001", "contact_phone": "+918000000000", "is_active": True}
    # With a token it is the staff route it always was; a foreign or bad token is still refused.
    admin = await factory.staff("ADMIN")
    staff = await ok(await api.get(f"/api/centres/{centre}", headers=admin.headers))
    assert staff["addressLine1"] == "1 Test Road" and "timezone" in staff
    assert (await api.get(f"/api/centres/{centre}", headers={"Authorization": "Bearer nonsense"})).status == 401
    closed = await factory.centre()
    await factory.fetchone("UPDATE centres SET is_active = FALSE WHERE id = %s RETURNING id", (closed,))
    assert (await api.get(f"/api/centres/{closed}")).status == 404

"""Isolation of the patient website's audience, walked over the app's router: a patient's token on
every staff route is 403, a staff token on every patient route is 403, and patient A asking for any
of patient B's appointments (by every route that takes an appointment id) gets 404."""

import re

from mibo.api.access import PATIENT_SELF, PUBLIC
from tests.scheduling_support import future_day, make_clinic

PATH_PARAM = re.compile(r"\{[^}]+\}")
APPOINTMENT_ROUTES = re.compile(r"^/api/(booking|patient/appointments)/\{id\}")


def routes(app):
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS") or route.resource is None:
            continue
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter")
        if path is not None:
            yield route.method, path, route.handler


async def test_a_patient_token_is_refused_on_every_staff_route(client, factory):
    patient = await factory.patient()
    walked = 0
    for method, path, handler in routes(client.server.app):
        permission = getattr(handler, "permission", None)
        if permission in (PUBLIC, PATIENT_SELF) or getattr(handler, "accepts_patients", False):
            continue
        token = await factory.patient_token(patient)  # fresh: nothing on the way may end it
        resp = await client.request(method, PATH_PARAM.sub("1", path), json={} if method != "GET" else None,
                                    headers={"Authorization": f"Bearer {token}"})
        body = await resp.json()
        assert (resp.status, body["error"]["code"]) == (403, "STAFF_ONLY"), (method, path, resp.status)
        walked += 1
    assert walked >= 40


async def test_a_staff_token_is_refused_on_every_patient_route(client, factory):
    centre = await factory.centre()
    walked = 0
    for role in ("ADMIN", "FRONT_DESK", "CLINICIAN"):
        staff = await factory.staff(role, [centre])
        for method, path, handler in routes(client.server.app):
            if getattr(handler, "permission", None) != PATIENT_SELF:
                continue
            resp = await client.request(method, PATH_PARAM.sub("1", path), json={} if method != "GET" else None,
                                        headers={"Authorization": f"Bearer {await factory.token_for(staff.id)}"})
            assert (resp.status, (await resp.json())["error"]["code"]) == (403, "PATIENT_ONLY"), (method, path)
            walked += 1
    assert walked >= 3 * 8


async def test_patient_a_finds_none_of_patient_bs_appointments(client, factory):
    clinic = await make_clinic(factory)
    a, b = await factory.patient(), await factory.patient()
    a_headers = {"Authorization": f"Bearer {await factory.patient_token(a)}"}
    b_headers = {"Authorization": f"Bearer {await factory.patient_token(b)}"}
    day = future_day(clinic.zone, 5)
    resp = await client.post("/api/booking/create", headers=b_headers, json={
        "clinicianId": clinic.clinician_id, "centreId": clinic.centre_id, "appointmentDate": day.isoformat(),
        "appointmentTime": "10:00", "appointmentType": "IN_PERSON"})
    theirs = (await resp.json())["data"]["appointment"]["id"]
    walked = 0
    for method, path, _ in routes(client.server.app):
        if not APPOINTMENT_ROUTES.match(path):
            continue
        resp = await client.request(method, PATH_PARAM.sub(str(theirs), path), headers=a_headers)
        assert resp.status == 404, (method, path, resp.status)
        walked += 1
    assert walked >= 3
    for path, body in (("/api/payments/create-order", {"appointmentId": theirs}),
                       ("/api/payments/failure", {"appointmentId": theirs, "razorpayOrderId": "order_x"})):
        resp = await client.post(path, headers=a_headers, json=body)
        assert resp.status == 404, path
    listed = await client.get("/api/booking/my-appointments", headers=a_headers)
    assert (await listed.json())["data"] == []
    assert (await client.get(f"/api/booking/{theirs}", headers=b_headers)).status == 200
    assert (await factory.fetchone("SELECT status FROM appointments WHERE id = %s", (theirs,)))[0] == "BOOKED"

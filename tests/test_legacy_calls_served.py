"""Every appointment, dashboard, front-desk, payment and slot-blocking call the admin panel makes
is a route of its contract (so the permission walk of tests/test_legacy_permissions.py covers it):
none answers the router's own 404 or 405."""

from __future__ import annotations

from tests.legacy_support import BASE

MISSING = "900000000"
CALLS = [
    ("GET", "/appointments"),
    ("GET", "/appointments?centreId=1&clinicianId=1&patientId=1&date=2030-01-01&status=BOOKED"),
    ("GET", f"/appointments/{MISSING}"),
    ("POST", "/appointments"),
    ("PUT", f"/appointments/{MISSING}"),
    ("DELETE", f"/appointments/{MISSING}"),
    ("PATCH", f"/appointments/{MISSING}/notes"),
    ("GET", "/appointments/my-appointments"),
    ("GET", "/appointments/dashboard/stats?startDate=2030-01-01&endDate=2030-01-01"),
    ("GET", "/appointments/dashboard/appointments?startDate=2030-01-01&endDate=2030-01-01"),
    ("POST", f"/appointments/{MISSING}/confirm-direct-payment"),
    ("POST", f"/appointments/{MISSING}/send-payment-link"),
    ("POST", f"/appointments/{MISSING}/start-session"),
    ("POST", f"/appointments/{MISSING}/end-session"),
    ("POST", f"/appointments/{MISSING}/clinician-notes"),
    ("GET", f"/appointments/{MISSING}/previous-notes?patientId=1"),
    ("POST", f"/appointments/{MISSING}/schedule-followup"),
    ("POST", "/booking/front-desk"),
    ("POST", "/payment/send-link"),
    ("POST", "/admin/slots/block"),
    ("POST", "/admin/slots/block-multiple"),
    ("POST", "/admin/slots/block-day"),
    ("POST", f"/admin/slots/unblock/{MISSING}"),
    ("GET", "/admin/slots/blocked"),
    ("POST", "/admin/slots/affected-patients"),
    ("POST", f"/users/clinicians/{MISSING}/slot-exceptions"),
]


async def test_every_call_of_the_panel_is_a_route_of_its_contract(client, factory):
    people = [await factory.staff("ADMIN"), await factory.staff("CLINICIAN", [await factory.centre()])]
    unserved = []
    for method, path in CALLS:
        for person in people:
            kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH", "DELETE") else {}
            resp = await client.request(method, BASE + path, headers=person.headers, **kwargs)
            body = await resp.json()
            if resp.status == 405 or (body.get("error") or {}).get("code") == "NOT_FOUND":
                unserved.append(f"{method} {path}: {resp.status}")
    assert unserved == []

"""The panel declares every id as a string and compares ids with `===` against its <select> values:
every id its list and detail pages read (id, ...Id, ..._id, and the lists ...Ids, ..._ids) is a
string or null, never a number."""

from __future__ import annotations

from typing import Any

from tests.legacy_support import BASE, data_of
from tests.scheduling_support import at, future_day, insert_appointment, make_clinic


def id_values(answer: Any, path: str = "") -> list[tuple[str, Any]]:
    """(where, value) of every id in an answer, however deep; the values of an id list one by one."""
    found = []
    if isinstance(answer, dict):
        for key, value in answer.items():
            where = f"{path}.{key}"
            if key.endswith(("Ids", "_ids")):
                assert isinstance(value, list), where
                found += [(f"{where}[{n}]", item) for n, item in enumerate(value)]
            elif key == "id" or key.endswith(("Id", "_id")):
                found.append((where, value))
            else:
                found += id_values(value, where)
    elif isinstance(answer, list):
        for n, item in enumerate(answer):
            found += id_values(item, f"{path}[{n}]")
    return found


async def test_every_id_of_the_panels_lists_and_details_is_a_string(client, factory):
    clinic = await make_clinic(factory)
    admin = await factory.staff("ADMIN")
    day = future_day(clinic.zone)
    appointment = await insert_appointment(factory, clinic, at(day, "09:00", clinic.zone))
    resp = await client.post(f"{BASE}/admin/slots/block", headers=admin.headers, json={
        "clinician_id": clinic.clinician_id, "centre_id": clinic.centre_id, "date": day.isoformat(),
        "start_time": "09:00", "end_time": "09:30"})
    assert resp.status == 200, await resp.text()
    block = data_of(await resp.json())
    paths = [
        "/users/clinicians", f"/users/clinicians/{clinic.clinician_id}",
        f"/users/clinicians/{clinic.clinician_id}/availability",
        f"/users/clinicians/{clinic.clinician_id}/slots?date={day.isoformat()}",
        "/centres", f"/centres/{clinic.centre_id}",
        "/users", f"/users/{clinic.desk.id}", "/users?roleId=6",
        "/patients",
        "/appointments", f"/appointments/{appointment}",
        "/admin/slots/blocked",
    ]
    answers = {"POST /admin/slots/block": block}
    for path in paths:
        resp = await client.get(f"{BASE}{path}", headers=admin.headers)
        assert resp.status == 200, (path, await resp.text())
        answers[path] = data_of(await resp.json())
    seen = {path: id_values(answer) for path, answer in answers.items()}
    numbers = [(path, where, value) for path, found in seen.items() for where, value in found
               if value is not None and not isinstance(value, str)]
    assert numbers == []
    # Every answer had ids to check, and they name the rows made above.
    assert all(seen.values()), [path for path, found in seen.items() if not found]
    assert ("[0].clinician_id", str(clinic.clinician_id)) in seen["/appointments"]
    assert (".blocked_slot.centre_id", str(clinic.centre_id)) in seen["POST /admin/slots/block"]
    assert (".affected_patients[0].appointment_id", str(appointment)) in seen["POST /admin/slots/block"]
    assert ("[0].primaryCentreId", str(clinic.centre_id)) in seen["/users/clinicians"]
    assert ("[0].userId", str(clinic.patient["user_id"])) in seen["/patients"]

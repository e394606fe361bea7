"""Field strictness, from schemas/base.py for every schema: integers are never truncated or coerced,
every string can be stored as text, a body of junk keys is refused after a few of them, and the
bounds each schema instance adds do not pile up on the class."""

from __future__ import annotations

import json

import pytest

from schemas.base import MAX_UNKNOWN_FIELDS
from tests.scheduling_support import at, booking, future_day, make_clinic, rows


async def details(resp) -> dict:
    body = await resp.json()
    assert resp.status == 400, body
    assert body["error"]["code"] == "VALIDATION_ERROR", body
    return body["error"]["details"]


@pytest.mark.parametrize("duration", [30.5, "30", True, 30.0])
async def test_a_non_integer_duration_is_refused_not_truncated(client, factory, duration):
    clinic = await make_clinic(factory)
    start = at(future_day(clinic.zone), "10:00", clinic.zone)
    resp = await client.post("/api/appointments", json=booking(clinic, start, durationMinutes=duration),
                             headers=clinic.desk.headers)
    assert list(await details(resp)) == ["durationMinutes"]
    assert await rows(factory, "SELECT id FROM appointments") == []


async def test_integer_ids_in_bodies_are_strict(client, factory):
    clinic = await make_clinic(factory)
    start = at(future_day(clinic.zone), "10:00", clinic.zone)
    for patient_id in (str(clinic.patient["id"]), clinic.patient["id"] + 0.5):
        resp = await client.post("/api/appointments", json=booking(clinic, start, patientId=patient_id),
                                 headers=clinic.desk.headers)
        assert list(await details(resp)) == ["patientId"]
    resp = await client.post("/api/appointments", json=booking(clinic, start), headers=clinic.desk.headers)
    assert resp.status == 201, await resp.text()


async def test_query_integers_are_parsed_from_text_but_never_rounded(client, factory):
    admin = await factory.staff("ADMIN")
    ok = await client.get("/api/patients", params={"limit": "30", "offset": "0"}, headers=admin.headers)
    assert ok.status == 200 and (await ok.json())["meta"]["limit"] == 30
    for bad in ("30.5", "3e1", "30 ", "0x1e", "", "9" * 40):
        resp = await client.get("/api/patients", params={"limit": bad}, headers=admin.headers)
        assert list(await details(resp)) == ["limit"], bad
    resp = await client.get("/api/audit", params={"centreId": "1.0"}, headers=admin.headers)
    assert list(await details(resp)) == ["centreId"]


# --- text ---------------------------------------------------------------------------------


LONE_SURROGATES = ["\ud800", "Ravi \udfff Kumar"]


@pytest.mark.parametrize("text", LONE_SURROGATES)
async def test_a_lone_surrogate_is_a_400_naming_the_field(client, factory, text):
    admin = await factory.staff("ADMIN")
    resp = await client.post("/api/patients", headers=admin.headers, json={"fullName": text, "phone": "9812345678"})
    assert await details(resp) == {"fullName": ["Must be valid Unicode text (no lone surrogates)."]}
    # Unauthenticated routes too: the username reaches a query, where it used to fail to encode (500).
    resp = await client.post("/api/auth/login/username-password", json={"username": text, "password": "x"})
    assert list(await details(resp)) == ["username"]
    resp = await client.get("/api/patients", params={"search": "x"}, headers=admin.headers)
    assert resp.status == 200
    assert await rows(factory, "SELECT id FROM patient_profiles") == []


async def test_surrogates_in_lists_and_nested_objects_name_their_field(client, factory):
    admin = await factory.staff("ADMIN")
    resp = await client.post("/api/patients", headers=admin.headers, json={
        "fullName": "Ravi", "phone": "9812345678",
        "emergencyContact": {"name": "\ud800", "phone": "9812345679"}})
    assert "emergencyContact" in await details(resp)


async def test_invalid_utf8_in_a_query_string_is_only_text_that_matches_nothing(client, factory):
    admin = await factory.staff("ADMIN")
    for encoded in ("%ED%A0%80", "%FF"):  # a surrogate's bytes, and a byte that starts nothing
        resp = await client.get(f"/api/patients?search={encoded}", headers=admin.headers)
        assert resp.status == 200 and (await resp.json())["data"] == [], encoded


async def test_a_non_ascii_bearer_token_is_a_401(client):
    token = "\u00e9t\u00e9".encode().decode("latin-1")  # UTF-8 bytes on the wire
    resp = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "INVALID_TOKEN"


# --- junk keys ----------------------------------------------------------------------------


async def test_thousands_of_unknown_fields_are_answered_with_the_first_few(client, factory):
    admin = await factory.staff("ADMIN")
    junk = {f"k{i}": i for i in range(1000)}  # about 11 KB: within the route's limit
    resp = await client.post("/api/patients", headers=admin.headers,
                             json={"fullName": "Ravi", "phone": "9812345678", **junk})
    found = await details(resp)
    assert len(found) == MAX_UNKNOWN_FIELDS + 1
    assert found["_schema"] == [f"{1000 - MAX_UNKNOWN_FIELDS} more unknown fields."]
    assert len(json.dumps(found)) < 1000


def test_schema_instances_do_not_pile_up_validators():
    # The bounds CamelSchema adds must not be appended to the class's shared validator lists.
    from schemas.appointments import CreateAppointmentSchema

    counts = [{name: len(field.validators) for name, field in CreateAppointmentSchema().fields.items()}
              for _ in range(3)]
    assert counts[0] == counts[1] == counts[2]
    assert counts[0]["patient_id"] >= 1 and counts[0]["scheduled_start_at"] >= 1

"""The appointment state machine over every pair of statuses, as a function and over HTTP."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from mibo.core.errors import ApiError
from mibo.domain.appointment_states import STATUSES, TRANSITIONS, check_transition
from tests.scheduling_support import at, future_day, insert_appointment, make_clinic, rows

UTC = dt.UTC
NOW = dt.datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
STARTED = NOW - dt.timedelta(minutes=5)
NOT_STARTED = NOW + dt.timedelta(minutes=5)

# The spec's transitions plus CONFIRMED → CANCELLED, BOOKED → RESCHEDULED and the session
# (BOOKED | CONFIRMED → IN_PROGRESS → COMPLETED); nothing else.
EXPECTED = {
    ("BOOKED", "CONFIRMED"),
    ("BOOKED", "IN_PROGRESS"),
    ("CONFIRMED", "IN_PROGRESS"),
    ("IN_PROGRESS", "COMPLETED"),
    ("BOOKED", "CANCELLED"),
    ("BOOKED", "RESCHEDULED"),
    ("CONFIRMED", "RESCHEDULED"),
    ("CONFIRMED", "COMPLETED"),
    ("CONFIRMED", "NO_SHOW"),
    ("CONFIRMED", "CANCELLED"),
}
PAIRS = list(itertools.product(STATUSES, STATUSES))


def test_the_table_is_exactly_the_expected_one():
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == EXPECTED
    assert set(TRANSITIONS) == set(STATUSES)


@pytest.mark.parametrize("current, target", PAIRS)
def test_every_pair(current, target):
    if (current, target) in EXPECTED:
        check_transition(current, target, STARTED, NOW)
        return
    with pytest.raises(ApiError) as caught:
        check_transition(current, target, STARTED, NOW)
    assert (caught.value.status, caught.value.code) == (422, "INVALID_TRANSITION")
    assert caught.value.details["allowed"] == list(TRANSITIONS[current])


@pytest.mark.parametrize("target", ["COMPLETED", "NO_SHOW"])
def test_outcomes_only_after_the_start(target):
    with pytest.raises(ApiError) as caught:
        check_transition("CONFIRMED", target, NOT_STARTED, NOW)
    assert (caught.value.status, caught.value.code) == (422, "APPOINTMENT_NOT_STARTED")
    check_transition("CONFIRMED", target, NOW, NOW)  # the moment it starts is enough


def test_a_session_begins_at_most_an_hour_early_and_ends_whenever():
    soon, later = NOW + dt.timedelta(minutes=59), NOW + dt.timedelta(minutes=61)
    check_transition("CONFIRMED", "IN_PROGRESS", soon, NOW)
    with pytest.raises(ApiError) as caught:
        check_transition("CONFIRMED", "IN_PROGRESS", later, NOW)
    assert (caught.value.status, caught.value.code) == (422, "SESSION_TOO_EARLY")
    check_transition("IN_PROGRESS", "COMPLETED", soon, NOW)  # begun early, finished before the slot


def update_for(target: str, new_start: dt.datetime) -> dict:
    if target == "RESCHEDULED":
        return {"scheduledStartAt": new_start.isoformat(), "reason": "Moved"}
    return {"status": target, "reason": f"To {target}"}


@pytest.mark.parametrize("current, target", PAIRS)
async def test_every_pair_over_http(client, factory, current, target):
    clinic = await make_clinic(factory, start="00:00", end="23:30")
    admin = await factory.staff("ADMIN")
    started = (dt.datetime.now(UTC) - dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    appointment_id = await insert_appointment(factory, clinic, started, status=current)
    new_start = at(future_day(clinic.zone), "10:00", clinic.zone)
    resp = await client.put(
        f"/api/appointments/{appointment_id}", json=update_for(target, new_start), headers=admin.headers
    )
    body = await resp.json()
    history = await rows(
        factory,
        "SELECT from_status, to_status, changed_by_user_id, reason"
        " FROM appointment_status_history WHERE appointment_id = %s",
        (appointment_id,),
    )
    stored = await rows(factory, "SELECT status FROM appointments WHERE id = %s", (appointment_id,))
    if (current, target) in EXPECTED:
        assert resp.status == 200, body
        assert stored == [(target,)]
        reason = "Moved" if target == "RESCHEDULED" else f"To {target}"
        assert history == [(current, target, admin.id, reason)]
    else:
        assert (resp.status, body["error"]["code"]) == (422, "INVALID_TRANSITION"), body
        assert body["error"]["details"]["allowed"] == list(TRANSITIONS[current])
        assert stored == [(current,)] and history == []


async def test_completed_refused_before_the_start_over_http(client, factory):
    clinic = await make_clinic(factory)
    admin = await factory.staff("ADMIN")
    appointment_id = await insert_appointment(
        factory, clinic, at(future_day(clinic.zone), "10:00", clinic.zone), status="CONFIRMED"
    )
    resp = await client.put(
        f"/api/appointments/{appointment_id}", json={"status": "COMPLETED"}, headers=admin.headers
    )
    assert (resp.status, (await resp.json())["error"]["code"]) == (422, "APPOINTMENT_NOT_STARTED")


async def test_confirmed_cancel_marks_the_payment_for_refund(client, factory):
    clinic = await make_clinic(factory)
    manager = await factory.staff("CENTRE_MANAGER", [clinic.centre_id])
    appointment_id = await insert_appointment(
        factory, clinic, at(future_day(clinic.zone), "10:00", clinic.zone), status="CONFIRMED"
    )
    await factory.payment(patient_id=clinic.patient["id"], appointment_id=appointment_id, amount=1500, status="SUCCESS")
    resp = await client.put(
        f"/api/appointments/{appointment_id}",
        json={"status": "CANCELLED", "reason": "Clinician ill"},
        headers=manager.headers,
    )
    assert resp.status == 200
    refunds = await rows(factory, "SELECT refund_requested_at IS NOT NULL FROM payments")
    assert refunds == [(True,)]
    assert await rows(factory, "SELECT actor_name, args FROM outbox") == [
        ("appointment_cancelled", [appointment_id])
    ]


async def test_confirming_queues_the_confirmation(client, factory):
    clinic = await make_clinic(factory)
    coordinator = await factory.staff("CARE_COORDINATOR", [clinic.centre_id])
    appointment_id = await insert_appointment(
        factory, clinic, at(future_day(clinic.zone), "10:00", clinic.zone)
    )
    resp = await client.put(
        f"/api/appointments/{appointment_id}", json={"status": "CONFIRMED"}, headers=coordinator.headers
    )
    assert resp.status == 200
    assert (await resp.json())["data"]["status"] == "CONFIRMED"
    assert await rows(factory, "SELECT actor_name, args FROM outbox") == [
        ("appointment_confirmed", [appointment_id])
    ]

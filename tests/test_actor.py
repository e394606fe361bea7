"""The Actor value: what it says about who acts, and a change of surface that keeps everything else."""

import dataclasses

import pytest

from mibo.core.actor import ADMIN, CLI, FRONT_DESK, PATIENT_WEB, STAFF_API, WORKER, Actor

DESK = Actor(user_id=7, roles=frozenset({FRONT_DESK}), centre_ids=frozenset({3}), clinician_id=11, patient_id=13,
             session_id=17, surface=PATIENT_WEB, request_id="before", is_service=True)


def test_within_changes_the_surface_and_request_id_and_keeps_every_other_field():
    moved = DESK.within(STAFF_API, "req-1")
    assert (moved.surface, moved.request_id) == (STAFF_API, "req-1")
    for field in dataclasses.fields(Actor):
        if field.name not in ("surface", "request_id"):
            assert getattr(moved, field.name) == getattr(DESK, field.name), field.name
    assert moved == dataclasses.replace(DESK, surface=STAFF_API, request_id="req-1")


@pytest.mark.parametrize(("actor", "kind"), [
    (Actor.system(WORKER, "msg-1"), WORKER),
    (Actor.system(CLI), CLI),
    (Actor(user_id=1, roles=frozenset({ADMIN})), "USER"),
    (Actor(user_id=2, patient_id=5, surface=PATIENT_WEB), "PATIENT"),
    (Actor(user_id=None, is_service=True), "SERVICE"),
])
def test_the_audit_trail_names_each_kind_of_actor(actor, kind):
    assert actor.kind == kind


def test_centre_access_follows_the_roles_and_centres():
    assert Actor(user_id=1, roles=frozenset({ADMIN})).can_access_centre(99)
    assert Actor.system(WORKER).can_access_centre(99)
    desk = Actor(user_id=2, roles=frozenset({FRONT_DESK}), centre_ids=frozenset({3}))
    assert desk.can_access_centre(3) and not desk.can_access_centre(4) and not desk.can_access_centre(None)

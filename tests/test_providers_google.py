"""The Google Calendar/Meet client (googleapiclient + service-account credentials) against the sandbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from mibo.providers.errors import ProviderError
from mibo.providers.google_calendar import GoogleCalendar, event_id_for

START = datetime(2026, 6, 5, 4, 30, tzinfo=UTC)
END = START + timedelta(minutes=50)


def calendar(sandbox, settings, **options) -> GoogleCalendar:
    return sandbox.keep(GoogleCalendar(settings, **{"timeout": 2.0, "num_retries": 1, **options}))


async def create(cal, request_id="appointment-42-meet", start=START, end=END):
    return await asyncio.to_thread(cal.create_meet_event, "primary", request_id, "Consultation",
                                   start, end, ["clinician@example.com"])


async def test_create_meet_event(sandbox):
    event_id, link = await create(calendar(sandbox, sandbox.settings))
    assert event_id == event_id_for("appointment-42-meet")
    assert link.startswith("https://meet.google.com/")
    token, insert = await sandbox.requests("google")
    assert (token["path"], token["status"], token["body"]["grant_type"]) == (
        "/google/token", 200, "urn:ietf:params:oauth:grant-type:jwt-bearer")
    assert (insert["method"], insert["path"], insert["status"]) == (
        "POST", "/google/calendar/v3/calendars/primary/events", 200)
    assert insert["query"]["conferenceDataVersion"] == "1"
    assert insert["body"]["conferenceData"]["createRequest"] == {
        "requestId": "appointment-42-meet", "conferenceSolutionKey": {"type": "hangoutsMeet"}}
    assert insert["body"]["start"] == {"dateTime": "2026-06-05T04:30:00+00:00", "timeZone": "UTC"}
    assert insert["body"]["attendees"] == [{"email": "clinician@example.com"}]


async def test_same_request_id_makes_one_meeting(sandbox):
    first = await create(calendar(sandbox, sandbox.settings))
    # A retry from another worker (a fresh client, so a fresh token) after the first succeeded.
    second = await create(calendar(sandbox, sandbox.settings))
    assert second == first
    assert len(sandbox.state.events) == 1
    assert len(sandbox.state.conferences) == 1
    calls = [(r["method"], r["status"]) for r in await sandbox.requests("google")
             if r["path"] != "/google/token"]
    assert calls == [("POST", 200), ("POST", 409), ("GET", 200)]


async def test_different_appointments_get_different_meetings(sandbox):
    cal = calendar(sandbox, sandbox.settings)
    _, link_a = await create(cal, "appointment-1-meet")
    _, link_b = await create(cal, "appointment-2-meet")
    assert link_a != link_b
    assert len(sandbox.state.events) == 2


async def test_move_then_cancel(sandbox):
    cal = calendar(sandbox, sandbox.settings)
    event_id, link = await create(cal)
    later = START + timedelta(days=1)
    await asyncio.to_thread(cal.update_event_time, "primary", event_id, later, later + timedelta(hours=1))
    stored = sandbox.state.events[("primary", event_id)]
    assert stored["start"]["dateTime"] == "2026-06-06T04:30:00+00:00"
    assert stored["end"]["dateTime"] == "2026-06-06T05:30:00+00:00"
    assert stored["hangoutLink"] == link
    await asyncio.to_thread(cal.cancel_event, "primary", event_id)
    assert stored["status"] == "cancelled"
    # Cancelling again (410) or an event that never existed (404) is already done.
    await asyncio.to_thread(cal.cancel_event, "primary", event_id)
    await asyncio.to_thread(cal.cancel_event, "primary", "neverexisted")
    deletes = [r["status"] for r in await sandbox.requests("google") if r["method"] == "DELETE"]
    assert deletes == [204, 410, 404]


async def test_bad_request_is_not_retried(sandbox):
    with pytest.raises(ProviderError) as caught:
        await create(calendar(sandbox, sandbox.settings), start=END, end=START)
    assert (caught.value.status, caught.value.retryable) == (400, False)
    inserts = [r for r in await sandbox.requests("google") if r["method"] == "POST" and "events" in r["path"]]
    assert len(inserts) == 1


async def test_server_error_is_retried(sandbox):
    await sandbox.fault("google", status=503, count=1, path="/google/calendar")
    _, link = await create(calendar(sandbox, sandbox.settings, num_retries=1))
    assert link.startswith("https://meet.google.com/")
    inserts = [r["status"] for r in await sandbox.requests("google") if r["path"].endswith("/events")]
    assert inserts == [503, 200]


async def test_server_error_beyond_retries_is_retryable(sandbox):
    await sandbox.fault("google", status=500, count=1, path="/google/calendar")
    with pytest.raises(ProviderError) as caught:
        await create(calendar(sandbox, sandbox.settings, num_retries=0))
    assert (caught.value.status, caught.value.retryable) == (500, True)


async def test_timeout_is_retryable(sandbox):
    await sandbox.fault("google", delay=1.0, count=1, path="/google/calendar")
    with pytest.raises(ProviderError) as caught:
        await create(calendar(sandbox, sandbox.settings, timeout=0.3, num_retries=0))
    assert (caught.value.retryable, caught.value.status) == (True, None)


async def test_times_must_carry_a_time_zone(sandbox):
    with pytest.raises(ValueError):
        await create(calendar(sandbox, sandbox.settings), start=START.replace(tzinfo=None))


def test_a_real_token_endpoint_needs_a_real_key(settings):
    configured = settings.replace(google_token_uri="https://oauth2.googleapis.com/token",
                                  google_private_key="")
    with pytest.raises(ProviderError) as caught:
        GoogleCalendar(configured)
    assert caught.value.retryable is False


async def test_token_endpoint_outage_is_retryable(sandbox):
    await sandbox.fault("google", status=503, count=10, path="/google/token")
    with pytest.raises(ProviderError) as caught:
        await create(calendar(sandbox, sandbox.settings, num_retries=0))
    assert caught.value.retryable is True
    assert not [r for r in await sandbox.requests("google") if r["path"].startswith("/google/calendar")]
